"""``run`` and ``resume``: a run directory around a :class:`~evo.training.trainer.Trainer`.

``run`` resolves the config, builds the task, genome space, strategy and evaluator, creates
the run directory (layout: :mod:`evo.rundir.layout`), and hands the Trainer its callbacks.
``resume`` rebuilds the same from the run's checkpoint and continues; the continued run's
files equal an undisturbed run's.
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import math
import os
import platform
import re
import socket
import subprocess
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable, Iterable

import neurons
import pandas as pd
import tasks

from .. import __version__, strategies
from ..errors import ConfigError, GenomeError, RunDirError
from ..evaluation import Problem, SerialEvaluator, make_evaluator, stderr_notice
from ..rundir.files import TMP_SUFFIX, check_folder, read_json, read_npz, read_parquet, write_parquet, write_toml
from ..rundir.lock import run_lock
from ..rundir.layout import CHECKPOINTS, CONFIG, INDIVIDUALS, LOCK, LOOP, METRICS, PARETO, SUMMARY, individuals_part
from ..rundir.results import load_run, read_config, read_individuals
from ..seeding import derive_seed, validation_seed
from . import callbacks as cb
from . import trackers
from .config import RUN_DEFAULTS, Resolved, check_run, genome_kind, resolve_sources
from .trainer import Callback, LoopState, Trainer, check_objectives

__all__ = ["run", "resume", "RunResult", "build", "problem_of", "make_strategy_for", "checked_strategy", "run_callbacks",
           "checked_callbacks", "serial_trainer", "FINISHED_RUN"]

# The directory of the run that this thread's last run() or resume() took to its end (status
# "finished"), or None: a Ctrl-C or SIGTERM after that moment (writers finishing, Ray stopping)
# interrupts nothing, and `evospike` exits 0 for it. run() and resume() clear it as they start.
FINISHED_RUN: contextvars.ContextVar[Path | None] = contextvars.ContextVar("evospike_finished_run", default=None)


class _MarkFinished(Callback):
    """The last callback: marks the run finished (FINISHED_RUN) within the end that signals
    wait for, so that no moment after the summary says "finished" reads otherwise."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_end(self, trainer: Trainer, status: str, reason: str) -> None:
        if status == "finished":
            FINISHED_RUN.set(self.path)


@dataclass
class RunResult:
    """What a finished run reports: its directory (an absolute path, which a later
    ``os.chdir`` leaves valid), generations, evaluations, best training fitness, validation
    score and wall time (seconds): the training loop's, resumed parts included; the start of
    the backend before the loop (a local Ray instance: a few seconds) is not in it, while a
    move to Ray during the loop (``auto``) is."""

    path: Path
    generations: int
    evaluations: int
    best: float
    validation: float
    wall_seconds: float

    def __post_init__(self) -> None:
        self.path = Path(os.path.abspath(self.path))


def problem_of(config: dict) -> Problem:
    """The Problem (task, genome space, kernel) a resolved config describes."""
    return Problem.from_config(config, genome_kind(config["strategy"]["name"]))


def build(config: dict) -> tuple[Any, Any]:
    """The task and genome space a resolved config describes (and the simulator kernel set)."""
    return problem_of(config).build()


def build_recorded(config: dict, path: Path) -> tuple[Any, Any]:
    """:func:`build` for the config of the run at ``path``; a task that this process does not
    know (one that ``tasks.register`` added in the process that ran it) is a RunDirError that
    says so."""
    try:
        return build(config)
    except tasks.UnknownTaskError:
        name = config["task"].get("name")
        raise RunDirError(f"{str(Path(path) / CONFIG)!r}: task {name!r} is not registered in this process "
                          f"(a task that tasks.register() added exists only in the process that registered it; "
                          f"make it a plugin, tasks/README.md, or call evo's Python API after registering it)"
                          ) from None
    except ConfigError:
        name = config["strategy"].get("name")
        if name in strategies.names():
            raise
        kind = config.get("meta", {}).get("genome_space")  # what a run's networks need: its genome space, by kind
        if kind not in ("fixed", "neat"):
            raise _unregistered_strategy(path, name) from None
        return Problem.from_config(config, kind).build()


