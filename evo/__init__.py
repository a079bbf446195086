"""evospike's evolution layer: genome spaces, strategies, evaluators, the training loop,
run directories and the command line.

``evo.run(config, callbacks=[...])`` and ``evo.resume(path)`` are loaded on first use, so
``from evo.results import load_run`` imports no strategy library.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "run", "resume", "resolve", "Trainer", "Callback", "GenerationResult", "LoopState",
           "load_run", "load_runs"]

_LAZY = {"run": "evo.training.api", "resume": "evo.training.api", "resolve": "evo.training.config",
         "Trainer": "evo.training.trainer", "Callback": "evo.training.trainer",
         "GenerationResult": "evo.training.trainer", "LoopState": "evo.training.trainer",
         "load_run": "evo.rundir.results", "load_runs": "evo.rundir.results"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'evo' has no attribute {name!r}")
