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

__all__ = ["python_random", "FitnessMax", "FitnessMaxMin", "Member", "members", "rows"]


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


class Member:
    """A genome as DEAP's selection operators see it: its row in the population array and
    its fitness, which is all they read. Selecting rows instead of lists of genes keeps the
    genomes in one array (:mod:`evo.strategies.variation` varies them there)."""

    __slots__ = ("index", "fitness")

    def __init__(self, index: int, fitness: base.Fitness) -> None:
        self.index, self.fitness = index, fitness


def members(values: np.ndarray, n: int, fitness_cls) -> list[Member]:
    """Members 0..n-1 with objective values ``values`` (n,) or (n, M)."""
    values = np.asarray(values, np.float64).reshape(n, -1)
    out = []
    for i, row in enumerate(values.tolist()):
        fitness = fitness_cls()
        fitness.values = tuple(row)
        out.append(Member(i, fitness))
    return out


def rows(chosen: list[Member]) -> list[int]:
    """The population rows of selected members, in their order."""
    return [m.index for m in chosen]
