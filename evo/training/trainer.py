"""The generation loop: a :class:`Trainer` steps ask, evaluate, tell, and callbacks do the rest.

Every job around the loop (writing files, checkpoints, validation, stop rules, progress)
is a callback (:mod:`evo.training.callbacks`); the Trainer itself only evolves and keeps
the :class:`LoopState` that a checkpoint saves and a resume restores.
"""
from __future__ import annotations

import contextlib
import errno
import math
import signal
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from tasks import Evaluation, TaskError

from ..errors import (ClusterError, ConfigError, EvaluationTimeout, RunDirError, RunError, StepSizeError, StrategyError,
                      Terminated, one_line)
from ..evaluation import Evaluator, Sizes
from ..genomes.seeded import SeededPopulation
from ..strategies import Strategy

__all__ = ["Trainer", "GenerationResult", "LoopState", "Callback", "deferred_interrupts", "callback_keys"]


def _name(cb: Any) -> str:
    return f"{type(cb).__module__}.{type(cb).__qualname__}"


def callback_keys(callbacks: Iterable[Any]) -> dict[str, Any]:
    """The callbacks that keep a state (they define ``state``), by key: the class's qualified
    name, with ``#2``, ``#3``... for further callbacks of one class, in their order."""
    keys: dict[str, Any] = {}
    for cb in callbacks:
        if callable(getattr(cb, "state", None)) and callable(getattr(cb, "load_state", None)):
            key, n = _name(cb), 1
            while key in keys:
                n += 1
                key = f"{_name(cb)}#{n}"
            keys[key] = cb
    return keys


def _ours(cb: Any) -> bool:
    """Whether ``cb`` is one of evospike's own callbacks (the writers, the checkpoint)."""
    return type(cb).__module__.startswith("evo.")


