"""The strategy registry: strategies by name, loaded on first use.

Three ways in, as for tasks: the built-in strategies below ("module:Class" strings),
``register(name, cls)`` in user code, and the entry-point group ``evospike.strategies`` of
installed packages (``name = "package.module:Class"``). Adding a built-in strategy is one
file and one line in ``BUILTIN``. A plugin whose entry point fails to import is skipped
with one warning.
"""
from __future__ import annotations

import difflib
import inspect
import warnings
from importlib import metadata
from typing import Any

import numpy as np

from tasks.registry import load_attr

from ..errors import StrategyError
from .base import Strategy

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "register", "names", "get", "option_defaults", "make", "from_state"]

ENTRY_POINT_GROUP = "evospike.strategies"

BUILTIN = {
    "cma": "evo.strategies.cma:CMAES",
    "ga": "evo.strategies.ga:GA",
    "neat": "evo.strategies.neat:NEAT",
    "nsga2": "evo.strategies.nsga2:NSGA2",
    "openes": "evo.strategies.openes:OpenES",
    "pgpe": "evo.strategies.pgpe:PGPE",
    "snes": "evo.strategies.snes:SNES",
}

_registry: dict[str, type | str] = dict(BUILTIN)
_entry_points_loaded = False


def register(name: str, cls: type | str, *, replace: bool = False) -> None:
    """Register a Strategy subclass (or a "module:Class" string naming one) under ``name``."""
    if not isinstance(name, str) or not name:
        raise StrategyError(f"register: strategy name {name!r}; expected a non-empty string")
    if name in _registry and not replace:
        raise StrategyError(f"register: strategy {name!r} is already registered; pass replace=True to replace it")
    _registry[name] = cls


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _registry:
            _registry[ep.name] = ep.value


def names() -> list[str]:
    """Every registered strategy name, sorted."""
    _load_entry_points()
    return sorted(_registry)


def get(name: str) -> type:
    """The Strategy subclass registered as ``name``."""
    _load_entry_points()
    if not isinstance(name, str) or name not in _registry:
        close = difflib.get_close_matches(str(name), list(_registry), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise StrategyError(f"unknown strategy {name!r}{hint}; valid strategies: {', '.join(names())}")
    entry = _registry[name]
    if isinstance(entry, str):
        try:
            cls = load_attr(entry, "strategy")
        except Exception as exc:  # a broken plugin must not break the other strategies
            del _registry[name]
            warnings.warn(f"evospike: skipped strategy {name!r}: {entry!r} failed to load "
                          f"({type(exc).__name__}: {exc})", stacklevel=2)
            raise StrategyError(f"strategy {name!r} ({entry}) failed to load: {type(exc).__name__}: {exc}") from None
        _registry[name] = entry = cls
    if not (isinstance(entry, type) and issubclass(entry, Strategy)):
        raise StrategyError(f"strategy {name!r}: {entry!r} is not a subclass of evo.strategies.Strategy")
    return entry


def option_defaults(name: str) -> dict[str, Any]:
    """The options of strategy ``name`` with their defaults; an option without one is a
    StrategyError (a config file and ``--dump-config`` show every option with its value)."""
    defaults = get(name).option_defaults()
    required = [k for k, v in defaults.items() if v is inspect.Parameter.empty]
    if required:
        raise StrategyError(f"strategy {name!r}: the option {required[0]!r} of {get(name).__name__}.__init__ has no "
                            f"default; give every keyword-only option a default")
    return defaults


def make(name: str, space: Any, seed: int, **options: Any) -> Strategy:
    """Strategy ``name`` over a genome space (fixed-topology strategies get its dimension)."""
    cls = get(name)
    valid = cls.option_defaults()
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise StrategyError(f"strategy {name!r}: unknown option {unknown[0]!r}; valid options: {', '.join(valid)}")
    if cls.genome_space == "fixed":
        space = getattr(space, "dim", space)
    try:
        strategy = cls(space, seed=seed, **options)
    except StrategyError:
        raise
    except Exception as exc:  # the strategy's own check of its options, or a bug they reach
        given = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "no options"
        raise StrategyError(f"strategy {name!r} failed to start with {given}: {type(exc).__name__}: {exc}") from None
    P = getattr(strategy, "population_size", None)
    if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or P < 1:
        raise StrategyError(f"strategy {name!r} ({cls.__name__}): population_size = {P!r}; a Strategy sets it to an "
                            f"integer >= 1 in __init__")
    return strategy


def from_state(meta: dict[str, Any], arrays: dict) -> Strategy:
    """The strategy a checkpoint's (meta, arrays) describe."""
    if not isinstance(meta, dict):
        raise StrategyError(f"strategy state: expected a JSON object, got {type(meta).__name__}")
    return get(meta.get("strategy", "?")).from_state(meta, arrays)
