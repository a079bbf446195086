"""CMA-ES through pycma's ask/tell, full covariance or diagonal (``CMA_diagonal``), with
optional IPOP restarts (Auger and Hansen 2005).

Restarts (``restarts`` > 0): after a ``tell`` that meets one of pycma's own termination
criteria (fitness flat or converged: tolfun, tolfunhist, tolflatfitness over 10 generations,
tolx, tolstagnation, tolconditioncov), or with ``stall`` > 0 once the best fitness told
since the search began has not risen for ``stall`` generations, the search starts again
from ``x0`` with ``sigma0`` and ``incpopsize`` times the population, with a new seed
derived from (seed, restart); at most ``restarts`` times. pycma's own stagnation test
waits at least D (5 + 100 / population) generations, thousands for a thousand genes;
``stall`` is the budget-sized one. With ``restarts = 0`` (the default) no termination criterion
applies and the one search runs for the whole budget.

pycma draws from numpy's global RandomState. Each call into pycma runs with a private
RandomState swapped in and out, so nothing else in the process can disturb its stream, and
with one BLAS thread: the eigendecomposition of the covariance gives different last bits
with different thread counts (seen from generation 335 of an `intervals` run), which would
make a run depend on the machine's cores. So the strategy is a function of its seed and the
fitness it was told.

Saved state: pycma keeps its state in objects, so the state saved here is the replay log:
the options, the seed and every fitness vector told so far (npz). ``from_state`` rebuilds
the optimizer from the seed and replays the ``tell`` calls, which reproduces it exactly;
the saved mean and sigma are checked against the replay so a pycma version that behaves
differently is caught instead of silently diverging.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from typing import Any

import numpy as np


def _import_cma() -> Any:
    """pycma, imported without scipy.stats and matplotlib where those are not imported yet.
    pycma imports scipy.stats (about 0.5 s of a run's start) only for the Kendall tau of its
    surrogate models, which it then computes in pure Python, and matplotlib.pyplot (about
    0.2 s) only for ``cma.s``'s plotting shortcuts; evospike uses neither. Both import as
    usual after (pycma's own ``plot`` functions import pyplot when called). Only while this
    is the process's one Python thread: no other can import them meanwhile."""
    blocked = [name for name in ("scipy.stats", "matplotlib") if name not in sys.modules] \
        if "cma" not in sys.modules and threading.active_count() == 1 else []
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # an ImportError inside pycma's try
    try:
        with warnings.catch_warnings():  # pycma warns when matplotlib is absent; plotting is not used here
            warnings.simplefilter("ignore")
            import cma
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return cma


cma = _import_cma()

from threadpoolctl import ThreadpoolController

from ..errors import StrategyError
from ..seeding import entropy_seed
from .base import Strategy, check_gene_option

__all__ = ["CMAES"]

_controller: ThreadpoolController | None = None


def _blas() -> ThreadpoolController:
    """The process's thread pools, inspected once."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


class CMAES(Strategy):
    """CMA-ES (Hansen), maximizing fitness. ``population=0`` takes pycma's 4 + 3 ln D."""

    name = "cma"

    def __init__(self, dim: int, *, seed: int, population: int = 0, sigma0: float = 0.5,
                 diagonal: bool = False, x0: float = 0.0, restarts: int = 0, incpopsize: float = 2.0,
                 stall: int = 0) -> None:
        if int(dim) < 1:
            raise StrategyError(f"cma: dimension {dim}; expected >= 1")
        if isinstance(population, bool) or int(population) < 0 or int(population) == 1:
            raise StrategyError(f"strategy.population: {population}; expected 0 (pycma's default) or an integer >= 2")
        check_gene_option("sigma0", sigma0)
        check_gene_option("x0", x0, signed=True)
        if isinstance(restarts, bool) or not float(restarts).is_integer() or int(restarts) < 0:
            raise StrategyError(f"strategy.restarts: {restarts}; expected an integer >= 0")
        if isinstance(incpopsize, bool) or not float(incpopsize) >= 1:
            raise StrategyError(f"strategy.incpopsize: {incpopsize}; expected a number >= 1")
        if isinstance(stall, bool) or not float(stall).is_integer() or int(stall) < 0:
            raise StrategyError(f"strategy.stall: {stall}; expected an integer >= 0 (generations; 0: off)")
        self.dim, self.seed = int(dim), int(seed)
        self.options = dict(population=int(population), sigma0=float(sigma0), diagonal=bool(diagonal),
                            x0=float(x0), restarts=int(restarts), incpopsize=float(incpopsize), stall=int(stall))
        self._rs = np.random.RandomState(self.seed)
        self.restart_generations: list[int] = []  # the generations at which a restart began
        self._asked: np.ndarray | None = None
        self.generation = 0
        self._told: list[np.ndarray] = []
        self._search_best, self._search_best_at = -np.inf, 0  # the current search's best and when
        self._start(self.seed, int(population))

    @classmethod
    def expected_population(cls, options: dict[str, Any], dim: int) -> int:
        return int(options.get("population") or 4 + int(3 * np.log(max(int(dim), 1))))  # pycma's default

    def _start(self, seed: int, population: int) -> None:
        """A fresh pycma search from x0 and sigma0."""
        o = self.options
        opts = {"seed": seed, "CMA_diagonal": o["diagonal"], "verbose": -9, "verb_log": 0, "verb_disp": 0,
                "maxiter": np.inf, "maxfevals": np.inf}
        if o["restarts"]:
            opts["tolflatfitness"] = 10
        else:
            opts.update({"tolflatfitness": np.inf, "tolfun": 0, "tolfunhist": 0, "tolx": 0,
                         "tolstagnation": np.inf, "tolconditioncov": np.inf})
        if population:
            opts["popsize"] = int(population)
        with self._rng(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.es = cma.CMAEvolutionStrategy(np.full(self.dim, o["x0"]), o["sigma0"], opts)
        self.population_size = int(self.es.popsize)

    def _maybe_restart(self) -> None:
        k = len(self.restart_generations)
        if k >= self.options["restarts"]:
            return
        with self._rng(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stop = self.es.stop()
        stall = self.options["stall"]
        if stop or (stall and len(self._told) - self._search_best_at >= stall):
            seed = entropy_seed(self.seed, k + 1) or 1
            self.restart_generations.append(self.generation + 1)  # counting the tell in progress
            self._start(seed, int(round(self.population_size * self.options["incpopsize"])))
            self._search_best, self._search_best_at = -np.inf, len(self._told)

    @contextlib.contextmanager
    def _rng(self):
        """pycma's private random stream, and one BLAS thread (the module docstring)."""
        outer = np.random.get_state()
        np.random.set_state(self._rs.get_state())
        try:
            with _blas().limit(limits=1, user_api="blas"):
                yield
        finally:
            self._rs.set_state(np.random.get_state())
            np.random.set_state(outer)

    def ask(self) -> np.ndarray:
        if self._asked is None:
            with self._rng():
                self._asked = np.array(self.es.ask(), dtype=np.float64)
        return self._asked.copy()

    def _tell(self, population: np.ndarray, fitness: np.ndarray) -> None:
        if self._asked is None:
            raise StrategyError("cma: tell() before ask()")
        population = np.asarray(population, np.float64)
        fitness = np.asarray(fitness, np.float64)
        if population.shape != self._asked.shape or not np.array_equal(population, self._asked):
            raise StrategyError("cma: tell() needs the population that ask() returned, unchanged")
        with self._rng(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.es.tell(list(self._asked), list(-fitness))
        self._told.append(fitness.copy())
        self._asked = None
        if fitness.size and fitness.max() > self._search_best:
            self._search_best, self._search_best_at = float(fitness.max()), len(self._told)
        self._maybe_restart()

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

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"strategy": self.name, "dim": self.dim, "seed": self.seed, "options": self.options,
                "generation": self.generation, "sigma": self.sigma, "pycma": cma.__version__,
                "restart_generations": list(self.restart_generations)}
        # the fitness log, flat, with each generation's size (restarts change the population)
        told = np.concatenate(self._told) if self._told else np.zeros(0)
        sizes = np.array([len(f) for f in self._told], np.int64)
        return meta, {"told": told, "told_sizes": sizes, "mean": self.mean}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "CMAES":
        try:
            es = cls(meta["dim"], seed=meta["seed"], **meta["options"])
            told = np.asarray(arrays["told"], np.float64)
            if told.ndim == 2:  # saved before restarts existed: one row per generation
                log = list(told)
            else:
                sizes = np.asarray(arrays["told_sizes"], np.int64)
                if told.ndim != 1 or sizes.ndim != 1 or (sizes < 0).any() or sizes.sum() != told.size:
                    raise StrategyError("cma state: the fitness log and its sizes do not match")
                log = np.split(told, np.cumsum(sizes)[:-1]) if sizes.size else []
        except StrategyError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise StrategyError(f"cma state: missing or malformed field {exc}") from None
        if len(log) != meta.get("generation", len(log)):
            raise StrategyError("cma state: the fitness log does not match the saved generation count")
        for fitness in log:
            if len(fitness) != es.population_size:
                raise StrategyError("cma state: the fitness log does not match the population sizes of "
                                    "the replayed search")
            es.tell(es.ask(), fitness)
        mean = np.asarray(arrays.get("mean", es.mean))
        if (not np.array_equal(es.mean, mean) or es.sigma != meta.get("sigma", es.sigma)
                or es.restart_generations != meta.get("restart_generations", es.restart_generations)):
            raise StrategyError(
                f"cma state: replaying the log did not reproduce the saved mean and sigma (saved with "
                f"pycma {meta.get('pycma')}, running {cma.__version__})")
        return es
