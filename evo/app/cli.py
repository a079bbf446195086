"""The ``evospike`` command line."""
from __future__ import annotations

import argparse
import atexit
import contextlib
import inspect
import json
import os
import re
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Callable, NoReturn

import neurons
import tasks
from tasks.gym_adapter import GYM_PRESETS
from tasks.registry import load_attr

from .. import __version__, strategies
from ..errors import USER_ERRORS, ConfigError, RunDirError, Terminated, one_line
from ..rundir.files import atomic_write_bytes
from ..rundir.layout import BEST, CENTER, CHECKPOINTS, CONFIG, RUN_FILES, SUMMARY
from ..rundir.lock import is_locked
from ..rundir.results import (decode_network, find_runs, find_unstarted, load_all, load_network_doc, load_run,
                               load_runs, read_config, require_folder, stack_runs)
from ..rundir.results import run_status as _status
from ..seeding import validation_seed
from ..training import config as cfg
from ..training.api import FINISHED_RUN, build_recorded, checked_strategy, resume, run
from ..training.config import check_fits
from ..training.trainer import Callback
from . import bench, bench_scale, bench_speed, plots, report
from .compare import GROUPS, X_AXES, check_metric, check_x, compare_table, left_out, mixed_settings, rank_tests
from .export import write_nir

EXIT_USAGE = 2
REPLAY_BYTES_PER_EPISODE = 4096  # about the environment and network state of one validation episode


