"""Encoders: values in, input spikes or currents out, with a leading time axis T.

Every encoder maps an array of shape S to an array of shape (T,) + S (or (T,) + S[:-1] +
(d * n,) for population coding), float32, ready for ``simulate``.
"""
from __future__ import annotations

import numpy as np

from . import portable

__all__ = ["rate", "latency", "field_centres", "gaussian_fields", "population", "direct"]


def _steps(steps, name: str) -> int:
    """``steps`` as an int >= 1, or a ValueError naming the encoder."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"{name}: steps={steps!r}; expected an integer >= 1")
    return int(steps)


def _finite(values, name: str, what: str = "values") -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v).all():
        raise ValueError(f"{name}: {what} contain {v[~np.isfinite(v)].flat[0]}; expected finite numbers")
    return v


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
    T = _steps(steps, "rate")
    if not 0.0 <= float(max_rate) <= 1.0:
        raise ValueError(f"rate: max_rate={max_rate!r}; expected a probability in [0, 1]")
    p = _unit(values, "rate") * float(max_rate)
    rng = np.random.default_rng(seed)
    return (rng.random((T,) + p.shape) < p).astype(np.float32)


def latency(values, steps: int) -> np.ndarray:
    """Time-to-first-spike code: one spike per channel at step ``round((1 - value) * (T - 1))``.

    ``values`` are clipped to [0, 1]: 1 spikes at step 0, 0 at the last step.
    """
    T = _steps(steps, "latency")
    v = _unit(values, "latency")
    t_spike = np.rint((1.0 - v) * (T - 1)).astype(np.int64)
    return (np.arange(T).reshape((T,) + (1,) * v.ndim) == t_spike).astype(np.float32)


def field_centres(low, high, n: int, width: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian fields of :func:`gaussian_fields` for d features: centres (d, n) and
    standard deviations (d,), float64."""
    low, high = _finite(low, "gaussian_fields", "low"), _finite(high, "gaussian_fields", "high")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"gaussian_fields: n={n!r}; expected an integer >= 2 (fields per value)")
    if (high <= low).any():
        raise ValueError("gaussian_fields: every high must exceed its low")
    if not (np.isfinite(width) and width > 0):
        raise ValueError(f"gaussian_fields: width={width!r}; expected a finite number > 0 (field spacings)")
    spacing = (high - low) / (n - 1)
    return low[:, None] + spacing[:, None] * np.arange(n), width * spacing


def gaussian_fields(values, low, high, n: int, width: float = 1.0) -> np.ndarray:
    """Gaussian receptive fields: each of the d values of the last axis becomes n activations.

    Field k of feature i is centred at ``low[i] + k * (high[i] - low[i]) / (n - 1)`` with a
    standard deviation of ``width`` times that spacing; activation = exp(-z^2 / 2), in (0, 1].
    Returns shape ``values.shape[:-1] + (d * n,)``, feature-major.
    """
    x = _finite(values, "gaussian_fields")
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
    T = _steps(steps, "direct")
    v = _finite(values, "direct").astype(np.float32) * np.float32(scale)
    return np.broadcast_to(v, (T,) + v.shape).copy()
