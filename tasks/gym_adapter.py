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
actions of k dimensions: 2k outputs; dimension i is ``d_i`` in [-1, 1] mapped linearly
onto [low_i, high_i], where ``d_i`` is the rate difference of outputs 2i and 2i+1,
``(n_2i - n_2i+1) / sim_steps`` (``decoding="rate"``, the default), or
``tanh(v_2i - v_2i+1)`` of their membrane potentials after the step (``"membrane"``, a
graded readout). Fitness: the mean return; an episode ends when the environment
terminates or truncates, or after ``max_steps`` (0: the environment's limit).
``reward_shift`` is added to every step's reward of training episodes, never of validation
ones: -1 takes away the healthy reward of 1 that Hopper, Walker2d and Ant pay for every step
not fallen, as ARS does (Mania et al. 2018), so that standing still earns nothing; training
fitness then counts it, and validation reports the environment's own return.

Observation normalization (``normalize``: ``on``, ``off``, or ``auto``, the default: on for
Gymnasium's MuJoCo environments): observations pass through a running mean and
deviation (:class:`tasks.normalizer.RunningNormalizer`, as in OpenAI-ES) instead of the
bounds, clipped to +-5. It is the task's state: the first ``normalize_episodes`` training
episodes of every network (their seeds are the generation's, so the fraction is seeded)
report the sums of their observations, and the run adds them, in population order, after
each generation; the next generation sees the updated normalizer. The run saves it in its
checkpoint and with ``best.json``, so ``resume``, ``replay`` and ``export`` use the one the
network was evaluated with. Every process, a Ray actor included, owns its environments.
"""
from __future__ import annotations

import numpy as np

from neurons import NetworkBatch, Simulator, decoders, portable
from neurons.extras import install_hint

from .base import Evaluation, Preset, Task, TaskError, finite_option, int_option, reset_option
from . import closed_loop
from .closed_loop import ObservationEncoder, episode_seeds
from .normalizer import RunningNormalizer

__all__ = ["GymTask", "GYM_PRESETS", "lunarlander"]

# Recommended settings for Gymnasium ids (``evospike run gym:ID``): OpenAI-ES, as in its
# paper for MuJoCo, one episode per network and generation, a hidden layer of spiking
# neurons and graded (membrane) actions.
_LOCOMOTION = dict(task={"episodes": 1, "decoding": "membrane", "validation_episodes": 10},
                   genome={"hidden": [32], "recurrent": False},
                   run={"validate_every": 10, "checkpoint_every": 10})
_LOCOMOTION_ES = {"population": 128, "sigma0": 0.02, "learning_rate": 0.01, "init_std": 0.2}
_WIDER_ES = {**_LOCOMOTION_ES, "sigma0": 0.05}  # Hopper, Walker2d: a wider search
GYM_PRESETS = {
    "HalfCheetah-v5": Preset("openes", 300, strategy_options=_LOCOMOTION_ES,
                             note="OpenAI-ES, 17 -> 32 LIF -> 12 outputs read by membrane", **_LOCOMOTION),
    # Hopper: the healthy reward taken away in training (ARS), and a wider search; without
    # them it learns to stand and fall (validation 216 after 300 generations)
    "Hopper-v5": Preset("openes", 300, strategy_options=_WIDER_ES,
                        note="OpenAI-ES (sigma 0.05), 11 -> 32 LIF -> 6 outputs read by membrane, "
                             "reward shifted by -1 in training",
                        **{**_LOCOMOTION, "task": {**_LOCOMOTION["task"], "reward_shift": -1.0}}),
    # Walker2d: the wider search, without the shift (with it, falling at once scored best:
    # validation 553 after 300 generations)
    "Walker2d-v5": Preset("openes", 300, strategy_options=_WIDER_ES,
                          note="OpenAI-ES (sigma 0.05), 17 -> 32 LIF -> 12 outputs read by membrane", **_LOCOMOTION),
}

_MUJOCO_SEEN: set[str] = set()


def _mujoco_warnings_once() -> None:
    """MuJoCo prints each compiler warning for every environment it builds (HalfCheetah-v5's
    model, for one, uses an attribute MuJoCo 4 deprecates): show each distinct one once."""
    import sys

    import mujoco

    def once(message: str) -> None:
        if message not in _MUJOCO_SEEN:
            _MUJOCO_SEEN.add(message)
            print(f"mujoco: warning: {message.strip()}", file=sys.stderr)
    mujoco.set_mju_user_warning(once)


def _step_running(copies: list, actions: np.ndarray, running: np.ndarray, obs: np.ndarray) -> tuple:
    """Step the environment copies whose episodes still run (a SyncVectorEnv's copies), and
    leave the others as they are: an ended episode costs no physics. Returns what
    ``step`` returns for all copies (ended ones: their last observation, reward 0, done)."""
    obs = np.array(obs, copy=True)
    reward = np.zeros(len(copies))
    term, trunc = ~running, np.zeros(len(copies), bool)
    for i in np.flatnonzero(running):
        obs[i], reward[i], term[i], trunc[i], _ = copies[i].step(actions[i])
    return obs, reward, term, trunc


class GymTask(Task):
    """A Gymnasium environment as a population-vectorized task."""

    metric_names = ("steps", "spikes")
    episode_bytes = 16384  # an environment copy per episode, and the row of network state
    MUJOCO_EPISODE_BYTES = 1_200_000  # a MuJoCo copy: 1.1 MiB measured (HalfCheetah-v5, Ant-v5)

    def __init__(self, env_id: str, *, episodes: int = 10, max_steps: int = 0, sim_steps: int = 5,
                 validation_episodes: int = 100, reset: str = "subtract", decoding: str = "rate",
                 normalize: str = "auto", normalize_episodes: int = 1, reward_shift: float = 0.0) -> None:
        import gymnasium as gym
        from gymnasium import spaces
        episodes, sim_steps = int_option("episodes", episodes), int_option("sim_steps", sim_steps)
        validation_episodes = int_option("validation_episodes", validation_episodes)
        max_steps = int_option("max_steps", max_steps, 0, " (0: the environment's limit)")
        reset = reset_option(reset)
        reward_shift = finite_option("reward_shift", reward_shift)
        self.name = f"gym:{env_id}"
        try:
            spec = gym.spec(env_id)
            mujoco = str(getattr(spec, "entry_point", "")).startswith("gymnasium.envs.mujoco")
            if mujoco:
                _mujoco_warnings_once()
            probe = gym.make(env_id)
        except Exception as exc:  # gymnasium raises several error types for unknown or broken ids
            raise TaskError(f"gym:{env_id}: cannot make the environment ({type(exc).__name__}: {exc})") from None
        obs_space, act_space = probe.observation_space, probe.action_space
        probe.close()
        if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
            raise TaskError(f"gym:{env_id}: observation space {obs_space}; only 1-D Box observations are supported")
        if mujoco:  # what config's memory check multiplies by the episodes of a generation
            self.episode_bytes = self.MUJOCO_EPISODE_BYTES
        if isinstance(act_space, spaces.Discrete):
            self.n_outputs, self._act = int(act_space.n), ("discrete", int(act_space.start))
        elif isinstance(act_space, spaces.Box) and len(act_space.shape) == 1 and act_space.dtype.kind != "f":
            raise TaskError(f"gym:{env_id}: action space {act_space} holds integers; only Discrete and 1-D float Box "
                            f"actions are supported")
        elif isinstance(act_space, spaces.Box) and len(act_space.shape) == 1:
            low, high = act_space.low.astype(np.float64), act_space.high.astype(np.float64)
            if not (np.isfinite(low).all() and np.isfinite(high).all()):
                raise TaskError(f"gym:{env_id}: action space {act_space} must be bounded")
            self.n_outputs, self._act = 2 * act_space.shape[0], ("box", low, high)
        else:
            raise TaskError(f"gym:{env_id}: action space {act_space}; only Discrete and 1-D Box actions are supported")
        if decoding not in ("rate", "membrane"):
            raise TaskError(f"task option decoding: {decoding!r}; expected 'rate' or 'membrane'")
        if self._act[0] == "discrete" and decoding != "rate":
            raise TaskError(f"task option decoding: {decoding!r}; gym:{env_id} has discrete actions, which the "
                            f"output with the most spikes picks: decoding applies to continuous actions only")
        lo, hi = obs_space.low.astype(np.float64), obs_space.high.astype(np.float64)
        bounded = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
        if normalize not in ("auto", "on", "off"):
            raise TaskError(f"task option normalize: {normalize!r}; expected 'auto', 'on' or 'off'")
        normalizing = normalize == "on" or (normalize == "auto" and mujoco)
        normalize_episodes = int_option("normalize_episodes", normalize_episodes, 0)
        lo, hi = np.where(bounded, lo, -1.0), np.where(bounded, hi, 1.0)  # unbounded: pass as they are
        offset, scale = (lo + hi) / 2, (hi - lo) / 2
        self.normalizer = RunningNormalizer(len(lo)) if normalizing else None
        if normalizing:  # the normalizer centres and scales; the encoder passes its output on
            offset, scale = np.zeros(len(lo)), np.ones(len(lo))
        self.encoder = ObservationEncoder("direct", scale, offset=offset)
        self.env_id = env_id
        self.n_inputs = self.encoder.n_inputs
        limit = spec.max_episode_steps or 1000
        self.options = dict(episodes=int(episodes), max_steps=int(max_steps) or int(limit), sim_steps=int(sim_steps),
                            validation_episodes=int(validation_episodes), reset=reset, decoding=decoding,
                            normalize=normalize, normalize_episodes=min(normalize_episodes, int(episodes)),
                            reward_shift=reward_shift)
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
        if self.options["decoding"] == "membrane":
            diff = portable.tanh(v[..., 0::2].astype(np.float64) - v[..., 1::2])  # in (-1, 1)
        else:
            diff = (counts[..., 0::2] - counts[..., 1::2]) / self.options["sim_steps"]  # in [-1, 1]
        return low + (diff + 1.0) * (high - low) / 2.0

    def state(self) -> dict | None:
        return None if self.normalizer is None else {"normalizer": self.normalizer.state()}

    def input_transform(self) -> dict | None:
        """What the network's input is, for a reader without evospike (``export``'s
        ``OUT.nir.json``): the observation normalized by ``formula``, or None unnormalized."""
        if self.normalizer is None:
            return None
        n = self.normalizer
        return {"formula": "clip((observation - mean) / std, -clip, clip)", "mean": n.mean.tolist(),
                "std": n.std.tolist(), "clip": n.clip}

    def set_state(self, state: dict | None) -> None:
        if state is None or self.normalizer is None:
            if state is not None and state.get("normalizer") is not None:
                raise TaskError(f"{self.name}: a normalizer state was given, but normalize is off")
            return
        try:
            self.normalizer.set_state(state["normalizer"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TaskError(f"{self.name}: {exc}") from None

    def update_state(self, ev: Evaluation) -> None:
        """Add the observation sums that the generation's first episodes reported."""
        if self.normalizer is not None and "obs_count" in ev.extras:
            self.normalizer.increment(ev.extras["obs_sum"].sum(axis=0), ev.extras["obs_sumsq"].sum(axis=0),
                                      float(ev.extras["obs_count"].sum()))

    def _play(self, nets: NetworkBatch, seeds: np.ndarray, collect: int = 0, shift: float = 0.0) -> Evaluation:
        self.check_networks(nets)
        o = self.options
        P, E = nets.n_networks, len(seeds)
        envs = self._vector(P * E)
        obs, _ = envs.reset(seed=[int(s) for s in np.tile(seeds, P)])
        sim = Simulator(nets, E, o["reset"])
        n_out = nets.n_out
        alive = np.ones((P, E), bool)
        returns, steps, spikes = np.zeros((P, E)), np.zeros((P, E)), np.zeros((P, E))
        d = self.encoder.scale.shape[0]
        sums, sumsq, counts = np.zeros((P, d)), np.zeros((P, d)), np.zeros(P)
        clock = closed_loop._Clock(closed_loop._timer)  # phases for `evospike bench eval`
        clock.mark("environment")
        for _ in range(o["max_steps"]):
            raw = np.asarray(obs, np.float64).reshape(P, E, -1)
            if collect:  # the first `collect` episodes of each network, while they run
                seen = raw[:, :collect] * alive[:, :collect, None]
                sums += seen.sum(axis=1)
                sumsq += np.square(seen).sum(axis=1)
                counts += alive[:, :collect].sum(axis=1)
            if self.normalizer is not None:
                raw = self.normalizer(raw)
            current = sim.input_current(self.encoder(raw))
            before = sim.counts.copy()
            clock.mark("encoding")
            sim.run_constant(current, o["sim_steps"])
            clock.mark("simulation")
            new = sim.counts - before
            action = self._decode(new[..., :n_out], sim.v[..., :n_out])
            clock.mark("decoding")
            flat = action.reshape((P * E,) + action.shape[2:])
            copies = getattr(envs, "envs", None)  # a SyncVectorEnv: step only the episodes still running
            if copies is not None and not alive.all():
                obs, reward, term, trunc = _step_running(copies, flat, alive.reshape(-1), obs)
            else:
                obs, reward, term, trunc, _ = envs.step(flat)
            clock.mark("environment")
            if clock.times is not None:
                clock.times.env_steps += int(alive.sum())
            returns += np.where(alive, np.asarray(reward, np.float64).reshape(P, E) + shift, 0.0)
            steps += alive
            spikes += np.where(alive, new.sum(axis=-1), 0.0)
            alive &= ~(np.asarray(term) | np.asarray(trunc)).reshape(P, E)
            clock.mark("bookkeeping")
            if not alive.any():
                break
        extras = {"obs_sum": sums, "obs_sumsq": sumsq, "obs_count": counts} if collect else {}
        return Evaluation(returns.mean(axis=1), {"steps": steps.mean(axis=1),
                                                 "spikes": (spikes / np.maximum(steps, 1)).mean(axis=1)}, extras)

    def evaluate(self, nets: NetworkBatch, seed: int) -> Evaluation:
        collect = self.options["normalize_episodes"] if self.normalizer is not None else 0
        return self._play(nets, episode_seeds(seed, self.options["episodes"]), collect, self.options["reward_shift"])

    def validate(self, nets: NetworkBatch, seed: int, episodes: int | None = None) -> Evaluation:
        n = self.options["validation_episodes"] if episodes is None else int(episodes)
        return self._play(nets, episode_seeds(seed, n, validation=True))


def lunarlander(*, episodes: int = 10, max_steps: int = 0, sim_steps: int = 5, validation_episodes: int = 100,
                reset: str = "subtract") -> GymTask:
    """LunarLander-v3 through the Gymnasium adapter (needs Box2D: the 'box2d' extra)."""
    try:
        import Box2D  # noqa: F401
    except ImportError:
        raise TaskError(f"task 'lunarlander' needs Box2D: {install_hint('box2d')}") from None
    return GymTask("LunarLander-v3", episodes=episodes, max_steps=max_steps, sim_steps=sim_steps,
                   validation_episodes=validation_episodes, reset=reset)
