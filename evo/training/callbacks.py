"""The jobs around the loop, one small callback each (as SB3's ``CheckpointCallback``).

A run directory's files are written by :class:`BestWriter`, :class:`SolvedWriter`,
:class:`ParetoWriter`, :class:`MetricsWriter`, :class:`IndividualsWriter`,
:class:`Checkpointer` and :class:`SummaryWriter`; :class:`StopRules` ends a run early,
:class:`Validator` scores the best network on held-out data, and :class:`LineLogger` or
:class:`ProgressBar` report progress. :func:`run_callbacks` puts them in their order: stop
rules, the user's callbacks, the validator, the writers (the checkpoint, which commits a
generation, after the files it points past), the summary, the logger.
"""
from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..errors import StrategyError, Terminated
from ..evaluation import check_count
from ..rundir.files import read_json, write_columns, write_json, write_npz, write_parquet
from ..rundir.layout import (BEST, CENTER, CHECKPOINTS, INDIVIDUALS, LOOP, METRIC_COLUMNS, METRICS, PARETO, PARETO_JSON,
                             SOLVED, SUMMARY, individuals_part)
from .trainer import Callback, GenerationResult, LoopState, Trainer, callback_keys

__all__ = ["Callback", "StopRules", "Validator", "BestWriter", "SolvedWriter", "ParetoWriter", "MetricsWriter",
           "IndividualsWriter", "Checkpointer", "SummaryWriter", "LineLogger", "ProgressBar", "write_checkpoint"]


class StopRules(Callback):
    """Stop after a generation whose best fitness reaches ``stop_fitness``, or (with
    ``stop_on_solved``) one with a network that solved the task."""

    def __init__(self, stop_fitness: float = math.inf, stop_on_solved: bool = True,
                 log: Callable[[str], None] | None = None) -> None:
        self.stop_fitness, self.stop_on_solved, self.log = float(stop_fitness), bool(stop_on_solved), log

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> bool | None:
        if self.stop_on_solved and result.solved.any():
            result.stop_reason = "a network solved the task"
        elif result.fitness[result.i_best] >= self.stop_fitness:
            result.stop_reason = f"reached stop_fitness {self.stop_fitness:g}"
        else:
            return None
        if self.log:
            self.log(f"stop: generation {result.generation}: {result.stop_reason}")
        return False


class Validator(Callback):
    """Validate the run's result every ``every`` generations (0: only at the end) and in the
    last generation; the score goes into the metrics row and the loop state.

    The result is the best network so far, or for a strategy with a search center
    (``Strategy.center_genome``: openes, pgpe, snes) the center after the generation's
    update, which is then also written to ``center.json`` (with ``path``) in best.json's form.
    Late in a run with minibatches, the best sample owes part of its fitness to its
    minibatch; the center is what the search converges to."""

    def __init__(self, task: Any, space: Any, seed: int, every: int = 10, path: Path | None = None,
                 task_config: dict | None = None) -> None:
        self.task, self.space, self.seed, self.every = task, space, int(seed), int(every)
        self.path, self.task_config = (Path(path) if path is not None else None), dict(task_config or {})

    def score_center(self, trainer: Trainer, result: GenerationResult, center: np.ndarray) -> float:
        """The center's validation, with the task's state of the next generation."""
        nets = self.space.compile(center[None])
        score = self._validate(nets)
        trainer.state.validated = (result.generation, score)
        if self.path is not None:
            doc = {"generation": result.generation, "validation": score, "genome_space": self.space.kind,
                   "genome_config": self.space.config(), "task": self.task_config,
                   "genome": [float(v) for v in center]}
            if self.task.has_state:
                doc["task_state"] = self.task.state()
            write_json(self.path / CENTER, doc)
        return score

    def _validate(self, nets: Any) -> float:
        """The task's validation score of one network; a TaskError naming validate where it
        returns anything but an Evaluation of one network."""
        ev = self.task.validate(nets, self.seed)
        check_count(ev, 1, "validate")
        return float(ev.fitness[0])

    def score(self, state: LoopState) -> float:
        """The best network's validation, with the task's state it was evaluated with."""
        if state.validated is None or state.validated[0] != state.best_generation:
            nets = self.space.compile(self.space.decode_genome(state.best_genome))
            with _task_state(self.task, state.best_task_state):
                score = self._validate(nets)
            state.validated = (state.best_generation, score)
        return state.validated[1]

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> None:
        if result.last or (self.every and (result.generation + 1) % self.every == 0):
            center = trainer.strategy.center_genome()
            dim = getattr(self.space, "dim", None)
            if center is not None and (np.shape(center) != (dim,) or np.asarray(center).dtype.kind not in "iuf"):
                raise StrategyError(f"center_genome() returned {np.asarray(center).dtype} values of shape "
                                    f"{np.shape(center)}; expected ({dim},) real numbers, one per gene")
            result.row["validation"] = (self.score(trainer.state) if center is None
                                        else self.score_center(trainer, result, center))