def _unregistered_strategy(path: Path, name: Any) -> RunDirError:
    return RunDirError(f"{str(Path(path) / CONFIG)!r}: strategy {name!r} is not registered in this process (a "
                       f"strategy that strategies.register() added exists only in the process that registered it; "
                       f"make it a plugin, or call evo's Python API after registering it)")


def make_strategy_for(config: dict, space: Any) -> strategies.Strategy:
    """The strategy a resolved config names, over ``space``, seeded from ``run.seed``."""
    opts = {k: v for k, v in config["strategy"].items() if k != "name"}
    return strategies.make(config["strategy"]["name"], space, derive_seed(int(config["run"]["seed"]), 0, "strategy"),
                           **opts)


def checked_strategy(config: dict, task: Any, space: Any) -> strategies.Strategy:
    """The strategy a resolved config names, after the checks a run makes before it starts:
    the strategy's options, its objectives against the metrics the task declares
    (``Task.metric_names``), and the packages of the trackers."""
    strategy = make_strategy_for(config, space)
    if task is not None and getattr(task, "metric_names", None) is not None:
        check_objectives(strategy, config["task"]["name"], task.metric_names, ConfigError)
    trackers.require(config)
    return strategy


def serial_trainer(config: dict, generations: int) -> Trainer:
    """A Trainer for a resolved config on the serial backend, without a run directory (for
    benchmarks and scripts); BLAS threads are left to the caller."""
    problem = problem_of(config)
    task, space = problem.build()
    evaluator = SerialEvaluator(problem, int(config["run"]["seed"]), task=task, space=space, blas_threads=None)
    return Trainer(make_strategy_for(config, space), evaluator, space, task=task, generations=generations,
                   task_name=config["task"]["name"])


