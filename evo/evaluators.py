"""Evaluators: genomes in, fitness out. Same (seed, generation, genome) gives the same fitness."""
from __future__ import annotations

import numpy as np

from tasks import Evaluation, Task

from .genome import FixedTopology

__all__ = ["SerialEvaluator"]


class SerialEvaluator:
    """Compiles and evaluates the whole population in this process, in one vectorized call.

    BLAS runs single-threaded while it evaluates (threadpoolctl), as in Ray's workers: the
    batched matmuls here are small, and a second BLAS thread only adds synchronization.
    """

    def __init__(self, task: Task, space: FixedTopology, blas_threads: int | None = 1) -> None:
        self.task, self.space = task, space
        self.blas_threads = blas_threads
        self._pool = None
        if blas_threads is not None:
            from threadpoolctl import ThreadpoolController
            self._pool = ThreadpoolController()

    def evaluate(self, population: np.ndarray, seed: int) -> tuple[Evaluation, dict[str, np.ndarray]]:
        """Return the task's evaluation and the networks' sizes (neurons, synapses), each (P,)."""
        if self._pool is None:
            nets = self.space.compile(population)
            ev = self.task.evaluate(nets, seed)
        else:
            with self._pool.limit(limits=self.blas_threads, user_api="blas"):
                nets = self.space.compile(population)
                ev = self.task.evaluate(nets, seed)
        if len(ev) != nets.n_networks:
            raise ValueError(f"task returned {len(ev)} fitness values for {nets.n_networks} networks")
        return ev, {"neurons": nets.neuron_counts(), "synapses": nets.synapse_counts()}

    def close(self) -> None:
        pass