@contextlib.contextmanager
def _task_state(task: Any, state: Any):
    """Within the block, ``task`` has ``state`` (when it keeps one); its own state after."""
    if state is None or not getattr(task, "has_state", False):
        yield
        return
    before = task.state()
    task.set_state(state)
    try:
        yield
    finally:
        task.set_state(before)


def _network(result: GenerationResult, space: Any, task_config: dict, i: int, task_state: Any = None) -> dict:
    """Network i of a generation, with what rebuilds it (best.json, solved.json): the genome,
    its space, the task options and, for a task with a state, the state it was evaluated with."""
    ev = result.evaluation
    out = {"generation": result.generation, "index": i, "fitness": float(ev.fitness[i]),
           "metrics": {k: v[i] for k, v in ev.metrics.items()}, "genome_space": space.kind,
           "genome_config": space.config(), "task": task_config, "genome": space.genome(result.population, i)}
    if task_state is not None:
        out["task_state"] = task_state
    return out


def checkpoint_due(result: GenerationResult, every: int) -> bool:
    """Whether a run checkpoints after this generation: every ``every`` generations, and in
    the last (:class:`Checkpointer`; the writers of genomes follow the same cadence)."""
    return (result.generation + 1) % every == 0 or result.last


class _KeptDocument(Callback):
    """A JSON document kept in memory (``pending``: a function that makes it) and written to
    ``file`` with the checkpoints (every ``every`` generations, the last) and at the end of
    the run, however it ends: for the documents that hold genomes, whose JSON costs tens of
    milliseconds. A run killed between checkpoints resumes from the last one, which the
    file matches."""

    def __init__(self, file: Path, every: int) -> None:
        self.file, self.every = Path(file), int(every)
        self.pending: Callable[[], dict] | None = None

    def write_if_due(self, result: GenerationResult) -> None:
        if self.pending is not None and checkpoint_due(result, self.every):
            self._write()

    def on_end(self, trainer: Trainer, status: str, reason: str) -> None:
        if self.pending is not None:
            self._write()

    def _write(self) -> None:
        write_json(self.file, self.pending())
        self.pending = None


class BestWriter(_KeptDocument):
    """``best.json``: the best network so far, kept when a generation improves on it and
    written with the checkpoints (:class:`_KeptDocument`; 52,810 genes: 25-50 ms a write)."""

    def __init__(self, path: Path, space: Any, task_config: dict, every: int = 1) -> None:
        super().__init__(Path(path) / BEST, every)
        self.space, self.task_config = space, task_config

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> None:
        if result.improved:
            doc = _network(result, self.space, self.task_config, result.i_best, trainer.state.best_task_state)
            self.pending = lambda: doc
        self.write_if_due(result)


class SolvedWriter(Callback):
    """``solved.json``: the first network that solved the task (tasks that define solving)."""

    def __init__(self, path: Path, space: Any, task_config: dict) -> None:
        self.path, self.space, self.task_config = Path(path), space, task_config

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> None:
        if result.first_solved is not None:
            write_json(self.path / SOLVED, _network(result, self.space, self.task_config, result.first_solved))


class ParetoWriter(_KeptDocument):
    """``pareto.parquet`` (every generation's front, written each generation) and
    ``pareto.json`` (the latest front, with genomes, written with the checkpoints:
    :class:`_KeptDocument`; a dozen 25,000-gene genomes are 7 MB of JSON, 0.3 s) for
    multi-objective strategies; ``frames`` are the fronts of earlier generations."""

    def __init__(self, path: Path, space: Any, frames: list[pd.DataFrame] | None = None, every: int = 1) -> None:
        super().__init__(Path(path) / PARETO_JSON, every)
        self.path, self.space, self.frames = Path(path), space, list(frames or [])

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> None:
        front = trainer.strategy.pareto_front()
        if front is not None:
            genomes, values = front
            names = list(trainer.strategy.objectives)
            self.frames.append(pd.DataFrame({"generation": result.generation, "member": np.arange(len(values)),
                                             **{n: values[:, k] for k, n in enumerate(names)}}))
            write_parquet(self.path / PARETO, pd.concat(self.frames, ignore_index=True))
            self.pending = functools.partial(self._front, result.generation, names, genomes, values)
        self.write_if_due(result)

    def _front(self, generation: int, names: list[str], genomes: np.ndarray, values: np.ndarray) -> dict:
        return {"generation": generation, "objectives": names, "senses": ["max"] + ["min"] * (len(names) - 1),
                "members": [{**{n: float(v) for n, v in zip(names, vals)}, "genome": self.space.genome(genomes, k)}
                            for k, vals in enumerate(values)]}