def _git_revision() -> str:
    """The source checkout's commit (with "-dirty" for uncommitted changes), or "" if none."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5).stdout.strip()
        if not rev:
            return ""
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def _versions() -> dict:
    out = {"evospike": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "numba", "pandas", "pyarrow", "cma", "gymnasium", "ray"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _resume_hint(task_name: str, path: Path) -> str:
    """How to continue the run in ``path``: the CLI, or for a task that only this process
    registered (``tasks.register``), the Python API in a process that registers it too."""
    if tasks.registry.everywhere(task_name):
        return f"evospike resume {path}"
    return f"evo.resume({str(path)!r}), after registering task {task_name!r},"


def _new_run_dir(config: dict) -> Path:
    r = config["run"]
    out = Path(r["out"])
    if r["name"]:
        path = out / r["name"]
        if path.exists():
            raise RunDirError(f"run directory {str(path)!r} already exists; choose another run.name (--name) "
                              f"(nothing was overwritten)")
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        task_name = "".join(c if c.isalnum() or c in "-_." else "-" for c in config["task"]["name"])
        base = f"{task_name}-{config['strategy']['name']}-s{r['seed']}-{stamp}"
        path, k = out / base, 1
        while path.exists():
            k += 1
            path = out / f"{base}-{k}"
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise RunDirError(f"cannot create run directory {str(path)!r}: {exc.strerror}") from None
    return path


def run_callbacks(config: dict, path: Path, task: Any, space: Any, started: datetime, *,
                  user: Iterable[Callback] = (), log: Callable[[str], None] | None = None, progress: bool = False,
                  rows: list[dict] | None = None, pareto: list[pd.DataFrame] | None = None,
                  artifacts: Callable[[Path], list[Path]] | None = None) -> list[Callback]:
    """The callbacks of a run directory, in their order (see :mod:`evo.training.callbacks`);
    the trackers ``run.trackers`` names (:mod:`evo.training.trackers`) follow the summary."""
    r = config["run"]
    every = int(r.get("checkpoint_every", 1))  # the checkpoints' cadence, which the genome writers follow
    lines = not r["quiet"] and not progress and log is not None  # a LineLogger, which also says why a run stopped
    out: list[Callback] = [cb.StopRules(r["stop_fitness"], r.get("stop_on_solved", True), None if lines else log),
                           *user,
                           cb.Validator(task, space, validation_seed(int(r["seed"])), int(r["validate_every"]), path,
                                        config["task"]),
                           cb.BestWriter(path, space, config["task"], every),
                           cb.SolvedWriter(path, space, config["task"])]
    if len(strategies.get(config["strategy"]["name"]).objectives) > 1:
        out.append(cb.ParetoWriter(path, space, pareto, every))
    out += [cb.MetricsWriter(path, rows), cb.IndividualsWriter(path),
            cb.Checkpointer(path, every), cb.SummaryWriter(path, config, started)]
    out += trackers.make_trackers(config, path, rows, artifacts)
    if progress and not r["quiet"]:
        out.append(cb.ProgressBar())
    elif lines:
        out.append(cb.LineLogger(log))
    return out


def _outside_level() -> int:
    """The ``stacklevel`` of the first frame outside the evo package, as seen from the caller:
    a warning then points at the user's own call, not at evo's code."""
    root = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(root + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def _evaluator(config: dict, task: Any, space: Any, log: Callable[[str], None] | None) -> Any:
    """The evaluator the config's backend names (made before anything is written, so that an
    unreachable cluster changes nothing); its notes on Ray go to stderr, none where ``log`` is
    None."""
    r = config["run"]
    unused = [f"run.{k} = {r[k]!r}" for k in ("workers", "address") if r.get("backend") == "serial" and r.get(k)]
    if unused:
        one = len(unused) == 1
        warnings.warn(f"evospike: {' and '.join(unused)} {'is' if one else 'are'} not used: run.backend = 'serial' "
                      f"evaluates in this process ({'it applies' if one else 'they apply'} to the ray and auto "
                      f"backends)", stacklevel=_outside_level())
    return make_evaluator(problem_of(config), int(r["seed"]), backend=r.get("backend", "serial"),
                          workers=int(r.get("workers", 0)), address=r.get("address") or None, task=task, space=space,
                          timeout=float(r.get("eval_timeout", 0.0)), ray_after=float(r.get("ray_after", 1.0)),
                          notice=None if log is None else stderr_notice, generations=int(r["generations"]))


def _train(config: dict, path: Path, task: Any, space: Any, strategy: strategies.Strategy, state: LoopState,
           started: datetime, callbacks: Iterable[Callback], log: Callable[[str], None] | None, progress: bool,
           evaluator: Any, rows: list[dict] | None = None, pareto: list[pd.DataFrame] | None = None,
           artifacts: Callable[[Path], list[Path]] | None = None, callback_states: dict | None = None) -> RunResult:
    r = config["run"]
    say = log or (lambda _msg: None)
    shape = f"genome D={space.dim}" if hasattr(space, "dim") else f"genome space {space.kind}"
    say(f"run {path}  task={config['task']['name']} strategy={config['strategy']['name']} "
        f"{shape} population={strategy.population_size} seed={r['seed']}")
    jobs = run_callbacks(config, path, task, space, started, user=callbacks, log=log, progress=progress, rows=rows,
                         pareto=pareto, artifacts=artifacts)
    trainer = Trainer(strategy, evaluator, space, task=task, generations=int(r["generations"]), state=state,
                      task_name=config["task"]["name"], resume_hint=_resume_hint(config["task"]["name"], path))
    trainer.callback_states = dict(callback_states or {})
    try:
        trainer.run([*jobs, _MarkFinished(path)])
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the CLI says how to go on
        exc.resume = f"{trainer.resume_hint} continues from generation {trainer.recorded_generations}"
        if not exc.args:  # what a notebook shows
            exc.args = (f"run interrupted; {exc.resume}",)
        raise
    s = trainer.state
    validation = s.validated[1] if s.validated else math.nan
    say(f"finished {s.generation} generation{'s' * (s.generation != 1)}, {s.evaluations} evaluations in "
        f"{trainer.wall_seconds:.1f} s; best {s.best_ever:.2f}; validation {validation:.2f}")
    say(f"run directory: {path}")
    return RunResult(path, s.generation, s.evaluations, s.best_ever, validation, trainer.wall_seconds)


def checked_callbacks(callbacks: Any) -> list[Callback]:
    """The user's callbacks as a list, each an object with the three hooks of
    :class:`~evo.training.trainer.Callback`; anything else is a ConfigError naming it, before
    a run directory is made or changed."""
    if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
        raise ConfigError(f"callbacks: {callbacks!r}; expected a list of callback objects (evo.training.Callback)")
    out = list(callbacks)
    for i, item in enumerate(out):
        if isinstance(item, type):
            raise ConfigError(f"callbacks[{i}]: the class {item.__name__}; pass an instance, {item.__name__}(...)")
        missing = [h for h in ("on_start", "on_generation", "on_end") if not callable(getattr(item, h, None))]
        if missing:
            raise ConfigError(f"callbacks[{i}]: {item!r:.60} has no {missing[0]}(); a callback subclasses "
                              f"evo.training.Callback (on_start, on_generation, on_end)")
    return out


def checked_log(log: Any) -> Callable[[str], None] | None:
    """``log`` itself: a callable taking one line, or None; anything else is a ConfigError."""
    if log is not None and not callable(log):
        raise ConfigError(f"log: {log!r:.60}; expected a function that takes one line of text (print, the "
                          f"default), or None for no lines")
    return log


def run(config: dict | Resolved, callbacks: Iterable[Callback] = (), log: Callable[[str], None] | None = print,
        progress: bool = False, artifacts: Callable[[Path], list[Path]] | None = None) -> RunResult:
    """Evolve as ``config`` says and write the run directory; returns its summary.

    ``config``: {section: {key: value}}, resolved or not (the defaults and the task's preset
    fill what it leaves out), or what :func:`~evo.training.config.resolve_sources` returned.
    ``callbacks``: the user's own, run after the stop rules and before the validator and the
    writers. ``progress``: a progress bar instead of a line per generation. ``artifacts``:
    makes files in the run directory for ``run.trackers`` to log at the end of a finished run
    (``evospike run`` passes the plots and the report); best.json, summary.json and
    config.toml are logged anyway.
    """
    callbacks, log = checked_callbacks(callbacks), checked_log(log)
    FINISHED_RUN.set(None)
    if not isinstance(config, Resolved):
        config = resolve_sources([("config", config)])
        for note in config.notes:
            (log or (lambda _m: None))(note)
    task, space = config.task, config.space  # built while resolving
    config = copy.deepcopy(config.config)
    r = config["run"]
    with neurons.kept_kernel():  # the run's kernel setting, the caller's again after it
        problem_of(config).use_kernel()
        r["kernel"] = neurons.current_kernel()  # recorded (auto or numpy), so that resumes and workers choose alike
        strategy = checked_strategy(config, task, space)
        with _evaluator(config, task, space, log) as evaluator:
            path = _new_run_dir(config)
            with run_lock(path):
                return _start(config, path, task, space, strategy, callbacks, log, progress, evaluator, artifacts)


def _start(config: dict, path: Path, task: Any, space: Any, strategy: strategies.Strategy,
           callbacks: Iterable[Callback], log: Callable[[str], None] | None, progress: bool,
           evaluator: Any, artifacts: Callable[[Path], list[Path]] | None = None) -> RunResult:
    started = datetime.now(timezone.utc)
    meta = {"versions": _versions(), "git_revision": _git_revision(), "host": socket.gethostname(),
            "created": started.isoformat(timespec="seconds"), "argv": sys.argv, "genome_space": space.kind,
            "population": strategy.population_size}
    if hasattr(space, "dim"):
        meta["genome_dim"] = space.dim
    try:
        write_toml(path / CONFIG, {**config, "meta": meta})
    except BaseException:  # no run began: the new folder goes, so that its name stays free
        _remove_temporaries(path)
        with contextlib.suppress(OSError):
            (path / LOCK).unlink()
            path.rmdir()  # only where nothing else is in it
        raise
    return _train(config, path, task, space, strategy, LoopState(), started, callbacks, log, progress, evaluator,
                  artifacts=artifacts)


def _not_validated(metrics: pd.DataFrame, generation: int) -> bool:
    rows = metrics[metrics["generation"] == generation]
    return bool(rows["validation"].isna().any()) if len(rows) else True


def _truncate_individuals(path: Path, k: int) -> None:
    """Keep generations < k of ``individuals.parquet`` (a folder of parts, or an older run's
    single file, which becomes parts)."""
    target = path / INDIVIDUALS
    check_folder(target, file_ok=True)
    if target.is_file():
        df = read_individuals(target)
        tmp = path / f".{INDIVIDUALS}.old"
        target.rename(tmp)
        for gen, part in df[df["generation"] < k].groupby("generation", sort=True):
            write_parquet(target / individuals_part(int(gen)), part.reset_index(drop=True))
        target.mkdir(exist_ok=True)
        tmp.unlink()
    elif target.is_dir():
        for part in target.glob("gen-*.parquet"):
            try:
                gen = int(part.stem[len("gen-"):])
            except ValueError:
                continue
            if gen >= k:
                part.unlink()


STATE_FILE = re.compile(r"strategy-\d{6}\.(json|npz)")


def _state_file(ckpt: Path, loop: dict, key: str) -> Path:
    """A strategy state file named in loop.json: a plain name of this checkpoint folder."""
    name = loop.get(key)
    if not isinstance(name, str) or not STATE_FILE.fullmatch(name):
        raise RunDirError(f"{str(ckpt / LOOP)!r}: {key}: {name!r}; expected a file name like strategy-000012.json "
                          f"inside {str(ckpt)!r}")
    return ckpt / name


def _remove_temporaries(path: Path) -> None:
    """Temporary files a killed process left (".NAME.XXXX.tmp"), in the run's own folders."""
    for where in (path, path / CHECKPOINTS, path / INDIVIDUALS):  # folders checked already
        if where.is_dir():
            for tmp in where.glob(f".*{TMP_SUFFIX}"):
                if tmp.is_file() and not tmp.is_symlink():
                    tmp.unlink()


