"""Run configuration: TOML tables [run], [task], [genome] and [strategy], resolved and validated.

Layers, later ones winning: the defaults, the task's preset (``Task.preset``), a config file,
CLI flags. :func:`resolve_sources` also says which layer set each value (``--dump-config``).
When the chosen strategy is not the one the preset names, the preset's task options and
budget still apply, its genome options apply if the genome space is the same kind, and
its strategy options give way to the preset's ``alternatives`` entry for that strategy, or
else to the strategy's own defaults; ``resolve_sources`` returns a one-line note saying so.
An unknown key, a wrong type or an out-of-range value is a ``ConfigError`` naming it.
"""
from __future__ import annotations

import copy
import difflib
import inspect
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tasks
import tomli_w
from neurons import KERNELS

from .. import strategies
from ..errors import ConfigError
from ..evaluation.ray import ADDRESS_FORM, address_has_form
from ..genomes import space_class as genome_space_class
from ..rundir.files import toml_ready
from .trackers import check_trackers

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["RUN_DEFAULTS", "check_run", "load_toml", "resolve", "resolve_sources", "defaults", "space_class", "genome_kind",
           "dump_with_sources", "Resolved"]

RUN_DEFAULTS: dict[str, Any] = {
    "seed": 0,                 # the run's master seed
    "generations": 100,        # generations at most
    "stop_fitness": "task",    # stop once a generation's best reaches this; "task": the task's target
    "stop_on_solved": True,    # also stop once a network solves the task (tasks with solved(), e.g. xor)
    "out": "runs",             # parent folder of run directories
    "name": "",                # run directory name; "" makes TASK-STRATEGY-sSEED-TIMESTAMP
    "validate_every": 10,      # validate the best genome every this many generations (0: only at the end)
    "checkpoint_every": 1,     # resumable checkpoint every this many generations (and on Ctrl-C, SIGTERM, the end)
    "backend": "auto",         # evaluator: "auto" (serial, then Ray once it pays: evo/evaluation/auto.py), "ray"
                               # (local instance, or a cluster with address) or "serial"
    "ray_after": 1.0,          # backend "auto": seconds of a generation's serial evaluation from which Ray takes over
    "workers": 0,              # Ray actors; 0: one per CPU of the cluster
    "address": "",             # Ray cluster to join ("auto", "HOST:PORT"); "": $RAY_ADDRESS or a local instance
    "kernel": "auto",          # LIF simulator and closed loops: "numba" (compiled rollouts), "numpy", or "auto"
                               # (numba where installed, but numpy for closed loops on the numpy path with
                               # more than 4 episodes per network)
    "quiet": False,            # no per-generation lines
    "eval_timeout": 0.0,       # seconds a generation's evaluation may take at most (0: no limit)
    "trackers": [],            # experiment trackers to mirror the run into: "mlflow" (evo/training/trackers.py)
    "tracking_uri": "",        # MLflow's store; "": $MLFLOW_TRACKING_URI, else mlflow.db in the run directory
}
MAX_NAME_BYTES = 200
SECTIONS = ("run", "task", "genome", "strategy")
BACKENDS = ("auto", "ray", "serial")


def genome_kind(strategy: str) -> str:
    """The genome space kind ("fixed" or "neat") strategy ``strategy`` evolves."""
    try:
        return strategies.get(strategy).genome_space
    except strategies.StrategyError as exc:
        raise ConfigError(f"strategy.name: {exc}") from None


def space_class(strategy: str) -> type:
    """The genome space class of strategy ``strategy``."""
    return genome_space_class(genome_kind(strategy))


def _suggest(key: str, valid) -> str:
    lowered = {str(v).lower(): v for v in valid}  # 'Run' is close to 'run'
    close = difflib.get_close_matches(str(key).lower(), list(lowered), n=1)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""


