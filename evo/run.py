"""The generation loop and the run directory it writes (DESIGN.md section 6).

runs/NAME/
  config.toml          the fully resolved config, with versions and the host
  metrics.parquet      one row per generation
  individuals.parquet  one row per (generation, individual)
  best.json            the best genome so far, its fitness and generation
  solved.json          the first network that solved the task (tasks with ``solved``), if any
  checkpoints/         strategy state (JSON + npz) and the loop's counters
  summary.json         status, best, validation, evaluations, wall time, solved_generation
Every file is replaced atomically after each generation.
"""
from __future__ import annotations

import math
import platform
import socket
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

import neurons
import tasks

from . import __version__
from .errors import ConfigError, RunDirError, RunError
from .evaluators import SerialEvaluator
from .config import space_class
from .rundir import write_json, write_npz, write_parquet, write_toml
from .seeding import derive_seed
from .strategies import make_strategy

__all__ = ["run", "resume", "RunResult", "build", "make_evaluator", "METRIC_COLUMNS", "validation_seed"]

METRIC_COLUMNS = ["generation", "evaluations", "best", "mean", "median", "std", "best_ever", "validation",
                  "n_species", "mean_neurons", "mean_synapses", "mean_spikes", "eval_seconds", "gen_seconds"]
TIMING_COLUMNS = ["eval_seconds", "gen_seconds"]


@dataclass
class RunResult:
    path: Path
    generations: int
    evaluations: int
    best: float
    validation: float
    wall_seconds: float


def validation_seed(seed: int) -> int:
    """The seed of the run's validation episodes: fixed for the run, so scores compare across generations."""
    return derive_seed(seed, 0, "validate")


def resolve_kernel(config: dict) -> str:
    """Apply the run's simulator kernel setting (``run.kernel``) to this process; returns it,
    with auto turned into numpy where numba is not installed."""
    name = config["run"].get("kernel", "auto")
    try:
        return neurons.use_kernel(name)
    except ValueError as exc:
        raise ConfigError(f"run.{exc}") from None


def build(config: dict):
    """The task and genome space a resolved config describes (and the simulator kernel set)."""
    resolve_kernel(config)
    task_opts = {k: v for k, v in config["task"].items() if k != "name"}
    task = tasks.make(config["task"]["name"], **task_opts)
    space = space_class(config["strategy"]["name"])(task.n_inputs, task.n_outputs, **config["genome"])
    return task, space


def make_evaluator(config: dict, task=None, space=None):
    """The evaluator ``config["run"]["backend"]`` names."""
    r = config["run"]
    if r.get("backend", "serial") == "ray":
        from .distributed import RayEvaluator
        return RayEvaluator(config, workers=int(r.get("workers", 0)), address=r.get("address") or None)
    if task is None:
        task, space = build(config)
    return SerialEvaluator(task, space)


def _objectives(strategy, ev, config: dict):
    """What ``tell`` takes: the fitness, or (P, M) for a multi-objective strategy."""
    names = getattr(strategy, "objectives", None)
    if not names:
        return ev.fitness
    missing = [m for m in names[1:] if m not in ev.metrics]
    if missing:
        raise ConfigError(f"strategy {config['strategy']['name']!r} minimizes the task metric {missing[0]!r}, "
                          f"which task {config['task']['name']!r} does not report (it reports: "
                          f"{', '.join(ev.metrics) or 'none'})")
    return np.column_stack([ev.fitness] + [ev.metrics[m] for m in names[1:]])