def resume(path: str | Path, generations: int | None = None, callbacks: Iterable[Callback] = (),
           log: Callable[[str], None] | None = print, progress: bool = False,
           artifacts: Callable[[Path], list[Path]] | None = None, **run_overrides: Any) -> RunResult:
    """Continue the run in ``path`` from its last checkpoint; ``generations`` (the new total)
    can extend a finished run; ``run_overrides`` set backend, workers, address, quiet,
    eval_timeout, trackers or tracking_uri (for this process; ``artifacts`` as for :func:`run`). The
    continued run's metrics equal an undisturbed run's. Every file is checked before anything
    is changed; a run another process is writing is refused."""
    path, callbacks, log = Path(path), checked_callbacks(callbacks), checked_log(log)
    FINISHED_RUN.set(None)
    with run_lock(path), neurons.kept_kernel():
        return _resume(path, generations, callbacks, log, progress, run_overrides, artifacts)


def _resumed_config(recorded: dict, generations: int | None, run_overrides: dict) -> dict:
    """The config a resume runs with: the recorded one, less ``meta``, with the overrides."""
    config = {k: copy.deepcopy(v) for k, v in recorded.items() if k != "meta"}
    config["run"].setdefault("kernel", "numpy")  # runs from before run.kernel existed simulated with numpy
    if generations is not None:
        run_overrides = {**run_overrides, "generations": generations}
    unknown = sorted(set(run_overrides) - {"generations", "backend", "workers", "address", "quiet", "eval_timeout",
                                           "trackers", "tracking_uri"})
    if unknown:
        raise ConfigError(f"resume: {unknown[0]!r} cannot change on resume; it can change backend, workers, "
                          f"address, quiet, eval_timeout, trackers and tracking_uri")
    config["run"] = check_run({**RUN_DEFAULTS, **config["run"],
                               **{k: v for k, v in run_overrides.items() if v is not None}})
    trackers.require(config)
    return config