def plain(value: Any) -> Any:
    """``value`` with numpy scalars (a sweep's ``np.arange`` or ``np.linspace`` values) as the
    Python int, float, bool or str they hold, in lists and tables too."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def _check_type(where: str, value: Any, default: Any) -> Any:
    """Check value against the type of its default; ints are accepted for floats, numpy
    scalars as the Python values they hold."""
    value = plain(value)
    if default is None:
        return value
    if where == "run.stop_fitness":  # a number, or "task"
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value):
            return float(value)
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: {value!r}; expected a number (inf: no such stop) or \"task\"")
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        want = "true or false"
    elif isinstance(default, int) and where == "genome.hidden":  # one layer's size, or a list of sizes
        ok = (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, (list, tuple))
        want = "an integer or a list of layer sizes"
        value = list(value) if isinstance(value, tuple) else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = "an integer"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        want = "a finite number"
        value = float(value) if ok else value
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
        want = "a list"
        value = list(value) if ok else value
    elif isinstance(default, dict):  # a user strategy's table of options
        ok = isinstance(value, dict)
        want = "a table"
    else:
        value = os.fspath(value) if isinstance(value, os.PathLike) else value  # a pathlib.Path for run.out
        ok = isinstance(value, str)
        want = "a string"
    if not ok:
        finite = isinstance(value, float) and not math.isfinite(value)  # the right type, not a finite value
        raise ConfigError(f"{where}: {value!r}{'' if finite else ' is ' + type(value).__name__}; expected {want}")
    if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
        raise ConfigError(f"{where}: {value}; expected an integer from -2**63 to 2**63 - 1 (what config.toml holds)")
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
    except RecursionError:
        raise ConfigError(f"config file {str(path)!r} nests tables or arrays too deeply") from None
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


@dataclass
class Resolved:
    """A resolved config, which layer set each of its values ({section: {key: source}}, the
    source "default" for values no layer set), notes for the user (one line each), and the
    task and genome space that resolving built to check the values (so that a run need not
    build them again)."""

    config: dict
    sources: dict[str, dict[str, str]]
    notes: list[str] = field(default_factory=list)
    task: Any = field(default=None, repr=False)
    space: Any = field(default=None, repr=False)


def _preset_layer(task_name: str, strategy_name: str | None, generations: int | None = None) -> tuple[dict, list[str]]:
    """The config layer of task ``task_name``'s preset for the strategy a user chose (None: the
    preset's own), and a note when the preset names another strategy; ``generations``: the
    user's own budget, if given."""
    preset = tasks.spec(task_name).preset
    if preset is None:
        return {}, []
    if strategy_name in (None, preset.strategy):
        return preset.layer(), []
    layer = preset.layer()
    alt = copy.deepcopy(preset.alternatives.get(strategy_name, {}))
    same_space = genome_kind(strategy_name) == genome_kind(preset.strategy)
    out = {"run": {**layer["run"], **({"generations": alt["generations"]} if "generations" in alt else {})},
           "task": {**layer["task"], **alt.get("task", {})},
           "genome": {**(layer["genome"] if same_space else {}), **alt.get("genome", {})},
           "strategy": {"name": strategy_name, **alt.get("strategy", {})}}
    budget = "" if generations is not None else " and budget"
    kept = f"task options{budget} and genome" if same_space and layer["genome"] else f"task options{budget}"
    how = "the preset's settings for it" if alt else "its own defaults"
    n = out["run"]["generations"] if generations is None else generations
    runs = f"{n} generation{'s' * (n != 1)}{'' if generations is None else ', as given'}"
    note = (f"task {task_name!r}: the preset names strategy {preset.strategy!r}; {strategy_name!r} runs with "
            f"{how} and the preset's {kept} ({runs})")
    return out, [note]


MODEL_OPTIONS = {"alpha": "cuba", "rho": "alif", "b": "alif"}  # genome options of one neuron model


def _check_model_options(genome: dict, given: dict) -> None:
    """A ConfigError for a neuron model's option set to other than its default with another
    model (a resolved config, as a resume reads it, holds every default)."""
    neuron = genome.get("neuron", "lif")
    default = _keyword_defaults(genome_space_class("fixed").__init__)
    for key, model in MODEL_OPTIONS.items():
        if key in given and key in genome and neuron != model and genome[key] != default[key]:
            raise ConfigError(f"genome.{key}: {genome[key]!r} ({given[key]}) applies to genome.neuron = {model!r} "
                              f"only; genome.neuron is {neuron!r}")


def resolve(*layers: dict, preset: bool = True) -> dict:
    """Merge config layers (later wins) over the defaults and the task's preset, and return
    the fully resolved, validated config.

    Each layer is {section: {key: value}}; a None value leaves the key to earlier layers.
    ``preset=False`` leaves the task's preset out.
    """
    return resolve_sources([(f"layer {i + 1}", layer) for i, layer in enumerate(layers)], preset=preset).config


