"""Evolution strategies behind one ask/tell interface (:class:`Strategy`), created by name
through the registry (:mod:`evo.strategies.registry`). Importing this package imports no
strategy module: each loads on first use."""
from __future__ import annotations

from ..errors import StrategyError
from .base import Strategy
from .registry import ENTRY_POINT_GROUP, from_state, get, make, names, option_defaults, register

__all__ = ["Strategy", "StrategyError", "ENTRY_POINT_GROUP", "register", "names", "get", "make", "from_state",
           "option_defaults"]