def _record_total(path: Path, recorded: dict, total: int) -> None:
    """config.toml with run.generations = ``total`` (for a later resume), the earlier totals
    appended to ``[meta] earlier_generations``."""
    before = recorded["run"].get("generations")
    if total != before:
        meta = dict(recorded.get("meta", {}))
        meta["earlier_generations"] = [*meta.get("earlier_generations", []), before]
        write_toml(path / CONFIG, {**recorded, "run": {**recorded["run"], "generations": total}, "meta": meta})


def _killed_while_starting(path: Path) -> bool:
    """Whether ``path`` is a run killed before its first generation's checkpoint and summary
    were both written (config.toml is the run's first file; summary.json follows loop.json)."""
    if not path.is_dir() or os.path.lexists(path / METRICS) or \
            (os.path.lexists(path / SUMMARY) and os.path.lexists(path / CHECKPOINTS / LOOP)):
        return False
    return os.path.lexists(path / CONFIG) or all(p.name == LOCK or p.name.endswith(TMP_SUFFIX)
                                                 for p in path.iterdir())  # a run folder with no file yet


def _start_over(path: Path, generations: int | None, callbacks: Iterable[Callback],
                log: Callable[[str], None] | None, progress: bool, run_overrides: dict,
                artifacts: Callable[[Path], list[Path]] | None) -> RunResult:
    """A run killed while it started holds no generation: it starts again in its directory
    from config.toml, which is all a run depends on, so it equals the run left alone."""
    if not os.path.lexists(path / CONFIG):
        raise RunDirError(f"{str(path)!r} holds no run (no {CONFIG}); a run killed as it began leaves such a "
                          f"folder: remove it and start the run again")
    recorded = read_config(path)
    if not isinstance(recorded.get("meta"), dict) or "created" not in recorded["meta"]:  # not a run's own file
        raise RunDirError(f"{str(path)!r} is not a run directory: {SUMMARY} is missing, and {CONFIG} has no "
                          f"[meta] with the time the run was created")
    config = _resumed_config(recorded, generations, run_overrides)
    task, space = build_recorded(config, path)
    strategy = checked_strategy(config, task, space)
    check_folder(path / CHECKPOINTS)
    with _evaluator(config, task, space, log) as evaluator:
        _remove_temporaries(path)
        _record_total(path, recorded, config["run"]["generations"])
        (log or (lambda _m: None))(f"resume {path}: killed before its first generation, so it starts again")
        return _train(config, path, task, space, strategy, LoopState(), datetime.now(timezone.utc), callbacks, log,
                      progress, evaluator, artifacts=artifacts)


