"""Closed-loop control: a population of spiking networks drives a population of environments.

Every network p plays E episodes at once; the environment state is (P, E, ...). At each
environment step the observation is encoded as an input current, the networks run
``sim_steps`` LIF steps with that current held constant, and the output spikes of those
steps are decoded into an action. The networks' state carries over from one environment
step to the next within an episode.

Two paths play the episodes (``rollout``):

- ``compiled`` (:mod:`tasks.rollout`): each network's episodes run whole in numba, physics,
  encoding, LIF steps and decoding together. It needs numba, a built-in port (the dynamics'
  ``port``), an :class:`ObservationEncoder` and a built-in decoder.
- ``numpy``: one Python iteration per environment step for all networks and episodes at
  once, through :class:`neurons.Simulator`. It plays any dynamics, encoder and decoder,
  and it records rasters.

By default (``rollout=None``) the kernel setting decides: ``numpy`` takes the numpy path,
``auto`` and ``numba`` take the compiled one wherever it applies (:func:`rollout_path`).
"""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from neurons import NetworkBatch, Simulator, current_kernel, decoders, dense, encoders
from neurons.extras import install_hint
from neurons.kernels import AVAILABLE as _COMPILED_AVAILABLE

__all__ = ["Dynamics", "Episodes", "ObservationEncoder", "run_episodes", "episode_seeds", "rollout_path",
           "ROLLOUTS", "TRAIN_SEEDS", "VALIDATION_SEEDS", "PhaseTimes", "timing"]

# Episode seeds come from two disjoint ranges, so validation never replays a training episode.
TRAIN_SEEDS = (0, 2**31)
VALIDATION_SEEDS = (2**31, 2**32)


def episode_seeds(seed: int, n: int, validation: bool = False) -> np.ndarray:
    """n episode seeds drawn from ``seed``, from the training or the validation range."""
    lo, hi = VALIDATION_SEEDS if validation else TRAIN_SEEDS
    return np.random.default_rng(seed).integers(lo, hi, size=int(n), dtype=np.int64)