def resolve_sources(layers: list[tuple[str, dict]], preset: bool = True) -> Resolved:
    """:func:`resolve` for named layers ("file", "flag", ...), with where every value came from."""
    for name, layer in layers:
        if not isinstance(layer, dict) or any(not isinstance(t, dict) for t in layer.values()):
            raise ConfigError(f"{name}: expected tables {{section: {{key: value}}}}")
        for key in layer:
            if key not in SECTIONS and key != "meta":  # meta: what a run recorded about itself
                raise ConfigError(f"{name}: unknown table {key!r}{_suggest(str(key), SECTIONS)}; valid tables: "
                                  f"{', '.join(SECTIONS)}")
    layers = [(name, {k: plain(v) for k, v in layer.items() if k != "meta"}) for name, layer in layers]
    raw: dict = {}
    for _, layer in layers:
        raw = _merge(raw, layer)
    task_name = raw.get("task", {}).get("name")
    if not task_name:
        raise ConfigError(f"[task] name is missing; valid tasks: {', '.join(tasks.names())}")
    notes: list[str] = []
    if preset:
        chosen = raw.get("strategy", {}).get("name")
        if chosen is not None:
            _check_strategy_name(chosen)
        preset_layer, notes = _preset_layer(task_name, chosen, raw.get("run", {}).get("generations"))
        layers = [("preset", preset_layer)] + list(layers)
        raw = _merge(preset_layer, raw)
    sources: dict[str, dict[str, str]] = {}
    for name, layer in layers:
        for section, table in layer.items():
            for key, value in table.items():
                if value is not None:
                    sources.setdefault(section, {})[key] = name
    config, task, space = _resolve(raw)
    _check_model_options(config["genome"], sources.get("genome", {}))
    out = {section: {key: sources.get(section, {}).get(key, "default") for key in table}
           for section, table in config.items()}
    if raw.get("run", {}).get("stop_fitness", RUN_DEFAULTS["stop_fitness"]) == "task":
        out["run"]["stop_fitness"] += ": the task's target"
    return Resolved(config, out, notes, task, space)


