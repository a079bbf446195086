"""Decoders: output activity in, answers out.

Each takes arrays whose last axis is the output neurons (for example an ``OutputRecord``'s
fields, shaped (P, B, n_out)) and reduces that axis.
"""
from __future__ import annotations

import numpy as np

__all__ = ["spike_count", "first_spike", "membrane", "count_then_voltage"]


def spike_count(counts: np.ndarray) -> np.ndarray:
    """The output neuron with the most spikes; ties go to the lowest index."""
    return np.argmax(counts, axis=-1)


def first_spike(first_times: np.ndarray) -> np.ndarray:
    """The output neuron that fired first; ties (and no spike at all) go to the lowest index."""
    return np.argmin(first_times, axis=-1)


def membrane(v: np.ndarray) -> np.ndarray:
    """The output neuron with the highest membrane potential."""
    return np.argmax(v, axis=-1)


def count_then_voltage(counts: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The output neuron with the most spikes; ties broken by the higher membrane potential.

    Spike counts are whole numbers, so the voltage, squashed into (0, 1), only breaks ties.
    """
    return np.argmax(counts + 0.5 + np.arctan(v) / np.pi, axis=-1)
