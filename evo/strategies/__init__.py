"""Evolution strategies behind one ask/tell interface, created by name."""
from __future__ import annotations

import inspect
from typing import Any

from .base import Strategy, StrategyError
from .cma import CMAES

__all__ = ["Strategy", "StrategyError", "CMAES", "STRATEGIES", "make_strategy", "strategy_from_state",
           "strategy_options"]

STRATEGIES: dict[str, type] = {"cma": CMAES}


def _cls(name: str) -> type:
    if name not in STRATEGIES:
        raise StrategyError(f"unknown strategy {name!r}; valid strategies: {', '.join(sorted(STRATEGIES))}")
    return STRATEGIES[name]


def strategy_options(name: str) -> dict[str, Any]:
    """The options of strategy ``name`` with their defaults."""
    params = inspect.signature(_cls(name).__init__).parameters.values()
    return {p.name: p.default for p in params
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"}


def make_strategy(name: str, dim: int, seed: int, **options: Any) -> Strategy:
    valid = strategy_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise StrategyError(f"strategy {name!r}: unknown option {unknown[0]!r}; valid options: {', '.join(valid)}")
    return _cls(name)(dim, seed=seed, **options)


def strategy_from_state(meta: dict[str, Any], arrays: dict) -> Strategy:
    return _cls(meta.get("strategy", "?")).from_state(meta, arrays)
