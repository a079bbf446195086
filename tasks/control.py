"""CartPole, Acrobot, MountainCar, MountainCarContinuous and Pendulum as population-vectorized tasks.

Protocol (as for ``cartpole``): each network plays ``episodes`` episodes at once, whose
start states are Gymnasium's ``reset(seed=s)`` for seeds drawn per generation from
[0, 2^31) (validation: ``validation_episodes`` seeds from [2^31, 2^32)). At every
environment step the observation, shifted and scaled to about [-1, 1], is the input
current (``encoding="direct"``) or passes through ``fields`` Gaussian receptive fields per
variable (``"population"``); the network runs ``sim_steps`` LIF steps. Discrete actions:
the output neuron with the most spikes (ties: the higher membrane potential). Continuous
actions (``decoding="rate"``): the rate difference of two output neurons,
``(n0 - n1) / sim_steps`` times the largest action; ``decoding="membrane"``:
``tanh(v0 - v1)`` times the largest action, from the outputs' membrane potentials. Fitness: the mean return over the episodes; an episode ends when the
environment terminates or after ``max_steps`` (Gymnasium's time limit by default).
Metrics: ``steps`` (mean episode length) and ``spikes`` (spikes per environment step).
"""
from __future__ import annotations

import numpy as np

from neurons import NetworkBatch, decoders, portable

from .base import Evaluation, Preset, Task, TaskError, int_option, reset_option
from .physics import AcrobotPhysics, CartPolePhysics, ContinuousMountainCarPhysics, MountainCarPhysics, PendulumPhysics
from .closed_loop import ObservationEncoder, episode_seeds, run_episodes

__all__ = ["ControlTask", "CartPole", "Acrobot", "MountainCar", "MountainCarContinuous", "Pendulum", "RateDifference",
           "MembraneDifference", "rate_difference", "membrane_difference"]


