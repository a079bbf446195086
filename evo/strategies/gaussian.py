"""The shared part of the Gaussian strategies (``openes``, ``pgpe``, ``snes``): a search
distribution N(center, sigma^2) whose generations are described by seeds.

``ask`` returns a :class:`~evo.genomes.seeded.SeededPopulation`: the center and deviation
as float32 and one noise-table offset per noise vector. The offsets of generation g come
from ``SeedSequence(seed, spawn_key=(g + 1,))`` (:func:`evo.seeding.stream`), and the table
from (seed, ``table_size``); ``center0`` comes from spawn key (0,). A subclass implements
``_update(population, fitness)`` with :meth:`GaussianStrategy.noise_sums`, which forms
``sum_j w_j noise(j)`` (and ``sum_j u_j noise(j)^2``) straight from the table, so ``tell`` needs only the fitness and never a
P x D matrix.

Saved state: the options, the generation, and the float64 center, deviation and optimizer
arrays (npz): a restored strategy continues bit for bit.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import StepSizeError, StrategyError
from ..genomes.seeded import SeededPopulation, noise_table, table_size_for, weighted_noise_sums
from ..seeding import entropy_seed, stream
from .base import GENE_LIMIT, Strategy, check_gene_option

__all__ = ["GaussianStrategy", "centered_ranks", "Adam", "ClipUp", "check_positive"]


def centered_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks scaled to [-0.5, 0.5] (OpenAI-ES's fitness shaping); equal values share their
    mean rank, so the shaping never depends on the order of ties."""
    values = np.asarray(values, np.float64)
    n = values.size
    if n < 2:
        return np.zeros(n)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=np.float64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    if counts.max() > 1:  # ties: the mean rank of each group of equal values
        sums = np.bincount(inverse, weights=ranks)
        ranks = (sums / counts)[inverse]
    return ranks / (n - 1) - 0.5


def check_positive(name: str, value: Any, *, integer: bool = False, minimum: float = 0.0,
                   strict: bool = True) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating)) \
        and np.isfinite(value) and (value > minimum if strict else value >= minimum)
    if integer:
        ok = ok and float(value).is_integer()
    if not ok:
        rel = ">" if strict else ">="
        raise StrategyError(f"strategy.{name}: {value!r}; expected {'an integer' if integer else 'a number'} "
                            f"{rel} {minimum:g}")


class Adam:
    """Adam (Kingma and Ba 2015) ascending a gradient: ``step(g)`` returns the change of the
    center. State: ``m``, ``v`` (float64 arrays) and ``t``."""

    def __init__(self, dim: int, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), float(eps)
        self.m, self.v, self.t = np.zeros(dim), np.zeros(dim), 0

    def step(self, g: np.ndarray) -> np.ndarray:
        self.t += 1
        self.m *= self.beta1
        self.m += (1 - self.beta1) * g
        self.v *= self.beta2
        self.v += (1 - self.beta2) * (g * g)
        a = self.lr * np.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t)
        return a * self.m / (np.sqrt(self.v) + self.eps)


class ClipUp:
    """ClipUp (Toklu et al. 2020): ``v = momentum * v + lr * g / |g|``, then ``v`` is clipped
    to norm ``max_speed``; ``step(g)`` returns ``v``. State: ``v``."""

    def __init__(self, dim: int, lr: float, max_speed: float, momentum: float = 0.9) -> None:
        self.lr, self.max_speed, self.momentum = float(lr), float(max_speed), float(momentum)
        self.v = np.zeros(dim)

    def step(self, g: np.ndarray) -> np.ndarray:
        norm = float(np.linalg.norm(g))
        self.v *= self.momentum
        if norm > 0:
            self.v += (self.lr / norm) * g
        speed = float(np.linalg.norm(self.v))
        if speed > self.max_speed:
            self.v *= self.max_speed / speed
        return self.v.copy()


