"""The double-pole cart (Wieland 1991), as in the NEAT paper's benchmark.

Physics (Stanley's NEAT code): cart 1 kg on a 4.8 m track; poles of 1.0 m and 0.1 m
(half-lengths 0.5 and 0.05 m, masses 0.1 and 0.01 kg), hinge friction 2e-6, gravity
9.8 m/s^2; every network decision applies a force in [-10, 10] N for two RK4 steps of
0.01 s. The run fails when |x| > 2.4 m or either pole leans more than 36 degrees. Every
episode starts at rest with the long pole at 0.07 rad (about 4 degrees).

Variants:

- ``velocities = true`` (6 inputs: x, x', theta1, theta1', theta2, theta2', scaled by
  2.4, 1, 0.628, 2, 0.628, 2): fitness is the number of steps balanced, up to
  ``max_steps`` (100,000); solved when a network reaches it.
- ``velocities = false`` (3 inputs: x, theta1, theta2): Gruau's damping fitness over
  ``max_steps`` = 1,000 steps, ``0.1 * t / 1000 + 0.9 * f2`` with ``f2 = 0`` for t < 100 and
  otherwise ``0.75 / sum over the last 100 steps of (|x| + |x'| + |theta1| + |theta1'|)``;
  a network that balances all 1,000 steps is then run from the same start for 100,000
  steps, and it solves the task when it balances them all.

The force is ``10 N * tanh(v0 - v1)`` from the two output neurons' membrane potentials
(``decoding="membrane"``, the default), or their rate difference
``10 N * (n0 - n1) / sim_steps`` (``decoding="rate"``: ``double-pole-nv``'s preset, with
spiking ALIF outputs, 10 steps per decision; tasks/README.md "Double pole").
``validate``: the generalization test of Gruau et al. (1996): 625 start states (x, x',
theta1, theta1' at 0.05, 0.25, 0.5, 0.75, 0.95 of their ranges +-2.16 m, +-1.35 m/s,
+-3.6 deg, +-8.6 deg/s); the score is the number balanced for 1,000 steps.
"""
from __future__ import annotations

import itertools

import numpy as np

from neurons import NetworkBatch

from .base import Evaluation, Preset, Task, TaskError, int_option, reset_option
from .control import continuous_decoder
from .closed_loop import ObservationEncoder, run_episodes

__all__ = ["DoublePolePhysics", "DoublePole", "DoublePoleNV"]

WINDOW = 100  # Gruau's damping window


