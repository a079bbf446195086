"""The ``auto`` backend: serial while generations are short, Ray once they are long.

Ray pays for itself only when a generation's evaluation is long: starting a local instance
takes about 5 s, and each generation then pays a few milliseconds of calls and object-store
round trips (``evospike bench eval``). With compiled rollouts a CartPole generation of 256
networks takes about 15-20 ms serially, and Ray with 2 workers is no faster there; a
generation of the digits preset takes 0.50 s serially and 0.31 s on Ray with 2 workers.
So ``auto`` evaluates in this process, and moves to Ray, for the rest of the run, on a
machine with more than one CPU (or at once when a cluster address or a number of workers
is given), after the first generation whose serial evaluation took

- at least ``ray_after`` seconds, or
- at least ``WORTH_RAY`` seconds, when the run's generations left (``generations``, where
  known) times the share of it that the other CPUs would take (1 - 1 / CPUs) come to at
  least ``RAY_PAYOFF`` seconds: Ray's start and its workers' kernel loading, many times
  over (the digits preset moves after its second generation; a short run stays serial).

The process's first evaluation is not judged: it also loads or compiles the numba kernels
(up to 20 s on a fresh install), a one-off cost that Ray's workers would pay again. Results
never depend on the backend, so the move changes nothing but time. A task that only this process registered (``tasks.register``, not a
plugin) stays serial, with one note: Ray's workers cannot make it. Where Ray fails to start,
the run goes on serially with a warning, and the generation just evaluated is kept.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any

from tasks import Evaluation
from tasks.registry import everywhere

from .base import EvaluatorBase, Notice, Sizes, stderr_notice
from .problem import Problem
from .ray import RayEvaluator
from .serial import SerialEvaluator

__all__ = ["AutoEvaluator", "RAY_AFTER"]

RAY_AFTER = 1.0  # seconds of serial evaluation per generation from which Ray takes over
WORTH_RAY = 0.1  # seconds per generation from which Ray's per-generation calls cost little
RAY_PAYOFF = 30.0  # seconds that Ray should save over the generations left before it is started


class AutoEvaluator(EvaluatorBase):
    """Serial evaluation, replaced by a :class:`RayEvaluator` once a generation takes at least
    ``ray_after`` seconds, or once Ray would save ``RAY_PAYOFF`` seconds over the rest of a
    run of ``generations`` (module docstring; ``backend`` then reads ``"ray"``); Ray from the
    start when ``workers`` > 0 or a cluster ``address`` is given."""

    def __init__(self, problem: Problem, seed: int, *, workers: int = 0, address: str | None = None,
                 task: Any = None, space: Any = None, timeout: float = 0.0, ray_after: float = RAY_AFTER,
                 cpus: int | None = None, notice: Notice | None = stderr_notice,
                 generations: int | None = None) -> None:
        self.problem, self.seed, self.timeout = problem, int(seed), float(timeout)
        self.generations = None if generations is None else int(generations)
        self.workers, self.address, self.ray_after = int(workers), address, float(ray_after)
        self.notice = notice
        self.cpus = (os.cpu_count() or 1) if cpus is None else int(cpus)
        self.inner: Any = SerialEvaluator(problem, seed, task=task, space=space, timeout=timeout, notice=notice)
        self.backend = "serial"
        self.stay_serial = False  # set once a move to Ray was tried or ruled out
        self.judged = False  # whether an evaluation after the first (the warm-up) has been timed
        if address or os.environ.get("RAY_ADDRESS") or self.workers > 0:
            self._to_ray()

    def _to_ray(self) -> None:
        self.inner = RayEvaluator(self.problem, self.seed, workers=self.workers, address=self.address,
                                  timeout=self.timeout, notice=self.notice)
        self.backend = "ray"

    @property
    def task_state(self) -> Any:
        return self.inner.task_state

    @task_state.setter
    def task_state(self, state: Any) -> None:
        self.inner.task_state = state

    def evaluate(self, population: Any, generation: int) -> tuple[Evaluation, Sizes]:
        start = time.perf_counter()
        out = self.inner.evaluate(population, generation)
        seconds = time.perf_counter() - start
        first, self.judged = not self.judged, True
        if first and self.ray_after > 0:  # loads the kernels too: the next generation tells
            return out
        if self.backend == "serial" and self.cpus > 1 and self._worth_ray(seconds, generation) and not self.stay_serial:
            self.stay_serial = True  # one try, one note
            if not everywhere(self.problem.task_name):
                if self.notice:
                    self.notice(f"generation {generation} took {seconds:.1f} s serially, but task "
                                f"{self.problem.task_name!r} is registered only in this process, which Ray's workers "
                                f"cannot make it from; staying serial (a plugin works everywhere: tasks/README.md)")
                return out
            if self.notice:
                self.notice(f"generation {generation} took {seconds:.2f} s serially; "
                            f"evaluating on Ray from now on (run.backend = 'auto')")
            state = self.inner.task_state
            try:
                self._to_ray()
            except Exception as exc:  # the finished generation is kept, and the run goes on serially
                why = (str(exc).splitlines() or [""])[0]
                print(f"evospike: warning: Ray did not start ({type(exc).__name__}: {why}); evaluating serially",
                      file=sys.stderr)
                return out
            self.inner.task_state = state
        return out

    def _worth_ray(self, seconds: float, generation: int) -> bool:
        """Whether a generation that took ``seconds`` serially moves the run to Ray."""
        if seconds >= self.ray_after:
            return True
        if self.generations is None or seconds < WORTH_RAY:
            return False
        left = self.generations - generation - 1
        return left * seconds * (1.0 - 1.0 / self.cpus) >= RAY_PAYOFF

    def evaluate_seed(self, population: Any, seed: int) -> tuple[Evaluation, Sizes]:
        return self.inner.evaluate_seed(population, seed)

    def __getattr__(self, name: str) -> Any:  # last_seconds, last_wire, ... of the current evaluator
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def close(self) -> None:
        self.inner.close()
