"""The Evaluator protocol: genomes in, fitness out. The same (run seed, generation, genome)
gives the same fitness on every backend and for any number of workers."""
from __future__ import annotations

import contextlib
import sys
import time
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

import numpy as np

from neurons import current_kernel
from tasks import Evaluation, TaskError

from ..genomes.seeded import SeededPopulation

__all__ = ["Evaluator", "Sizes", "check_count", "evaluate_chunks", "take_rows", "CHUNK_BYTES", "Notice",
           "stderr_notice", "compile_notice", "compile_clock", "CompileClock"]

Notice = Callable[[str], None]


def stderr_notice(line: str) -> None:
    """An evaluator's notice (Ray starting, the move to Ray), one line on stderr. A run made
    with ``log=None`` passes ``notice=None`` instead: no notices; warnings still show."""
    print(f"evospike: {line}", file=sys.stderr, flush=True)

_compile_noticed = False  # compile_notice said its line in this process


def _numba_events() -> Any:
    """numba's event module (``numba.core.event``), or None where numba is missing or the
    kernel setting is numpy (nothing compiles)."""
    if current_kernel() == "numpy":
        return None
    try:
        from numba.core import event
    except ImportError:
        return None
    return event


@contextlib.contextmanager
def _listening(event: Any, on_start: Callable[[], None], on_end: Callable[[], None]) -> Iterator[None]:
    """Within the block, ``on_start`` and ``on_end`` around every numba compile."""
    class Listener(event.Listener):
        def on_start(self, e: Any) -> None:
            on_start()

        def on_end(self, e: Any) -> None:
            on_end()

    listener = Listener()
    event.register("numba:compile", listener)
    try:
        yield
    finally:
        event.unregister("numba:compile", listener)


@contextlib.contextmanager
def compile_notice(notice: Notice | None) -> Iterator[None]:
    """Within the block, the first time numba compiles a kernel in this process (it has no
    cached machine code for it: the first run after an install or an update), one notice
    saying so; numba then takes seconds that would otherwise pass in silence. Nothing where
    ``notice`` is None, numba is missing or the kernel setting is numpy."""
    event = None if notice is None or _compile_noticed else _numba_events()
    if event is None:
        yield
        return

    def started() -> None:
        global _compile_noticed
        if not _compile_noticed:
            _compile_noticed = True
            notice("compiling numba kernels for this machine (the first run after an install or an update; "
                   "later runs load them)")

    with _listening(event, started, lambda: None):
        yield


class CompileClock:
    """The seconds numba spends compiling (outermost compiles only), within
    :func:`compile_clock`."""

    def __init__(self) -> None:
        self.depth, self.started, self.done = 0, 0.0, 0.0

    def start(self) -> None:
        if self.depth == 0:
            self.started = time.perf_counter()
        self.depth += 1

    def end(self) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.done += time.perf_counter() - self.started

    def take(self) -> float:
        """The seconds compiled since the last take (a compile under way counted up to now)."""
        now = time.perf_counter()
        seconds = self.done + (now - self.started if self.depth else 0.0)
        self.done = 0.0
        if self.depth:
            self.started = now
        return seconds


@contextlib.contextmanager
def compile_clock() -> Iterator[CompileClock | None]:
    """A :class:`CompileClock` running within the block; None where nothing compiles (numba
    missing, the numpy kernel setting)."""
    event = _numba_events()
    if event is None:
        yield None
        return
    clock = CompileClock()
    with _listening(event, clock.start, clock.end):
        yield clock


CHUNK_BYTES = 256 << 20  # genomes and networks compiled at a time, at most (seed-described or large populations)

Sizes = dict[str, np.ndarray]  # {"neurons": (P,), "synapses": (P,)}


@runtime_checkable
class Evaluator(Protocol):
    """``evaluate(population, generation) -> (Evaluation, sizes)``: the task's evaluation of
    every genome with generation ``generation``'s seed, and the networks' sizes; ``close()``
    frees workers. Usable as a context manager (``with make_evaluator(...) as ev:``)."""

    def evaluate(self, population: Any, generation: int) -> tuple[Evaluation, Sizes]: ...

    def close(self) -> None: ...

    def __enter__(self) -> "Evaluator": ...

    def __exit__(self, *exc: Any) -> None: ...


class EvaluatorBase:
    """Context-manager plumbing shared by the evaluators. ``task_state``: set before an
    ``evaluate`` to give every evaluating copy of the task that state (``Task.set_state``)."""

    task_state: Any = None

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        pass


def check_count(ev: Evaluation, n: int, method: str = "evaluate") -> None:
    """A TaskError unless the task's ``method`` returned an Evaluation with one fitness value
    per network."""
    if not isinstance(ev, Evaluation):
        raise TaskError(f"{method} returned {type(ev).__name__}; expected tasks.Evaluation(fitness, metrics)")
    if len(ev) != n:
        raise TaskError(f"task returned {len(ev)} fitness values for {n} networks")


def chunk_size(space: Any, population: Any, n: int) -> int:
    """Networks compiled and evaluated at a time out of ``n``: all of them, except for a
    seed-described population or a matrix whose networks exceed ``CHUNK_BYTES`` together."""
    per = getattr(space, "bytes_per_network", lambda: 0)()
    if isinstance(population, SeededPopulation) or (isinstance(population, np.ndarray) and n * per > CHUNK_BYTES):
        return max(1, min(n, CHUNK_BYTES // max(per, 1)))
    return max(n, 1)


def take_rows(population: Any, rows: np.ndarray) -> Any:
    """Genomes ``rows`` of a population: a matrix's rows, or the population's own ``take``
    (a seed-described population's genomes as the float32 values they are)."""
    if isinstance(population, np.ndarray):
        return population[rows]
    return population.take(rows, np.float32) if isinstance(population, SeededPopulation) else population.take(rows)


def evaluate_chunks(space: Any, task: Any, population: Any, rows: np.ndarray | None, seed: int,
                    pad_to: int | None = None) -> tuple[Evaluation, np.ndarray, np.ndarray, dict[str, float]]:
    """The task's evaluation of genomes ``rows`` of ``population`` (None: all), compiled and
    evaluated :func:`chunk_size` networks at a time: (evaluation, neurons (n,), synapses (n,),
    seconds spent compiling and in the task). Genomes are materialized one chunk at a time."""
    n = len(population) if rows is None else len(rows)
    k = chunk_size(space, population, n)
    parts, seconds = [], {"compile": 0.0, "task": 0.0}
    for lo in range(0, n, k):
        t0 = time.perf_counter()
        if rows is None and k >= n:
            chunk = population
        else:
            sub = np.arange(lo, min(n, lo + k)) if rows is None else np.asarray(rows)[lo:lo + k]
            chunk = take_rows(population, sub)
        nets = space.compile(chunk, pad_to=pad_to) if pad_to is not None else space.compile(chunk)
        t1 = time.perf_counter()
        ev = task.evaluate(nets, seed)
        seconds["compile"] += t1 - t0
        seconds["task"] += time.perf_counter() - t1
        check_count(ev, nets.n_networks)
        parts.append((ev, nets.neuron_counts(), nets.synapse_counts()))
    if len(parts) == 1:
        ev, neurons, synapses = parts[0]
    else:
        ev = Evaluation.concatenate([p[0] for p in parts])
        neurons, synapses = (np.concatenate([p[i] for p in parts]) for i in (1, 2))
    return ev, neurons, synapses, seconds
