"""The base class of every strategy: ask/tell, and a saved form (JSON + npz, no pickle).

As in evosax's ``algorithms/base.py``, the public :meth:`Strategy.tell` does the
bookkeeping (it checks the fitness and counts generations) and a subclass's ``_tell`` does
the algorithm.
"""
from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np

from ..errors import StrategyError
from ..genomes.fixed import GENE_LIMIT

__all__ = ["Strategy", "StrategyError", "GENE_LIMIT", "check_gene_option"]


def check_gene_option(name: str, value: Any, *, signed: bool = False, zero: bool = False) -> None:
    """A StrategyError unless ``strategy.<name>`` is a number that genes can take: a scale in
    (0, GENE_LIMIT] ([0, ...] with ``zero``), or with ``signed`` a centre in [-GENE_LIMIT, GENE_LIMIT]."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating)) \
        and abs(float(value)) <= GENE_LIMIT and (signed or value > 0 or (zero and value == 0))
    if not ok:
        want = f"from {-GENE_LIMIT:g} to {GENE_LIMIT:g}" if signed else \
            f"{'>=' if zero else '>'} 0 and at most {GENE_LIMIT:g}"
        raise StrategyError(f"strategy.{name}: {value!r}; expected a number {want} (genes become float32 values)")


class Strategy:
    """An evolution strategy behind one ask/tell interface.

    Every subclass declares:

    - ``name``: the name it is registered under;
    - ``genome_space``: the genome space it evolves, "fixed" (``ask`` returns a (P, D)
      float64 matrix) or "neat" (a ``NeatPopulation``);
    - ``objectives``: ("fitness",), or for a multi-objective strategy the task's fitness
      (maximized) followed by task metrics (minimized); ``tell`` then takes (P, M);
    - ``population_size``: P, set in ``__init__``;

    and implements ``ask()``, ``_tell(population, values)``, ``state() -> (meta, arrays)``
    (meta JSON-ready, arrays for an npz file) and the classmethod ``from_state(meta,
    arrays)``, which rebuilds a strategy that continues exactly where it was. Options are the
    keyword-only arguments of ``__init__`` (besides ``seed``), with their defaults.
    ``generation`` counts the generations told; ``pareto_front()`` is
    ``(genomes, values)`` for multi-objective strategies, None otherwise; ``last_species``
    holds the species ids (P,) of the last told population for strategies with species
    (NEAT), None otherwise.
    """

    name: ClassVar[str] = "?"
    genome_space: ClassVar[str] = "fixed"
    objectives: ClassVar[tuple[str, ...]] = ("fitness",)
    population_size: int
    generation: int = 0
    last_species: np.ndarray | None = None

    def ask(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.ask")

    def tell(self, population: Any, fitness: np.ndarray) -> None:
        """Tell the fitness of the population ``ask`` returned: (P,), higher is better, or (P, M)
        for the objectives; every value finite."""
        self._tell(population, self.check_values(population, fitness))
        self.generation += 1

    def _tell(self, population: Any, values: np.ndarray) -> None:
        raise NotImplementedError(f"{type(self).__name__}._tell")

    def check_values(self, population: Any, fitness: np.ndarray) -> np.ndarray:
        values = np.asarray(fitness, np.float64)
        M = len(self.objectives)
        want = (self.population_size,) if M == 1 else (self.population_size, M)
        where = f"{self.name}: generation {self.generation}"
        if len(population) != self.population_size:
            raise StrategyError(f"{where}: tell() got {len(population)} genomes; the population has "
                                f"{self.population_size}")
        if values.shape != want:
            raise StrategyError(f"{where}: tell() got values of shape {values.shape}; expected shape {want} "
                                f"({', '.join(self.objectives)})")
        bad = np.flatnonzero(~np.isfinite(values).reshape(len(values), -1).all(axis=1))
        if bad.size:
            raise StrategyError(f"{where}: the values of network {int(bad[0])} ({values[bad[0]]}) are not finite "
                                f"({bad.size} networks in all); every value must be a finite number")
        return values

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        raise NotImplementedError(f"{type(self).__name__}.state")

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "Strategy":
        raise NotImplementedError(f"{cls.__name__}.from_state")

    def pareto_front(self) -> tuple[Any, np.ndarray] | None:
        return None

    def center_genome(self) -> np.ndarray | None:
        """The center of the search distribution (D,), for strategies whose result is their
        center (openes, pgpe, snes): runs validate it instead of the best sampled network.
        None (the default): the best network so far is the result."""
        return None

    @classmethod
    def expected_population(cls, options: dict[str, Any], dim: int) -> int:
        """The population size these options give for genomes of ``dim`` numbers (before the
        strategy is made, to check that a generation fits in memory)."""
        return int(options.get("population", 0))

    @classmethod
    def option_defaults(cls) -> dict[str, Any]:
        """The strategy's options with their defaults."""
        return {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"}
