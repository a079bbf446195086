"""Glue for strategies built from DEAP operators.

DEAP's operators draw from Python's global ``random`` module. Each generation runs them
inside :func:`python_random`, which seeds a private stream from (seed, generation) and
restores the caller's ``random`` state afterwards, so nothing else in the process disturbs
a strategy and a strategy disturbs nothing else.
"""
from __future__ import annotations

import contextlib
import random

import numpy as np
from deap import base

from ..seeding import stream_words

__all__ = ["python_random", "FitnessMax", "FitnessMaxMin", "Individual", "individuals"]


@contextlib.contextmanager
def python_random(seed: int, generation: int):
    outer = random.getstate()
    state = stream_words(seed, generation, words=4)
    random.seed(int.from_bytes(state.tobytes(), "little"))
    try:
        yield
    finally:
        random.setstate(outer)


class FitnessMax(base.Fitness):
    weights = (1.0,)


class FitnessMaxMin(base.Fitness):
    """Maximize the task's fitness, minimize the second objective (spikes)."""
    weights = (1.0, -1.0)


class Individual(list):
    """A genome as DEAP expects it: a list of floats with a ``fitness`` attribute."""

    def __init__(self, values, fitness_cls=FitnessMax):
        super().__init__(float(v) for v in values)
        self.fitness = fitness_cls()


def individuals(X: np.ndarray, F: np.ndarray, fitness_cls) -> list[Individual]:
    """Rows of X with objective values F (P,) or (P, M)."""
    F = np.asarray(F, np.float64).reshape(len(X), -1)
    out = []
    for row, values in zip(X, F):
        ind = Individual(row, fitness_cls)
        ind.fitness.values = tuple(float(v) for v in values)
        out.append(ind)
    return out
