"""Training: the config, the Trainer and its callbacks, and ``run``/``resume``."""
from __future__ import annotations

from .api import RunResult, build, make_strategy_for, problem_of, resume, run, run_callbacks
from .callbacks import (BestWriter, Checkpointer, IndividualsWriter, LineLogger, MetricsWriter, ParetoWriter,
                        ProgressBar, SolvedWriter, StopRules, SummaryWriter, Validator)
from .config import RUN_DEFAULTS, Resolved, defaults, dump_with_sources, load_toml, resolve, resolve_sources
from .trainer import Callback, GenerationResult, LoopState, Trainer

__all__ = ["run", "resume", "RunResult", "build", "problem_of", "make_strategy_for", "run_callbacks",
           "Trainer", "Callback", "GenerationResult", "LoopState", "StopRules", "Validator", "BestWriter",
           "SolvedWriter", "ParetoWriter", "MetricsWriter", "IndividualsWriter", "Checkpointer", "SummaryWriter",
           "LineLogger", "ProgressBar", "RUN_DEFAULTS", "Resolved", "defaults", "dump_with_sources", "load_toml",
           "resolve", "resolve_sources"]
