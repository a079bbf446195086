"""NSGA-II (Deb et al. 2002) from DEAP's operators: task fitness up, spikes down.

The two objectives are ``maximize`` (default: the task's fitness; or a task metric such as
``accuracy``) and ``minimize`` (default: the task's ``spikes`` metric, the energy proxy; or
another metric such as ``synaptic_events``). Each generation, in ``tell``: the evaluated offspring join the
parents, ``tools.selNSGA2`` keeps the best ``population`` by non-domination rank and
crowding distance, and the next offspring come from ``tools.selTournamentDCD`` followed by
simulated binary crossover (``eta``, probability ``crossover_rate``) and Gaussian mutation
(``mutation_sigma``, ``mutation_indpb``, probability ``mutation_rate``).
``pareto_front()`` is the first front of the parents. ``population`` must be a multiple of 4
(``selTournamentDCD``).

Randomness and state as in ``ga``: generation g runs under Python ``random`` seeded from
SeedSequence(seed, spawn_key=(g + 1,)); the state is the offspring to evaluate, the parents
and their objective values.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from deap import tools

from ..errors import StrategyError
from .base import Strategy
from .deap_support import FitnessMaxMin, members, python_random, rows
from .ga import check_common, check_population, restore, start
from .variation import vary

__all__ = ["NSGA2"]


class NSGA2(Strategy):
    """Two-objective NSGA-II: ``tell(X, F)`` with F (P, 2) = (fitness, spikes)."""

    name = "nsga2"
    genome_space = "fixed"
    objectives = ("fitness", "spikes")

    def __init__(self, dim: int, *, seed: int, population: int = 64, init_std: float = 0.5,
                 crossover_rate: float = 0.9, eta: float = 15.0, mutation_rate: float = 0.9,
                 mutation_sigma: float = 0.1, mutation_indpb: float = 0.1, maximize: str = "fitness",
                 minimize: str = "spikes") -> None:
        self.options = dict(population=population, init_std=init_std, crossover_rate=crossover_rate, eta=eta,
                            mutation_rate=mutation_rate, mutation_sigma=mutation_sigma,
                            mutation_indpb=mutation_indpb, maximize=maximize, minimize=minimize)
        for key, value in (("maximize", maximize), ("minimize", minimize)):
            if not isinstance(value, str) or not value or value == "fitness" and key == "minimize":
                raise StrategyError(f"strategy.{key}: {value!r}; expected a task metric name"
                                    + (" or 'fitness'" if key == "maximize" else ""))
        if maximize == minimize:
            raise StrategyError(f"strategy.minimize: {minimize!r} is also strategy.maximize; expected two objectives")
        self.objectives = (maximize, minimize)
        check_common(self.options, min_population=4)
        if int(population) % 4:
            raise StrategyError(f"strategy.population: {population}; NSGA-II needs a multiple of 4")
        start(self, dim, seed)
        self.parents = np.zeros((0, self.dim))
        self.parent_values = np.zeros((0, 2))

    def ask(self) -> np.ndarray:
        return self._pop.copy()

    def _tell(self, population: np.ndarray, objectives: np.ndarray) -> None:
        check_population(self, population)
        o = self.options
        genomes = np.concatenate([self.parents, self._pop])
        values = np.concatenate([self.parent_values, np.asarray(objectives, np.float64).reshape(-1, 2)])
        pool = members(values, len(genomes), FitnessMaxMin)
        with python_random(self.seed, self.generation + 1):
            parents = tools.selNSGA2(pool, self.population_size)
            children = genomes[rows(tools.selTournamentDCD(parents, self.population_size))]
            vary(children, {**o, "crossover": "sbx"})
        kept = rows(parents)
        self.parents, self.parent_values = genomes[kept], values[kept]
        self._pop = children

    def pareto_front(self) -> tuple[np.ndarray, np.ndarray]:
        """(genomes (F, D), objective values (F, 2)) of the parents' first non-dominated front."""
        if not len(self.parents):
            return np.zeros((0, self.dim)), np.zeros((0, 2))
        pool = members(self.parent_values, len(self.parents), FitnessMaxMin)
        idx = sorted(rows(tools.sortNondominated(pool, len(pool), first_front_only=True)[0]))
        return self.parents[idx], self.parent_values[idx]

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"strategy": self.name, "dim": self.dim, "seed": self.seed, "options": self.options,
                 "generation": self.generation},
                {"population": self._pop, "parents": self.parents, "parent_values": self.parent_values})

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "NSGA2":
        es = restore(cls, meta, arrays)
        try:
            parents = np.asarray(arrays["parents"], np.float64).reshape(-1, es.dim)
            values = np.asarray(arrays["parent_values"], np.float64).reshape(-1, 2)
        except (KeyError, TypeError, ValueError) as exc:
            raise StrategyError(f"nsga2 state: missing or malformed field {exc}") from None
        if len(parents) != len(values):
            raise StrategyError("nsga2 state: parents and their objective values differ in number")
        es.parents, es.parent_values = parents, values
        return es
