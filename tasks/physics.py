"""Gymnasium's classic-control physics (CartPole, Acrobot, MountainCar, Pendulum), ported to numpy arrays of any leading shape (P, E).

Each port follows the Gymnasium 1.x source line for line (same constants, same order of
operations, same dtypes where Gymnasium keeps float32 state), and its start states are
those of ``gymnasium.make(ID).reset(seed=s)``. A test steps each port beside Gymnasium's
own environment with the same random actions and requires agreement to 1e-6.
"""
from __future__ import annotations

import math

import numpy as np

from .pcg64 import uniform_per_seed

__all__ = ["CartPolePhysics", "AcrobotPhysics", "MountainCarPhysics", "ContinuousMountainCarPhysics", "PendulumPhysics"]

pi = math.pi


class CartPolePhysics:
    """Gymnasium's CartPole-v1 equations (Euler integration, float64), for state arrays (..., 4).

    ``start_states(seeds)`` gives exactly the state ``gymnasium.make("CartPole-v1").reset(seed=s)``
    gives for each seed s. ``step`` returns reward 1 for every step, the failing one included.
    """

    port = "cartpole"  # its compiled form in tasks.rollout

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
        return uniform_per_seed(seeds, -0.05, 0.05, 4)

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


class AcrobotPhysics:
    """Acrobot-v1 ("book" dynamics, RK4 over dt = 0.2, no torque noise). Actions 0, 1, 2 =
    torque -1, 0, +1. Reward -1 per step until the tip swings above the bar."""

    port = "acrobot"  # its compiled form in tasks.rollout

    dt = 0.2
    LINK_LENGTH_1 = 1.0
    LINK_MASS_1 = 1.0
    LINK_MASS_2 = 1.0
    LINK_COM_POS_1 = 0.5
    LINK_COM_POS_2 = 0.5
    LINK_MOI = 1.0
    MAX_VEL_1 = 4 * pi
    MAX_VEL_2 = 9 * pi
    AVAIL_TORQUE = np.array([-1.0, 0.0, 1.0])
    obs_dim, state_dim = 6, 4

    @staticmethod
    def start_states(seeds) -> np.ndarray:
        return uniform_per_seed(seeds, -0.1, 0.1, 4).astype(np.float32).astype(np.float64)

    def _dsdt(self, s: np.ndarray, a: np.ndarray) -> np.ndarray:
        m1, m2, l1 = self.LINK_MASS_1, self.LINK_MASS_2, self.LINK_LENGTH_1
        lc1, lc2, I1, I2, g = self.LINK_COM_POS_1, self.LINK_COM_POS_2, self.LINK_MOI, self.LINK_MOI, 9.8
        theta1, theta2, dtheta1, dtheta2 = s[..., 0], s[..., 1], s[..., 2], s[..., 3]
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * np.cos(theta2)) + I1 + I2
        d2 = m2 * (lc2**2 + l1 * lc2 * np.cos(theta2)) + I2
        phi2 = m2 * lc2 * g * np.cos(theta1 + theta2 - pi / 2.0)
        phi1 = (-m2 * l1 * lc2 * dtheta2**2 * np.sin(theta2)
                - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * np.sin(theta2)
                + (m1 * lc1 + m2 * l1) * g * np.cos(theta1 - pi / 2)
                + phi2)
        ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * np.sin(theta2) - phi2) / (
            m2 * lc2**2 + I2 - d2**2 / d1)
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return np.stack((dtheta1, dtheta2, ddtheta1, ddtheta2), axis=-1)

    def step(self, state: np.ndarray, action: np.ndarray):
        a = self.AVAIL_TORQUE[action]
        dt, dt2 = self.dt, self.dt / 2.0
        k1 = self._dsdt(state, a)
        k2 = self._dsdt(state + dt2 * k1, a)
        k3 = self._dsdt(state + dt2 * k2, a)
        k4 = self._dsdt(state + dt * k3, a)
        ns = state + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        ns[..., 0] = _wrap(ns[..., 0], -pi, pi)
        ns[..., 1] = _wrap(ns[..., 1], -pi, pi)
        ns[..., 2] = np.minimum(np.maximum(ns[..., 2], -self.MAX_VEL_1), self.MAX_VEL_1)
        ns[..., 3] = np.minimum(np.maximum(ns[..., 3], -self.MAX_VEL_2), self.MAX_VEL_2)
        terminated = -np.cos(ns[..., 0]) - np.cos(ns[..., 1] + ns[..., 0]) > 1.0
        return ns, np.where(terminated, 0.0, -1.0), terminated

    @staticmethod
    def observe(s: np.ndarray) -> np.ndarray:
        return np.stack((np.cos(s[..., 0]), np.sin(s[..., 0]), np.cos(s[..., 1]), np.sin(s[..., 1]),
                         s[..., 2], s[..., 3]), axis=-1).astype(np.float32)


def _wrap(x: np.ndarray, m: float, M: float) -> np.ndarray:
    diff = M - m
    x = x.copy()
    while (x > M).any():
        x = np.where(x > M, x - diff, x)
    while (x < m).any():
        x = np.where(x < m, x + diff, x)
    return x


