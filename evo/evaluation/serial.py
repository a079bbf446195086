"""The serial evaluator: the whole population in this process, in one vectorized call."""
from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

from threadpoolctl import ThreadpoolController

from tasks import Evaluation

from ..seeding import derive_seed
from .base import EvaluatorBase, Sizes, check_count
from .problem import Problem

__all__ = ["SerialEvaluator"]


class SerialEvaluator(EvaluatorBase):
    """Compiles and evaluates the whole population in this process, in one vectorized call.

    BLAS runs single-threaded while it evaluates (threadpoolctl), as in Ray's workers: the
    batched matmuls here are small, and a second BLAS thread only adds synchronization.
    ``task`` and ``space`` may be passed when the caller has built them already.
    """

    def __init__(self, problem: Problem, seed: int, *, task: Any = None, space: Any = None,
                 blas_threads: int | None = 1) -> None:
        self.problem, self.seed = problem, int(seed)
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
        with self._pool.limit(limits=self.blas_threads, user_api="blas") if self._pool else nullcontext():
            t0 = time.perf_counter()
            nets = self.space.compile(population)
            t1 = time.perf_counter()
            ev = self.task.evaluate(nets, seed)
            self.last_seconds = {"compile": t1 - t0, "task": time.perf_counter() - t1}
        check_count(ev, nets.n_networks)
        return ev, {"neurons": nets.neuron_counts(), "synapses": nets.synapse_counts()}

    def evaluate(self, population: Any, generation: int) -> tuple[Evaluation, Sizes]:
        """The task's evaluation and the networks' sizes (neurons, synapses), each (P,)."""
        return self.evaluate_seed(population, derive_seed(self.seed, generation, "evaluate"))
