"""Evaluators: the serial backend and Ray, behind the :class:`Evaluator` protocol, both
built from a picklable :class:`Problem`."""
from __future__ import annotations

from typing import Any

from .auto import AutoEvaluator
from .base import Evaluator, Notice, Sizes, check_count, stderr_notice
from .problem import Problem
from .ray import RayEvaluator
from .serial import SerialEvaluator

__all__ = ["AutoEvaluator", "Evaluator", "Notice", "Problem", "RayEvaluator", "SerialEvaluator", "Sizes", "check_count",
           "make_evaluator", "stderr_notice"]


def make_evaluator(problem: Problem, seed: int, *, backend: str = "serial", workers: int = 0,
                   address: str | None = None, task: Any = None, space: Any = None,
                   timeout: float = 0.0, ray_after: float = 1.0, notice: Notice | None = stderr_notice,
                   generations: int | None = None) -> Evaluator:
    """The evaluator ``backend`` names ("auto", "serial" or "ray") for ``problem`` and the run seed ``seed``.
    ``task`` and ``space``, when already built, spare the serial backend building them again;
    ``timeout`` bounds each generation's evaluation (seconds, 0: none); ``ray_after``: see
    :class:`AutoEvaluator`, as is ``generations`` (the run's: when Ray pays); ``notice``: where
    Ray's notes on starting, and the note that numba compiles kernels, go (None: nowhere)."""
    if backend == "ray":
        return RayEvaluator(problem, seed, workers=workers, address=address or None, timeout=timeout, notice=notice)
    if backend == "auto":
        return AutoEvaluator(problem, seed, workers=workers, address=address or None, task=task, space=space,
                             timeout=timeout, ray_after=ray_after, notice=notice, generations=generations)
    return SerialEvaluator(problem, seed, task=task, space=space, timeout=timeout, notice=notice)
