"""The Task base class (docs/design.md, "Tasks"): networks in, fitness out, for a whole population."""
from __future__ import annotations

import contextlib
import contextvars
import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator

import numpy as np

from neurons import RESETS, NetworkBatch, check_reset

from .preset import Preset

__all__ = ["Evaluation", "Task", "TaskError", "Preset", "int_option", "finite_option", "positive_option",
           "reset_option", "deferred_data", "data_deferred", "DataOnUse"]

_DEFERRED = contextvars.ContextVar("evospike_deferred_data", default=False)


@contextlib.contextmanager
def deferred_data() -> Iterator[None]:
    """Tasks made inside this block read no data files until they first need them, and do
    not check that the files exist (``evospike run TASK --dump-config`` shows a config
    without the data)."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


def data_deferred() -> bool:
    """Whether tasks made now defer reading their data (:func:`deferred_data`)."""
    return _DEFERRED.get()


class DataOnUse:
    """For a task that reads data files: ``_read_sets()`` reads them and returns them;
    ``_begin_data()``, at the end of ``__init__``, reads them at once, or not before first use
    under :func:`deferred_data`; ``_data`` is what ``_read_sets`` returned, ``_sets`` None
    until then."""

    _sets: Any = None

    def _read_sets(self) -> Any:
        raise NotImplementedError

    def _begin_data(self) -> None:
        self._sets = None if data_deferred() else self._read_sets()

    @property
    def _data(self) -> Any:
        if self._sets is None:
            self._sets = self._read_sets()
        return self._sets


class TaskError(ValueError):
    """A task was misused or produced an invalid result."""


def int_option(name: str, value: Any, low: int = 1, note: str = "") -> int:
    """A task option that must be an integer >= ``low``; anything else is a TaskError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise TaskError(f"task option {name}: {value!r}; expected an integer >= {low}{note}")
    return int(value)


def _number_option(name: str, value: Any, valid: Callable[[float], bool], expected: str) -> float:
    """A task option that must be a number for which ``valid`` holds; anything else is a
    TaskError naming it and saying what was ``expected``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not valid(value):
        raise TaskError(f"task option {name}: {value!r}; expected {expected}")
    return float(value)


def finite_option(name: str, value: Any) -> float:
    """A task option that must be a finite number; anything else is a TaskError naming it."""
    return _number_option(name, value, math.isfinite, "a finite number")


def positive_option(name: str, value: Any) -> float:
    """A task option that must be a finite number > 0; anything else is a TaskError naming it."""
    return _number_option(name, value, lambda v: 0 < v < math.inf, "a value > 0")


def reset_option(reset: Any) -> str:
    """The ``reset`` task option: one of the simulator's reset rules (``neurons.RESETS``)."""
    try:
        return check_reset(reset)
    except ValueError:
        raise TaskError(f"task option reset: {reset!r}; expected one of {', '.join(map(repr, RESETS))}") from None