def _user_callbacks(specs: list[str] | None) -> list:
    """Callbacks named "module:Class" on the command line, each made with no arguments. They are
    not stored in the run directory: resuming a run never imports anything it names."""
    out = []
    if specs and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m evo` does
    for spec in specs or []:
        module, _, name = spec.partition(":")
        if not module or not name:
            raise ConfigError(f"--callback {spec!r}; expected MODULE:CLASS, e.g. mycallbacks:Plateau")
        try:
            cls = load_attr(spec, "--callback")
        except (Exception, SystemExit) as exc:  # importing the module runs its code, which may exit
            raise ConfigError(f"--callback {spec!r}: {type(exc).__name__}: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Callback)):
            what = f"class {cls.__name__}" if isinstance(cls, type) else f"of type {type(cls).__name__}"
            raise ConfigError(f"--callback {spec!r}: {name} is {what}, not an evo.Callback subclass")
        try:
            callback = cls()
        except Exception as exc:
            raise ConfigError(f"--callback {spec!r}: {name}() failed: {type(exc).__name__}: {exc}") from None
        out.append(callback)
    return out


def _listed(items: tuple[str, ...], last: str) -> str:
    """``("a", "b", "c"), "or"`` as "a, b or c"."""
    return f" {last} ".join(filter(None, (", ".join(items[:-1]), items[-1])))


def _output(path: str, flag: str, suffixes: tuple[str, ...]) -> Path:
    """An output file path checked before any work: not a folder, in a folder that exists, not
    a file of a run, ending in one of ``suffixes`` (the kinds of file the command writes), and
    writable (probed by opening it to append, which leaves an existing file unchanged)."""
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"{flag} {path!r} is a folder; expected a file path")
    if not out.parent.is_dir():
        raise ConfigError(f"{flag} {path!r}: the folder {str(out.parent)!r} does not exist")
    for inside in {out.parent.resolve() / out.name, out.resolve()}:  # the path, and where a link there leads
        for run_dir in inside.parents:  # a run's own file, or one in its checkpoints: never replaced
            if (run_dir / SUMMARY).is_file() or ((run_dir / CONFIG).is_file() and (run_dir / CHECKPOINTS).is_dir()):
                own = inside.relative_to(run_dir).parts[0]
                if own in RUN_FILES:
                    raise ConfigError(f"{flag} {path!r} is part of the run directory {str(run_dir)!r} ({own}); "
                                      f"choose another file (nothing was written)")
                break
    if out.suffix.lower() not in suffixes:
        raise ConfigError(f"{flag} {path!r}: expected a file name ending in {_listed(suffixes, 'or')} "
                          f"(the kind of file written there)")
    existed = out.exists()
    try:
        with open(out, "ab"):
            pass
    except OSError as exc:
        raise ConfigError(f"{flag} {path!r}: cannot write there ({exc.strerror})") from None
    if not existed:
        out.unlink()
    return out


def _rebuild(r, which: str | None = "best") -> tuple:
    """(task, space, genome, which, doc) of a loaded run: its task and genome space, and its
    network ``which`` (:func:`load_network_doc`; None: the one the run validated) as a genome
    of one and its document, the task with the state that network was evaluated with (the
    file's ``task_state``, e.g. an observation normalizer); a config they cannot be built
    from is a RunDirError."""
    try:
        task, space = build_recorded(r.config, r.path)
    except (TypeError, ValueError, KeyError) as exc:
        raise RunDirError(f"{str(r.path / 'config.toml')!r}: cannot rebuild the run's task and genome space "
                          f"({type(exc).__name__}: {exc})") from None
    which, doc = load_network_doc(r, which)
    state = doc.get("task_state")
    if state is not None:
        try:
            task.set_state(state)
        except ValueError as exc:
            raise RunDirError(f"{str(r.path / (BEST if which == 'best' else CENTER))!r}: task_state: {exc}") from None
    return task, space, decode_network(r, space, which, doc), which, doc


def _cmd_run(args: argparse.Namespace) -> int:
    layers = []
    file_layer: dict = {}
    if args.config:
        file_layer = cfg.load_toml(args.config)
        layers.append(("file", file_layer))
    file_task = file_layer.get("task", {}).get("name") if isinstance(file_layer.get("task"), dict) else None
    cli = {"run": {"generations": args.generations, "seed": args.seed, "out": args.out, "name": args.name,
                   "quiet": True if args.quiet else None, "backend": args.backend, "workers": args.workers,
                   "address": args.address, "kernel": args.kernel, "eval_timeout": args.eval_timeout,
                   "trackers": args.track},
           "task": {"name": args.task},
           "strategy": {"name": args.strategy, "population": args.population}}
    layers.append(("flag", cli))
    if not any(layer.get("task", {}).get("name") for _, layer in layers):
        raise ConfigError(f"no task given: name one (evospike run TASK) or set [task] name in --config; "
                          f"valid tasks: {', '.join(tasks.names())}")
    other_task = bool(file_task and args.task and file_task != args.task)
    # --dump-config: a task's data files are not read, nor required (the checks that need them are the run's)
    with tasks.deferred_data() if args.dump_config else contextlib.nullcontext():
        try:
            resolved = cfg.resolve_sources(layers, preset=not args.no_preset)
        except ConfigError as exc:  # a key the file set: name the file (and the task the command line chose over it)
            raise _in_file(exc, args, file_layer, cli, other_task) from None
        if other_task:
            print(f"evospike: task {args.task!r} from the command line, not {args.config}'s {file_task!r}",
                  file=sys.stderr)
        if args.dump_config:
            checked_strategy(resolved.config, resolved.task, resolved.space)  # the checks the run makes
            sys.stdout.write(cfg.dump_with_sources(resolved))
            return 0
    for note in resolved.notes:
        print(f"evospike: {note}", file=sys.stderr)
    result = run(resolved, callbacks=_user_callbacks(args.callback), progress=sys.stdout.isatty(),
                 artifacts=_run_artifacts)
    print(f"validation score: {result.validation:.2f}")
    return 0


def _in_file(exc: ConfigError, args: argparse.Namespace, file_layer: dict, flags: dict,
             other_task: bool) -> ConfigError:
    """``exc`` naming the --config file where the key it names was set there (and not by a flag)."""
    m = re.match(r"\[(\w+)\] unknown key '([^']*)'|(\w+)\.(\w+): ", str(exc))
    if not m or not args.config:
        return exc
    section, key = (m[1], m[2]) if m[1] else (m[3], m[4])
    table = file_layer.get(section)
    if not isinstance(table, dict) or key not in table or flags.get(section, {}).get(key) is not None:
        return exc
    why = (f" (its [task] options are for task {file_layer['task']['name']!r}; the command line names "
           f"{args.task!r})" if other_task and section == "task" else "")
    return ConfigError(f"{args.config}: {exc}{why}")


def _cmd_resume(args: argparse.Namespace) -> int:
    result = resume(args.run_dir, args.generations, callbacks=_user_callbacks(args.callback),
                    progress=sys.stdout.isatty(), artifacts=_run_artifacts, backend=args.backend,
                    eval_timeout=args.eval_timeout, workers=args.workers, address=args.address,
                    quiet=True if args.quiet else None, trackers=args.track)
    print(f"validation score: {result.validation:.2f}")
    return 0


def _cmd_ls(args: argparse.Namespace) -> int:
    if not any(c in args.dir for c in "*?["):
        require_folder(args.dir, "folder")
    rows = []  # (path, row)
    killed = False  # a run killed before its first generation finished
    fmt = lambda v: "" if v is None else f"{v:.4g}"  # noqa: E731
    for path in find_runs(args.dir):
        try:
            s = load_run(path).summary
        except RunDirError as exc:
            rows.append((path, (path.name, "?", "?", "unreadable", "", "", "", str(exc)[:40])))
            continue
        status = _status(path, s)
        killed |= status == "killed at start"
        rows.append((path, (path.name, str(s.get("task", "")), str(s.get("strategy", "")), status,
                            str(s.get("generations", "")), fmt(s.get("best")), fmt(s.get("validation")),
                            f"{s.get('wall_seconds', 0):.1f} s")))
    for path in find_unstarted(args.dir):  # no summary yet: starting now, or killed as it started
        try:
            c = read_config(path)
        except RunDirError as exc:
            rows.append((path, (path.name, "?", "?", "unreadable", "", "", "", str(exc)[:40])))
            continue
        status = "starting" if is_locked(path) else "killed at start"
        killed |= status != "starting"
        rows.append((path, (path.name, str(c["task"].get("name", "")), str(c["strategy"].get("name", "")), status,
                            "0", "", "", "")))
    if not rows:
        print(f"no runs in {args.dir}")
        return 0
    head = ("name", "task", "strategy", "status", "generations", "best", "validation", "wall")
    table = [row for _, row in sorted(rows, key=lambda r: str(r[0]))]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    for row in (head, *table):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    if killed:
        print("killed at start: the run was stopped before its first generation finished; "
              "`evospike resume RUN_DIR` starts it over")
    return 0


def write_plots(run_dir: str | Path, say: Callable[[str], None] | None = None) -> list[Path]:
    """The pictures of a run, written into its directory (``evospike show --plot``, the
    report, a tracked run's artifacts); ``say`` hears why one is left out."""
    r = load_run(run_dir)
    task = net = None
    if r.best is not None:
        try:
            task, space, genome, _, _ = _rebuild(r)
        except RunDirError as exc:  # the curves need only the metrics
            if say is not None:
                say(f"(no pictures of the best network: {exc})")
        else:
            net = space.compile(genome)
    written = plots.run_plots(r, task, net, validation_seed(int(r.config["run"]["seed"])), say=say)
    if say is not None and task is not None and not task.can_record:
        say(f"(task {r.config['task']['name']!r} cannot record spikes: no raster)")
    return written


def _cmd_show(args: argparse.Namespace) -> int:
    r = load_run(args.run_dir)
    for key, value in report.summary_rows(r):
        print(f"{key:>16}: {f'{value:.6g}' if isinstance(value, float) else value}")  # as report's tables
    if not args.plot:
        return 0
    notes: list[str] = []
    for p in write_plots(args.run_dir, say=notes.append):
        print(f"wrote {p}")
    for note in notes:
        print(note)
    return 0


def _run_artifacts(path: Path) -> list[Path]:
    """What a tracked run logs at its end besides its own files: its pictures (when
    matplotlib is installed; otherwise one warning) and its report, report.html."""
    page = report.write_report([path], Path(path) / "report.html", plot=write_plots)
    return [Path(path) / name for name in report.PLOT_FILES if (Path(path) / name).is_file()] + [page]


def _cmd_report(args: argparse.Namespace) -> int:
    paths = find_runs(args.dirs)
    if not paths:
        raise RunDirError(f"no run directories found in {' '.join(args.dirs)!r}")
    default = paths[0] / "report.html" if len(paths) == 1 else Path("report.html")
    out = _output(args.output or str(default), "--output", (".html", ".htm"))
    check_x(args.x)
    if len(paths) > 1:
        check_metric(load_runs(paths), args.metric)
    print(f"wrote {report.write_report(paths, out, plot=write_plots, by=args.by, metric=args.metric, x=args.x)}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    plot = args.plot or args.output is not None  # --output FILE asks for the picture
    out = _output(args.output or "compare.png", "--output", plots.PICTURE_SUFFIXES) if plot else None
    check_x(args.x)
    if plot:
        plots.require_matplotlib()  # before the tables are printed
    runs = load_all(args.dirs)
    df = stack_runs(runs)
    check_metric(df, args.metric)
    table = compare_table(df, args.by, args.metric)
    print(f"final {args.metric} per {args.by}: median, quartiles and interquartile range across runs")
    print(table.to_string(float_format=lambda v: f"{v:.4g}"))
    tests = rank_tests(df, args.by, args.metric)
    if len(tests):
        print(f"\nMann-Whitney U test (two-sided) of the final {args.metric} between groups")
        print(tests.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for line in left_out(df, args.metric) + mixed_settings(runs, args.by):
        print(f"note: {line}")
    if out is not None:
        print(f"wrote {plots.compare_curves(df, args.by, out, args.metric, args.x)}")
    return 0


def _network_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--network", choices=["best", "center"],
                   help="best: the best network sampled (best.json); center: the search center of openes, pgpe "
                        "and snes (center.json); default: the one the run validated, the center where it has one")


def _cmd_export(args: argparse.Namespace) -> int:
    out = _output(args.out, "OUT.nir", (".nir", ".h5", ".hdf5"))
    r = load_run(args.run_dir)
    task, space, genome, which, doc = _rebuild(r, args.network)
    net = space.compile(genome)
    reset = r.config.get("task", {}).get("reset", "subtract")
    path = write_nir(net, out, reset)
    name = "best network" if which == "best" else "search center"
    print(f"wrote {path}: {name} of {args.run_dir} (generation {doc['generation']}; "
          f"{int(net.neuron_counts()[0])} neurons, "
          f"{int(net.synapse_counts()[0])} synapses, reset {reset})")
    state = task.state()
    side = Path(str(path) + ".json")
    if state is None and os.path.lexists(side):  # an earlier export's task state does not belong to this network
        side.unlink()
        print(f"removed {side}: an earlier export's task state, which this network does not use")
    if state is not None:  # what the network's inputs went through (e.g. an observation normalizer)
        doc = {"task": r.config["task"]["name"], "task_state": state}
        transform = getattr(task, "input_transform", lambda: None)()
        if transform is not None:  # the same, as numbers another tool applies directly
            doc["input"] = transform
        atomic_write_bytes(side, json.dumps(doc, indent=1).encode())
        print(f"wrote {side}: the task's state the network was evaluated with")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise ConfigError(f"--seed: {args.seed}; expected an integer in [0, 2**63)")
    r = load_run(args.run_dir)
    task, space, genome, which, doc = _rebuild(r, args.network)
    seed = validation_seed(int(r.config["run"]["seed"])) if args.seed is None else args.seed
    kwargs = {}
    if args.episodes is not None:
        if args.episodes < 1:
            raise ConfigError(f"--episodes: {args.episodes}; expected an integer >= 1")
        check_fits(args.episodes * REPLAY_BYTES_PER_EPISODE, f"--episodes {args.episodes}")
        if "episodes" not in inspect.signature(task.validate).parameters:
            raise ConfigError(f"task {r.config['task']['name']!r} validates on a fixed set; --episodes does not apply")
        kwargs["episodes"] = args.episodes
    ev = task.validate(space.compile(genome), seed, **kwargs)
    episodes = args.episodes if args.episodes is not None else r.config["task"].get("validation_episodes")
    out = {"task": r.config["task"]["name"], "run": str(r.path), "score": float(ev.fitness[0]),
           "episodes": episodes, "seed": seed, "network": which, "generation": doc.get("generation"),
           "training_fitness": doc.get("fitness"),  # the center is not evaluated in training: None
           "metrics": {k: float(v[0]) for k, v in ev.metrics.items()}}
    if args.json:
        print(json.dumps(out))
    else:
        over = "its validation set" if episodes is None else f"{episodes} episodes"
        what = (f"best genome of generation {out['generation']}, training fitness {out['training_fitness']:.2f}"
                if which == "best" else f"search center after generation {out['generation']}")
        print(f"{out['task']}: validation score {out['score']:.2f} over {over} (seed {seed}; {what})")
    return 0


def _int_list(text: str, flag: str) -> list[int]:
    try:
        numbers = [float(v) for v in text.split(",") if v.strip()]
        values = [int(v) for v in numbers]
    except (ValueError, OverflowError):
        raise ConfigError(f"{flag}: {text!r}; expected comma-separated integers (e.g. 10000,100000)") from None
    if values != numbers:
        raise ConfigError(f"{flag}: {text!r}; expected comma-separated integers (e.g. 10000,100000), not fractions")
    if not values or min(values) < 1:
        raise ConfigError(f"{flag}: {text!r}; expected comma-separated integers >= 1")
    return values


def _name_list(text: str | None, flag: str, valid: tuple[str, ...] = ()) -> list[str] | None:
    """The names of a comma-separated option (None where the option was not given), each one
    of ``valid`` when that is given; an option without a name is a ConfigError, not the default."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"{flag}: {text!r}; expected comma-separated names")
    bad = [n for n in names if valid and n not in valid]
    if bad:
        raise ConfigError(f"{flag}: {bad[0]!r}; expected some of {', '.join(valid)}")
    return names


BENCH_OPTIONS = {  # the options of `bench` that only some benchmarks take (--json and --output: all)
    "dims": ("scale",), "strategies": ("scale",), "backends": ("scale",), "seeds": ("neat-xor", "tasks"),
    "tasks": ("tasks",), "task": ("eval",), "late": ("eval",),
    "rounds": ("sim", "models", "events", "eval", "scale"),
    "first_seed": ("neat-xor", "tasks"), "max_generations": ("neat-xor",),
    "population": ("scaling", "events", "eval", "scale"), "generations": ("scaling", "eval", "scale"),
    "workers": ("scaling", "sim", "eval"), "kernel": ("sim", "models", "eval"),
}
BENCH_DEFAULTS = {"late": 20, "first_seed": 0, "max_generations": 300, "population": 256, "generations": 5}


def _cmd_bench(args: argparse.Namespace) -> int:
    out = _output(args.output, "--output", (".json",)) if args.output else None
    given = {dest for dest in BENCH_OPTIONS if getattr(args, dest) is not None}
    for dest, value in BENCH_DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, value)
    args.seeds_given = args.seeds is not None
    if args.seeds is None:
        args.seeds = 30
    if args.seeds < 1:
        raise ConfigError(f"--seeds: {args.seeds}; expected an integer >= 1")
    for flag, value in (("--population", args.population), ("--generations", args.generations),
                        ("--workers", args.workers)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag}: {value}; expected an integer >= 1")
    if not 0 <= args.first_seed < 2**63:
        raise ConfigError(f"--first-seed: {args.first_seed}; expected an integer in [0, 2**63)")
    runs = args.seeds if args.seeds_given else (5 if args.name == "tasks" else 30)  # the seeds that will run
    if args.name in BENCH_OPTIONS["seeds"] and args.first_seed + runs > 2**63:
        raise ConfigError(f"--first-seed {args.first_seed} with {runs} seeds: the last seed, "
                          f"{args.first_seed + runs - 1}, is over 2**63 - 1; expected seeds in [0, 2**63)")
    if args.kernel:
        try:
            neurons.use_kernel(args.kernel)
        except ValueError as exc:
            raise ConfigError(f"--{exc}") from None
    if args.max_generations < 1:
        raise ConfigError(f"--max-generations: {args.max_generations}; expected an integer >= 1")
    if args.late < 0:
        raise ConfigError(f"--late: {args.late}; expected an integer >= 0 (0: no late population)")
    if args.name == "eval" and args.workers == 1:
        raise ConfigError("--workers: 1; `bench eval` compares 1 worker with N: expected an integer >= 2")
    if args.rounds is None:
        args.rounds = 3 if args.name in ("eval", "scale") else 5
    if args.rounds < 1:
        raise ConfigError(f"--rounds: {args.rounds}; expected an integer >= 1")
    for dest in sorted(given, key=list(BENCH_OPTIONS).index):
        if args.name not in BENCH_OPTIONS[dest]:
            raise ConfigError(f"--{dest.replace('_', '-')} does not apply to `bench {args.name}`; it is an option of "
                              f"bench {_listed(BENCH_OPTIONS[dest], 'and')}")
    if args.name == "neat-xor":
        show = None if args.json else bench.print_neat_xor_row
        result = bench.neat_xor(args.seeds, args.max_generations, args.first_seed, progress=show)
        if not args.json:
            bench.print_neat_xor_summary(result["summary"])
    elif args.name == "scaling":
        show = None if args.json else bench.print_scaling_row
        result = bench.scaling(args.population, args.generations, tuple(range(1, (args.workers or 2) + 1)),
                               progress=show, notice=lambda text: print(f"evospike: {text}", file=sys.stderr, flush=True))
    elif args.name == "sim":
        show = None if args.json else bench_speed.print_sim_row
        result = bench_speed.sim(workers=args.workers or 0, rounds=args.rounds, progress=show)
    elif args.name == "models":
        show = None if args.json else bench_speed.print_models_row
        result = bench_speed.models(rounds=args.rounds, progress=show)
    elif args.name == "events":
        result = bench_speed.events(P=args.population, rounds=args.rounds)
        if not args.json:
            print(f"{result['P']} networks {result['channels']} -> {result['hidden']} -> {result['classes']}, "
                  f"{result['B']} samples x {result['steps']} steps, "
                  f"{result['input_spikes_per_sample']:.0f} input spikes per sample")
            for row in result["rows"]:
                bench_speed.print_events_row(row)
    elif args.name == "eval":
        show = None if args.json else bench_speed.print_eval_row
        paths = {None: ("numpy", "compiled"), "numpy": ("numpy",)}.get(args.kernel, ("compiled",))
        names = _name_list(args.task, "--task") or ["cartpole"]
        names = list(dict.fromkeys(p for n in names for p in (bench_speed.PORTS if n == "ports" else (n,))))
        for n in names:  # every name, before anything is timed
            try:
                tasks.spec(n)
            except tasks.UnknownTaskError as exc:
                raise ConfigError(f"--task: {exc}; or 'ports': the six built-in ports") from None
        workers = (1, args.workers) if args.workers and args.workers > 1 else ()
        if "compiled" in paths and "numpy" not in paths:  # only the compiled path: each task must have one
            missing = [n for n in names if not bench_speed.has_compiled(n)]
            if missing:
                raise ConfigError(f"--kernel {args.kernel}: task {missing[0]!r} has no compiled rollout, the only "
                                  f"path --kernel {args.kernel} times; use --kernel numpy, or leave --kernel out to "
                                  f"time both paths")
        result = bench_speed.evaluation(tuple(names), args.population, args.generations, paths=paths,
                                        late=args.late, workers=workers, progress=show, rounds=args.rounds)
    elif args.name == "scale":
        show = None if args.json else bench_scale.print_scale_row
        dims = tuple(_int_list(args.dims, "--dims")) if args.dims else bench_scale.DIMS
        names = tuple(_name_list(args.strategies, "--strategies", bench_scale.STRATEGIES) or bench_scale.STRATEGIES)
        backends = tuple(_name_list(args.backends, "--backends", bench_scale.BACKENDS) or bench_scale.BACKENDS)
        result = bench_scale.scale(dims, names, args.population, args.generations, backends, args.rounds,
                                   progress=show)
    elif args.name == "tasks":
        show = None if args.json else bench.print_task_row
        names = _name_list(args.tasks, "--tasks")
        result = bench.task_suite(names, args.seeds if args.seeds_given else 5, args.first_seed, progress=show)
    else:  # argparse restricts the choices
        raise ConfigError(f"unknown benchmark {args.name!r}")
    text = json.dumps(result, indent=2)
    if args.json:
        print(text)
    if args.output:
        atomic_write_bytes(out, (text + "\n").encode())
    return 0


def _cmd_tasks(args: argparse.Namespace) -> int:
    rows = []
    for name in tasks.names():
        spec = tasks.spec(name)
        try:
            preset = spec.preset
            how = preset.summary() if preset else "(none: the defaults)"
        except Exception as exc:  # a task whose module cannot be imported is still listed
            how = f"[unavailable: {type(exc).__name__}: {exc}]"
        rows.append((name, how, spec.description))
    rows.append(("gym:ENV_ID", "(none: the defaults)", "any registered Gymnasium environment with Box observations "
                 "and Discrete or Box actions (MuJoCo's: the 'mujoco' extra; Box2D's: the 'box2d' extra)"))
    rows += [(f"gym:{env_id}", preset.summary(), f"MuJoCo locomotion (the 'mujoco' extra): {preset.note}")
             for env_id, preset in GYM_PRESETS.items()]
    w, wp = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    print(f"{'task':<{w}}  {'preset (evospike run TASK)':<{wp}}  description")
    for name, how, desc in rows:
        print(f"{name:<{w}}  {how:<{wp}}  {desc}")
    return 0


def _backend_args(p: argparse.ArgumentParser, default: str = "auto") -> None:
    p.add_argument("--backend", choices=["auto", "ray", "serial"],
                   help=f"evaluator: auto (serial, then Ray once a generation's evaluation takes run.ray_after "
                        f"= 1 s, or earlier where the generations left make Ray worth its start), "
                        f"ray (a local instance on 127.0.0.1 unless --address) or serial (default: {default})")
    own = "the run's own" if default == "the run's own" else ""  # resume keeps what the run had
    p.add_argument("--workers", type=int, help=f"Ray actors (0: one per CPU of the cluster; default: {own or 0})")
    p.add_argument("--address", help=f"join this Ray cluster (e.g. auto or HOST:6379; default: "
                                     f"{own + ', else ' if own else ''}$RAY_ADDRESS, else start a local instance)")


def _timeout_arg(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--eval-timeout", type=float, metavar="SECONDS",
                   help=f"fail the run (resumably) when a generation's evaluation takes longer (0: no limit; "
                        f"default: {default})")


def _track_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--track", action="append", metavar="TRACKER",
                   help="mirror the run into an experiment tracker: mlflow (a store in the run directory unless "
                        "[run] tracking_uri or $MLFLOW_TRACKING_URI names another); repeatable")


def _comparison_args(p: argparse.ArgumentParser, scope: str = "") -> None:
    """--by, --metric and --x of ``compare`` and ``report``."""
    p.add_argument("--by", default="strategy", choices=list(GROUPS),
                   help=f"{scope}group runs by this column (default: strategy)")
    p.add_argument("--metric", default="best_ever", metavar="COLUMN",
                   help=f"{scope}a numeric column of metrics.parquet (default: best_ever)")
    p.add_argument("--x", default="evaluations", metavar="AXIS",
                   help=f"{scope}x axis of the curves: {', '.join(X_AXES)} (seconds: the summed time of ask, "
                        f"evaluate and tell; default: evaluations)")


def _callback_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--callback", action="append", metavar="MODULE:CLASS",
                   help="add a callback of yours (an evo.Callback subclass made with no arguments, importable "
                        "from the current folder or PYTHONPATH); repeatable")


class _Parser(argparse.ArgumentParser):
    """argparse, its usage errors as one line like every other error (subcommands inherit it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"evospike: error: {message} (see `{self.prog} --help`)\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="evospike", description="Evolve spiking neural networks on CPUs.")
    p.add_argument("--version", action="version", version=f"evospike {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser("run", help="evolve networks on a task and write a run directory",
                       description="Evolve networks on TASK. Options override --config, which overrides "
                                   "the task's preset (its recommended strategy, genome, options and budget; "
                                   "see `evospike tasks`), which overrides the defaults (see --dump-config).")
    r.add_argument("task", nargs="?", help="task name (see `evospike tasks`)")
    r.add_argument("--strategy", metavar="NAME",
                   help=f"evolution strategy: {', '.join(strategies.names())} (default: the task's preset, "
                        f"else cma)")
    r.add_argument("--generations", type=int, help="generations at most (default: the task's preset, else 100)")
    r.add_argument("--population", type=int, help="population size (default: the preset's, else the strategy's own)")
    r.add_argument("--seed", type=int, help="master seed (default: 0)")
    r.add_argument("--out", help="parent folder for run directories (default: runs)")
    r.add_argument("--name", help="run directory name (default: TASK-STRATEGY-sSEED-TIMESTAMP)")
    _backend_args(r)
    r.add_argument("--kernel", choices=["auto", "numba", "numpy"],
                   help="simulator kernel: numba (compiled), numpy, or auto: numba when installed (for "
                        "closed loops stepped one call per step, only up to 4 samples per network), numpy "
                        "otherwise (default: auto; the run records the setting)")
    r.add_argument("--config", metavar="FILE.toml", help="config file with [run], [task], [genome], [strategy]")
    r.add_argument("--quiet", action="store_true", help="no per-generation lines")
    r.add_argument("--dump-config", action="store_true",
                   help="print the resolved config as TOML, each value with where it came from (default, preset, "
                        "file or flag), and exit; reads no data set from files (shd, nmnist, mnist)")
    r.add_argument("--no-preset", action="store_true", help="ignore the task's preset: the plain defaults")
    _timeout_arg(r, "0")
    _callback_arg(r)
    _track_arg(r)
    r.set_defaults(func=_cmd_run)

    rs = sub.add_parser("resume", help="continue a run from its last checkpoint",
                        description="Continue RUN_DIR from its last checkpoint (written every run.checkpoint_every "
                                    "generations, in the last one, and on Ctrl-C or SIGTERM). "
                                    "The continued run ends with the same metrics as an undisturbed run.")
    rs.add_argument("run_dir", metavar="RUN_DIR")
    rs.add_argument("--generations", type=int, help="new total number of generations (extends a finished run)")
    _backend_args(rs, default="the run's own")
    rs.add_argument("--quiet", action="store_true", help="no per-generation lines")
    _timeout_arg(rs, "the run's own")
    _callback_arg(rs)
    _track_arg(rs)
    rs.set_defaults(func=_cmd_resume)

    sh = sub.add_parser("show", help="a run's summary, and with --plot its pictures",
                        description="Print RUN_DIR's summary. --plot writes into it fitness.png (training "
                                    "fitness above, validation below), species.png (NEAT species sizes), "
                                    "pareto.png (NSGA-II fronts by generation), topology.png (the best network "
                                    "in layers; wide inputs as a W_in image) and raster.png (its input, hidden "
                                    "and output spikes on one validation sample or episode).")
    sh.add_argument("run_dir", metavar="RUN_DIR")
    sh.add_argument("--plot", action="store_true", help="write PNG pictures into the run directory")
    sh.set_defaults(func=_cmd_show)

    cp = sub.add_parser("compare", help="compare runs: final figures per group, and curves with --plot",
                        description="Per group of runs: the final --metric's median and interquartile range, "
                                    "and a two-sided Mann-Whitney U test between each pair of groups. --plot "
                                    "draws the median and interquartile band against --x; a run that stopped "
                                    "early keeps its last value for the rest of its group's range.")
    cp.add_argument("dirs", nargs="+", metavar="DIR", help="run directories, folders of runs or globs")
    _comparison_args(cp)
    cp.add_argument("--plot", action="store_true", help="write median curves with interquartile bands")
    cp.add_argument("--output", default=None, metavar="FILE.png",
                    help="where --plot writes (giving it implies --plot), replacing a file there: a PNG picture, "
                         "or SVG or PDF for a name ending in .svg or .pdf (default: compare.png)")
    cp.set_defaults(func=_cmd_compare)

    rep = sub.add_parser("report", help="one self-contained HTML page of a run, or comparing runs",
                         description="Write one HTML page (pictures embedded, no script, nothing fetched) with "
                                     "the summary (as `show`), the plots (as `show --plot`, which it writes into "
                                     "each run directory), the config of each run and, for several runs, "
                                     "`compare`'s tables and curves.")
    rep.add_argument("dirs", nargs="+", metavar="RUN_DIR", help="run directories, folders of runs or globs")
    rep.add_argument("-o", "--output", metavar="FILE.html",
                     help="where to write, replacing a file there (default: RUN_DIR/report.html for one run, "
                          "report.html for several)")
    _comparison_args(rep, "several runs: ")
    rep.set_defaults(func=_cmd_report)

    ex = sub.add_parser("export", help="write the network a run validated in NIR",
                        description="Write the network RUN_DIR validated (see --network) as NIR (read by snnTorch, Norse, Spyx, Lava "
                                    "and neuromorphic tool chains); see evo/app/export.py for the parameter mapping.")
    ex.add_argument("run_dir", metavar="RUN_DIR")
    ex.add_argument("out", metavar="OUT.nir", help="the NIR file to write, ending in .nir, .h5 or .hdf5 "
                                                  "(a file there is replaced)")
    ex.add_argument("--format", choices=["nir"], default="nir", help="output format (default: nir)")
    _network_arg(ex)
    ex.set_defaults(func=_cmd_export)

    ls = sub.add_parser("ls", help="a table of the runs in a folder")
    ls.add_argument("dir", nargs="?", default="runs", metavar="DIR", help="folder of runs or a glob (default: runs)")
    ls.set_defaults(func=_cmd_ls)

    rp = sub.add_parser("replay", help="re-evaluate the network a run validated on held-out episodes")
    rp.add_argument("run_dir", metavar="RUN_DIR")
    rp.add_argument("--episodes", type=int, help="validation episodes (default: the task's)")
    rp.add_argument("--seed", type=int, help="validation seed (default: the run's own)")
    rp.add_argument("--json", action="store_true", help="print one JSON object")
    _network_arg(rp)
    rp.set_defaults(func=_cmd_replay)

    b = sub.add_parser("bench", help="run a benchmark and report its figures (JSON with --json)",
                       description="neat-xor: spiking XOR with the default NEAT config, one run per seed; "
                                   "reports solved, evaluations to solve, generations, size and time. "
                                   "scaling: one fixed CartPole population evaluated serially and on Ray "
                                   "with 1..--workers workers; evaluations/s, speed-up and Ray's overhead. "
                                   "tasks: every task with its recommended strategy and budget over --seeds seeds; "
                                   "median validation and evaluations, and seeds solved (double-pole-nv: the "
                                   "double pole without velocities). "
                                   "sim: the LIF simulator against a plain numpy reference in the same process, "
                                   "10 shapes (8, 784 and 700 inputs; B = 1 to 256) x 3 firing rates; the reference "
                                   "hoists the input projection out of the time loop and updates in place; "
                                   "neuron-updates/s, synaptic events/s, ratio, identical "
                                   "spikes; with --workers N also split across N Ray workers. "
                                   "events: an SHD-shaped batch (700 channels, 100 steps, 256 samples, 256 "
                                   "networks of 128 hidden neurons) per kernel on one core; network-samples/s. "
                                   "eval: per closed-loop path (numpy, compiled), --generations generations of "
                                   "--task with --population from scratch, and the population of generation "
                                   "--late evaluated; each timed --rounds times, alternating between the "
                                   "paths, the median round shown; network-environment steps/s on one core, "
                                   "the compiled path's ratio to the numpy path, and the time split across "
                                   "ask/tell, compile, environment, encoding, simulation, decoding and "
                                   "bookkeeping (numpy path) or rollout (compiled path). "
                                   "models: the simulator at (256, 64, 1) with 2, 15 and 40 percent firing as plain "
                                   "LIF, alif, cuba and LIF with delays of 1..16 steps, each tuned to the same "
                                   "firing; each one's time as a multiple of plain LIF's. "
                                   "scale: the Gaussian strategies (openes, pgpe, snes) at D = 10^4, 10^5, 10^6 "
                                   "genes and --population networks, each case in its own process; the driver's "
                                   "ask + tell time, its peak memory, bytes per generation on the wire and "
                                   "evaluation time per network for the serial backend, Ray with 2 workers and "
                                   "a 3-node loopback cluster.")
    b.add_argument("name", choices=["neat-xor", "scaling", "tasks", "sim", "models", "events", "eval", "scale"],
                   help="benchmark")
    b.add_argument("--dims", help="scale: comma-separated genome sizes (default: 10000,100000,1000000)")
    b.add_argument("--strategies", help="scale: comma-separated strategies (default: openes,pgpe,snes)")
    b.add_argument("--backends", help="scale: some of serial,ray,cluster (default: all three)")
    b.add_argument("--seeds", type=int, default=None,
                   help="neat-xor, tasks: independent runs (default: 30 for neat-xor, 5 for tasks)")
    b.add_argument("--tasks", help="tasks: comma-separated task names, each with a preset (default: all of them "
                                   "but mnist, shd and nmnist)")
    b.add_argument("--task", help="eval: comma-separated tasks, or 'ports' for the six built-in ports "
                                  "(default: cartpole)")
    b.add_argument("--late", type=int,
                   help="eval: also time the population of this generation (0: no; default: 20)")
    b.add_argument("--kernel", choices=["auto", "numba", "numpy"],
                   help="sim, models, eval: simulator kernel setting (sim, models: default auto; eval: default both "
                        "paths, numpy times only the numpy path, auto or numba only the compiled one)")
    b.add_argument("--rounds", type=int, help="sim, models, eval: alternating timed rounds per case; events: timed "
                                               "rounds; scale: timed evaluations per backend (default: 5; eval, "
                                               "scale: 3)")
    b.add_argument("--first-seed", type=int, help="neat-xor, tasks: seed of the first run (default: 0)")
    b.add_argument("--max-generations", type=int,
                   help="neat-xor: give up on a seed after this many generations (default: 300)")
    b.add_argument("--population", type=int, help="scaling, eval, scale, events: population size (default: 256)")
    b.add_argument("--generations", type=int,
                   help="scaling: timed rounds per backend; eval: generations; scale: ask/tell rounds (default: 5)")
    b.add_argument("--workers", type=int, default=None,
                   help="scaling: Ray with 1..N workers (default: 2); sim: also run on N Ray workers (default: none); "
                        "eval: also time the first population in-process and on N Ray workers, --rounds times "
                        "each, the median shown (default: none)")
    b.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")
    b.add_argument("--output", metavar="FILE.json", help="also write the JSON result to this file (a file there is replaced)")
    b.set_defaults(func=_cmd_bench)

    t = sub.add_parser("tasks", help="list the tasks that `run` accepts, with each preset's strategy and budget")
    t.set_defaults(func=_cmd_tasks)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None, _show=warnings.showwarning) -> None:
    """evospike's own warnings as one line, without the source line that raised them."""
    if str(message).startswith("evospike: "):
        print(f"evospike: warning: {str(message)[len('evospike: '):]}", file=file or sys.stderr)
    else:
        _show(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    p = parser()
    args = p.parse_args(argv)
    if not getattr(args, "command", None):
        p.print_help()
        return EXIT_USAGE
    FINISHED_RUN.set(None)
    if args.command in ("run", "resume", "bench"):
        def _terminate(signum, frame):  # SIGTERM ends a run like Ctrl-C (status "interrupted"), and a
            raise Terminated(signum)  # benchmark with the processes it started; so does a closed terminal
        signal.signal(signal.SIGTERM, _terminate)
        if signal.getsignal(signal.SIGHUP) == signal.SIG_DFL:  # not under nohup, which ignores it
            signal.signal(signal.SIGHUP, _terminate)
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, so that a reader gone away is handled below, not at exit
    except USER_ERRORS as exc:  # one line, also where a user's task or environment raised a message of several
        print(f"evospike: error: {one_line(exc)}", file=sys.stderr)
        code = EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`evospike ls | head -1`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        code = 128 + signal.SIGPIPE
    except OSError as exc:  # a full disk, a file that cannot be written: one line, not a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"evospike: error: {exc.strerror or exc}{where}", file=sys.stderr)
        code = EXIT_USAGE
    except KeyboardInterrupt as exc:
        done = FINISHED_RUN.get() if args.command in ("run", "resume") else None
        if done is not None:  # the signal came after the run had finished: it interrupted nothing
            print(f"evospike: the run had finished when the signal came; nothing was lost ({done})", file=sys.stderr)
            code = 0
        else:
            resume, first = "", exc
            while first is not None and not resume:  # a second Ctrl-C during the clean-up: the first one says
                resume, first = getattr(first, "resume", ""), first.__context__
            print(f"evospike: interrupted{'; ' + resume if resume else ''}", file=sys.stderr)
            code = 128 + signal.SIGPIPE if getattr(exc, "signal_name", "") == "SIGPIPE" else 130
    if argv is None:  # the program: all that is left is to exit
        _exit_on_signals(code)
    return code


def _exit_on_signals(code: int) -> None:
    """From here the process only exits: a Ctrl-C, SIGTERM or SIGHUP now exits at once with
    the command's code, instead of a traceback or a death by the signal after a command whose
    output and files are complete. While Python's exit runs threads' and libraries' clean-up
    (Ray's, say) that stays interruptible; after it (:func:`_ignore_late_signals`) the
    signals are ignored, since Python then gives its own handlers back to the system's
    default, and a signal would kill the process in its last milliseconds."""
    global _ENDED
    def leave(signum, frame):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    if threading.current_thread() is threading.main_thread():
        for sig in _LATE_SIGNALS:
            if signal.getsignal(sig) != signal.SIG_IGN:  # nohup's SIGHUP stays ignored
                signal.signal(sig, leave)
        _ENDED = True


_LATE_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_ENDED = False  # the program's command has returned (_exit_on_signals)


@atexit.register  # on import, before the libraries loaded later register theirs: atexit runs it after them
def _ignore_late_signals() -> None:
    if _ENDED:
        for sig in _LATE_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