@dataclass
class LoopState:
    """What the loop carries from one generation to the next, and ``loop.json`` saves.

    ``generation``: generations finished (the next one to run); ``evaluations``: genomes
    evaluated so far; ``best_ever``, ``best_genome`` (JSON form), ``best_generation``: the
    best network so far; ``validated``: (best_generation, score) of the last validation;
    ``solved_generation``: the first generation with a network that solved the task;
    ``wall_seconds``: wall time spent before this process took over; ``task_state``: the
    task's state for the next generation and ``best_task_state`` the one the best network
    was evaluated with (tasks with ``has_state``, e.g. an observation normalizer; JSON).
    """

    generation: int = 0
    evaluations: int = 0
    best_ever: float = -math.inf
    best_genome: Any = None
    best_generation: int = -1
    validated: tuple[int, float] | None = None
    solved_generation: int | None = None
    wall_seconds: float = 0.0
    task_state: Any = None
    best_task_state: Any = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["best_ever"] = self.best_ever if self.best_genome is not None else None
        out["validated"] = list(self.validated) if self.validated else None
        return out

    @classmethod
    def from_json(cls, d: Any, where: str = "loop.json") -> "LoopState":
        """A LoopState from ``to_json``'s form; any missing or invalid field is a RunDirError."""
        if not isinstance(d, dict):
            raise RunDirError(f"{where}: expected a JSON object, got {type(d).__name__}")

        def integer(key: str, low: int, optional: bool = False) -> int | None:
            value = d.get(key)
            if value is None and optional:
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise RunDirError(f"{where}: {key}: {value!r}; expected an integer >= {low}")
            return value

        def number(key: str, value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise RunDirError(f"{where}: {key}: {value!r}; expected a finite number")
            return float(value)

        state = cls(generation=integer("generation", 0), evaluations=integer("evaluations", 0),
                    best_generation=integer("best_generation", -1),
                    solved_generation=integer("solved_generation", 0, optional=True),
                    wall_seconds=number("wall_seconds", d.get("wall_seconds", 0.0)))
        genome = d.get("best_genome")
        if genome is None:
            if state.generation > 0:
                raise RunDirError(f"{where}: best_genome is missing after {state.generation} generations")
        else:
            state.best_genome = genome
            state.best_ever = number("best_ever", d.get("best_ever"))
        for key in ("task_state", "best_task_state"):
            value = d.get(key)
            if value is not None and not isinstance(value, dict):
                raise RunDirError(f"{where}: {key}: {str(value)[:60]!r}; expected a JSON object or null")
            setattr(state, key, value)
        validated = d.get("validated")
        if validated is not None:
            g = validated[0] if isinstance(validated, list) and len(validated) == 2 else None
            if isinstance(g, bool) or not isinstance(g, int) or g < 0:
                raise RunDirError(f"{where}: validated: {validated!r}; expected [generation, score] or null")
            state.validated = (g, number("validated", validated[1]))
        for key in ("best_generation", "solved_generation"):
            value = getattr(state, key)
            if value is not None and value >= max(state.generation, 1):
                raise RunDirError(f"{where}: {key} {value} is not below generation {state.generation}")
        return state


@dataclass
class GenerationResult:
    """One generation, as :meth:`Trainer.step` returns it and callbacks see it.

    ``population``: what the strategy asked; ``evaluation``: the task's Evaluation;
    ``sizes``: neurons and synapses per network; ``timings``: seconds of ask, evaluate, tell
    and the whole step; ``evaluations``: genomes evaluated so far; ``i_best``: the
    generation's best network; ``improved``: it is the best so far; ``solved``: (P,) bool,
    which networks solved the task; ``first_solved``: the index of the network that first
    solved the task, if this is the first generation with one; ``row``: the metrics row
    (``validation`` NaN unless the validator fills it); ``budget_end``: the budget's last
    generation; ``stopping``: a callback stopped the run after this generation, for
    ``stop_reason``.
    """

    generation: int
    population: Any
    evaluation: Evaluation
    sizes: Sizes
    timings: dict[str, float]
    evaluations: int
    i_best: int
    improved: bool
    solved: np.ndarray
    first_solved: int | None
    row: dict[str, Any]
    budget_end: bool = False
    stopping: bool = False
    stop_reason: str = ""

    @property
    def last(self) -> bool:
        """No generation follows this one: the budget is spent or a stop rule fired."""
        return self.budget_end or self.stopping

    @property
    def fitness(self) -> np.ndarray:
        return self.evaluation.fitness


class Callback:
    """A job around the loop. ``on_start(trainer)`` before the first generation;
    ``on_generation(trainer, result)`` after each one, returning False to stop the run after
    it (later callbacks then see ``result.stopping``); ``on_end(trainer, status, reason)``
    with status "finished", "interrupted" or "failed". Every method is optional.

    A callback that keeps state across generations (a patience counter) defines ``state()
    -> dict`` (JSON values) and ``load_state(state)``: each checkpoint saves the state, and
    a resumed run gives it back to the callback of the same class (:func:`callback_keys`)
    before its first generation, so that the resumed run equals the undisturbed one."""

    def on_start(self, trainer: "Trainer") -> None:
        pass

    def on_generation(self, trainer: "Trainer", result: GenerationResult) -> bool | None:
        return None

    def on_end(self, trainer: "Trainer", status: str, reason: str) -> None:
        pass


@contextlib.contextmanager
def deferred_interrupts(drop: bool = False) -> Iterator[None]:
    """Hold Ctrl-C (SIGINT), SIGTERM and SIGHUP handled as KeyboardInterrupt until the block ends,
    so a generation is either wholly recorded or not at all; then raise the first one held
    (``drop``: none, for a block after which nothing is left to interrupt). In the main thread
    only; handlers that are not Python callables (SIG_IGN, SIG_DFL) are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        handler = signal.getsignal(sig)
        if callable(handler):
            old[sig] = handler
            signal.signal(sig, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if pending and not drop:
            raise KeyboardInterrupt if pending[0] == signal.SIGINT else Terminated(pending[0])


def check_objectives(strategy: Strategy, task_name: str, metrics: Iterable[str], error: type = RunError) -> None:
    """An ``error`` unless the task reports (``metrics``) every metric the strategy optimizes."""
    metrics = list(metrics)
    missing = [m for m in strategy.objectives if m != "fitness" and m not in metrics]
    if missing:
        raise error(f"strategy {strategy.name!r} optimizes the task metric {missing[0]!r}, which task "
                    f"{task_name!r} does not report (it reports: {', '.join(metrics) or 'none'})")


def _moments(values: np.ndarray) -> tuple[float, float, float]:
    """Mean, median and standard deviation of the fitness, without overflow near the float
    limit (the sum of two fitnesses of 1e308 is inf)."""
    scale = float(np.abs(values).max())
    if not 1e300 < scale < math.inf:
        scale = 1.0
    with np.errstate(invalid="ignore"):  # an infinite fitness: std NaN, without a warning
        scaled = values / scale
        return (float(scaled.mean() * scale), float(np.median(scaled) * scale), float(scaled.std() * scale))


class Trainer:
    """Evolves with a strategy and an evaluator; callbacks do everything else.

    ``space``: the genome space (for the JSON form of the best genome); ``task``: the task
    (for ``solved``), optional; ``generations``: the budget (generations in all, a resumed
    run's finished ones included); ``state``: a LoopState to continue from. ``task_name``
    and ``resume_hint`` only shape error messages.
    """

    def __init__(self, strategy: Strategy, evaluator: Evaluator, space: Any, *, task: Any = None,
                 generations: int, state: LoopState | None = None, task_name: str = "",
                 resume_hint: str = "") -> None:
        self.strategy, self.evaluator, self.space, self.task = strategy, evaluator, space, task
        self.generations = int(generations)
        self.state = state or LoopState()
        # the state after the last generation that every callback recorded: a callback that
        # raises leaves the generation it was handling told to the strategy but not wholly recorded
        self.recorded = replace(self.state)
        self.interrupt: KeyboardInterrupt | None = None  # a callback's request to end the run as interrupted
        self.task_name = task_name or getattr(task, "task_name", "?")
        self.resume_hint = resume_hint
        self._metric_names: tuple[str, ...] | None = None  # those of the first evaluation
        self.callbacks: list[Callback] = []  # those of run(), for the checkpoint's callback states
        self.callback_states: dict[str, Any] = {}  # states a resumed run gives its callbacks (callback_keys)
        self._t0 = time.perf_counter()
        self._wall_before = self.state.wall_seconds

    @property
    def recorded_generations(self) -> int:
        """Generations every callback has recorded."""
        return self.recorded.generation

    @property
    def wall_seconds(self) -> float:
        """Wall time of the run so far, resumed parts included."""
        return self._wall_before + time.perf_counter() - self._t0

    @property
    def done(self) -> bool:
        return self.state.generation >= self.generations

    def objective_values(self, ev: Evaluation) -> np.ndarray:
        """What the strategy's ``tell`` takes: the fitness, or (P, M) for its objectives."""
        names = self.strategy.objectives
        if len(names) == 1:
            return ev.fitness
        check_objectives(self.strategy, self.task_name, ev.metrics)
        return np.column_stack([ev.fitness if m == "fitness" else ev.metrics[m] for m in names])

    def _failed(self, gen: int, what: str, exc: BaseException, flags: str = "", after: str = "") -> RunError:
        """The one-line RunError of a failure in generation ``gen``; ``after``: the closing
        remark in parentheses (default: the finished generations are saved, and how to resume)."""
        flags = flags if self.resume_hint.startswith("evospike ") else ""
        hint = f"; {self.resume_hint}{flags} continues from generation {gen}" if self.resume_hint else ""
        why = f"it called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else \
            f"{type(exc).__name__}: {one_line(exc)}"
        return RunError(f"generation {gen}: {what}: {why} ({after or f'finished generations are saved{hint}'})")

    def step(self) -> GenerationResult:
        """One generation: ask, evaluate, tell; updates the state (best so far, counters)."""
        return self._tell(*self._ask_evaluate())

    def _ask_evaluate(self) -> tuple:
        gen = self.state.generation
        t0 = time.perf_counter()
        try:
            population = self._asked(self.strategy.ask())
        except KeyboardInterrupt:
            raise
        except (Exception, SystemExit) as exc:  # the strategy's own error (sys.exit too), or what its ask returned
            raise self._failed(gen, f"strategy {self.strategy.name!r} ask() failed", exc) from exc
        t1 = time.perf_counter()
        stateful = self.task is not None and self.task.has_state
        if stateful:  # every evaluating process sees the state of this generation
            if self.state.task_state is not None:
                self.task.set_state(self.state.task_state)
            self.evaluator.task_state = self.task.state()
        try:
            ev, sizes = self.evaluator.evaluate(population, gen)
            solved = self._solved(ev)
        except KeyboardInterrupt:
            raise
        except EvaluationTimeout as exc:
            raise self._failed(gen, "evaluation stopped", exc, " --eval-timeout SECONDS (0: none)") from exc
        except ClusterError as exc:
            raise self._failed(gen, "evaluation on Ray failed", exc) from exc
        except (Exception, SystemExit) as exc:  # the task's own error (sys.exit too), with where it happened
            raise self._failed(gen, f"task {self.task_name!r} failed", exc) from exc
        return population, ev, sizes, solved, (t0, t1, time.perf_counter())

    def _asked(self, population: Any) -> Any:
        """What ``ask`` returned, checked: a (population_size, D) matrix of real numbers for a
        fixed genome space, copied (a strategy may reuse its buffer in ``tell``, and the
        networks evaluated are the ones recorded); other populations as they are."""
        P = self.strategy.population_size
        if isinstance(population, np.ndarray) or (getattr(self.space, "kind", "") == "fixed"
                                                  and not isinstance(population, SeededPopulation)):
            got = np.asarray(population) if isinstance(population, (np.ndarray, list, tuple)) else None
            if got is None or got.ndim != 2 or got.dtype.kind not in "iuf":
                what = (f"{got.dtype} values of shape {got.shape}" if got is not None
                        else type(population).__name__)
                raise StrategyError(f"it returned {what}; expected a (population_size, D) matrix of real numbers")
            dim = getattr(self.space, "dim", got.shape[1])
            if got.shape != (P, dim):
                raise StrategyError(f"it returned {got.shape[0]} genomes of {got.shape[1]} genes; expected "
                                    f"population_size = {P} genomes of the genome space's {dim}")
            return np.array(got, dtype=np.float64)
        if len(population) != P:
            raise StrategyError(f"it returned {len(population)} genomes; expected population_size = {P}")
        return population

    def _solved(self, ev: Evaluation) -> np.ndarray:
        """(P,) bool: which networks solved the task (none where it does not define solving);
        a TaskError where ``solved`` gives anything else, where the metrics' names differ from
        the first evaluation's of this process, or where one the task's ``metric_names``
        declares is missing."""
        names = tuple(ev.metrics)
        declared = tuple(getattr(self.task, "metric_names", None) or ()) if self.task is not None else ()
        missing = [m for m in declared if m not in names]
        if missing:
            raise TaskError(f"evaluate did not report metric {missing[0]!r}, which its metric_names declare "
                            f"(it reported {', '.join(names) or 'none'})")
        if self._metric_names is not None and sorted(names) != sorted(self._metric_names):
            raise TaskError(f"evaluate reported metrics {', '.join(names) or '(none)'}, where it first reported "
                            f"{', '.join(self._metric_names) or '(none)'}; a task reports the same metrics every "
                            f"generation")
        self._metric_names = names
        P = len(ev)
        solved = self.task.solved(ev) if self.task is not None else None
        if solved is None:
            return np.zeros(P, bool)
        got = np.asarray(solved)
        if got.shape != (P,) or got.dtype != bool:
            raise TaskError(f"solved returned {got.dtype} of shape {got.shape}; expected ({P},) bool, one per network")
        return got

    def _tell(self, population: Any, ev: Evaluation, sizes: Sizes, solved: np.ndarray,
              times: tuple) -> GenerationResult:
        s, gen = self.state, self.state.generation
        t0, t1, t2 = times
        values = self.objective_values(ev)
        try:
            self.strategy.tell(population, values)
        except StepSizeError as exc:
            raise self._failed(gen, f"strategy {self.strategy.name!r} cannot go on", exc) from exc
        except StrategyError as exc:
            raise self._failed(gen, f"task {self.task_name!r} gave values strategy {self.strategy.name!r} "
                                    f"cannot take", exc) from exc
        except KeyboardInterrupt:
            raise
        except (Exception, SystemExit) as exc:  # the strategy's own error (sys.exit too)
            raise self._failed(gen, f"strategy {self.strategy.name!r} tell() failed", exc) from exc
        t3 = time.perf_counter()
        P = len(ev)
        s.evaluations += P
        i_best = int(np.argmax(ev.fitness))
        improved = bool(ev.fitness[i_best] > s.best_ever)
        if improved:
            s.best_ever, s.best_genome, s.best_generation = float(ev.fitness[i_best]), \
                self.space.genome(population, i_best), gen
        if self.task is not None and self.task.has_state:
            if improved:
                s.best_task_state = self.task.state()
            self.task.update_state(ev)  # in population order, in this process only
            s.task_state = self.task.state()
        first_solved = None
        if solved.any() and s.solved_generation is None:
            s.solved_generation = gen  # the first network that solved the task (not always the fittest)
            first_solved = int(np.flatnonzero(solved)[np.argmax(ev.fitness[solved])])
        species = self.strategy.last_species
        if species is not None and (np.shape(species) != (P,) or np.asarray(species).dtype.kind not in "iu"):
            raise self._failed(gen, f"strategy {self.strategy.name!r} failed", StrategyError(
                f"last_species holds {np.asarray(species).dtype} values of shape {np.shape(species)}; expected "
                f"({P},) integer species ids, one per network"))
        species = np.zeros(P, np.int64) if species is None else species
        spikes = ev.metrics.get("spikes", np.full(P, np.nan))
        mean, median, std = _moments(ev.fitness)
        row = {"generation": gen, "evaluations": s.evaluations, "best": float(ev.fitness[i_best]), "mean": mean,
               "median": median, "std": std, "best_ever": s.best_ever, "validation": math.nan,
               "n_species": int(np.unique(species).size), "mean_neurons": float(sizes["neurons"].mean()),
               "mean_synapses": float(sizes["synapses"].mean()), "mean_spikes": float(np.mean(spikes)),
               "eval_seconds": t2 - t1, "gen_seconds": time.perf_counter() - t0}
        s.generation = gen + 1
        return GenerationResult(gen, population, ev, sizes,
                                {"ask": t1 - t0, "evaluate": t2 - t1, "tell": t3 - t2, "step": time.perf_counter() - t0},
                                s.evaluations, i_best, improved, solved, first_solved, row,
                                budget_end=s.generation >= self.generations)

    def _on_generation(self, cb: Callback, result: GenerationResult) -> bool | None:
        """A callback's on_generation; its error (other than an OSError of evospike's own
        callbacks, or the loop's RunError) as a RunError naming the callback and where it was
        raised (:meth:`_callback_failed`)."""
        try:
            ret = cb.on_generation(self, result)
        except RunError:
            raise
        except (Exception, SystemExit) as exc:  # sys.exit in a callback too: the run records why it ended
            if isinstance(exc, OSError) and _ours(cb):  # the run's own files: a full disk ends the run resumably
                raise
            raise self._callback_failed(cb, "", result.generation, exc) from exc
        if ret is None or isinstance(ret, (bool, np.bool_)):
            return None if ret is None else bool(ret)
        raise self._failed(result.generation, f"callback {_name(cb)}",
                           TypeError(f"on_generation returned {ret!r}; expected None, True or False (False stops "
                                     f"the run)"))

    def _hook(self, cb: Callback, hook: str, *args: Any) -> None:
        """A callback's on_start or on_end; its error (other than an OSError of evospike's own
        callbacks, or one that is one line already) as a RunError naming the callback, the hook
        and where it was raised."""
        try:
            getattr(cb, hook)(self, *args)
        except (RunError, ConfigError, RunDirError, ClusterError):  # one line already (a tracker's)
            raise
        except (Exception, SystemExit) as exc:
            if isinstance(exc, OSError) and _ours(cb):  # the run's own files: a full disk ends the run resumably
                raise
            finished = hook == "on_end" and args[:1] == ("finished",)  # nothing is left to resume
            raise self._callback_failed(cb, f".{hook}", self.state.generation, exc,
                                        "the run finished; its files are complete" if finished else "") from exc

    def _load_state(self, cb: Callback, state: Any) -> None:
        try:
            cb.load_state(state)
        except (Exception, SystemExit) as exc:
            raise self._callback_failed(cb, ".load_state", self.state.generation, exc) from exc

    def _callback_failed(self, cb: Callback, hook: str, generation: int, exc: BaseException,
                         after: str = "") -> RunError:
        """The RunError of a callback's error: a TaskError or StrategyError (a task's result or
        the strategy's state refused, by the validator or the checkpoint, say) as the task's
        or the strategy's failure; any other naming the callback, its hook and where it was raised."""
        if isinstance(exc, TaskError):
            return self._failed(generation, f"task {self.task_name!r} failed", exc)
        if isinstance(exc, StrategyError):
            return self._failed(generation, f"strategy {self.strategy.name!r} failed", exc)
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return self._failed(generation, f"callback {_name(cb)}{hook}, at {Path(frame.filename).name}:{frame.lineno}",
                            exc, after=after)

    def run(self, callbacks: Iterable[Callback] = ()) -> str:
        """Evolve until the budget is spent or a callback stops the run; returns the status.

        As pseudocode::

            on_start()
            while generation < generations:
                population = ask()                      # interruptible
                fitness = evaluate(population)          # interruptible
                tell(population, fitness)               # from here to the end of the
                for callback in callbacks:              # generation, Ctrl-C and SIGTERM wait
                    if callback.on_generation(result) is False:
                        stop after this generation
            on_end("finished")      # or "interrupted" (Ctrl-C, SIGTERM), "failed" (an error),
                                    # which are then raised again

        Stop rules, writers, checkpoints, validation and progress are all callbacks.
        """
        callbacks = self.callbacks = list(callbacks)
        status, reason = "finished", ""
        try:
            for key, cb in callback_keys(callbacks).items():
                if key in self.callback_states:
                    self._load_state(cb, self.callback_states[key])
            for cb in callbacks:
                self._hook(cb, "on_start")
            while not self.done:
                evaluated = self._ask_evaluate()
                with deferred_interrupts():  # a generation is recorded whole or not at all
                    result = self._tell(*evaluated)
                    for cb in callbacks:
                        if self._on_generation(cb, result) is False:
                            result.stopping = True
                            result.stop_reason = result.stop_reason or f"{type(cb).__name__} stopped the run"
                    self.recorded = replace(self.state)
                if self.interrupt is not None:  # a callback's: after the generation is recorded
                    raise self.interrupt
                if result.stopping:
                    reason = result.stop_reason
                    break
        except KeyboardInterrupt as exc:
            status, reason = "interrupted", (exc.signal_name if isinstance(exc, Terminated) else "KeyboardInterrupt")
            raise
        except OSError as exc:
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)  # resumable once there is space again
            status, reason = ("interrupted" if full else "failed"), f"{type(exc).__name__}: {exc}"
            raise
        except BaseException as exc:
            status, reason = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            first = None  # every callback's on_end runs (the writers record the end); the first error is raised
            # a finished run ends whole: a signal while its writers finish waits, and then changes nothing
            with deferred_interrupts(drop=True) if status == "finished" else contextlib.nullcontext():
                for cb in callbacks:
                    try:
                        self._hook(cb, "on_end", status, reason)
                    except (Exception, SystemExit) as exc:
                        first = first or exc
            if first is not None and status == "finished":
                raise first  # a run already ending on an error reports that error instead
        return status
