"""The serial evaluator: the whole population in this process, in one vectorized call, or
(seed-described populations, large networks) a chunk of networks at a time."""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator

from threadpoolctl import ThreadpoolController

from tasks import Evaluation

from ..errors import EvaluationTimeout
from ..seeding import derive_seed
from .base import EvaluatorBase, Notice, Sizes, compile_clock, compile_notice, evaluate_chunks
from .problem import Problem

__all__ = ["SerialEvaluator", "time_limit"]


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """An EvaluationTimeout when the block runs longer than ``seconds`` (0: no limit), not
    counting the time numba spends compiling kernels (a fresh install's first generation;
    loading them from its cache counts). It uses SIGALRM, so it applies in the main thread
    only; a long call into compiled code ends at its next return to Python."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    with compile_clock() as clock:
        def expired(signum, frame):
            compiled = clock.take() if clock is not None else 0.0
            if compiled > 0.0 or (clock is not None and clock.depth):  # the limit moves on by the compile time
                signal.setitimer(signal.ITIMER_REAL, max(compiled, 0.01))
                return
            raise EvaluationTimeout(f"the evaluation took longer than run.eval_timeout = {seconds:g} s")

        old = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


class SerialEvaluator(EvaluatorBase):
    """Compiles and evaluates the whole population in this process, in one vectorized call.

    BLAS runs single-threaded while it evaluates (threadpoolctl), as in Ray's workers: the
    batched matmuls here are small, and a second BLAS thread only adds synchronization.
    ``task`` and ``space`` may be passed when the caller has built them already.
    ``timeout`` (seconds, 0: none) bounds each ``evaluate`` (SIGALRM, main thread only).
    ``notice``: where the first evaluation says that numba compiles kernels, when it does
    (:func:`~evo.evaluation.base.compile_notice`; None: nowhere).
    """

    def __init__(self, problem: Problem, seed: int, *, task: Any = None, space: Any = None,
                 blas_threads: int | None = 1, timeout: float = 0.0, notice: Notice | None = None) -> None:
        self.problem, self.seed, self.timeout, self.notice = problem, int(seed), float(timeout), notice
        if task is None or space is None:
            task, space = problem.build()
        self.task, self.space = task, space
        self.blas_threads = blas_threads
        self._pool = None
        self.last_seconds: dict[str, float] = {}
        if blas_threads is not None:
            self._pool = ThreadpoolController()

    def evaluate_seed(self, population: Any, seed: int) -> tuple[Evaluation, Sizes]:
        """Evaluate with an explicit evaluation seed; ``last_seconds`` then holds the seconds
        spent compiling genomes into networks and in the task."""
        if self.task_state is not None:
            self.task.set_state(self.task_state)
        with self._pool.limit(limits=self.blas_threads, user_api="blas") if self._pool else nullcontext():
            ev, neurons, synapses, self.last_seconds = evaluate_chunks(self.space, self.task, population, None, seed)
        return ev, {"neurons": neurons, "synapses": synapses}

    def evaluate(self, population: Any, generation: int) -> tuple[Evaluation, Sizes]:
        """The task's evaluation and the networks' sizes (neurons, synapses), each (P,)."""
        notice, self.notice = self.notice, None  # the first evaluation loads or compiles the kernels
        with time_limit(self.timeout), compile_notice(notice):
            return self.evaluate_seed(population, derive_seed(self.seed, generation, "evaluate"))
