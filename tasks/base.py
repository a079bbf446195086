"""The Task protocol (DESIGN.md section 3): networks in, fitness out, for a whole population."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from neurons import NetworkBatch

__all__ = ["Evaluation", "Task", "TaskError", "int_option", "reset_option"]


class TaskError(ValueError):
    """A task was misused or produced an invalid result."""


def int_option(name: str, value: Any, low: int = 1, note: str = "") -> int:
    """A task option that must be an integer >= ``low``; anything else is a TaskError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise TaskError(f"task option {name}: {value!r}; expected an integer >= {low}{note}")
    return int(value)


def reset_option(reset: Any) -> str:
    if reset not in ("subtract", "zero"):
        raise TaskError(f"task option reset: {reset!r}; expected 'subtract' or 'zero'")
    return reset


@dataclass
class Evaluation:
    """The result of evaluating P networks.

    - ``fitness`` (P,) float64, higher is better, never NaN.
    - ``metrics`` {name: (P,) float64}, e.g. accuracy, steps, spikes.
    """

    fitness: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fitness = np.asarray(self.fitness, dtype=np.float64)
        if self.fitness.ndim != 1:
            raise TaskError(f"Evaluation.fitness: shape {self.fitness.shape}; expected (P,)")
        if not np.isfinite(self.fitness).all():
            bad = np.flatnonzero(~np.isfinite(self.fitness))
            raise TaskError(f"Evaluation.fitness: {self.fitness[bad[0]]} for networks {bad[:10].tolist()}; "
                            f"fitness must be a finite number")
        P = self.fitness.shape[0]
        metrics = {}
        for name, value in self.metrics.items():
            value = np.asarray(value, dtype=np.float64)
            if value.shape != (P,):
                raise TaskError(f"Evaluation.metrics[{name!r}]: shape {value.shape}; expected ({P},)")
            metrics[name] = value
        self.metrics = metrics

    def __len__(self) -> int:
        return self.fitness.shape[0]

    @staticmethod
    def concatenate(parts: list["Evaluation"]) -> "Evaluation":
        """Join the evaluations of consecutive chunks of a population."""
        names = list(parts[0].metrics)
        return Evaluation(
            np.concatenate([p.fitness for p in parts]),
            {n: np.concatenate([p.metrics[n] for p in parts]) for n in names},
        )


@runtime_checkable
class Task(Protocol):
    """What every task provides, in the shape of Gymnasium's Env.

    ``n_inputs``/``n_outputs`` describe the network interface after encoding.
    ``evaluate`` scores all P networks in one vectorized call; every network faces the same
    episodes or samples (common random numbers) for a given seed. ``validate`` gives the
    held-out score: a test split, or episodes that training never used.
    ``options`` holds the resolved options the task was made with (for the run's config).
    """

    n_inputs: int
    n_outputs: int
    options: dict[str, Any]

    def evaluate(self, nets: NetworkBatch, seed: int) -> Evaluation: ...

    def validate(self, nets: NetworkBatch, seed: int) -> Evaluation: ...