class RateDifference:
    """Decoder for a 1-D continuous action: (spikes of output 0 - spikes of output 1) / sim_steps * max_action."""

    rollout_decoding = "rate"  # its compiled form (tasks.rollout)

    def __init__(self, max_action: float, sim_steps: int) -> None:
        self.action_scale = np.float32(max_action / sim_steps)

    def __call__(self, counts: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (counts[..., 0] - counts[..., 1]) * self.action_scale


class MembraneDifference:
    """Decoder for a 1-D continuous action: tanh(v0 - v1) * max_action, from the two output
    neurons' membrane potentials after the step (a graded readout, no spike-count steps)."""

    rollout_decoding = "membrane"

    def __init__(self, max_action: float) -> None:
        self.action_scale = np.float32(max_action)

    def __call__(self, counts: np.ndarray, v: np.ndarray) -> np.ndarray:
        return portable.tanh((v[..., 0] - v[..., 1]).astype(np.float64)).astype(np.float32) * self.action_scale


def rate_difference(max_action: float, sim_steps: int) -> RateDifference:
    return RateDifference(max_action, sim_steps)


def membrane_difference(max_action: float) -> MembraneDifference:
    return MembraneDifference(max_action)


def continuous_decoder(decoding: str, max_action: float, sim_steps: int):
    if decoding == "rate":
        return rate_difference(max_action, sim_steps)
    if decoding == "membrane":
        return membrane_difference(max_action)
    raise TaskError(f"task option decoding: {decoding!r}; expected 'rate' or 'membrane'")


class ControlTask(Task):
    """A population-vectorized control task over one of the physics ports."""

    name = "control"
    metric_names = ("steps", "spikes")
    physics_cls: type = AcrobotPhysics
    n_actions: int = 0           # discrete actions; 0 for a continuous 1-D action
    max_action: float = 1.0      # continuous: the largest |action|
    scale: tuple = ()
    offset: tuple | float = 0.0
    time_limit: int = 500
    target = float("inf")
    episode_bytes = 512  # one (network, episode) row on the numpy path: states, results, a small network's state

    def __init__(self, *, episodes: int = 20, max_steps: int = 0, sim_steps: int = 5, encoding: str = "direct",
                 fields: int = 5, validation_episodes: int = 100, reset: str = "subtract",
                 decoding: str = "rate") -> None:
        episodes, sim_steps = int_option("episodes", episodes), int_option("sim_steps", sim_steps)
        validation_episodes = int_option("validation_episodes", validation_episodes)
        max_steps = int_option("max_steps", max_steps, 0, f" (0: Gymnasium's limit, {self.time_limit})")
        try:
            self.encoder = ObservationEncoder(encoding, self.scale, fields, self.offset)
        except ValueError as exc:
            raise TaskError(f"task option {exc}") from None
        self.options = dict(episodes=episodes, max_steps=max_steps or self.time_limit, sim_steps=sim_steps,
                            encoding=encoding, fields=int(fields), validation_episodes=validation_episodes,
                            reset=reset_option(reset))
        if not self.n_actions:
            self.options["decoding"] = decoding
        elif decoding != "rate":
            raise TaskError(f"task option decoding: {decoding!r}; this task has {self.n_actions} discrete actions, "
                            f"which the output with the most spikes picks: decoding applies to continuous actions")
        self.physics = self.physics_cls()
        self.n_inputs = self.encoder.n_inputs
        self.n_outputs = self.n_actions or 2
        self.decode = (decoders.count_then_voltage if self.n_actions
                       else continuous_decoder(decoding, self.max_action, self.options["sim_steps"]))

    def _play(self, nets: NetworkBatch, seeds: np.ndarray) -> Evaluation:
        self.check_networks(nets)
        o = self.options
        ep = run_episodes(nets, self.physics, self.physics.start_states(seeds), self.encoder,
                          max_steps=o["max_steps"], sim_steps=o["sim_steps"], reset=o["reset"], decode=self.decode)
        return Evaluation(ep.returns.mean(axis=1), {"steps": ep.steps.mean(axis=1), "spikes": ep.spikes.mean(axis=1)})

    def evaluate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        return self._play(nets, episode_seeds(seed, self.options["episodes"]))

    def record(self, nets: NetworkBatch, seed: int, inputs: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Spikes (LIF steps, N) of the first network during one validation episode; with
        ``inputs``, also the encoded observation (LIF steps, n_inputs), held for each
        environment step's ``sim_steps``."""
        o = self.options
        ep = run_episodes(nets.select([0]), self.physics, self.physics.start_states(episode_seeds(seed, 1, True)),
                          self.encoder, max_steps=o["max_steps"], sim_steps=o["sim_steps"], reset=o["reset"],
                          decode=self.decode, record=True)
        return (ep.raster, ep.input_raster) if inputs else ep.raster

    def validate(self, nets: NetworkBatch, seed: int, episodes: int | None = None) -> Evaluation:
        n = self.options["validation_episodes"] if episodes is None else int(episodes)
        return self._play(nets, episode_seeds(seed, n, validation=True))


class CartPole(ControlTask):
    """CartPole-v1 balance, population-vectorized Gymnasium physics.

    Fitness is the mean return (steps balanced, at most ``max_steps``) over ``episodes``
    episodes; every network of an evaluation plays the same start states. The observation
    (x, x_dot, theta, theta_dot), divided by (2.4, 3, 0.21, 3), is the input current
    (``encoding="direct"``) or goes through ``fields`` Gaussian receptive fields per variable
    (``encoding="population"``). The networks run ``sim_steps`` LIF steps per environment step;
    the action is the output neuron (0: push left, 1: push right) with more spikes in those
    steps, ties broken by the higher membrane potential. ``validate`` plays
    ``validation_episodes`` episodes whose seeds come from a range training never uses.
    Metrics: ``steps`` (mean episode length) and ``spikes`` (spikes per environment step).
    """

    name, physics_cls, n_actions = "cartpole", CartPolePhysics, 2
    scale = (2.4, 3.0, 0.21, 3.0)
    time_limit, target = 500, 500.0
    # the Gaussian strategies with small populations: 500 steps within a few hundred evaluations
    preset = Preset("cma", 100, alternatives={
        "openes": {"strategy": {"population": 20, "sigma0": 0.5, "learning_rate": 0.1}},
        "pgpe": {"strategy": {"population": 20}},
        "snes": {"strategy": {}}})

    def __init__(self, *, episodes: int = 50, max_steps: int = 500, sim_steps: int = 5,
                 encoding: str = "direct", fields: int = 5, validation_episodes: int = 100,
                 reset: str = "subtract") -> None:
        super().__init__(episodes=episodes, max_steps=max_steps, sim_steps=sim_steps, encoding=encoding,
                         fields=fields, validation_episodes=validation_episodes, reset=reset)


class Acrobot(ControlTask):
    """Acrobot-v1: swing the tip above the bar; -1 per step, 500 steps at most."""
    name, physics_cls, n_actions = "acrobot", AcrobotPhysics, 3
    scale = (1.0, 1.0, 1.0, 1.0, 4 * np.pi, 9 * np.pi)
    time_limit, target = 500, -100.0
    preset = Preset("cma", 60, run={"stop_fitness": -80.0})


class MountainCar(ControlTask):
    """MountainCar-v0: drive up the right hill; -1 per step, 200 steps at most."""
    name, physics_cls, n_actions = "mountaincar", MountainCarPhysics, 3
    scale, offset = (0.9, 0.07), (-0.3, 0.0)
    time_limit, target = 200, -110.0
    # training past Gymnasium's threshold, so that unseen episodes clear it too
    preset = Preset("cma", 100, task={"episodes": 50}, run={"stop_fitness": -100.0})


class MountainCarContinuous(ControlTask):
    """MountainCarContinuous-v0: +100 at the goal minus 0.1 force^2 per step; 999 steps at most."""
    name, physics_cls, n_actions, max_action = "mountaincar-continuous", ContinuousMountainCarPhysics, 0, 1.0
    scale, offset = (0.9, 0.07), (-0.3, 0.0)
    time_limit, target = 999, 90.0
    preset = Preset("cma", 60)


class Pendulum(ControlTask):
    """Pendulum-v1: swing up and hold; reward -(angle^2 + 0.1 speed^2 + 0.001 torque^2), 200 steps."""
    name, physics_cls, n_actions, max_action = "pendulum", PendulumPhysics, 0, 2.0
    scale = (1.0, 1.0, 8.0)
    time_limit = 200
    # (cos, sin, speed) as input currents, the torque from the two outputs' membrane potentials
    # (smooth), 16 hidden neurons without recurrent synapses; CMA-ES with 64 samples per
    # generation, which finds the swing-up where pycma's default of 23 settles on a controller
    # that never swings. Swung up in 10 of 10 seeds (500 generations: validation median -155
    # over seeds 0-4; 300: -177); Gaussian receptive fields and recurrent synapses in 2 of 5
    preset = Preset("cma", 500, strategy_options={"population": 64},
                    task={"decoding": "membrane"}, genome={"hidden": 16, "recurrent": False})
