"""CartPole-v1 balance with the physics of Gymnasium, vectorized over networks and episodes."""
from __future__ import annotations

import math

import numpy as np

from .classic_control import ControlTask

__all__ = ["CartPolePhysics", "CartPole"]


class CartPolePhysics:
    """Gymnasium's CartPole-v1 equations (Euler integration, float64), for state arrays (..., 4).

    ``start_states(seeds)`` gives exactly the state ``gymnasium.make("CartPole-v1").reset(seed=s)``
    gives for each seed s. ``step`` returns reward 1 for every step, the failing one included.
    """

    gravity = 9.8
    masscart = 1.0
    masspole = 0.1
    total_mass = masspole + masscart
    length = 0.5
    polemass_length = masspole * length
    force_mag = 10.0
    tau = 0.02
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    @staticmethod
    def start_states(seeds) -> np.ndarray:
        return np.stack([np.random.default_rng(int(s)).uniform(-0.05, 0.05, size=4) for s in seeds])

    def step(self, state: np.ndarray, action: np.ndarray):
        x, x_dot, theta, theta_dot = (state[..., i] for i in range(4))
        force = np.where(action == 1, self.force_mag, -self.force_mag)
        costheta = np.cos(theta)
        sintheta = np.sin(theta)
        temp = (force + self.polemass_length * np.square(theta_dot) * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * np.square(costheta) / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        x = x + self.tau * x_dot
        x_dot = x_dot + self.tau * xacc
        theta = theta + self.tau * theta_dot
        theta_dot = theta_dot + self.tau * thetaacc
        new = np.stack((x, x_dot, theta, theta_dot), axis=-1)
        terminated = ((x < -self.x_threshold) | (x > self.x_threshold)
                      | (theta < -self.theta_threshold) | (theta > self.theta_threshold))
        return new, np.ones(terminated.shape), terminated

    @staticmethod
    def observe(state: np.ndarray) -> np.ndarray:
        return state.astype(np.float32)


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

    def __init__(self, *, episodes: int = 50, max_steps: int = 500, sim_steps: int = 5,
                 encoding: str = "direct", fields: int = 5, validation_episodes: int = 100,
                 reset: str = "subtract") -> None:
        super().__init__(episodes=episodes, max_steps=max_steps, sim_steps=sim_steps, encoding=encoding,
                         fields=fields, validation_episodes=validation_episodes, reset=reset)