class GaussianStrategy(Strategy):
    """Base of the strategies that sample N(center, sigma^2) by seeds (see the module doc).

    Subclasses set ``mirrored`` (antithetic pairs: genomes 2j and 2j + 1 are center +- sigma
    noise(j)), call :meth:`_setup` in ``__init__``, implement ``_update`` and, if they keep
    more state, ``_extra_state`` / ``_load_extra``.
    """

    genome_space = "fixed"
    step_options: ClassVar[tuple[str, ...]] = ("sigma0",)  # the options that set the size of an update
    mirrored: ClassVar[bool] = True
    per_gene_sigma: ClassVar[bool] = True

    def _setup(self, dim: int, seed: int, options: dict[str, Any]) -> None:
        check_positive("population", options["population"], integer=True, minimum=2, strict=False)
        if self.mirrored and int(options["population"]) % 2:
            raise StrategyError(f"strategy.population: {options['population']}; {self.name} samples mirrored pairs, "
                                f"so the population must be even")
        check_gene_option("sigma0", options["sigma0"])
        check_gene_option("init_std", options["init_std"], zero=True)
        check_gene_option("x0", options["x0"], signed=True)
        if int(dim) < 1:
            raise StrategyError(f"{self.name}: dimension {dim}; expected >= 1")
        table = int(options.get("table_size") or 0) or table_size_for(dim)
        if table < int(dim) + 1:
            raise StrategyError(f"strategy.table_size: {options.get('table_size')}; expected 0 (automatic) or at "
                                f"least the genome size plus 1 ({int(dim) + 1})")
        self.dim, self.seed, self.options = int(dim), int(seed), dict(options)
        self.population_size = int(options["population"])
        self.table_size = table
        self.table_seed = entropy_seed(self.seed, 0x6E6F6973)  # "nois"
        self.center = np.full(self.dim, float(options["x0"]))
        if options["init_std"]:
            self.center += float(options["init_std"]) * stream(self.seed, 0).standard_normal(self.dim)
        self.sigma = np.full(self.dim, float(options["sigma0"])) if self.per_gene_sigma \
            else np.float64(options["sigma0"])
        self.generation = 0
        self._asked: SeededPopulation | None = None

    @property
    def n_noise(self) -> int:
        return self.population_size // 2 if self.mirrored else self.population_size

    def ask(self) -> SeededPopulation:
        if self._asked is None:
            offsets = stream(self.seed, self.generation + 1).integers(0, self.table_size - self.dim + 1,
                                                                      size=self.n_noise, dtype=np.int64)
            self._asked = SeededPopulation(self.center.astype(np.float32), np.asarray(self.sigma, np.float32),
                                           offsets, self.mirrored, self.table_seed, self.table_size,
                                           self.generation)
        return self._asked

    def _tell(self, population: Any, values: np.ndarray) -> None:
        asked = self._asked
        if asked is None:
            raise StrategyError(f"{self.name}: tell() before ask()")
        if population is not asked and not (isinstance(population, SeededPopulation)
                                            and population.generation == asked.generation
                                            and np.array_equal(population.offsets, asked.offsets)):
            raise StrategyError(f"{self.name}: tell() needs the population that ask() returned")
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, in one line
            self._update(asked, values)
        self._check_range()
        self._asked = None

    def _check_range(self) -> None:
        """A StepSizeError naming the step-size options if an update left the center or the
        deviation outside what genes can hold (finite, at most GENE_LIMIT in magnitude)."""
        for what, arr in (("center", self.center), ("deviation", np.asarray(self.sigma))):
            top = max(float(arr.max()), -float(arr.min()))  # NaN stays NaN: not <= GENE_LIMIT
            if not top <= GENE_LIMIT:
                raise StepSizeError(f"its update took the search {what} to {top:g}, beyond what genes can hold "
                                    f"({GENE_LIMIT:g}): lower {' or '.join(self.step_settings())}")

    def step_settings(self) -> list[str]:
        """The options that set the size of an update, with their values, for messages."""
        return [f"strategy.{k} ({self._setting(k)})" for k in self.step_options]

    def _setting(self, key: str) -> str:
        return f"{self.options[key]:g}"

    def _update(self, population: SeededPopulation, fitness: np.ndarray) -> None:
        raise NotImplementedError(f"{type(self).__name__}._update")

    def noise_sums(self, population: SeededPopulation, weights: np.ndarray,
                   square_weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """``(sum_j weights[j] noise(j), sum_j square_weights[j] noise(j)^2)``, float64 (D,), in
        one pass over the noise (the second None without ``square_weights``)."""
        return weighted_noise_sums(noise_table(self.table_seed, self.table_size), population.offsets, weights,
                                   self.dim, square_weights)

    def pair_values(self, fitness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values of the + genomes, values of the - genomes), each (P/2,), for mirrored pairs."""
        return fitness[0::2], fitness[1::2]

    def center_genome(self) -> np.ndarray:
        """The center, the strategy's result: what a run validates (and writes to center.json)."""
        return self.center.copy()

    # --- saved state -------------------------------------------------------------------
    def _extra_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {}

    def _load_extra(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        pass

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = self._extra_state()
        return ({"strategy": self.name, "dim": self.dim, "seed": self.seed, "options": self.options,
                 "generation": self.generation, "table_size": self.table_size, **meta},
                {"center": self.center, "sigma": np.asarray(self.sigma, np.float64), **arrays})

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "GaussianStrategy":
        try:
            es = cls(meta["dim"], seed=meta["seed"], **meta["options"])
            center = np.asarray(arrays["center"], np.float64)
            sigma = np.asarray(arrays["sigma"], np.float64)
            generation = int(meta["generation"])
        except StrategyError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise StrategyError(f"{cls.name} state: missing or malformed field {exc}") from None
        want_sigma = (es.dim,) if cls.per_gene_sigma else ()
        if center.shape != (es.dim,) or sigma.shape != want_sigma or generation < 0:
            raise StrategyError(f"{cls.name} state: center {center.shape}, sigma {sigma.shape}, generation "
                                f"{generation}; expected ({es.dim},), {want_sigma} and >= 0")
        if not (np.isfinite(center).all() and np.isfinite(sigma).all() and (sigma > 0).all()):
            raise StrategyError(f"{cls.name} state: the center or sigma holds a non-finite or non-positive value")
        es.center, es.sigma, es.generation = center.copy(), (sigma.copy() if cls.per_gene_sigma
                                                             else np.float64(sigma)), generation
        es._load_extra(meta, arrays)
        return es