class Dynamics(Protocol):
    """Population-vectorized environment physics: every array has leading dims (P, E)."""

    def step(self, state: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (next state, reward, terminated)."""
        ...

    def observe(self, state: np.ndarray) -> np.ndarray: ...


@dataclass
class ObservationEncoder:
    """Observation (P, E, d) to input current (P, E, n_inputs).

    ``direct``: (observation - ``offset``) / ``scale``, as a signed current.
    ``population``: ``fields`` Gaussian receptive fields per variable spread over
    [offset - scale, offset + scale] (neurons.encoders.gaussian_fields).
    """

    kind: str
    scale: np.ndarray
    fields: int = 5
    offset: np.ndarray | float = 0.0

    KINDS = ("direct", "population")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"encoding: {self.kind!r}; expected one of {', '.join(self.KINDS)}")
        if self.kind == "population" and int(self.fields) < 2:
            raise ValueError(f"fields: {self.fields}; population coding needs at least 2 fields per variable")
        self.scale = np.asarray(self.scale, np.float32)
        self.offset = np.broadcast_to(np.asarray(self.offset, np.float32), self.scale.shape).copy()

    @property
    def n_inputs(self) -> int:
        d = self.scale.shape[0]
        return d if self.kind == "direct" else d * int(self.fields)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        if self.kind == "direct":
            if not self.offset.any():
                return np.divide(obs, self.scale, dtype=np.float32)
            return np.divide(obs - self.offset, self.scale, dtype=np.float32)
        return encoders.gaussian_fields(obs, self.offset - self.scale, self.offset + self.scale, int(self.fields))


PHASES = ("environment", "encoding", "simulation", "decoding", "bookkeeping", "rollout")  # rollout: compiled, whole
ROLLOUTS = ("compiled", "numpy")


@dataclass
class PhaseTimes:
    """Seconds :func:`run_episodes` spent in each phase, and the network-environment steps
    it took (one per network, episode and environment step while the episode ran)."""

    seconds: dict = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    env_steps: int = 0


_timer: PhaseTimes | None = None


@contextlib.contextmanager
def timing() -> Iterator[PhaseTimes]:
    """Within the block, closed-loop episodes add their time per phase to the yielded
    :class:`PhaseTimes` (``evospike bench eval``). Outside it nothing is timed."""
    global _timer
    previous, _timer = _timer, PhaseTimes()
    try:
        yield _timer
    finally:
        _timer = previous


class _Clock:
    """Adds the time since the last mark to a phase; does nothing when not timing."""

    def __init__(self, times: PhaseTimes | None) -> None:
        self.times, self.last = times, time.perf_counter()

    def mark(self, phase: str) -> None:
        if self.times is not None:
            now = time.perf_counter()
            self.times.seconds[phase] += now - self.last
            self.last = now


@dataclass
class Episodes:
    """Per-episode results, each (P, E)."""

    returns: np.ndarray
    steps: np.ndarray
    spikes: np.ndarray  # spikes of all neurons per environment step, while the episode ran
    final_state: np.ndarray | None = None  # (P, E, state_dim) when asked for: the last state before the end
    raster: np.ndarray | None = None  # (LIF steps, N) spikes of network 0, episode 0, when recorded
    input_raster: np.ndarray | None = None  # (LIF steps, n_in) its encoded input, when recorded


def run_episodes(
    nets: NetworkBatch,
    dynamics: Dynamics,
    start: np.ndarray,
    encode: Callable[[np.ndarray], np.ndarray],
    *,
    max_steps: int,
    sim_steps: int,
    reset: str = "subtract",
    decode: Callable[[np.ndarray, np.ndarray], np.ndarray] = decoders.count_then_voltage,
    final_state: bool = False,
    record: bool = False,
    rollout: str | None = None,
) -> Episodes:
    """Play the episodes starting from ``start`` (E, state_dim) with every network.

    ``rollout``: ``compiled``, ``numpy`` or None (:func:`rollout_path`; the module docstring).
    ``compiled`` where it does not apply raises a ValueError saying why.

    ``record``: also keep every LIF step's spikes of network 0 in episode 0, as
    ``Episodes.raster`` (steps, N), and its encoded input as ``Episodes.input_raster``
    (steps, n_in) (for pictures; use it with one network and one episode).

    ``decode(counts, v)`` maps the output spike counts of one environment step and the
    output voltages, both (P, E, n_out), to actions (P, E).
    """
    nets = dense(nets)
    path = rollout_path(rollout)
    why = None if path == "numpy" else _not_compiled(dynamics, encode, decode, record, nets)
    if path == "compiled" and why is not None and rollout == "compiled":
        raise ValueError(f"rollout: 'compiled' does not apply here: {why}; use rollout 'numpy'")
    if path == "compiled" and why is None:
        return _compiled_episodes(nets, dynamics, start, encode, decode, max_steps, sim_steps, reset, final_state)
    P, E = nets.n_networks, start.shape[0]
    state = np.broadcast_to(start, (P,) + start.shape).copy()
    sim = Simulator(nets, E, reset)
    n_out = nets.n_out
    alive = np.ones((P, E), bool)
    returns = np.zeros((P, E))
    steps = np.zeros((P, E))
    spikes = np.zeros((P, E))
    out = (np.zeros((P, E)), np.zeros((P, E)), np.zeros((P, E)))  # returns, steps, spikes
    out_state = np.zeros_like(state) if final_state else None
    ids = np.arange(P)  # the networks still playing: rows of the working arrays
    current = np.empty(sim.current_shape, np.float32)
    before = np.empty((P, E, n_out), np.float32)
    total_before = np.zeros((P, E), np.float32)
    frames: list[np.ndarray] = []
    in_frames: list[np.ndarray] = []
    clock = _Clock(_timer)
    obs = dynamics.observe(state)
    clock.mark("environment")
    for t in range(int(max_steps)):
        x = encode(obs)
        sim.input_current(x, out=current)
        before[...] = sim.counts[..., :n_out]
        clock.mark("encoding")
        if record and alive[0, 0] and ids[0] == 0:
            for _ in range(sim_steps):
                frames.append(sim.step(current)[0, 0].copy())
                in_frames.append(np.asarray(x, np.float32).reshape(-1, x.shape[-1])[0])
        else:
            sim.run_constant(current, sim_steps)
        clock.mark("simulation")
        action = decode(sim.counts[..., :n_out] - before, sim.v[..., :n_out])
        clock.mark("decoding")
        new_state, reward, terminated = dynamics.step(state, action)
        clock.mark("environment")
        returns += np.where(alive, reward, 0.0)
        steps += alive
        if clock.times is not None:
            clock.times.env_steps += int(alive.sum())
        total = sim.counts.sum(axis=-1)
        spikes += np.where(alive, total - total_before, 0.0)
        total_before = total
        state = np.where(alive[..., None], new_state, state)
        alive &= ~terminated
        playing = alive.any(axis=1)
        if not playing.any():
            clock.mark("bookkeeping")
            break
        if t % 8 == 7 and playing.sum() <= 0.75 * ids.size:
            # drop networks whose episodes have all ended, so later steps skip them
            done = ~playing
            for full, part in zip(out, (returns, steps, spikes)):
                full[ids[done]] = part[done]
            if final_state:
                out_state[ids[done]] = state[done]
            ids, state, alive = ids[playing], state[playing], alive[playing]
            returns, steps, spikes = returns[playing], steps[playing], spikes[playing]
            total_before = total_before[playing]
            sim.keep(np.flatnonzero(playing))
            current = np.empty(sim.current_shape, np.float32)
            before = np.empty(sim.v.shape[:2] + (n_out,), np.float32)
        clock.mark("bookkeeping")
        obs = dynamics.observe(state)
        clock.mark("environment")
    for full, part in zip(out, (returns, steps, spikes)):
        full[ids] = part
    if final_state:
        out_state[ids] = state
    returns, steps, spikes = out
    raster = np.array(frames, np.float32).reshape(len(frames), nets.n_neurons) if record else None
    in_raster = np.array(in_frames, np.float32).reshape(len(in_frames), nets.n_in) if record else None
    return Episodes(returns, steps, spikes / np.maximum(steps, 1), out_state, raster, in_raster)


def rollout_path(rollout: str | None = None) -> str:
    """The path closed loops take: ``rollout`` itself when given (checked), else ``numpy``
    under the kernel setting ``numpy`` or without numba, and ``compiled`` otherwise."""
    if rollout is not None:
        if rollout not in ROLLOUTS:
            raise ValueError(f"rollout: {rollout!r}; expected one of {', '.join(ROLLOUTS)}")
        if rollout == "compiled" and not _COMPILED_AVAILABLE:
            raise ValueError(f"rollout: 'compiled' needs the numba package ({install_hint('fast')}), "
                             "or use rollout 'numpy'")
        return rollout
    return "numpy" if current_kernel() == "numpy" else "compiled"


def _not_compiled(dynamics, encode, decode, record: bool, nets: NetworkBatch | None = None) -> str | None:
    """Why these episodes cannot take the compiled path, or None when they can."""
    from .rollout import PORTS, WITHOUT_DELAYS  # numba: imported where it is used
    if record:
        return "recording a raster takes the numpy path"
    if nets is not None and nets.has_delays:
        return WITHOUT_DELAYS
    if getattr(dynamics, "port", None) not in PORTS:
        return f"{type(dynamics).__name__} has no compiled port (ports: {', '.join(PORTS)})"
    if not isinstance(encode, ObservationEncoder):
        return "the observation encoder is not an ObservationEncoder"
    if decode is not decoders.count_then_voltage and getattr(decode, "rollout_decoding", None) is None:
        return "the decoder has no compiled form"
    return None


def interruptible(call: Callable[[np.ndarray], Any]) -> Any:
    """``call(stop)``, a compiled call that releases the GIL and returns early once ``stop[0]``
    (int64) is set, made so that signals still act during it: Python runs signal handlers
    in the main thread between bytecodes only, so Ctrl-C, SIGTERM and run.eval_timeout's
    SIGALRM would wait for the call to end. In the main thread the call runs in a thread of
    its own while this one waits; whatever a handler raises sets ``stop``, waits for the call
    to return (within a simulation step) and goes on. Elsewhere the call runs here."""
    stop = np.zeros(1, np.int64)
    if threading.current_thread() is not threading.main_thread():
        return call(stop)
    result: list = []

    def target() -> None:
        try:
            result.append((True, call(stop)))
        except BaseException as exc:  # raised again in the waiting thread
            result.append((False, exc))
    worker = threading.Thread(target=target, name="evospike-compiled-call", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.25)
    except BaseException:
        stop[0] = 1
        worker.join()
        raise
    ok, value = result[0]
    if not ok:
        raise value
    return value


def _compiled_episodes(nets: NetworkBatch, dynamics, start: np.ndarray, encode: ObservationEncoder, decode,
                       max_steps: int, sim_steps: int, reset: str, final_state: bool) -> Episodes:
    from .rollout import rollout
    clock = _Clock(_timer)
    decoding = "count_then_voltage" if decode is decoders.count_then_voltage else decode.rollout_decoding
    returns, steps, spikes, final = interruptible(lambda stop: rollout(
        nets, dynamics.port, start, encoding=encode.kind, scale=encode.scale, offset=encode.offset,
        fields=encode.fields, decoding=decoding, action_scale=getattr(decode, "action_scale", 1.0),
        max_steps=max_steps, sim_steps=sim_steps, reset=reset, final_state=final_state, stop=stop))
    clock.mark("rollout")
    if clock.times is not None:
        clock.times.env_steps += int(steps.sum())
    return Episodes(returns, steps, spikes / np.maximum(steps, 1), final, None)
