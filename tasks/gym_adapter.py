"""``gym:<EnvId>``: any registered Gymnasium environment with Box observations and Discrete
or Box actions, as a task.

All P networks play E episodes at once in one Gymnasium vector environment of P * E copies:
the environment's own vector form (``make_vec(..., vectorization_mode="vector_entry_point")``)
when it has one that accepts a seed per copy, otherwise a ``SyncVectorEnv`` of copies.
Network p's episode e starts from ``reset(seed=seeds[e])``, so every network faces the same
episodes (common random numbers). Observations are shifted and scaled to about [-1, 1] from
the observation space's bounds (unbounded dimensions pass as they are) and drive the
networks as input currents for ``sim_steps`` LIF steps per environment step. Discrete
actions: the output with the most spikes (ties: the higher membrane potential). Box
actions of k dimensions: 2k outputs, dimension i is the rate difference of outputs 2i and
2i+1, mapped linearly onto [low, high]. Fitness: the mean return; an episode ends when the
environment terminates or truncates, or after ``max_steps`` (0: the environment's limit).
"""
from __future__ import annotations

import numpy as np

from neurons import NetworkBatch, Simulator, decoders

from .base import Evaluation, Task, TaskError, int_option, reset_option
from .closed_loop import ObservationEncoder, episode_seeds

__all__ = ["GymTask", "lunarlander"]



class GymTask(Task):
    """A Gymnasium environment as a population-vectorized task."""

    def __init__(self, env_id: str, *, episodes: int = 10, max_steps: int = 0, sim_steps: int = 5,
                 validation_episodes: int = 100, reset: str = "subtract") -> None:
        import gymnasium as gym
        from gymnasium import spaces
        episodes, sim_steps = int_option("episodes", episodes), int_option("sim_steps", sim_steps)
        validation_episodes = int_option("validation_episodes", validation_episodes)
        max_steps = int_option("max_steps", max_steps, 0, " (0: the environment's limit)")
        reset = reset_option(reset)
        self.name = f"gym:{env_id}"
        try:
            spec = gym.spec(env_id)
            probe = gym.make(env_id)
        except Exception as exc:  # gymnasium raises several error types for unknown or broken ids
            raise TaskError(f"gym:{env_id}: cannot make the environment ({type(exc).__name__}: {exc})") from None
        obs_space, act_space = probe.observation_space, probe.action_space
        probe.close()
        if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
            raise TaskError(f"gym:{env_id}: observation space {obs_space}; only 1-D Box observations are supported")
        if isinstance(act_space, spaces.Discrete):
            self.n_outputs, self._act = int(act_space.n), ("discrete", int(act_space.start))
        elif isinstance(act_space, spaces.Box) and len(act_space.shape) == 1:
            low, high = act_space.low.astype(np.float64), act_space.high.astype(np.float64)
            if not (np.isfinite(low).all() and np.isfinite(high).all()):
                raise TaskError(f"gym:{env_id}: action space {act_space} must be bounded")
            self.n_outputs, self._act = 2 * act_space.shape[0], ("box", low, high)
        else:
            raise TaskError(f"gym:{env_id}: action space {act_space}; only Discrete and 1-D Box actions are supported")
        lo, hi = obs_space.low.astype(np.float64), obs_space.high.astype(np.float64)
        bounded = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
        lo, hi = np.where(bounded, lo, -1.0), np.where(bounded, hi, 1.0)  # unbounded: pass as they are
        offset, scale = (lo + hi) / 2, (hi - lo) / 2
        self.encoder = ObservationEncoder("direct", scale, offset=offset)
        self.env_id = env_id
        self.n_inputs = self.encoder.n_inputs
        limit = spec.max_episode_steps or 1000
        self.options = dict(episodes=int(episodes), max_steps=int(max_steps) or int(limit), sim_steps=int(sim_steps),
                            validation_episodes=int(validation_episodes), reset=reset)
        self.target = float(spec.reward_threshold) if spec.reward_threshold is not None else float("inf")
        self._envs: dict[int, object] = {}

    def _vector(self, n: int):
        import gymnasium as gym
        if n not in self._envs:
            env = None
            try:
                env = gym.make_vec(self.env_id, num_envs=n, vectorization_mode="vector_entry_point")
                env.reset(seed=list(range(n)))  # must take a seed per copy
            except Exception:
                if env is not None:
                    env.close()
                env = gym.make_vec(self.env_id, num_envs=n, vectorization_mode="sync")
            self._envs = {n: env}  # keep one size: populations rarely change size
        return self._envs[n]

    def _decode(self, counts: np.ndarray, v: np.ndarray) -> np.ndarray:
        if self._act[0] == "discrete":
            return decoders.count_then_voltage(counts, v) + self._act[1]
        _, low, high = self._act
        diff = (counts[..., 0::2] - counts[..., 1::2]) / self.options["sim_steps"]  # in [-1, 1]
        return low + (diff + 1.0) * (high - low) / 2.0

    def _play(self, nets: NetworkBatch, seeds: np.ndarray) -> Evaluation:
        self.check_networks(nets)
        o = self.options
        P, E = nets.n_networks, len(seeds)
        envs = self._vector(P * E)
        obs, _ = envs.reset(seed=[int(s) for s in np.tile(seeds, P)])
        sim = Simulator(nets, E, o["reset"])
        n_out = nets.n_out
        alive = np.ones((P, E), bool)
        returns, steps, spikes = np.zeros((P, E)), np.zeros((P, E)), np.zeros((P, E))
        for _ in range(o["max_steps"]):
            current = sim.input_current(self.encoder(np.asarray(obs, np.float64).reshape(P, E, -1)))
            before = sim.counts.copy()
            sim.run_constant(current, o["sim_steps"])
            new = sim.counts - before
            action = self._decode(new[..., :n_out], sim.v[..., :n_out])
            obs, reward, term, trunc, _ = envs.step(action.reshape((P * E,) + action.shape[2:]))
            returns += np.where(alive, np.asarray(reward, np.float64).reshape(P, E), 0.0)
            steps += alive
            spikes += np.where(alive, new.sum(axis=-1), 0.0)
            alive &= ~(np.asarray(term) | np.asarray(trunc)).reshape(P, E)
            if not alive.any():
                break
        return Evaluation(returns.mean(axis=1), {"steps": steps.mean(axis=1),
                                                 "spikes": (spikes / np.maximum(steps, 1)).mean(axis=1)})

    def evaluate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        return self._play(nets, episode_seeds(seed, self.options["episodes"]))

    def validate(self, nets: NetworkBatch, seed: int, episodes: int | None = None) -> Evaluation:
        n = self.options["validation_episodes"] if episodes is None else int(episodes)
        return self._play(nets, episode_seeds(seed, n, validation=True))


def lunarlander(*, episodes: int = 10, max_steps: int = 0, sim_steps: int = 5, validation_episodes: int = 100,
                reset: str = "subtract") -> GymTask:
    """LunarLander-v3 through the Gymnasium adapter (needs Box2D: the 'box2d' extra)."""
    try:
        import Box2D  # noqa: F401
    except ImportError:
        raise TaskError("task 'lunarlander' needs Box2D: pip install 'evospike[box2d]'") from None
    return GymTask("LunarLander-v3", episodes=episodes, max_steps=max_steps, sim_steps=sim_steps,
                   validation_episodes=validation_episodes, reset=reset)
