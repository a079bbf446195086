"""The ask/tell interface every strategy speaks, and its saved form (JSON + npz, no pickle)."""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Strategy", "StrategyError"]


class StrategyError(ValueError):
    """Bad strategy options, a misuse of ask/tell, or a state that cannot be restored."""


@runtime_checkable
class Strategy(Protocol):
    """``ask() -> population``: a (P, D) matrix for fixed-topology strategies
    (``genome_space = "fixed"``), a ``NeatPopulation`` for NEAT (``genome_space = "neat"``);
    ``tell(population, fitness)`` with fitness (P,), higher is better, or (P, M) for a
    strategy that declares ``objectives`` (the first is the task's fitness, maximized, the
    others task metrics, minimized); ``state() -> (meta, arrays)`` where meta is JSON-ready
    and arrays go to an npz file; ``from_state(meta, arrays)`` rebuilds a strategy that
    continues exactly where it was."""

    name: str

    def ask(self) -> np.ndarray: ...

    def tell(self, population: np.ndarray, fitness: np.ndarray) -> None: ...

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "Strategy": ...
