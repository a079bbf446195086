"""OpenAI-ES (Salimans et al. 2017, "Evolution Strategies as a Scalable Alternative to
Reinforcement Learning"), on seed-described populations.

Each generation, with P/2 noise vectors e_j (mirrored pairs center +- sigma e_j) and r the
fitness shaped by centered ranks (:func:`~evo.strategies.gaussian.centered_ranks`)::

    g = sum_j (r[2j] - r[2j + 1]) e_j / P  -  weight_decay * center
    center += optimizer(g)                   # Adam (default) or SGD with momentum

sigma stays fixed, as in the paper. Defaults from the paper and its code: sigma 0.02, Adam
with step size 0.01, L2 coefficient 0.005. Optionally the step size decays geometrically,
``max(learning_rate * learning_rate_decay^g, learning_rate_limit)`` in generation g, and so
does sigma, ``sigma <- max(sigma * sigma_decay, sigma_limit)`` after each update, as in
evosax (default: no decay, as in the paper). Spiking networks whose center is all zeros do
not spike at sigma 0.02; the tasks' presets set a larger ``sigma0`` or ``init_std``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import StrategyError
from ..genomes.seeded import SeededPopulation
from .base import check_gene_option
from .gaussian import Adam, GaussianStrategy, centered_ranks, check_positive

__all__ = ["OpenES", "OPTIMIZERS"]

OPTIMIZERS = ("adam", "sgd")


class OpenES(GaussianStrategy):
    """OpenAI-ES: mirrored sampling, centered ranks, weight decay, Adam on the center.

    ``population`` (even), ``sigma0`` (the fixed deviation), ``learning_rate``,
    ``weight_decay``, ``optimizer`` ("adam" or "sgd"), ``momentum`` (SGD),
    ``learning_rate_decay`` and ``learning_rate_limit``, ``sigma_decay`` and ``sigma_limit``, ``x0`` and
    ``init_std`` (the first center: x0 + init_std N(0, 1)), ``table_size`` (noise numbers;
    0: automatic).
    """

    name = "openes"
    step_options = ("learning_rate", "sigma0")
    mirrored = True
    per_gene_sigma = False

    def __init__(self, dim: int, *, seed: int, population: int = 256, sigma0: float = 0.02,
                 learning_rate: float = 0.01, weight_decay: float = 0.005, optimizer: str = "adam",
                 momentum: float = 0.9, learning_rate_decay: float = 1.0, learning_rate_limit: float = 0.0,
                 sigma_decay: float = 1.0, sigma_limit: float = 0.0, x0: float = 0.0, init_std: float = 0.0,
                 table_size: int = 0) -> None:
        if optimizer not in OPTIMIZERS:
            raise StrategyError(f"strategy.optimizer: {optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
        check_gene_option("learning_rate", learning_rate)  # a step in gene units
        check_positive("weight_decay", weight_decay, strict=False)
        if not 0 <= float(momentum) < 1:
            raise StrategyError(f"strategy.momentum: {momentum!r}; expected a number in [0, 1)")
        if not 0 < float(learning_rate_decay) <= 1:
            raise StrategyError(f"strategy.learning_rate_decay: {learning_rate_decay!r}; expected a number in (0, 1]")
        check_positive("learning_rate_limit", learning_rate_limit, strict=False)
        if not 0 < float(sigma_decay) <= 1:
            raise StrategyError(f"strategy.sigma_decay: {sigma_decay!r}; expected a number in (0, 1]")
        check_gene_option("sigma_limit", sigma_limit, zero=True)
        self._setup(dim, seed, dict(population=int(population), sigma0=float(sigma0),
                                    learning_rate=float(learning_rate), weight_decay=float(weight_decay),
                                    optimizer=optimizer, momentum=float(momentum),
                                    learning_rate_decay=float(learning_rate_decay),
                                    learning_rate_limit=float(learning_rate_limit),
                                    sigma_decay=float(sigma_decay), sigma_limit=float(sigma_limit), x0=float(x0),
                                    init_std=float(init_std), table_size=int(table_size)))
        self.adam = Adam(self.dim, self.options["learning_rate"])
        self.velocity = np.zeros(self.dim)

    @property
    def learning_rate(self) -> float:
        """This generation's step size: ``max(learning_rate * decay^generation, limit)``."""
        o = self.options
        return max(o["learning_rate"] * o["learning_rate_decay"] ** self.generation, o["learning_rate_limit"])

    def _update(self, population: SeededPopulation, fitness: np.ndarray) -> None:
        self.adam.lr = self.learning_rate
        r = centered_ranks(fitness)
        plus, minus = self.pair_values(r)
        g = self.noise_sums(population, plus - minus)[0] / self.population_size
        g -= self.options["weight_decay"] * self.center
        if self.options["optimizer"] == "adam":
            self.center += self.adam.step(g)
        else:
            self.velocity *= self.options["momentum"]
            self.velocity += self.learning_rate * g
            self.center += self.velocity
        if self.options["sigma_decay"] < 1:
            self.sigma = np.float64(max(self.sigma * self.options["sigma_decay"], self.options["sigma_limit"]))

    def _extra_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"adam_t": self.adam.t}, {"adam_m": self.adam.m, "adam_v": self.adam.v, "velocity": self.velocity}

    def _load_extra(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        try:
            m, v, vel = (np.asarray(arrays[k], np.float64) for k in ("adam_m", "adam_v", "velocity"))
            t = int(meta["adam_t"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StrategyError(f"openes state: missing or malformed field {exc}") from None
        if any(a.shape != (self.dim,) for a in (m, v, vel)) or t < 0:
            raise StrategyError("openes state: the optimizer arrays do not match the genome size")
        self.adam.m, self.adam.v, self.adam.t, self.velocity = m.copy(), v.copy(), t, vel.copy()