class MetricsWriter(Callback):
    """``metrics.parquet``: one row per generation (``rows``: those of earlier generations),
    the whole file written again each generation from columns kept as lists
    (:func:`~evo.rundir.files.write_columns`: about 1 ms a generation at 200 rows, the write
    and its fsync included)."""

    def __init__(self, path: Path, rows: list[dict] | None = None) -> None:
        self.path = Path(path)
        self.columns: dict[str, list] = {c: [] for c in METRIC_COLUMNS}
        for row in rows or ():
            self._add(row)

    def _add(self, row: dict) -> None:
        for c, values in self.columns.items():
            values.append(row.get(c, math.nan))  # a key a row lacks: NaN, as a frame of the rows gives

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> None:
        self._add(result.row)
        write_columns(self.path / METRICS, self.columns)


class IndividualsWriter(Callback):
    """``individuals.parquet/gen-NNNNNN.parquet``: one row per individual, a file per
    generation, so a generation adds one small file and rewrites nothing."""

    def __init__(self, path: Path) -> None:
        self.folder = Path(path) / INDIVIDUALS

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> None:
        ev, P = result.evaluation, len(result.evaluation)
        species = trainer.strategy.last_species
        write_columns(self.folder / individuals_part(result.generation), {
            "generation": result.generation, "individual": np.arange(P), "fitness": ev.fitness,
            **{k: v for k, v in ev.metrics.items()},
            "species": np.zeros(P, np.int64) if species is None else species,
            "neurons": result.sizes["neurons"], "synapses": result.sizes["synapses"]})


def write_checkpoint(path: Path, trainer: Trainer) -> None:
    """Strategy state tagged with the generation count, then ``loop.json`` pointing at it (the
    commit point), then the previous state files go. A crash at any moment leaves a
    complete checkpoint."""
    ckpt = Path(path) / CHECKPOINTS
    done = trainer.state.generation
    meta, arrays = _strategy_state(trainer.strategy)
    names = {"strategy_json": f"strategy-{done:06d}.json", "strategy_npz": f"strategy-{done:06d}.npz"}
    try:
        write_npz(ckpt / names["strategy_npz"], arrays)
        write_json(ckpt / names["strategy_json"], meta)
        write_json(ckpt / LOOP, {**trainer.state.to_json(), **names, "wall_seconds": trainer.wall_seconds,
                                 **_callback_states(trainer)})
    except BaseException:  # no orphan state files beside the checkpoint that loop.json still names
        current = _current_state_files(ckpt)
        for key in names.values():
            if key not in current:
                (ckpt / key).unlink(missing_ok=True)
        raise
    for old in ckpt.glob("strategy-*"):
        if old.name not in names.values():
            old.unlink(missing_ok=True)