def _reals(values: Any, what: str) -> np.ndarray:
    """``values`` as float64, where they are real numbers (bool, integer or float); anything
    else (strings, complex numbers, objects) is a TaskError naming ``what``."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TaskError(f"{what}: {array.dtype} values; expected real numbers (float, integer or bool)")
    return array.astype(np.float64, copy=False)


@dataclass
class Evaluation:
    """The result of evaluating P networks.

    - ``fitness`` (P,) float64, higher is better, never NaN.
    - ``metrics`` {name: (P,) float64}, e.g. accuracy, steps, spikes.
    - ``extras`` {name: (P, ...) float64}: per-network data that is not a metric (not
      recorded), for the task's own ``update_state``, e.g. observation sums.
    """

    fitness: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fitness = _reals(self.fitness, "Evaluation.fitness")
        if self.fitness.ndim != 1:
            raise TaskError(f"Evaluation.fitness: shape {self.fitness.shape}; expected (P,)")
        if not np.isfinite(self.fitness).all():
            bad = np.flatnonzero(~np.isfinite(self.fitness))
            raise TaskError(f"Evaluation.fitness: {self.fitness[bad[0]]} for networks {bad[:10].tolist()}; "
                            f"fitness must be a finite number")
        P = self.fitness.shape[0]
        metrics = {}
        for name, value in self.metrics.items():
            if not isinstance(name, str):
                raise TaskError(f"Evaluation.metrics: the name {name!r} is {type(name).__name__}; expected a string")
            value = _reals(value, f"Evaluation.metrics[{name!r}]")
            if value.shape != (P,):
                raise TaskError(f"Evaluation.metrics[{name!r}]: shape {value.shape}; expected ({P},)")
            metrics[name] = value
        self.metrics = metrics
        extras = {}
        for name, value in self.extras.items():
            value = _reals(value, f"Evaluation.extras[{name!r}]")
            if value.shape[:1] != (P,):
                raise TaskError(f"Evaluation.extras[{name!r}]: shape {value.shape}; expected ({P}, ...)")
            extras[name] = value
        self.extras = extras

    def take(self, index: np.ndarray) -> "Evaluation":
        """The evaluation of networks ``index``, in that order."""
        return Evaluation(self.fitness[index], {k: v[index] for k, v in self.metrics.items()},
                          {k: v[index] for k, v in self.extras.items()})

    def __len__(self) -> int:
        return self.fitness.shape[0]

    @staticmethod
    def concatenate(parts: list["Evaluation"]) -> "Evaluation":
        """Join the evaluations of consecutive chunks of a population."""
        names, extras = list(parts[0].metrics), list(parts[0].extras)
        return Evaluation(
            np.concatenate([p.fitness for p in parts]),
            {n: np.concatenate([p.metrics[n] for p in parts]) for n in names},
            {n: np.concatenate([p.extras[n] for p in parts]) for n in extras},
        )


class Task:
    """Networks in, fitness out, for a whole population, in the shape of Gymnasium's Env.

    ALL subclasses set:

    - ``n_inputs``, ``n_outputs``: the network interface after encoding;
    - ``options``: the resolved options the task was made with (recorded in the run's config);
    - ``evaluate(nets, seed) -> Evaluation``: scores all P networks in one vectorized call;
      every network faces the same episodes or samples (common random numbers) for a seed;
    - ``validate(nets, seed) -> Evaluation``: the held-out score, a test split or episodes
      that training never uses.

    SOME subclasses set (the defaults are documented here):

    - ``target``: a training fitness at which a run may stop (``run.stop_fitness = "task"``);
      default ``inf``, never;
    - ``metric_names``: the names of the metrics ``evaluate`` reports, so that a run refuses
      a strategy objective the task lacks before it evaluates anything; default None: not
      declared (the objectives are checked against the first evaluation);
    - ``solved(ev) -> (P,) bool``: which networks solved the task; default: the task does
      not define solving (``defines_solved`` is False) and ``solved`` returns None;
    - ``record(nets, seed) -> (T, N) spikes`` of the first network on one validation sample
      or episode, for rasters; with ``inputs=True`` a pair (spikes, (T, n_inputs) input the
      network received: spikes or currents); default: the task cannot record
      (``can_record`` is False);
    - ``preset``: the recommended setting, a :class:`Preset` (strategy, genome, options,
      budget) that ``evospike run TASK`` uses; default None: the global defaults;
    - ``episode_bytes``: for tasks with ``episodes`` and ``validation_episodes`` options,
      about the memory one episode of one network takes while it is played, so that a run
      refuses, before it starts, episode counts the machine cannot hold; default 0: unknown;
    - ``input_bytes() -> (bytes, what)``: about the memory of the largest input that one
      ``evaluate`` or ``validate`` call builds at once (a dense (steps, samples, inputs) array),
      and the options that set it, so that a run refuses options the machine cannot hold
      before it starts; default (0, ""): small or unknown;
    - ``state() -> dict | None``, ``set_state(state)``, ``update_state(ev)``: what the task
      learns while a run goes on (an observation normalizer). The run keeps the state in
      its checkpoint and with ``best.json``, sets it on every evaluating process before
      each generation, and calls ``update_state`` with each generation's evaluation (in
      population order) in the driver; default: no state (``has_state`` is False).
    """

    n_inputs: int
    n_outputs: int
    options: dict[str, Any]
    target: ClassVar[float] = math.inf
    metric_names: tuple[str, ...] | None = None
    preset: ClassVar[Preset | None] = None
    episode_bytes: ClassVar[int] = 0

    def evaluate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        raise NotImplementedError(f"{type(self).__name__}.evaluate")

    def validate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        raise NotImplementedError(f"{type(self).__name__}.validate")

    def solved(self, ev: Evaluation) -> np.ndarray | None:
        return None

    def input_bytes(self) -> tuple[int, str]:
        return 0, ""

    def state(self) -> dict[str, Any] | None:
        return None

    def set_state(self, state: dict[str, Any] | None) -> None:
        if state is not None:
            raise TaskError(f"task {self.task_name!r} keeps no state, but a state was given")

    def update_state(self, ev: Evaluation) -> None:
        pass

    @property
    def has_state(self) -> bool:
        return type(self).state is not Task.state

    def record(self, nets: NetworkBatch, seed: int, inputs: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        raise TaskError(f"task {self.task_name!r} cannot record spikes")

    @property
    def task_name(self) -> str:
        return str(getattr(self, "name", type(self).__name__))

    @property
    def defines_solved(self) -> bool:
        return type(self).solved is not Task.solved

    @property
    def can_record(self) -> bool:
        return type(self).record is not Task.record

    def check_networks(self, nets: NetworkBatch) -> None:
        """A TaskError unless the networks have this task's inputs and outputs."""
        if nets.n_in != self.n_inputs or nets.n_out != self.n_outputs:
            raise TaskError(f"{self.task_name}: networks have {nets.n_in} inputs and {nets.n_out} outputs; "
                            f"the task needs {self.n_inputs} and {self.n_outputs}")