def _resume(path: Path, generations: int | None, callbacks: Iterable[Callback], log: Callable[[str], None] | None,
            progress: bool, run_overrides: dict, artifacts: Callable[[Path], list[Path]] | None = None) -> RunResult:
    if _killed_while_starting(path):
        return _start_over(path, generations, callbacks, log, progress, run_overrides, artifacts)
    old = load_run(path)
    config = _resumed_config(old.config, generations, run_overrides)  # the overrides checked in any case
    s = old.summary
    if generations is None and s.get("status") == "finished":  # a run that ended as it should: left as it is
        (log or (lambda _m: None))(f"resume {path}: the run is finished ({s.get('reason') or 'its budget spent'}); "
                                   f"nothing to do (a new total of generations runs it further)")
        return RunResult(path, int(s.get("generations") or 0), int(s.get("evaluations") or 0),
                         float(s["best"]) if s.get("best") is not None else math.nan,
                         float(s["validation"]) if s.get("validation") is not None else math.nan,
                         float(s.get("wall_seconds") or 0.0))
    ckpt = path / CHECKPOINTS
    check_folder(ckpt)
    check_folder(path / INDIVIDUALS, file_ok=True)
    where = str(ckpt / LOOP)  # the file being read, named in an error
    if config["strategy"]["name"] not in strategies.names():
        raise _unregistered_strategy(path, config["strategy"]["name"])
    strategy_cls = strategies.get(config["strategy"]["name"])  # the run's, not what a state file names
    try:
        loop = read_json(ckpt / LOOP)
        state = LoopState.from_json(loop, where)
        callback_states = loop.get("callbacks") or {}
        if not isinstance(callback_states, dict):
            raise RunDirError(f"{where!r}: callbacks: {callback_states!r:.60}; expected an object of callback states")
        json_file, npz_file = _state_file(ckpt, loop, "strategy_json"), _state_file(ckpt, loop, "strategy_npz")
        where = str(json_file)
        meta_s = read_json(json_file)
        where = str(npz_file)
        arrays = read_npz(npz_file)
        where = f"{json_file} with {npz_file.name}"  # the state is both files
        named = meta_s.get("strategy") if isinstance(meta_s, dict) else None
        if named != strategy_cls.name:
            raise RunDirError(f"{where!r}: a state of strategy {named!r}, but config.toml's strategy "
                              f"{config['strategy']['name']!r} writes {strategy_cls.name!r}; the checkpoint is not "
                              f"this run's")
        strategy = strategy_cls.from_state(meta_s, arrays)
        if not isinstance(strategy, strategies.Strategy):
            raise RunDirError(f"{where!r}: {strategy_cls.__name__}.from_state returned {type(strategy).__name__}; "
                              f"expected a Strategy")
    except FileNotFoundError:
        raise RunDirError(f"{str(path)!r} has no complete checkpoint to resume from ({where!r} "
                          f"is missing)") from None
    except RunDirError:
        raise
    except Exception as exc:  # json, zip and numpy raise several types for a damaged file
        raise RunDirError(f"{where!r}: corrupt checkpoint ({type(exc).__name__}: {exc})") from None
    k = state.generation
    if config["run"]["generations"] < k:
        raise ConfigError(f"run.generations: {config['run']['generations']} is fewer than the {k} generations "
                          f"{str(path)!r} has finished; give a total of at least {k}, nothing was changed")
    if strategy.generation != k:
        raise RunDirError(f"{str(ckpt)!r}: the strategy state is at generation {strategy.generation} but "
                          f"{LOOP} at {k}")
    have = sorted(int(g) for g in old.metrics["generation"]) if len(old.metrics) else []
    if have[:k] != list(range(k)):
        raise RunDirError(f"{str(path / METRICS)!r} holds {len(have)} generations "
                          f"({', '.join(map(str, have[:5]))}{'...' if len(have) > 5 else ''}) but the checkpoint is "
                          f"at generation {k}; the run's files do not agree, nothing was changed")
    if config["run"]["generations"] == k and k and (len(have) > k or _not_validated(old.metrics, k - 1)):
        # a total that ends the run at a checkpoint its run went past: nothing would cut the later
        # generations' rows and best network, or validate generation k - 1 as a last one
        why = f"{len(have)} generations recorded" if len(have) > k else f"generation {k - 1} was not validated"
        raise ConfigError(f"run.generations: {k} would end {str(path)!r} at its checkpoint, but the run went on "
                          f"past it ({why}); give a total above {k}, nothing was changed")
    task, space = build_recorded(config, path)
    if state.best_genome is not None:
        try:
            space.decode_genome(state.best_genome, where=f"{ckpt / LOOP}: best_genome")
        except GenomeError as exc:
            raise RunDirError(str(exc)) from None
    try:
        started = datetime.fromisoformat(old.summary["started"]) if old.summary.get("started") else None
    except (TypeError, ValueError):
        raise RunDirError(f"{str(path / SUMMARY)!r}: started: {old.summary['started']!r}; expected an ISO "
                          f"date and time") from None
    rows = old.metrics[old.metrics["generation"] < k].to_dict("records")
    pareto = None
    if os.path.lexists(path / PARETO):
        try:
            front = read_parquet(path / PARETO)
            pareto = [front[front["generation"] < k]]
        except (RunDirError, KeyError, OSError, ValueError) as exc:
            raise RunDirError(f"{str(path / PARETO)!r}: cannot read the Pareto fronts ({exc})") from None
    with _evaluator(config, task, space, log) as evaluator:
        _remove_temporaries(path)
        _record_total(path, old.config, config["run"]["generations"])
        _truncate_individuals(path, k)
        (log or (lambda _m: None))(f"resume {path} at generation {k}")
        return _train(config, path, task, space, strategy, state, started or datetime.now(timezone.utc), callbacks,
                      log, progress, evaluator, rows, pareto, artifacts, callback_states)
