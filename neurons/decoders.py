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
    """The output neuron with the most spikes; ties broken by the higher membrane potential
    (a NaN potential counts as -inf), then by the lower index.

    A scan over the outputs, vectorized over the rest: output j replaces the best so far
    where ``c_j > c_best or (c_j == c_best and v_j > v_best)``. Comparisons only, so the
    answer is the same on every machine (no transcendental function rounds differently),
    and the compiled rollouts (``tasks.rollout``) make the same scan lane by lane.
    """
    counts, v = np.asarray(counts), np.asarray(v)
    v = np.where(v > -np.inf, v, -np.inf)  # NaN -> -inf
    best_c, best_v = counts[..., 0], v[..., 0]
    best = np.zeros(counts.shape[:-1], np.int64)
    n = counts.shape[-1]
    for j in range(1, n):
        c_j, v_j = counts[..., j], v[..., j]
        better = (c_j > best_c) | ((c_j == best_c) & (v_j > best_v))
        best = np.where(better, j, best)
        if j < n - 1:
            best_c, best_v = np.where(better, c_j, best_c), np.where(better, v_j, best_v)
    return best