def _strategy_state(strategy: Any) -> tuple[dict, dict]:
    """The strategy's ``state()``, checked to be what a checkpoint holds without pickle: a JSON
    object of meta and a dict of numeric (or string) arrays; a StrategyError naming what is not."""
    name = getattr(strategy, "name", type(strategy).__name__)
    got = strategy.state()
    if not (isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], dict) and isinstance(got[1], dict)):
        raise StrategyError(f"strategy {name!r}: state() returned {type(got).__name__}; expected (meta, arrays), a "
                            f"dict of JSON values and a dict of arrays")
    meta, arrays = got
    try:
        json.dumps(meta, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise StrategyError(f"strategy {name!r}: state()'s meta cannot be JSON ({exc})") from None
    checked = {}
    for key, value in arrays.items():
        array = np.asarray(value) if isinstance(key, str) else None
        if array is None or array.dtype.hasobject:
            what = f"the key {key!r}" if array is None else f"array {key!r} holds {array.dtype} values"
            raise StrategyError(f"strategy {name!r}: state()'s {what}; a checkpoint holds arrays of numbers or "
                                f"strings under string keys (npz, no pickle)")
        checked[key] = array
    return meta, checked


def _callback_states(trainer: Trainer) -> dict[str, Any]:
    """``{"callbacks": {key: state}}`` of the run's callbacks that keep a state
    (:func:`~evo.training.trainer.callback_keys`), checked to be JSON; empty where none does."""
    states = {}
    for key, cb in callback_keys(trainer.callbacks).items():
        state = cb.state()
        try:
            json.dumps(state, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"callback {key}: state() cannot be JSON ({exc})") from None
        states[key] = state
    return {"callbacks": states} if states else {}


def _json_default(value: Any) -> Any:
    """What the run's JSON writer turns into JSON besides JSON's own types (numpy scalars and
    arrays); anything else is a TypeError."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _current_state_files(ckpt: Path) -> set[str]:
    try:
        loop = read_json(ckpt / LOOP)
        return {loop.get("strategy_json"), loop.get("strategy_npz")}
    except (OSError, ValueError, AttributeError):
        return set()


class Checkpointer(Callback):
    """A resumable checkpoint before the first generation, every ``every`` generations, in the
    last generation, and on Ctrl-C or SIGTERM (when generations finished since the last one).
    Never one of a generation that a callback's error left half recorded: resuming then
    starts from the last checkpoint and computes the same generations again."""

    def __init__(self, path: Path, every: int = 1) -> None:
        self.path, self.every = Path(path), int(every)
        self.last: int | None = None

    def on_start(self, trainer: Trainer) -> None:
        if trainer.state.generation == 0:  # so that a run killed in its first generation resumes
            write_checkpoint(self.path, trainer)
        self.last = trainer.state.generation

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> None:
        if checkpoint_due(result, self.every):
            write_checkpoint(self.path, trainer)
            self.last = trainer.state.generation

    def on_end(self, trainer: Trainer, status: str, reason: str) -> None:
        whole = trainer.recorded_generations == trainer.state.generation
        if status == "interrupted" and whole and self.last is not None and self.last < trainer.state.generation:
            write_checkpoint(self.path, trainer)
            self.last = trainer.state.generation


class SummaryWriter(Callback):
    """``summary.json``: "running" while the run goes, then its status and figures."""

    def __init__(self, path: Path, config: dict, started: datetime) -> None:
        self.path, self.config, self.started = Path(path), config, started

    def make(self, trainer: Trainer, status: str, reason: str = "", s: LoopState | None = None) -> dict[str, Any]:
        """The summary of ``s`` (default: the trainer's state)."""
        s = trainer.state if s is None else s
        return {"status": status, "reason": reason, "task": self.config["task"]["name"],
                "strategy": self.config["strategy"]["name"], "seed": int(self.config["run"]["seed"]),
                "generations": s.generation, "evaluations": s.evaluations,
                "best": s.best_ever if s.best_genome is not None else None, "best_generation": s.best_generation,
                "validation": s.validated[1] if s.validated else None, "solved_generation": s.solved_generation,
                "wall_seconds": trainer.wall_seconds, "started": self.started.isoformat(timespec="seconds")}

    def _write(self, trainer: Trainer, status: str, reason: str = "", s: LoopState | None = None) -> None:
        write_json(self.path / SUMMARY, self.make(trainer, status, reason, s))

    def on_start(self, trainer: Trainer) -> None:
        self._write(trainer, "running")

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> None:
        self._write(trainer, "running")

    def on_end(self, trainer: Trainer, status: str, reason: str) -> None:
        try:  # the generations recorded whole (not one that a callback's error left half recorded)
            self._write(trainer, status, reason, trainer.recorded)
        except OSError:  # a full disk: the error that ended the run is the one to report
            if status == "finished":
                raise


def rate_text(count: int, seconds: float) -> str:
    """``count / seconds`` with three significant digits below 100 (a generation of a few
    slow episodes shows 0.352, not 0), whole numbers above."""
    rate = count / max(seconds, 1e-9)
    return f"{rate:.0f}" if rate >= 99.95 else f"{rate:.3g}"


class LineLogger(Callback):
    """A line per generation: best, mean, best so far, evaluations/s, validation; then, in a
    generation that a stop rule ended, the rule. Each line is flushed; where the reader of
    standard output went away (``evospike run ... | head``), the run stops after the
    generation, as a SIGPIPE would stop it, with status "interrupted" (resumable)."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> None:
        row, P = result.row, len(result.evaluation)
        val = "" if math.isnan(row["validation"]) else f"  validation {row['validation']:.2f}"
        try:
            self.log(f"gen {result.generation:4d}  best {row['best']:9.2f}  mean {row['mean']:9.2f}  best_ever "
                     f"{row['best_ever']:9.2f}  {rate_text(P, row['eval_seconds']):>8s} evals/s{val}")
            if result.stop_reason:
                self.log(f"stop: generation {result.generation}: {result.stop_reason}")
            sys.stdout.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to write there
            trainer.interrupt = Terminated(signal.SIGPIPE)  # raised once the generation is recorded


class ProgressBar(Callback):
    """A live tqdm bar: generation, best, mean, evaluations/s and the time left."""

    def __init__(self) -> None:
        self.bar = None

    def on_start(self, trainer: Trainer) -> None:
        self.bar = tqdm(total=trainer.generations, initial=trainer.state.generation, unit="gen", dynamic_ncols=True)

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> None:
        row, P = result.row, len(result.evaluation)
        self.bar.set_postfix_str(f"best {row['best']:.2f}  mean {row['mean']:.2f}  "
                                 f"{rate_text(P, row['eval_seconds'])} evals/s", refresh=False)
        self.bar.update(1)

    def on_end(self, trainer: Trainer, status: str, reason: str) -> None:
        if self.bar is not None:
            self.bar.close()