class DoublePolePhysics:
    """State (..., 6 + WINDOW + 1): x, x', theta1, theta1', theta2, theta2', then a ring
    buffer of the last WINDOW values of |x| + |x'| + |theta1| + |theta1'| and a step counter."""

    MUP, GRAVITY, MASSCART = 0.000002, -9.8, 1.0
    MASSPOLE_1, LENGTH_1, MASSPOLE_2, LENGTH_2 = 0.1, 0.5, 0.01, 0.05
    FORCE_MAG, TAU = 10.0, 0.01
    FAIL_X, FAIL_ANGLE = 2.4, 0.628329

    def __init__(self, velocities: bool = True, damping: bool = False) -> None:
        self.velocities, self.damping = velocities, damping
        self.port = "double-pole" if velocities else "double-pole-nv"  # its compiled form in tasks.rollout

    @staticmethod
    def start(n: int, states: np.ndarray | None = None) -> np.ndarray:
        s = np.zeros((n, 6 + WINDOW + 1))
        if states is None:
            s[:, 2] = 0.07
        else:
            s[:, :6] = states
        return s

    def _derivs(self, force: np.ndarray, st: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        g, mup = self.GRAVITY, self.MUP
        m1, l1, m2, l2 = self.MASSPOLE_1, self.LENGTH_1, self.MASSPOLE_2, self.LENGTH_2
        c1, s1 = np.cos(st[..., 2]), np.sin(st[..., 2])
        c2, s2 = np.cos(st[..., 4]), np.sin(st[..., 4])
        gs1, gs2 = g * s1, g * s2
        ml1, ml2 = l1 * m1, l2 * m2
        t1, t2 = mup * st[..., 3] / ml1, mup * st[..., 5] / ml2
        fi1 = ml1 * st[..., 3] ** 2 * s1 + 0.75 * m1 * c1 * (t1 + gs1)
        fi2 = ml2 * st[..., 5] ** 2 * s2 + 0.75 * m2 * c2 * (t2 + gs2)
        mi1, mi2 = m1 * (1 - 0.75 * c1 * c1), m2 * (1 - 0.75 * c2 * c2)
        xacc = (force + fi1 + fi2) / (mi1 + mi2 + self.MASSCART)
        return xacc, -0.75 * (xacc * c1 + gs1 + t1) / l1, -0.75 * (xacc * c2 + gs2 + t2) / l2

    def _rate(self, force: np.ndarray, st: np.ndarray) -> np.ndarray:
        a, b, c = self._derivs(force, st)
        return np.stack((st[..., 1], a, st[..., 3], b, st[..., 5], c), axis=-1)

    def _rk4(self, force: np.ndarray, y: np.ndarray) -> np.ndarray:
        hh, h6 = self.TAU * 0.5, self.TAU / 6.0
        dydx = self._rate(force, y)
        dyt = self._rate(force, y + hh * dydx)
        dym = self._rate(force, y + hh * dyt)
        yt = y + self.TAU * dym
        dym = dym + dyt
        dyt = self._rate(force, yt)
        return y + h6 * (dydx + dyt + 2.0 * dym)

    def step(self, state: np.ndarray, action: np.ndarray):
        force = np.clip(np.asarray(action, np.float64), -1.0, 1.0) * self.FORCE_MAG
        y = state[..., :6]
        for _ in range(2):
            y = self._rk4(force, y)
        new = state.copy()
        new[..., :6] = y
        t = state[..., -1].astype(np.int64)
        jiggle = np.abs(y[..., 0]) + np.abs(y[..., 1]) + np.abs(y[..., 2]) + np.abs(y[..., 3])
        np.put_along_axis(new, (6 + t % WINDOW)[..., None], jiggle[..., None], axis=-1)
        new[..., -1] = t + 1
        failed = ((np.abs(y[..., 0]) > self.FAIL_X) | (np.abs(y[..., 2]) > self.FAIL_ANGLE)
                  | (np.abs(y[..., 4]) > self.FAIL_ANGLE))
        return new, np.where(failed, 0.0, 1.0), failed

    def observe(self, state: np.ndarray) -> np.ndarray:
        idx = [0, 1, 2, 3, 4, 5] if self.velocities else [0, 2, 4]
        return state[..., idx].astype(np.float32)


class DoublePole(Task):
    """Double-pole balancing, with (6 inputs) or without (3 inputs) velocities."""

    name = "double-pole"
    preset = Preset("neat", 60, note="NEAT; with velocities")
    n_outputs = 2

    def __init__(self, *, velocities: bool = True, max_steps: int = 0, sim_steps: int = 5,
                 test_steps: int = 100_000, reset: str = "subtract", decoding: str = "membrane") -> None:
        if not isinstance(velocities, bool):
            raise TaskError(f"task option velocities: {velocities!r}; expected true or false")
        sim_steps, test_steps = int_option("sim_steps", sim_steps), int_option("test_steps", test_steps)
        if velocities and test_steps != 100_000:
            raise TaskError(f"task option test_steps: {test_steps}; only the variant without velocities "
                            f"(velocities = false) runs the generalization test that it sets")
        max_steps = int_option("max_steps", max_steps, 0, " (0: the variant's default)")
        reset = reset_option(reset)
        default = 100_000 if velocities else 1_000
        self.options = dict(velocities=velocities, max_steps=int(max_steps) or default, sim_steps=int(sim_steps),
                            test_steps=int(test_steps), reset=reset, decoding=decoding)
        self.physics = DoublePolePhysics(velocities)
        self.metric_names = ("steps", "spikes") if velocities else ("steps", "spikes", "balanced_test")
        scale = (2.4, 1.0, 0.628, 2.0, 0.628, 2.0) if velocities else (2.4, 0.628, 0.628)
        self.encoder = ObservationEncoder("direct", scale)
        self.n_inputs = self.encoder.n_inputs
        self.target = float(self.options["max_steps"]) if velocities else float("inf")
        self.decode = continuous_decoder(decoding, 1.0, self.options["sim_steps"])

    def _play(self, nets: NetworkBatch, start: np.ndarray, max_steps: int):
        self.check_networks(nets)
        o = self.options
        return run_episodes(nets, self.physics, start, self.encoder, max_steps=max_steps, sim_steps=o["sim_steps"],
                            reset=o["reset"], decode=self.decode, final_state=True)

    def evaluate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        o = self.options
        ep = self._play(nets, DoublePolePhysics.start(1), o["max_steps"])
        steps = ep.steps[:, 0]
        metrics = {"steps": steps, "spikes": ep.spikes[:, 0]}
        if o["velocities"]:
            return Evaluation(steps, metrics)
        jiggle = ep.final_state[:, 0, 6:6 + WINDOW].sum(axis=1)
        f2 = np.where(steps >= WINDOW, 0.75 / np.maximum(jiggle, 1e-12), 0.0)
        fitness = 0.1 * steps / 1000.0 + 0.9 * f2
        balanced = np.zeros(len(steps))
        full = np.flatnonzero(steps >= o["max_steps"])
        if full.size:  # the 100,000-step test, only for networks that balanced the whole evaluation
            test = self._play(nets.select(full), DoublePolePhysics.start(1), o["test_steps"])
            balanced[full] = test.steps[:, 0] >= o["test_steps"]
        metrics["balanced_test"] = balanced
        return Evaluation(fitness, metrics)

    def solved(self, ev: Evaluation) -> np.ndarray:
        if self.options["velocities"]:
            return ev.metrics["steps"] >= self.options["max_steps"]
        return ev.metrics["balanced_test"] > 0

    def validate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        """Gruau's generalization test: start states balanced for 1,000 steps, out of 625."""
        q = np.array([0.05, 0.25, 0.5, 0.75, 0.95]) * 2 - 1
        grid = np.array(list(itertools.product(q * 2.16, q * 1.35, q * np.radians(3.6), q * np.radians(8.6))))
        states = np.zeros((len(grid), 6))
        states[:, :4] = grid
        ep = self._play(nets, DoublePolePhysics.start(len(grid), states), 1000)
        good = (ep.steps >= 1000).sum(axis=1).astype(np.float64)
        return Evaluation(good, {"generalization": good / len(grid), "spikes": ep.spikes.mean(axis=1)})


class DoublePoleNV(DoublePole):
    """The double pole without velocities (3 inputs), one network step per 0.02 s: ``double-pole``
    with ``velocities = false`` and ``sim_steps = 1`` as defaults (the preset sets 10)."""

    name = "double-pole-nv"
    # two spiking ALIF output neurons, the force from their spike-count difference over 10
    # network steps per decision; the threshold's adaptation makes a neuron answer a change
    # of its input more than a steady input (a lead: position plus an estimate of velocity)
    preset = Preset("cma", 1000,
                    strategy_options={"sigma0": 1.0, "population": 40, "restarts": 20, "stall": 50, "incpopsize": 1.0},
                    genome={"hidden": 0, "neuron": "alif", "threshold": 1.0, "beta": 0.9, "bias": 0.5,
                            "evolve": ["weights", "betas", "biases", "rhos", "adaptations"]},
                    task={"decoding": "rate", "sim_steps": 10},
                    note="two spiking ALIF outputs, the force from their spike counts; adaptation gives the lead")

    def __init__(self, *, velocities: bool = False, max_steps: int = 0, sim_steps: int = 1,
                 test_steps: int = 100_000, reset: str = "subtract", decoding: str = "membrane") -> None:
        super().__init__(velocities=velocities, max_steps=max_steps, sim_steps=sim_steps, test_steps=test_steps,
                         reset=reset, decoding=decoding)