def _position_only(position: np.ndarray) -> np.ndarray:
    """MountainCar's start states (n, 2): the drawn positions, velocity 0."""
    return np.stack((position, np.zeros_like(position)), axis=-1)


class MountainCarPhysics:
    """MountainCar-v0: actions 0, 1, 2 = push left, none, right; reward -1 per step until
    the car reaches position 0.5."""

    port = "mountaincar"  # its compiled form in tasks.rollout

    min_position, max_position, max_speed = -1.2, 0.6, 0.07
    goal_position, goal_velocity = 0.5, 0.0
    force, gravity = 0.001, 0.0025
    obs_dim, state_dim = 2, 2

    @staticmethod
    def start_states(seeds) -> np.ndarray:
        return _position_only(uniform_per_seed(seeds, -0.6, -0.4))

    def step(self, state: np.ndarray, action: np.ndarray):
        position, velocity = state[..., 0], state[..., 1]
        velocity = velocity + (action - 1) * self.force + np.cos(3 * position) * (-self.gravity)
        velocity = np.clip(velocity, -self.max_speed, self.max_speed)
        position = position + velocity
        position = np.clip(position, self.min_position, self.max_position)
        velocity = np.where((position == self.min_position) & (velocity < 0), 0.0, velocity)
        terminated = (position >= self.goal_position) & (velocity >= self.goal_velocity)
        return np.stack((position, velocity), axis=-1), np.full(terminated.shape, -1.0), terminated

    @staticmethod
    def observe(s: np.ndarray) -> np.ndarray:
        return s.astype(np.float32)


class ContinuousMountainCarPhysics:
    """MountainCarContinuous-v0: force in [-1, 1]; reward 100 at the goal (position 0.45)
    minus 0.1 force^2 per step. Gymnasium keeps this state in float32, and so does the port."""

    port = "mountaincar-continuous"  # its compiled form in tasks.rollout

    min_action, max_action = -1.0, 1.0
    min_position, max_position, max_speed = -1.2, 0.6, 0.07
    goal_position, goal_velocity, power = 0.45, 0.0, 0.0015
    obs_dim, state_dim = 2, 2

    @staticmethod
    def start_states(seeds) -> np.ndarray:
        return _position_only(uniform_per_seed(seeds, -0.6, -0.4)).astype(np.float32)

    def step(self, state: np.ndarray, action: np.ndarray):
        state = state.astype(np.float32)
        action = np.asarray(action, np.float32)
        position, velocity = state[..., 0], state[..., 1]
        force = np.minimum(np.maximum(action, np.float32(self.min_action)), np.float32(self.max_action))
        gravity = (0.0025 * np.cos((3 * position).astype(np.float64))).astype(np.float32)
        velocity = velocity + (force * np.float32(self.power) - gravity)
        velocity = np.minimum(np.maximum(velocity, np.float32(-self.max_speed)), np.float32(self.max_speed))
        position = position + velocity
        position = np.minimum(np.maximum(position, np.float32(self.min_position)), np.float32(self.max_position))
        velocity = np.where((position == np.float32(self.min_position)) & (velocity < 0), np.float32(0.0), velocity)
        terminated = (position >= np.float32(self.goal_position)) & (velocity >= np.float32(self.goal_velocity))
        reward = np.where(terminated, 100.0, 0.0) - np.square(action.astype(np.float64)) * 0.1
        return np.stack((position, velocity), axis=-1).astype(np.float32), reward, terminated

    @staticmethod
    def observe(s: np.ndarray) -> np.ndarray:
        return s.astype(np.float32)


class PendulumPhysics:
    """Pendulum-v1: torque in [-2, 2]; reward -(angle^2 + 0.1 speed^2 + 0.001 torque^2);
    it never terminates (episodes end at max_steps)."""

    port = "pendulum"  # its compiled form in tasks.rollout

    max_speed, max_torque, dt, g, m, l = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0
    obs_dim, state_dim = 3, 2

    @staticmethod
    def start_states(seeds) -> np.ndarray:
        high = np.array([np.pi, 1.0])
        return uniform_per_seed(seeds, -high, high)

    def step(self, state: np.ndarray, action: np.ndarray):
        th, thdot = state[..., 0], state[..., 1]
        g, m, l, dt = self.g, self.m, self.l, self.dt
        u = np.clip(np.asarray(action, np.float32), -self.max_torque, self.max_torque)
        costs = (((th + np.pi) % (2 * np.pi)) - np.pi) ** 2 + 0.1 * thdot**2 + 0.001 * (u**2)
        newthdot = thdot + (3 * g / (2 * l) * np.sin(th) + 3.0 / (m * l**2) * u) * dt
        newthdot = np.clip(newthdot, -self.max_speed, self.max_speed)
        newth = th + newthdot * dt
        return np.stack((newth, newthdot), axis=-1), -costs, np.zeros(th.shape, bool)

    @staticmethod
    def observe(s: np.ndarray) -> np.ndarray:
        return np.stack((np.cos(s[..., 0]), np.sin(s[..., 0]), s[..., 1]), axis=-1).astype(np.float32)
