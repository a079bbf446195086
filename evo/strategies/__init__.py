"""Evolution strategies behind one ask/tell interface, created by name."""
from __future__ import annotations

import inspect
from typing import Any

from .base import Strategy, StrategyError
from .cma import CMAES
from .ga import GA
from .neat import NEAT
from .nsga2 import NSGA2

__all__ = ["Strategy", "StrategyError", "CMAES", "GA", "NEAT", "NSGA2", "STRATEGIES", "make_strategy", "strategy_from_state",
           "strategy_options", "genome_space_kind"]

STRATEGIES: dict[str, type] = {"cma": CMAES, "ga": GA, "neat": NEAT, "nsga2": NSGA2}


def genome_space_kind(name: str) -> str:
    """The genome space strategy ``name`` evolves: "fixed" (a (P, D) matrix) or "neat"."""
    return getattr(_cls(name), "genome_space", "fixed")


def _cls(name: str) -> type:
    if name not in STRATEGIES:
        raise StrategyError(f"unknown strategy {name!r}; valid strategies: {', '.join(sorted(STRATEGIES))}")
    return STRATEGIES[name]


def strategy_options(name: str) -> dict[str, Any]:
    """The options of strategy ``name`` with their defaults."""
    params = inspect.signature(_cls(name).__init__).parameters.values()
    return {p.name: p.default for p in params
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"}


def make_strategy(name: str, space: Any, seed: int, **options: Any) -> Strategy:
    """Strategy ``name`` over a genome space (for fixed-topology strategies, a dimension works too)."""
    valid = strategy_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise StrategyError(f"strategy {name!r}: unknown option {unknown[0]!r}; valid options: {', '.join(valid)}")
    cls = _cls(name)
    if getattr(cls, "genome_space", "fixed") == "fixed":
        space = getattr(space, "dim", space)
    return cls(space, seed=seed, **options)


def strategy_from_state(meta: dict[str, Any], arrays: dict) -> Strategy:
    return _cls(meta.get("strategy", "?")).from_state(meta, arrays)
