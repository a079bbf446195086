"""Spiking neurons: the network batch, the vectorized LIF simulator, encoders and decoders."""
from . import decoders, encoders
from .lif import RESETS, OutputRecord, Simulator, simulate, simulate_outputs
from .network import NetworkBatch, NetworkError

__all__ = [
    "NetworkBatch", "NetworkError", "Simulator", "OutputRecord", "RESETS",
    "simulate", "simulate_outputs", "encoders", "decoders",
]