def _check_name(name: str) -> None:
    """run.name is one path component: no "/", no "." or "..", no NUL, at most MAX_NAME_BYTES."""
    if not name:
        return
    if ("/" in name or name in (".", "..") or len(name.encode()) > MAX_NAME_BYTES or not name.strip()
            or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise ConfigError(f"run.name: {name[:60]!r}{'...' if len(name) > 60 else ''}; expected one folder name "
                          f"(no '/', '.', '..', control characters or only spaces, at most {MAX_NAME_BYTES} "
                          f"bytes), created inside run.out")


def memory_limit() -> int:
    """This machine's physical memory, in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(estimate: float, what: str) -> None:
    """A ConfigError when ``estimate`` bytes (what ``what`` needs) exceed the machine's memory."""
    limit = memory_limit()
    if estimate > limit:
        raise ConfigError(f"{what} need about {estimate / 2**30:.3g} GiB; this machine has {limit / 2**30:.3g} GiB")


def _check_strategy_name(name: Any) -> None:
    if not isinstance(name, str) or name not in strategies.names():
        close = difflib.get_close_matches(str(name), strategies.names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"strategy.name: unknown strategy {name!r}{hint}; valid strategies: "
                          f"{', '.join(strategies.names())}")


def _inline(value: Any) -> str:
    """A TOML value on one line: lists and tables inline."""
    if isinstance(value, list):
        return f"[{', '.join(_inline(v) for v in value)}]"
    if isinstance(value, dict):
        keys = [tomli_w.dumps({k: 0}).split("=", 1)[0].strip() for k in value]
        return "{" + ", ".join(f"{k} = {_inline(v)}" for k, v in zip(keys, value.values())) + "}"
    return tomli_w.dumps({"x": value}).split("=", 1)[1].strip()


def dump_with_sources(resolved: Resolved) -> str:
    """The resolved config as TOML, each value followed by a comment naming its source."""
    lines = []
    for section, table in toml_ready(resolved.config).items():
        lines.append(f"[{section}]")
        for key, value in table.items():
            if isinstance(value, (list, dict)):  # inline, so that the comment follows the value
                text = f"{tomli_w.dumps({key: 0}).split('=', 1)[0].strip()} = {_inline(value)}"
            else:
                text = tomli_w.dumps({key: value}).strip()
            lines.append(f"{text}  # {resolved.sources.get(section, {}).get(key, 'default')}")
        lines.append("")
    return "\n".join(lines)


def check_run(table: dict) -> dict:
    """The ``[run]`` table checked, types and ranges (ints given for floats become floats)."""
    run = _check_keys("run", table, RUN_DEFAULTS)
    if run["generations"] < 1:
        raise ConfigError(f"run.generations: {run['generations']}; expected an integer >= 1")
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
    if run["address"] and not address_has_form(run["address"]):  # checked whichever backend runs
        raise ConfigError(f"run.address: {run['address']!r}; expected {ADDRESS_FORM}, or \"\" for a local instance")
    if not (0 <= run["seed"] < 2**63):
        raise ConfigError(f"run.seed: {run['seed']}; expected an integer in [0, 2**63)")
    if run["ray_after"] < 0:
        raise ConfigError(f"run.ray_after: {run['ray_after']}; expected seconds >= 0")
    if run["eval_timeout"] < 0:
        raise ConfigError(f"run.eval_timeout: {run['eval_timeout']}; expected seconds >= 0 (0: no limit)")
    if not run["out"].strip():
        raise ConfigError(f"run.out: {run['out']!r}; expected a folder (default: runs)")
    run["trackers"] = check_trackers(run["trackers"])
    _check_name(run["name"])
    return run


def _resolve(raw: dict) -> tuple[dict, Any, Any]:
    """The resolved config of the merged layers ``raw``, and the task and genome space it built."""
    run = check_run({**RUN_DEFAULTS, **raw.get("run", {})})

    task_raw = dict(raw.get("task", {}))
    task_name = task_raw.pop("name", None)
    if not task_name:
        raise ConfigError(f"[task] name is missing; valid tasks: {', '.join(tasks.names())}")
    task_spec = tasks.spec(task_name)
    task_defaults = task_spec.option_defaults()
    task_opts = _check_keys("task", task_raw, task_defaults)
    task = tasks.make(task_name, **task_opts)  # validates values
    made = getattr(task, "options", task_opts)
    takes = task_spec.option_names()
    if takes is not None:  # what makes the task again: the factory's options (a plugin's factory may wrap a task
        made = {k: made.get(k, task_opts.get(k, task_defaults.get(k))) for k in takes}  # that records more)
    task_resolved = {"name": task_name, **made}
    for key, value in task_resolved.items():  # config.toml must hold them, to make the task again
        if value is None:  # left out of config.toml: the factory's default makes it again
            continue
        try:
            tomli_w.dumps({key: toml_ready(value)})
        except (TypeError, ValueError):
            raise ConfigError(f"task {task_name!r}: options[{key!r}] is {type(value).__name__} ({value!r:.60}), which "
                              f"config.toml cannot hold; a task's options are numbers, strings, booleans, lists "
                              f"and tables") from None

    if isinstance(run["stop_fitness"], str):
        if run["stop_fitness"] != "task":
            raise ConfigError(f"run.stop_fitness: {run['stop_fitness']!r}; expected a number, inf or \"task\"")
        run["stop_fitness"] = float(getattr(task, "target", math.inf))
    run["stop_fitness"] = float(run["stop_fitness"])

    strat_raw = dict(raw.get("strategy", {}))
    strat_name = strat_raw.pop("name", "cma")
    _check_strategy_name(strat_name)
    space_cls = space_class(strat_name)
    genome_defaults = _keyword_defaults(space_cls.__init__)
    genome = dict(genome_defaults)
    genome.update(_check_keys("genome", raw.get("genome", {}), genome_defaults))
    space = space_cls(task.n_inputs, task.n_outputs, **genome)  # validates values
    genome = space.config()

    strat_defaults = strategies.option_defaults(strat_name)
    strategy = dict(strat_defaults)
    strategy.update(_check_keys("strategy", strat_raw, strat_defaults))
    population = strategies.get(strat_name).expected_population(strategy, getattr(space, "dim", 0))
    check_fits(population * space.bytes_per_network(), f"a generation of {population} networks "
               f"({space.bytes_per_network()} bytes each, genome and network)")
    table = strategy.get("table_size")
    if isinstance(table, int) and table > 0:  # the seed-based strategies' shared noise table, float32
        check_fits(4 * table, f"the {table} float32 numbers of the noise table (strategy.table_size)")
    size, what = task.input_bytes() if callable(getattr(task, "input_bytes", None)) else (0, "")
    if size:
        check_fits(size, what)
    per = int(getattr(task, "episode_bytes", 0) or 0)  # each network plays its episodes at once
    for key, networks in (("episodes", population), ("validation_episodes", 1)):
        count = task_resolved.get(key)
        if per and isinstance(count, int):
            check_fits(networks * count * per, f"task.{key} = {count} for {networks} network{'s' * (networks > 1)} "
                       f"(about {per} bytes per episode)")
    config = {"run": run, "task": task_resolved, "genome": genome, "strategy": {"name": strat_name, **strategy}}
    return config, task, space


def defaults(task: str = "cartpole", strategy: str = "cma", preset: bool = False) -> dict:
    """The resolved config of ``task`` and ``strategy`` with nothing else set (and the task's
    preset with ``preset=True``)."""
    return resolve({"task": {"name": task}, "strategy": {"name": strategy}}, preset=preset)
