"""The Evaluator protocol: genomes in, fitness out. The same (run seed, generation, genome)
gives the same fitness on every backend and for any number of workers."""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from tasks import Evaluation, TaskError

__all__ = ["Evaluator", "Sizes", "check_count"]

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
    """Context-manager plumbing shared by the evaluators."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        pass


def check_count(ev: Evaluation, n: int) -> None:
    """A TaskError unless the task returned one fitness value per network."""
    if len(ev) != n:
        raise TaskError(f"task returned {len(ev)} fitness values for {n} networks")
