"""Encoders: values in, input spikes or currents out, with a leading time axis T.

Every encoder maps an array of shape S to an array of shape (T,) + S (or (T,) + S[:-1] +
(d * n,) for population coding), float32, ready for ``simulate``.
"""
from __future__ import annotations

import numpy as np

from . import portable

__all__ = ["rate", "latency", "field_centres", "gaussian_fields", "population", "direct"]


def _unit(values, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if np.isnan(v).any():
        raise ValueError(f"{name}: values contain NaN")
    return np.clip(v, 0.0, 1.0)


def rate(values, steps: int, seed, max_rate: float = 1.0) -> np.ndarray:
    """Bernoulli rate code: at each step a channel spikes with probability ``max_rate * value``.

    ``values`` are clipped to [0, 1]. ``seed`` (an int, SeedSequence or Generator) makes the
    spikes reproducible.
    """
    p = _unit(values, "rate") * float(max_rate)
    rng = np.random.default_rng(seed)
    return (rng.random((int(steps),) + p.shape) < p).astype(np.float32)


def latency(values, steps: int) -> np.ndarray:
    """Time-to-first-spike code: one spike per channel at step ``round((1 - value) * (T - 1))``.

    ``values`` are clipped to [0, 1]: 1 spikes at step 0, 0 at the last step.
    """
    v = _unit(values, "latency")
    T = int(steps)
    t_spike = np.rint((1.0 - v) * (T - 1)).astype(np.int64)
    return (np.arange(T).reshape((T,) + (1,) * v.ndim) == t_spike).astype(np.float32)


def field_centres(low, high, n: int, width: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian fields of :func:`gaussian_fields` for d features: centres (d, n) and
    standard deviations (d,), float64."""
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    if n < 2:
        raise ValueError(f"gaussian_fields: n={n}; expected at least 2 fields per value")
    if (high <= low).any():
        raise ValueError("gaussian_fields: every high must exceed its low")
    spacing = (high - low) / (n - 1)
    return low[:, None] + spacing[:, None] * np.arange(n), width * spacing


def gaussian_fields(values, low, high, n: int, width: float = 1.0) -> np.ndarray:
    """Gaussian receptive fields: each of the d values of the last axis becomes n activations.

    Field k of feature i is centred at ``low[i] + k * (high[i] - low[i]) / (n - 1)`` with a
    standard deviation of ``width`` times that spacing; activation = exp(-z^2 / 2), in (0, 1].
    Returns shape ``values.shape[:-1] + (d * n,)``, feature-major.
    """
    x = np.asarray(values, dtype=np.float64)
    low = np.broadcast_to(np.asarray(low, np.float64), x.shape[-1:])
    high = np.broadcast_to(np.asarray(high, np.float64), x.shape[-1:])
    centres, widths = field_centres(low, high, n, width)           # (d, n), (d,)
    z = (x[..., None] - centres) / widths[:, None]                 # (..., d, n)
    act = portable.exp(-0.5 * z * z)  # the same bits on every CPU and in the compiled rollouts
    return act.reshape(x.shape[:-1] + (x.shape[-1] * n,)).astype(np.float32)


def population(values, steps: int, low, high, n: int, width: float = 1.0) -> np.ndarray:
    """Population code as constant currents: Gaussian receptive fields repeated over T steps."""
    return direct(gaussian_fields(values, low, high, n, width), steps)


def direct(values, steps: int, scale: float = 1.0) -> np.ndarray:
    """Direct current: the (scaled) values themselves, the same at every one of T steps."""
    v = np.asarray(values, dtype=np.float32) * np.float32(scale)
    return np.broadcast_to(v, (int(steps),) + v.shape).copy()