def _git_revision() -> str:
    """The source checkout's commit (with "-dirty" for uncommitted changes), or "" if none."""
    import subprocess
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
    from importlib.metadata import PackageNotFoundError, version
    out = {"evospike": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "numba", "pandas", "pyarrow", "cma", "gymnasium", "ray"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _new_run_dir(config: dict) -> Path:
    r = config["run"]
    out = Path(r["out"])
    if r["name"]:
        path = out / r["name"]
        if path.exists():
            raise RunDirError(f"run directory {str(path)!r} already exists; choose another --name "
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


def run(config: dict, log: Callable[[str], None] | None = print, progress: bool = False) -> RunResult:
    """Evolve as the resolved ``config`` says and write the run directory; returns its summary.
    ``progress``: a progress bar (generation, best, mean, evaluations/s, ETA) instead of a
    line per generation."""
    config = {**config, "run": dict(config["run"])}
    r = config["run"]
    task, space = build(config)
    r["kernel"] = neurons.current_kernel()  # recorded (auto or numpy), so that resumes and workers choose alike
    strat_opts = {k: v for k, v in config["strategy"].items() if k != "name"}
    strategy = make_strategy(config["strategy"]["name"], space, derive_seed(int(r["seed"]), 0, "strategy"),
                             **strat_opts)
    evaluator = make_evaluator(config, task, space)
    path = _new_run_dir(config)
    started = datetime.now(timezone.utc)
    meta = {"versions": _versions(), "git_revision": _git_revision(), "host": socket.gethostname(), "created": started.isoformat(timespec="seconds"),
            "argv": sys.argv, "genome_space": space.kind, "population": strategy.population_size}
    if hasattr(space, "dim"):
        meta["genome_dim"] = space.dim
    write_toml(path / "config.toml", {**config, "meta": meta})
    return _loop(config, path, task, space, strategy, evaluator, _fresh_state(started), log, progress)


def resume(path: str | Path, generations: int | None = None, log: Callable[[str], None] | None = print,
           progress: bool = False, **run_overrides) -> RunResult:
    """Continue the run in ``path`` from its last checkpoint; ``generations`` (the new total)
    can extend a finished run. The continued run's metrics equal an undisturbed run's."""
    from .results import load_run
    from .rundir import read_json, read_npz
    from .strategies import strategy_from_state
    path = Path(path)
    old = load_run(path)
    config = {k: v for k, v in old.config.items() if k != "meta"}
    config["run"].setdefault("kernel", "numpy")  # runs from before run.kernel existed simulated with numpy
    if generations is not None:
        if generations < 1:
            raise ConfigError(f"--generations: {generations}; expected an integer >= 1")
        config["run"]["generations"] = int(generations)
    config["run"].update({k: v for k, v in run_overrides.items() if v is not None})  # backend, workers, address
    ckpt = path / "checkpoints"
    current = ckpt / "loop.json"
    try:
        loop = read_json(current)
        current = ckpt / loop["strategy_json"]
        meta_s = read_json(current)
        current = ckpt / loop["strategy_npz"]
        arrays = read_npz(current)
        strategy = strategy_from_state(meta_s, arrays)
    except FileNotFoundError:
        raise RunDirError(f"{str(path)!r} has no complete checkpoint to resume from ({str(current)!r} "
                          f"is missing)") from None
    except Exception as exc:  # json, zip and numpy raise several types for a damaged file
        raise RunDirError(f"{str(current)!r}: corrupt checkpoint ({type(exc).__name__}: {exc})") from None
    k = int(loop["generation"])
    task, space = build(config)
    state = _fresh_state(datetime.fromisoformat(old.summary.get("started")) if old.summary.get("started")
                         else datetime.now(timezone.utc))
    state.update(start_gen=k, evaluations=int(loop["evaluations"]), best_gen=int(loop["best_generation"]),
                 best_ever=float(loop["best_ever"]) if loop["best_genome"] is not None else -math.inf,
                 best_genome=loop["best_genome"], wall_before=float(loop["wall_seconds"]),
                 validated=tuple(loop["validated"]) if loop["validated"] else None,
                 solved_gen=loop.get("solved_generation"))
    state["rows"] = old.metrics[old.metrics["generation"] < k].to_dict("records")
    if old.individuals is not None:
        state["individuals"] = [old.individuals[old.individuals["generation"] < k]]
    if (path / "pareto.parquet").exists():
        front = pd.read_parquet(path / "pareto.parquet")
        state["pareto"] = [front[front["generation"] < k]]
    log(f"resume {path} at generation {k}")
    return _loop(config, path, task, space, strategy, make_evaluator(config, task, space), state, log, progress)


def _fresh_state(started: datetime) -> dict:
    return {"started": started, "start_gen": 0, "rows": [], "individuals": [], "pareto": [],
            "best_ever": -math.inf, "best_genome": None, "best_gen": -1, "evaluations": 0,
            "validated": None, "wall_before": 0.0, "solved_gen": None}


def _checkpoint(path: Path, strategy, gen_done: int, loop: dict) -> None:
    """Strategy state tagged with the generation count, then loop.json pointing at it (the
    commit point), then the previous state files go. A crash at any moment leaves a
    complete checkpoint."""
    ckpt = path / "checkpoints"
    meta_s, arrays = strategy.state()
    names = {"strategy_json": f"strategy-{gen_done:06d}.json", "strategy_npz": f"strategy-{gen_done:06d}.npz"}
    write_npz(ckpt / names["strategy_npz"], arrays)
    write_json(ckpt / names["strategy_json"], meta_s)
    write_json(ckpt / "loop.json", {"generation": gen_done, **names, **loop})
    for old in ckpt.glob("strategy-*"):
        if old.name not in names.values():
            old.unlink(missing_ok=True)


def _loop(config: dict, path: Path, task, space, strategy, evaluator, state: dict,
          log: Callable[[str], None] | None, progress: bool = False) -> RunResult:
    log = log or (lambda _msg: None)
    r = config["run"]
    seed = int(r["seed"])
    solved = getattr(task, "solved", None)
    stop_on_solved = bool(r.get("stop_on_solved", True))
    solved_gen: int | None = state["solved_gen"]  # the first generation with a network that solved the task
    started = state["started"]
    t_start = time.perf_counter() - state["wall_before"]
    rows: list[dict] = state["rows"]
    individuals: list[pd.DataFrame] = state["individuals"]
    pareto: list[pd.DataFrame] = state["pareto"]
    best_ever, best_genome, best_gen = state["best_ever"], state["best_genome"], state["best_gen"]
    evaluations = state["evaluations"]
    validated: tuple[int, float] | None = state["validated"]  # (best_gen it was computed for, score)
    val_seed = validation_seed(seed)

    def summary(status: str, reason: str = "") -> dict:
        return {"status": status, "reason": reason, "task": config["task"]["name"],
                "strategy": config["strategy"]["name"], "seed": seed, "generations": len(rows),
                "evaluations": evaluations, "best": best_ever if best_genome is not None else None,
                "best_generation": best_gen, "validation": validated[1] if validated else None,
                "solved_generation": solved_gen,
                "wall_seconds": time.perf_counter() - t_start, "started": started.isoformat(timespec="seconds")}

    def write_network(name: str, gen: int, population, ev, i: int) -> None:
        """best.json or solved.json: network i of generation gen, with what rebuilds it."""
        write_json(path / name, {
            "generation": gen, "index": i, "fitness": float(ev.fitness[i]),
            "metrics": {k: v[i] for k, v in ev.metrics.items()},
            "genome_space": space.kind, "genome_config": space.config(), "task": config["task"],
            "genome": space.genome(population, i)})

    def validate_best() -> float:
        nonlocal validated
        if validated is None or validated[0] != best_gen:
            ev = task.validate(space.compile(space.decode_genome(best_genome)), val_seed)
            validated = (best_gen, float(ev.fitness[0]))
        return validated[1]

    write_json(path / "summary.json", summary("running"))
    shape = f"genome D={space.dim}" if hasattr(space, "dim") else f"genome space {space.kind}"
    log(f"run {path}  task={config['task']['name']} strategy={config['strategy']['name']} "
        f"{shape} population={strategy.population_size} seed={seed}")
    ckpt_every = int(r.get("checkpoint_every", 1))
    last_ckpt = told = state["start_gen"]

    def checkpoint(done: int) -> None:
        nonlocal last_ckpt
        _checkpoint(path, strategy, done, {
            "evaluations": evaluations, "best_ever": best_ever if best_genome is not None else None,
            "best_generation": best_gen, "best_genome": best_genome,
            "validated": list(validated) if validated else None, "solved_generation": solved_gen,
            "wall_seconds": time.perf_counter() - t_start})
        last_ckpt = done

    bar = None
    if progress and not r["quiet"]:  # a live bar on a terminal; plain lines otherwise
        from tqdm import tqdm
        bar = tqdm(total=int(r["generations"]), initial=state["start_gen"], unit="gen", dynamic_ncols=True)
    try:
        for gen in range(state["start_gen"], int(r["generations"])):
            t0 = time.perf_counter()
            population = strategy.ask()
            t1 = time.perf_counter()
            try:
                ev, sizes = evaluator.evaluate(population, derive_seed(seed, gen, "evaluate"))
            except Exception as exc:  # the task's own error, with where it happened
                raise RunError(f"generation {gen}: task {config['task']['name']!r} failed: "
                                  f"{type(exc).__name__}: {exc} (finished generations are saved; "
                                  f"evospike resume {path} continues from generation {gen})") from exc
            eval_seconds = time.perf_counter() - t1
            strategy.tell(population, _objectives(strategy, ev, config))
            told = gen + 1
            P = len(ev)
            evaluations += P
            i_best = int(np.argmax(ev.fitness))
            if ev.fitness[i_best] > best_ever:
                best_ever, best_genome, best_gen = float(ev.fitness[i_best]), space.genome(population, i_best), gen
                write_network("best.json", gen, population, ev, i_best)
            is_solved = np.asarray(solved(ev), bool) if solved is not None else np.zeros(len(ev), bool)
            if is_solved.any() and solved_gen is None:
                # the first network that solved the task (not always the fittest one)
                solved_gen = gen
                write_network("solved.json", gen, population, ev,
                              int(np.flatnonzero(is_solved)[np.argmax(ev.fitness[is_solved])]))
            stop = bool(ev.fitness[i_best] >= r["stop_fitness"] or (stop_on_solved and is_solved.any()))
            last = gen == int(r["generations"]) - 1 or stop
            species = getattr(strategy, "last_species", None)
            species = np.zeros(len(ev), np.int64) if species is None else species
            every = int(r["validate_every"])
            validation = validate_best() if last or (every and (gen + 1) % every == 0) else math.nan
            spikes = ev.metrics.get("spikes", np.full(P, np.nan))
            rows.append({
                "generation": gen, "evaluations": evaluations, "best": float(ev.fitness[i_best]),
                "mean": float(ev.fitness.mean()), "median": float(np.median(ev.fitness)),
                "std": float(ev.fitness.std()), "best_ever": best_ever, "validation": validation,
                "n_species": int(np.unique(species).size), "mean_neurons": float(sizes["neurons"].mean()),
                "mean_synapses": float(sizes["synapses"].mean()), "mean_spikes": float(np.mean(spikes)),
                "eval_seconds": eval_seconds, "gen_seconds": time.perf_counter() - t0})
            individuals.append(pd.DataFrame({
                "generation": gen, "individual": np.arange(P), "fitness": ev.fitness,
                **{k: v for k, v in ev.metrics.items()}, "species": species,
                "neurons": sizes["neurons"], "synapses": sizes["synapses"]}))
            if hasattr(strategy, "pareto_front"):
                genomes, values = strategy.pareto_front()
                names = list(strategy.objectives)
                pareto.append(pd.DataFrame({"generation": gen, "member": np.arange(len(values)),
                                            **{n: values[:, k] for k, n in enumerate(names)}}))
                write_parquet(path / "pareto.parquet", pd.concat(pareto, ignore_index=True))
                write_json(path / "pareto.json", {
                    "generation": gen, "objectives": names, "senses": ["max"] + ["min"] * (len(names) - 1),
                    "members": [{**{n: float(v) for n, v in zip(names, vals)}, "genome": space.genome(genomes, k)}
                                for k, vals in enumerate(values)]})
            write_parquet(path / "metrics.parquet", pd.DataFrame(rows, columns=METRIC_COLUMNS))
            write_parquet(path / "individuals.parquet", pd.concat(individuals, ignore_index=True))
            if (gen + 1) % ckpt_every == 0 or last:
                checkpoint(gen + 1)
            write_json(path / "summary.json", summary("running"))
            row = rows[-1]
            if bar is not None:
                bar.set_postfix_str(f"best {row['best']:.2f}  mean {row['mean']:.2f}  "
                                    f"{P / max(eval_seconds, 1e-9):.0f} evals/s", refresh=False)
                bar.update(1)
            elif not r["quiet"]:
                val = "" if math.isnan(validation) else f"  validation {validation:.1f}"
                log(f"gen {gen:4d}  best {row['best']:9.2f}  mean {row['mean']:9.2f}  best_ever {best_ever:9.2f}"
                    f"  {P / max(eval_seconds, 1e-9):8.0f} evals/s{val}")
            if stop:
                why = ("a network solved the task" if stop_on_solved and is_solved.any()
                       else f"reached stop_fitness {r['stop_fitness']:g}")
                log(f"stop: generation {gen}: {why}")
                break
    except KeyboardInterrupt:
        if rows and last_ckpt < len(rows) == told:  # save the finished generations on Ctrl-C or SIGTERM
            checkpoint(len(rows))
        write_json(path / "summary.json", summary("interrupted", "KeyboardInterrupt"))
        raise
    except BaseException as exc:
        write_json(path / "summary.json", summary("failed", f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        evaluator.close()
        if bar is not None:
            bar.close()
    s = summary("finished")
    write_json(path / "summary.json", s)
    log(f"finished {len(rows)} generations, {evaluations} evaluations in {s['wall_seconds']:.1f} s; "
        f"best {best_ever:.2f}; validation {s['validation']:.2f}")
    log(f"run directory: {path}")
    return RunResult(path, len(rows), evaluations, best_ever, s["validation"], s["wall_seconds"])
