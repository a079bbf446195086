"""Spiking neurons: the network batch, the vectorized LIF simulator, encoders and decoders."""
from . import decoders, encoders, portable
from .lif import (KERNELS, RESETS, check_reset, OutputRecord, Simulator, current_kernel, kept_kernel, kernel_for, resolve_kernel, simulate,
                  simulate_outputs, use_kernel, input_events)
from .layered import LayeredBatch, simulate_layered
from .network import NetworkBatch, NetworkError, dense

__all__ = [
    "NetworkBatch", "NetworkError", "LayeredBatch", "dense", "simulate_layered", "Simulator", "OutputRecord", "RESETS", "check_reset",
    "simulate", "simulate_outputs", "input_events", "encoders", "decoders", "portable",
    "KERNELS", "resolve_kernel", "kernel_for", "use_kernel", "current_kernel", "kept_kernel",
]
