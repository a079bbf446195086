"""A generational genetic algorithm from DEAP's operators, on the fixed-topology genome.

Each generation, in ``tell``: the best ``elitism`` genomes pass unchanged; the rest of the
next population are tournament winners (``tools.selTournament``, size ``tournament``),
paired and crossed with probability ``crossover_rate`` by simulated binary crossover
(``tools.cxSimulatedBinary``, ``eta``) or blend crossover (``tools.cxBlend``, ``alpha``),
then each mutated with probability ``mutation_rate`` by Gaussian noise
(``tools.mutGaussian``: each gene with probability ``mutation_indpb`` gets N(0, ``mutation_sigma``)).
The first population is N(0, ``init_std``).

Randomness: generation g runs DEAP under Python ``random`` seeded from
SeedSequence(seed, spawn_key=(g + 1,)) and the initial population comes from spawn_key (0,),
so the saved state (the current population and the generation) is complete.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from deap import tools

from ..errors import StrategyError
from ..seeding import stream
from .base import Strategy, check_gene_option
from .deap_support import FitnessMax, members, python_random, rows
from .variation import vary

__all__ = ["GA", "CROSSOVERS"]

CROSSOVERS = ("sbx", "blend")


class GA(Strategy):
    """Generational GA with elitism; fitness is maximized."""

    name = "ga"
    genome_space = "fixed"

    def __init__(self, dim: int, *, seed: int, population: int = 64, init_std: float = 0.5, tournament: int = 3,
                 crossover: str = "sbx", crossover_rate: float = 0.9, eta: float = 15.0, alpha: float = 0.5,
                 mutation_rate: float = 0.9, mutation_sigma: float = 0.1, mutation_indpb: float = 0.1,
                 elitism: int = 2) -> None:
        self.options = dict(population=population, init_std=init_std, tournament=tournament, crossover=crossover,
                            crossover_rate=crossover_rate, eta=eta, alpha=alpha, mutation_rate=mutation_rate,
                            mutation_sigma=mutation_sigma, mutation_indpb=mutation_indpb, elitism=elitism)
        check_common(self.options, min_population=2)
        if not 0 <= int(elitism) < int(population):
            raise StrategyError(f"strategy.elitism: {elitism}; expected an integer in [0, population)")
        if int(tournament) < 1:
            raise StrategyError(f"strategy.tournament: {tournament}; expected an integer >= 1")
        if crossover not in CROSSOVERS:
            raise StrategyError(f"strategy.crossover: {crossover!r}; expected one of {', '.join(CROSSOVERS)}")
        start(self, dim, seed)

    def ask(self) -> np.ndarray:
        return self._pop.copy()

    def _tell(self, population: np.ndarray, fitness: np.ndarray) -> None:
        check_population(self, population)
        o = self.options
        pool = members(fitness, self.population_size, FitnessMax)
        with python_random(self.seed, self.generation + 1):
            elite = rows(tools.selBest(pool, int(o["elitism"])))
            children = self._pop[rows(tools.selTournament(pool, self.population_size - len(elite),
                                                          int(o["tournament"])))]
            vary(children, o)
        self._pop = np.concatenate([self._pop[elite], children])

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"strategy": self.name, "dim": self.dim, "seed": self.seed, "options": self.options,
                 "generation": self.generation}, {"population": self._pop})

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "GA":
        return restore(cls, meta, arrays)


def restore(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]):
    """A strategy of class ``cls`` rebuilt from its options, generation and population."""
    try:
        es = cls(meta["dim"], seed=meta["seed"], **meta["options"])
        es.generation = int(meta["generation"])
        pop = np.asarray(arrays["population"], np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise StrategyError(f"{cls.name} state: missing or malformed field {exc}") from None
    if pop.shape != es._pop.shape or not np.isfinite(pop).all():
        raise StrategyError(f"{cls.name} state: population of shape {pop.shape}; expected {es._pop.shape}")
    es._pop = pop
    return es


def start(es, dim: int, seed: int) -> None:
    """Common set-up: dimension, seed, generation 0 and the N(0, init_std) first population."""
    es.dim, es.seed = int(dim), int(seed)
    if es.dim < 1:
        raise StrategyError(f"{es.name}: dimension {dim}; expected >= 1")
    es.population_size = int(es.options["population"])
    es.generation = 0
    rng = stream(es.seed, 0)
    es._pop = rng.normal(0.0, float(es.options["init_std"]), (es.population_size, es.dim))


def check_common(o: dict, min_population: int) -> None:
    if isinstance(o["population"], bool) or int(o["population"]) < min_population:
        raise StrategyError(f"strategy.population: {o['population']}; expected an integer >= {min_population}")
    for k in ("crossover_rate", "mutation_rate", "mutation_indpb"):
        if k in o and not 0 <= o[k] <= 1:
            raise StrategyError(f"strategy.{k}: {o[k]}; expected a probability in [0, 1]")
    for k in ("init_std", "mutation_sigma"):
        if k in o:
            check_gene_option(k, o[k])
    if "eta" in o and not 0 < o["eta"] < np.inf:
        raise StrategyError(f"strategy.eta: {o['eta']}; expected a finite value > 0")
    if "alpha" in o and not 0 < o["alpha"] <= 1:
        raise StrategyError(f"strategy.alpha: {o['alpha']}; expected a value in (0, 1] (blend crossover widens the "
                            f"parents' interval by alpha times its length on each side)")


def check_population(es, population: np.ndarray) -> None:
    population = np.asarray(population, np.float64)
    if population.shape != es._pop.shape or not np.array_equal(population, es._pop):
        raise StrategyError(f"{es.name}: tell() needs the population that ask() returned, unchanged")
