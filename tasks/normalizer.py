"""A running observation normalizer, as in OpenAI-ES (Salimans et al. 2017, ``RunningStat``).

It keeps float64 sums over the observations it was shown::

    count = 0.01 + n;  sum = sum of x;  sumsq = 0.01 + sum of x^2
    mean = sum / count;  std = sqrt(max(sumsq / count - mean^2, 0.01))
    normalized = clip((x - mean) / std, -clip, clip)

so that before any observation it is the identity (mean 0, std 1), and no dimension's
deviation falls below 0.1. Its state is three arrays, saved as JSON lists; float64 values
survive JSON exactly, so a resumed run and ``replay`` apply the same normalization.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RunningNormalizer"]

EPS = 1e-2


class RunningNormalizer:
    """Running mean and deviation of d-dimensional observations; ``clip`` bounds the output."""

    def __init__(self, dim: int, clip: float = 5.0) -> None:
        self.dim, self.clip = int(dim), float(clip)
        self.count = EPS
        self.sum = np.zeros(self.dim)
        self.sumsq = np.full(self.dim, EPS)

    @property
    def mean(self) -> np.ndarray:
        return self.sum / self.count

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.maximum(self.sumsq / self.count - np.square(self.mean), EPS))

    def increment(self, total: np.ndarray, total_sq: np.ndarray, n: float) -> None:
        """Add the sums of ``n`` observations: ``total`` (d,) and ``total_sq`` (d,) of their squares."""
        self.sum = self.sum + np.asarray(total, np.float64)
        self.sumsq = self.sumsq + np.asarray(total_sq, np.float64)
        self.count = self.count + float(n)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """(obs - mean) / std, clipped to [-clip, clip]; float64 in, float64 out."""
        return np.clip((obs - self.mean) / self.std, -self.clip, self.clip)

    def state(self) -> dict[str, Any]:
        return {"count": self.count, "sum": self.sum.tolist(), "sumsq": self.sumsq.tolist()}

    def set_state(self, state: dict[str, Any]) -> None:
        try:
            count, total, sq = float(state["count"]), np.asarray(state["sum"], np.float64), \
                np.asarray(state["sumsq"], np.float64)
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"observation normalizer state: {str(state)[:80]}; expected count, sum and "
                             f"sumsq") from None
        if total.shape != (self.dim,) or sq.shape != (self.dim,) or not count > 0:
            raise ValueError(f"observation normalizer state: count {count}, sum of shape {total.shape}; "
                             f"expected count > 0 and {self.dim} values per sum")
        self.count, self.sum, self.sumsq = count, total, sq
