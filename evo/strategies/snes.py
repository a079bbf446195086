"""Separable NES (Schaul et al. 2011, "High Dimensions and Heavy Tails for Natural
Evolution Strategies"), on seed-described populations.

Each generation, with P noise vectors z_k (genomes center + sigma z_k; no mirroring, as in
the paper) and utilities u_k from the ranks (rank 1 the best)::

    u_k = max(0, ln(P/2 + 1) - ln(rank_k)) / sum_i max(0, ln(P/2 + 1) - ln(rank_i)) - 1/P
    center += lr_center * sigma * sum_k u_k z_k
    sigma  *= exp(lr_sigma / 2 * sum_k u_k (z_k^2 - 1))

Defaults from the paper: P = 4 + floor(3 ln D) (``population = 0``), lr_center = 1,
lr_sigma = (3 + ln D) / (5 sqrt D) (``lr_sigma = 0``), sigma 1.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..genomes.seeded import SeededPopulation
from .gaussian import GaussianStrategy, check_positive

__all__ = ["SNES", "snes_utilities"]


def snes_utilities(fitness: np.ndarray) -> np.ndarray:
    """The paper's rank-based utilities (they sum to 0); ties are ranked by index."""
    P = fitness.size
    rank = np.empty(P)
    rank[np.argsort(-np.asarray(fitness, np.float64), kind="stable")] = np.arange(1, P + 1)
    raw = np.maximum(0.0, math.log(P / 2 + 1) - np.log(rank))
    return raw / raw.sum() - 1.0 / P


class SNES(GaussianStrategy):
    """Separable NES: per-gene sigma adapted multiplicatively, rank utilities.

    ``population`` (0: 4 + 3 ln D), ``sigma0``, ``lr_center``, ``lr_sigma`` (0: the paper's
    (3 + ln D) / (5 sqrt D)), ``x0``, ``init_std``, ``table_size``.
    """

    name = "snes"
    step_options = ("lr_center", "lr_sigma", "sigma0")
    mirrored = False
    per_gene_sigma = True

    def __init__(self, dim: int, *, seed: int, population: int = 0, sigma0: float = 1.0, lr_center: float = 1.0,
                 lr_sigma: float = 0.0, x0: float = 0.0, init_std: float = 0.0, table_size: int = 0) -> None:
        check_positive("lr_center", lr_center)
        check_positive("lr_sigma", lr_sigma, strict=False)
        D = max(int(dim), 1)
        P = int(population) or self.expected_population({}, D)
        self._setup(dim, seed, dict(population=P, sigma0=float(sigma0), lr_center=float(lr_center),
                                    lr_sigma=float(lr_sigma), x0=float(x0), init_std=float(init_std),
                                    table_size=int(table_size)))
        self.options["population"] = int(population)  # as given (0: the paper's rule), for the saved state
        self.lr_sigma = float(lr_sigma) or (3 + math.log(D)) / (5 * math.sqrt(D))

    @classmethod
    def expected_population(cls, options: dict[str, Any], dim: int) -> int:
        return int(options.get("population") or 4 + int(3 * math.log(max(int(dim), 1))))

    def _setting(self, key: str) -> str:
        if key == "lr_sigma" and not self.options[key]:
            return f"0: the paper's rule, {self.lr_sigma:.3g}"
        return super()._setting(key)

    def _update(self, population: SeededPopulation, fitness: np.ndarray) -> None:
        u = snes_utilities(fitness)
        g_center, s_square = self.noise_sums(population, u, u)
        g_sigma = s_square - u.sum()
        self.center += self.options["lr_center"] * self.sigma * g_center
        self.sigma = self.sigma * np.exp(self.lr_sigma / 2 * g_sigma)
