"""Run configuration: TOML tables [run], [task], [genome] and [strategy], resolved and validated.

Every option has a default; a config file and CLI flags override them, in that order.
An unknown key, a wrong type or an out-of-range value is a ``ConfigError`` naming it.
"""
from __future__ import annotations

import copy
import difflib
import inspect
import math
import sys
from pathlib import Path
from typing import Any

import tasks
from neurons import KERNELS

from .errors import ConfigError
from .genome import FixedTopology
from .neat import NeatSpace
from .strategies import STRATEGIES, genome_space_kind, strategy_options

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["RUN_DEFAULTS", "load_toml", "resolve", "defaults", "space_class"]

RUN_DEFAULTS: dict[str, Any] = {
    "seed": 0,                 # the run's master seed
    "generations": 100,        # generations at most
    "stop_fitness": "task",    # stop once a generation's best reaches this; "task": the task's target
    "stop_on_solved": True,    # also stop once a network solves the task (tasks with solved(), e.g. xor)
    "out": "runs",             # parent folder of run directories
    "name": "",                # run directory name; "" makes TASK-STRATEGY-sSEED-TIMESTAMP
    "validate_every": 10,      # validate the best genome every this many generations (0: only at the end)
    "checkpoint_every": 1,     # resumable checkpoint every this many generations (and on Ctrl-C, SIGTERM, the end)
    "backend": "ray",          # evaluator: "ray" (local instance, or a cluster with address) or "serial"
    "workers": 0,              # Ray actors; 0: one per CPU of the cluster
    "address": "",             # Ray cluster to join ("auto", "HOST:PORT"); "": $RAY_ADDRESS or a local instance
    "kernel": "auto",          # LIF simulator: "numba", "numpy", or "auto" (numba for <= 4 samples per network, if installed)
    "quiet": False,            # no per-generation lines
}
SECTIONS = ("run", "task", "genome", "strategy")
BACKENDS = ("ray", "serial")


def space_class(strategy: str) -> type:
    """The genome space class of strategy ``strategy``."""
    return NeatSpace if genome_space_kind(strategy) == "neat" else FixedTopology


def _suggest(key: str, valid) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_type(where: str, value: Any, default: Any) -> Any:
    """Check value against the type of its default; ints are accepted for floats."""
    if default is None:
        return value
    if where == "run.stop_fitness":  # a number, or "task"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: {value!r}; expected a number or \"task\"")
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        want = "true or false"
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = "an integer"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        want = "a number"
        value = float(value) if ok else value
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
        want = "a list"
        value = list(value) if ok else value
    else:
        ok = isinstance(value, str)
        want = "a string"
    if not ok:
        raise ConfigError(f"{where}: {value!r} is {type(value).__name__}; expected {want}")
    return value


def _check_keys(section: str, table: dict, valid: dict) -> dict:
    out = {}
    for key, value in table.items():
        if key not in valid:
            raise ConfigError(f"[{section}] unknown key {key!r}{_suggest(key, valid)}; valid keys: "
                              f"{', '.join(valid)}")
        out[key] = _check_type(f"{section}.{key}", value, valid[key])
    return out


def _keyword_defaults(fn) -> dict[str, Any]:
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty}


def load_toml(path: str | Path) -> dict:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(path)!r} is a directory") from None
    for key, value in data.items():
        if key not in SECTIONS and key != "meta":
            raise ConfigError(f"config file {str(path)!r}: unknown table [{key}]{_suggest(key, SECTIONS)}; "
                              f"valid tables: {', '.join(SECTIONS)}")
        if not isinstance(value, dict):
            raise ConfigError(f"config file {str(path)!r}: {key!r} must be a table [{key}]")
    data.pop("meta", None)
    return data


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for section, table in over.items():
        out.setdefault(section, {}).update({k: v for k, v in table.items() if v is not None})
    return out


def resolve(*layers: dict) -> dict:
    """Merge config layers (later wins) and return the fully resolved, validated config.

    Each layer is {section: {key: value}}; a None value leaves the key to earlier layers.
    """
    raw: dict = {}
    for layer in layers:
        raw = _merge(raw, layer)
    run = dict(RUN_DEFAULTS)
    run.update(_check_keys("run", raw.get("run", {}), RUN_DEFAULTS))
    for key in ("generations",):
        if run[key] < 1:
            raise ConfigError(f"run.{key}: {run[key]}; expected an integer >= 1")
    if run["workers"] < 0:
        raise ConfigError(f"run.workers: {run['workers']}; expected an integer >= 0 (0: one per CPU)")
    if run["checkpoint_every"] < 1:
        raise ConfigError(f"run.checkpoint_every: {run['checkpoint_every']}; expected an integer >= 1")
    if run["validate_every"] < 0:
        raise ConfigError(f"run.validate_every: {run['validate_every']}; expected an integer >= 0")
    if run["kernel"] not in ("auto",) + KERNELS:
        raise ConfigError(f"run.kernel: {run['kernel']!r}; expected one of auto, {', '.join(KERNELS)}")
    if run["backend"] not in BACKENDS:
        raise ConfigError(f"run.backend: {run['backend']!r}; expected one of {', '.join(BACKENDS)}")
    if not (0 <= run["seed"] < 2**63):
        raise ConfigError(f"run.seed: {run['seed']}; expected an integer in [0, 2**63)")

    task_raw = dict(raw.get("task", {}))
    task_name = task_raw.pop("name", None)
    if not task_name:
        raise ConfigError(f"[task] name is missing; valid tasks: {', '.join(tasks.names())}")
    task_spec = tasks.spec(task_name)
    task_defaults = _keyword_defaults(task_spec.factory)
    task_opts = _check_keys("task", task_raw, task_defaults)
    task = tasks.make(task_name, **task_opts)  # validates values
    task_resolved = {"name": task_name, **getattr(task, "options", task_opts)}

    if isinstance(run["stop_fitness"], str):
        if run["stop_fitness"] != "task":
            raise ConfigError(f"run.stop_fitness: {run['stop_fitness']!r}; expected a number, inf or \"task\"")
        run["stop_fitness"] = float(getattr(task, "target", math.inf))
    run["stop_fitness"] = float(run["stop_fitness"])

    strat_raw = dict(raw.get("strategy", {}))
    strat_name = strat_raw.pop("name", "cma")
    if not isinstance(strat_name, str) or strat_name not in STRATEGIES:
        raise ConfigError(f"strategy.name: unknown strategy {strat_name!r}; valid strategies: "
                          f"{', '.join(sorted(STRATEGIES))}")
    space_cls = space_class(strat_name)
    genome_defaults = _keyword_defaults(space_cls.__init__)
    genome = dict(genome_defaults)
    genome.update(_check_keys("genome", raw.get("genome", {}), genome_defaults))
    space = space_cls(task.n_inputs, task.n_outputs, **genome)  # validates values
    genome = space.config()

    strat_defaults = strategy_options(strat_name)
    strategy = dict(strat_defaults)
    strategy.update(_check_keys("strategy", strat_raw, strat_defaults))
    return {"run": run, "task": task_resolved, "genome": genome, "strategy": {"name": strat_name, **strategy}}


def defaults(task: str = "cartpole", strategy: str = "cma") -> dict:
    return resolve({"task": {"name": task}, "strategy": {"name": strategy}})
