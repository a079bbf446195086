"""PGPE (Sehnke et al. 2010) with symmetric sampling, per-gene adaptive sigma and the ClipUp
optimizer (Toklu et al. 2020), as in EvoTorch's PGPE; on seed-described populations.

Each generation, with P/2 noise vectors z_j (pairs center +- sigma z_j), r the fitness
shaped by centered ranks, r+_j = r[2j], r-_j = r[2j + 1], b the mean of r::

    g_center = sigma * sum_j (r+_j - r-_j) / 2 * z_j / (P/2)
    g_sigma  = sigma * sum_j ((r+_j + r-_j) / 2 - b) * (z_j^2 - 1) / (P/2)
    center  += ClipUp(g_center)      # v = momentum v + lr g/|g|, |v| <= max_speed
    sigma   += stdev_learning_rate * g_sigma, each gene's change clipped to
               +- stdev_max_change * sigma

(the sigma gradient is Sehnke's ((e^2 - sigma^2) / sigma) with e = sigma z). Defaults from
Toklu et al. and EvoTorch: ClipUp step 0.15 with max speed 0.3 (twice the step) and
momentum 0.9; stdev learning rate 0.1 and max change 0.2; population 100.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import StrategyError
from ..genomes.seeded import SeededPopulation
from .base import check_gene_option
from .gaussian import ClipUp, GaussianStrategy, centered_ranks, check_positive

__all__ = ["PGPE"]


class PGPE(GaussianStrategy):
    """PGPE + ClipUp: symmetric sampling, per-gene sigma, centered ranks.

    ``population`` (even), ``sigma0`` (the first deviation of every gene),
    ``center_learning_rate`` and ``max_speed`` and ``momentum`` (ClipUp),
    ``stdev_learning_rate``, ``stdev_max_change``, ``x0``, ``init_std``, ``table_size``.
    """

    name = "pgpe"
    step_options = ("center_learning_rate", "max_speed", "stdev_learning_rate", "sigma0")
    mirrored = True
    per_gene_sigma = True

    def __init__(self, dim: int, *, seed: int, population: int = 100, sigma0: float = 0.1,
                 center_learning_rate: float = 0.15, max_speed: float = 0.3, momentum: float = 0.9,
                 stdev_learning_rate: float = 0.1, stdev_max_change: float = 0.2, x0: float = 0.0,
                 init_std: float = 0.0, table_size: int = 0) -> None:
        check_gene_option("center_learning_rate", center_learning_rate)  # steps in gene units
        check_gene_option("max_speed", max_speed)
        check_positive("stdev_learning_rate", stdev_learning_rate, strict=False)
        check_positive("stdev_max_change", stdev_max_change)
        if not 0 <= float(momentum) < 1:
            raise StrategyError(f"strategy.momentum: {momentum!r}; expected a number in [0, 1)")
        self._setup(dim, seed, dict(population=int(population), sigma0=float(sigma0),
                                    center_learning_rate=float(center_learning_rate), max_speed=float(max_speed),
                                    momentum=float(momentum), stdev_learning_rate=float(stdev_learning_rate),
                                    stdev_max_change=float(stdev_max_change), x0=float(x0),
                                    init_std=float(init_std), table_size=int(table_size)))
        self.clipup = ClipUp(self.dim, self.options["center_learning_rate"], self.options["max_speed"],
                             self.options["momentum"])

    def _update(self, population: SeededPopulation, fitness: np.ndarray) -> None:
        o = self.options
        r = centered_ranks(fitness)
        plus, minus = self.pair_values(r)
        M = plus.size
        u = (plus + minus) / 2 - r.mean()
        s_center, s_square = self.noise_sums(population, (plus - minus) / 2, u)
        g_center = self.sigma * s_center / M
        g_sigma = self.sigma * (s_square - u.sum()) / M
        self.center += self.clipup.step(g_center)
        limit = o["stdev_max_change"] * self.sigma
        self.sigma = self.sigma + np.clip(o["stdev_learning_rate"] * g_sigma, -limit, limit)

    def _extra_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {"clipup_v": self.clipup.v}

    def _load_extra(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        v = np.asarray(arrays.get("clipup_v", np.zeros(0)), np.float64)
        if v.shape != (self.dim,):
            raise StrategyError("pgpe state: the ClipUp velocity does not match the genome size")
        self.clipup.v = v.copy()
