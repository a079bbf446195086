"""CMA-ES through pycma's ask/tell, full covariance or diagonal (``CMA_diagonal``).

pycma draws from numpy's global RandomState. Each call into pycma runs with a private
RandomState swapped in and out, so nothing else in the process can disturb its stream, and
the strategy is a function of its seed and the fitness it was told.

Saved state: pycma keeps its state in objects, so the state saved here is the replay log:
the options, the seed and every fitness vector told so far (npz). ``from_state`` rebuilds
the optimizer from the seed and replays the ``tell`` calls, which reproduces it exactly;
the saved mean and sigma are checked against the replay so a pycma version that behaves
differently is caught instead of silently diverging.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Any

import numpy as np

with warnings.catch_warnings():  # pycma warns when matplotlib is absent; plotting is not used here
    warnings.simplefilter("ignore")
    import cma

from .base import StrategyError

__all__ = ["CMAES"]


class CMAES:
    """CMA-ES (Hansen), maximizing fitness. ``population=0`` takes pycma's 4 + 3 ln D."""

    name = "cma"

    def __init__(self, dim: int, *, seed: int, population: int = 0, sigma0: float = 0.5,
                 diagonal: bool = False, x0: float = 0.0) -> None:
        if int(dim) < 1:
            raise StrategyError(f"cma: dimension {dim}; expected >= 1")
        if isinstance(population, bool) or int(population) < 0 or int(population) == 1:
            raise StrategyError(f"strategy.population: {population}; expected 0 (pycma's default) or an integer >= 2")
        if not float(sigma0) > 0:
            raise StrategyError(f"strategy.sigma0: {sigma0}; expected a value > 0")
        self.dim, self.seed = int(dim), int(seed)
        self.options = dict(population=int(population), sigma0=float(sigma0), diagonal=bool(diagonal),
                            x0=float(x0))
        self._rs = np.random.RandomState(self.seed)
        opts = {
            "seed": self.seed, "CMA_diagonal": bool(diagonal), "verbose": -9, "verb_log": 0,
            "verb_disp": 0, "tolflatfitness": np.inf, "tolfun": 0, "tolfunhist": 0, "tolx": 0,
            "tolstagnation": np.inf, "tolconditioncov": np.inf, "maxiter": np.inf, "maxfevals": np.inf,
        }
        if population:
            opts["popsize"] = int(population)
        with self._rng(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.es = cma.CMAEvolutionStrategy(np.full(self.dim, float(x0)), float(sigma0), opts)
        self.population_size = int(self.es.popsize)
        self._asked: np.ndarray | None = None
        self._told: list[np.ndarray] = []

    @contextlib.contextmanager
    def _rng(self):
        outer = np.random.get_state()
        np.random.set_state(self._rs.get_state())
        try:
            yield
        finally:
            self._rs.set_state(np.random.get_state())
            np.random.set_state(outer)

    def ask(self) -> np.ndarray:
        if self._asked is None:
            with self._rng():
                self._asked = np.array(self.es.ask(), dtype=np.float64)
        return self._asked.copy()

    def tell(self, population: np.ndarray, fitness: np.ndarray) -> None:
        if self._asked is None:
            raise StrategyError("cma: tell() before ask()")
        population = np.asarray(population, np.float64)
        fitness = np.asarray(fitness, np.float64)
        if population.shape != self._asked.shape or not np.array_equal(population, self._asked):
            raise StrategyError("cma: tell() needs the population that ask() returned, unchanged")
        if fitness.shape != (self.population_size,) or not np.isfinite(fitness).all():
            raise StrategyError(f"cma: fitness must be {self.population_size} finite values; got shape "
                                f"{fitness.shape}")
        with self._rng(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.es.tell(list(self._asked), list(-fitness))
        self._told.append(fitness.copy())
        self._asked = None

    def sample(self, n: int) -> np.ndarray:
        """n genomes from the current search distribution, outside the ask/tell cycle (for
        benchmarks); it advances the strategy's private random stream."""
        with self._rng(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.array(self.es.ask(int(n)), dtype=np.float64)

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(self.es.mean, np.float64).copy()

    @property
    def sigma(self) -> float:
        return float(self.es.sigma)

    @property
    def generation(self) -> int:
        return len(self._told)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"strategy": self.name, "dim": self.dim, "seed": self.seed, "options": self.options,
                "generation": self.generation, "sigma": self.sigma, "pycma": cma.__version__}
        told = np.stack(self._told) if self._told else np.zeros((0, self.population_size))
        return meta, {"told": told, "mean": self.mean}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "CMAES":
        try:
            es = cls(meta["dim"], seed=meta["seed"], **meta["options"])
            told = np.asarray(arrays["told"], np.float64)
        except (KeyError, TypeError) as exc:
            raise StrategyError(f"cma state: missing or malformed field {exc}") from None
        if told.ndim != 2 or told.shape[0] != meta.get("generation", told.shape[0]):
            raise StrategyError("cma state: the fitness log does not match the saved generation count")
        for fitness in told:
            es.tell(es.ask(), fitness)
        mean = np.asarray(arrays.get("mean", es.mean))
        if not np.array_equal(es.mean, mean) or es.sigma != meta.get("sigma", es.sigma):
            raise StrategyError(
                f"cma state: replaying the log did not reproduce the saved mean and sigma (saved with "
                f"pycma {meta.get('pycma')}, running {cma.__version__})")
        return es
