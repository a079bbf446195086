"""Vectorized discrete-time leaky integrate-and-fire simulation (docs/design.md, "Networks").

For each network p, sample b, neuron j and step t = 1..T, in float32::

    I[t] = x[t] @ W_in + s[t-1] @ W_rec + bias
    v[t] = beta * v[t-1] + I[t]
    s[t] = v[t] > threshold                  # 1.0 for a spike, else 0.0
    v[t] = v[t] - threshold * s[t]           # reset="subtract" (default)
         | where(s[t], 0, v[t])              # reset="zero"

with v[0] = 0 and s[0] = 0. The input reaches a neuron in the same step; every synapse
between neurons (recurrent or feed-forward) delays one step, so a feed-forward path of
k synapses after the input answers k-1 steps after its input. The subtract reset uses
``threshold * s`` with padding thresholds (inf) replaced by 0, so padding neurons (which
never spike) never produce ``inf * 0 = NaN``; the result is the masked subtraction bit for
bit, and the zero reset is ``v * (1 - s)``, likewise exact.

Two kernels compute these equations (``kernel``):

- ``numpy``: dense batched matmuls; all P networks and B samples advance together and the
  only Python loop is over time. Always available; the reference and the fallback.
- ``numba`` (:mod:`neurons.kernels`, when numba is installed): event-driven sums (only the
  weight rows of neurons that spiked), all of a call's steps in compiled code, sums held in
  SIMD registers when N is a multiple of 8 (:mod:`neurons.vector_kernel`), the product
  skipped for 0/1 inputs, and an input constant in time projected once; faster than the
  numpy kernel at every batch size measured (``evospike bench sim``).

``auto`` (the default) picks numba whenever it is installed for whole input sequences, at
every batch size, and for closed loops (``Simulator``, one call per step) up to
``AUTO_STEPPING_NUMBA_MAX_BATCH`` samples per network (:func:`kernel_for`; the measurements
are ``evospike bench sim`` and ``bench eval``). The two
sum in different orders, so a spike can differ where a membrane potential lies within a
float's last bit of the threshold; with either, a network's results never depend on the
rest of the batch.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from . import kernels, models
from .extras import install_hint
from .network import NetworkBatch, dense, fan_out

__all__ = ["RESETS", "check_reset", "KERNELS", "AUTO_STEPPING_NUMBA_MAX_BATCH", "Simulator", "OutputRecord", "simulate",
           "simulate_outputs", "input_events", "spike_events", "fanned_events", "fan_out", "resolve_kernel", "kernel_for",
           "use_kernel", "current_kernel"]

RESETS = ("subtract", "zero")
KERNELS = ("numpy", "numba")
_T_CHUNK_ELEMENTS = 1 << 22  # input currents precomputed for this many floats at a time
_FULL_PARAMS_ELEMENTS = 1 << 22  # below this P*B*N, per-neuron parameters are stored at full (P, B, N)
_NO_FIRST = np.empty((0, 0, 0), np.int32)  # numba kernel arguments that a call does not use
_NO_SPIKES = np.empty((0, 0, 0, 0), np.float32)


def check_reset(reset: str) -> str:
    """``reset`` if it is one of RESETS; a ValueError naming the valid ones otherwise."""
    if reset not in RESETS:
        raise ValueError(f"reset: {reset!r} is not a reset mode; expected one of {', '.join(RESETS)}")
    return reset


def resolve_kernel(name: str = "auto") -> str:
    """Check a kernel setting: ``numba``, ``numpy`` or ``auto``, which stays ``auto`` when
    numba is installed and becomes ``numpy`` when it is not."""
    if name not in ("auto",) + KERNELS:
        raise ValueError(f"kernel: {name!r} is not a simulator kernel; expected auto or one of {', '.join(KERNELS)}")
    if name == "numba" and not kernels.AVAILABLE:
        raise ValueError("kernel: 'numba' needs the numba package, which is not installed "
                         f"({install_hint('fast')}), or use kernel 'numpy'")
    if name == "auto" and not kernels.AVAILABLE:
        return "numpy"
    return name


AUTO_STEPPING_NUMBA_MAX_BATCH = 4  # auto, closed loops (Simulator): numba up to this many samples


def kernel_for(setting: str, batch: int, stepping: bool = False) -> str:
    """The kernel a simulation of ``batch`` samples per network uses under ``setting``.

    ``auto`` takes numba (when installed) at every batch size for whole input sequences
    (``simulate``, ``simulate_outputs``): it is the faster kernel in every case
    ``evospike bench sim`` measures (module docstring). For closed loops stepped one step at
    a time (``Simulator``, ``stepping``), where each call is one step, it takes numba up to
    ``AUTO_STEPPING_NUMBA_MAX_BATCH`` samples and numpy above (``evospike bench eval``).
    The rule never depends on which networks a call holds, so serial and distributed runs
    choose alike."""
    setting = resolve_kernel(setting)
    if setting == "auto":
        return "numba" if not stepping or batch <= AUTO_STEPPING_NUMBA_MAX_BATCH else "numpy"
    return setting


_default_kernel: str | None = None  # read from EVOSPIKE_KERNEL on first use


def use_kernel(name: str) -> str:
    """Make ``name`` (auto, numpy or numba) the kernel setting of simulations started from
    now on in this process; returns it (auto becomes numpy without numba).
    ``EVOSPIKE_KERNEL`` sets the initial setting."""
    global _default_kernel
    _default_kernel = resolve_kernel(name)
    return _default_kernel


def _kernel(name: str | None, batch: int, stepping: bool = False) -> str:
    return kernel_for(current_kernel() if name is None else name, batch, stepping)


def current_kernel() -> str:
    """The kernel setting of this process (auto, numpy or numba)."""
    global _default_kernel
    if _default_kernel is None:
        try:
            _default_kernel = resolve_kernel(os.environ.get("EVOSPIKE_KERNEL", "auto"))
        except ValueError as exc:
            raise ValueError(f"EVOSPIKE_KERNEL: {exc}") from None
    return _default_kernel


@contextlib.contextmanager
def kept_kernel() -> Iterator[str]:
    """A block after which the kernel setting is what it was before it (yielded): a
    :func:`use_kernel` inside changes it for the block only."""
    before = current_kernel()
    try:
        yield before
    finally:
        use_kernel(before)


def _finite_thresholds(net: NetworkBatch) -> np.ndarray:
    """Thresholds with padding's infinity replaced by 0: ``threshold * s`` without NaN."""
    return np.where(np.isfinite(net.threshold), net.threshold, np.float32(0.0)).astype(np.float32)


def _check_input(net: NetworkBatch, x: np.ndarray, time_axis: bool) -> np.ndarray:
    """Validate x: (T,) + (B, n_in) shared, or (T,) + (P, B, n_in) per network."""
    x = np.asarray(x)
    lead = "T, " if time_axis else ""
    if x.dtype.kind not in "fiub":
        raise ValueError(f"input x: dtype {x.dtype} is not numeric")
    nd = x.ndim - (1 if time_axis else 0)
    ok = x.shape[-1:] == (net.n_in,) and (nd == 2 or (nd == 3 and x.shape[-3] == net.n_networks))
    if not ok:
        raise ValueError(
            f"input x: shape {x.shape}; expected ({lead}B, {net.n_in}) shared by all networks "
            f"or ({lead}{net.n_networks}, B, {net.n_in}) per network"
        )
    if x.shape[-2] == 0:
        raise ValueError("input x: holds no sample (B = 0); expected B >= 1")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = x[~np.isfinite(x)].flat[0]
        raise ValueError(f"input x: contains {bad}; inputs must be finite")
    return x


class Simulator:
    """Stepping form of the LIF equations, for closed-loop use.

    Holds the state ``v`` and ``s`` (P, B, N) and preallocated work buffers; ``step``
    advances every network and sample by one time step without allocating. ``counts``
    accumulates each neuron's spikes since the last ``reset``. ``kernel``: numpy or numba
    (default: the process's setting, :func:`current_kernel`, applied by :func:`kernel_for`).
    """

    def __init__(self, net: NetworkBatch, batch: int, reset: str = "subtract", kernel: str | None = None) -> None:
        self.net = net = dense(net)
        self.reset_mode = check_reset(reset)
        if int(batch) < 1:
            raise ValueError(f"batch: {batch}; expected an int >= 1")
        self.kernel = _kernel(kernel, int(batch), stepping=True)
        P, N = net.n_networks, net.n_neurons
        shape = (P, int(batch), N)
        self.batch = int(batch)
        self._model: models.ModelState | None = None
        if not net.plain:  # another neuron model or delays: neurons.models
            self._model = models.ModelState(net, int(batch))
            self.v, self.s, self.counts = self._model.v, self._model.s, self._model.counts
            return
        self.v = np.zeros(shape, np.float32)
        self.s = np.zeros(shape, np.float32)
        self.counts = np.zeros(shape, np.float32)
        self._spiked = np.zeros(shape, bool)
        self._current = np.zeros(shape, np.float32)
        self._scratch = np.zeros(shape, np.float32)
        self._set_params()

    def _set_params(self) -> None:
        """Per-neuron parameters shaped for the state. numba: (P, N) as they are. numpy:
        (P, 1, N) views, or materialized at (P, B, N) when small enough, where contiguous
        element-wise operations run several times faster than broadcasting over a short
        last axis."""
        net, shape = self.net, self.v.shape
        params = [net.beta, net.threshold, net.bias, _finite_thresholds(net)]
        if self.kernel == "numpy":
            if self.v.size <= _FULL_PARAMS_ELEMENTS:
                params = [np.ascontiguousarray(np.broadcast_to(a[:, None, :], shape)) for a in params]
            else:
                params = [a[:, None, :] for a in params]
        self._beta, self._threshold, self._bias, self._threshold_finite = params

    def keep(self, index: np.ndarray) -> None:
        """Continue with only the networks ``index`` (their state is kept): for closed loops
        where some networks have finished. Each network's results are unchanged by this."""
        index = np.asarray(index)
        self.net = self.net.select(index)
        if self._model is not None:
            self._model.keep(index, self.net)
            self.v, self.s, self.counts = self._model.v, self._model.s, self._model.counts
            return
        for name in ("v", "s", "counts", "_spiked", "_current", "_scratch"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name)[index]))
        self._set_params()

    def reset(self) -> None:
        """Back to v = 0, s = 0 and zero counts (and every other state at zero)."""
        if self._model is not None:
            self._model.reset()
            return
        self.v.fill(0.0)
        self.s.fill(0.0)
        self.counts.fill(0.0)

    @property
    def current_shape(self) -> tuple[int, ...]:
        """The shape of what :meth:`input_current` returns and :meth:`step` takes."""
        if self._model is not None:
            return (self.net.n_networks, self.batch, self.net.n_in)
        return self.v.shape

    def input_current(self, x_t: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The drive of one step for :meth:`step`: x_t is (B, n_in) or (P, B, n_in).

        Plain LIF networks: ``x_t @ W_in``, (P, B, N). Other neuron models or delays: the
        input itself, (P, B, n_in), since delayed synapses read earlier inputs
        (:mod:`neurons.models`). ``out``: a buffer of :attr:`current_shape`."""
        x_t = _check_input(self.net, x_t, time_axis=False)
        if self._model is not None:
            out = _out_buffer(out, self.current_shape)
            out[...] = x_t
            return out
        if self.kernel == "numba":
            out = _out_buffer(out, self.v.shape)
            kernels.input_current(x_t[None] if x_t.ndim == 2 else x_t, self.net.w_in, out)
            return out
        if out is None:
            return np.matmul(x_t, self.net.w_in)
        return np.matmul(x_t, self.net.w_in, out=out)

    def step(self, current: np.ndarray | None = None) -> np.ndarray:
        """Advance one step given the input current ``x[t] @ W_in`` (P, B, N) or None.

        Returns the spikes s[t] (P, B, N) as float32; the array is the simulator's own
        state buffer, overwritten by the next step. Networks with another neuron model or
        delays take the input x[t] (P, B, n_in) instead (:meth:`input_current`).
        """
        if self._model is not None:
            self.run_constant(current, 1)
            return self.s
        if self.kernel == "numba":
            self.run_constant(current, 1)
            return self.s
        I, v, s = self._current, self.v, self.s
        if current is not None and np.shape(current) != I.shape:
            raise ValueError(f"current: shape {np.shape(current)}; expected (P, B, N) = {I.shape} (input_current "
                             f"gives it)")
        np.matmul(s, self.net.w_rec, out=I)              # s[t-1] @ W_rec
        if current is not None:
            np.add(current, I, out=I)                    # x[t] @ W_in + s[t-1] @ W_rec
        np.add(I, self._bias, out=I)                     # + bias
        np.multiply(v, self._beta, out=v)                # beta * v[t-1]
        np.add(v, I, out=v)                              # + I[t]
        np.greater(v, self._threshold, out=self._spiked)  # s[t] = v[t] > threshold
        np.copyto(s, self._spiked)
        tmp = self._scratch
        if self.reset_mode == "subtract":
            np.multiply(self._threshold_finite, s, out=tmp)  # threshold * s[t]
            np.subtract(v, tmp, out=v)                       # v[t] - threshold * s[t]
        else:
            np.subtract(np.float32(1.0), s, out=tmp)
            np.multiply(v, tmp, out=v)                       # where(s[t], 0, v[t])
        np.add(self.counts, s, out=self.counts)
        return s

    def run_constant(self, current: np.ndarray | None, steps: int) -> None:
        """Advance ``steps`` steps with the same input current (or input, for networks with
        another neuron model or delays) every step."""
        if self._model is not None:
            shape = self.current_shape
            x = np.zeros(shape, np.float32) if current is None else current
            if x.shape != shape:
                raise ValueError(f"current: shape {x.shape}; expected the input {shape} (input_current)")
            _model_steps(self._model, x[None], True, int(steps), self.reset_mode == "subtract", self.kernel)
            return
        if self.kernel == "numba":
            if current is None:
                current = self._scratch
                current.fill(0.0)
            elif current.shape != self.v.shape or current.dtype != np.float32:
                raise ValueError(f"current: shape {current.shape} dtype {current.dtype}; expected "
                                 f"{self.v.shape} float32")
            net = self.net
            kernels.run(current[None], True, True, int(steps), net.w_in, net.w_rec, self._bias, self._beta,
                        self._threshold, self._threshold_finite, self.reset_mode == "subtract", self.v, self.s,
                        self.counts, _NO_FIRST, False, _NO_SPIKES)
            return
        for _ in range(steps):
            self.step(current)

    def currents(self, x: np.ndarray):
        """Yield the input current (P, B, N) of each step of x (T, B, n_in) or (T, P, B, n_in).

        numpy: currents are computed for several steps at once in one batched matmul; an
        input constant in time (a broadcast view) is projected once.
        """
        x, constant = _sequence_input(self.net, x)
        if constant and self.kernel == "numpy":
            current = np.matmul(x[0], self.net.w_in)
            for _ in range(x.shape[0]):
                yield current
            return
        if self.kernel == "numba":
            for x_t in x:
                yield self.input_current(x_t)
            return
        T = x.shape[0]
        per_step = self.v.size
        chunk = max(1, min(T, _T_CHUNK_ELEMENTS // max(per_step, 1)))
        w_in = self.net.w_in
        for t0 in range(0, T, chunk):
            xs = x[t0:t0 + chunk]
            if xs.ndim == 3:  # shared: (Tc, B, n_in) -> (Tc, 1, B, n_in)
                xs = xs[:, None]
            block = np.matmul(xs, w_in)  # (Tc, P, B, N)
            yield from block


@dataclass
class OutputRecord:
    """What the output neurons did over a simulation, without storing (T, P, B, N).

    - ``counts``      (P, B, n_out) float32: spikes per output neuron.
    - ``first_spike`` (P, B, n_out) int32: step index 0..T-1 of the first spike, T if none.
    - ``v_final``     (P, B, n_out) float32: membrane potential after the last step.
    - ``total_spikes`` (P, B) float32: spikes of all neurons (the energy proxy).
    - ``synaptic_events`` (P, B) float32: spikes that crossed a synapse between neurons,
      each spike counting its neuron's outgoing synapses (non-zero weights); input
      synapses are not included (see :func:`input_events`).
    """

    counts: np.ndarray
    first_spike: np.ndarray
    v_final: np.ndarray
    total_spikes: np.ndarray
    synaptic_events: np.ndarray | None = None


def spike_events(counts: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Synaptic events (P, B) of spike counts (P, B, n_pre) through synapses w (P, n_pre, n_post)."""
    return fanned_events(counts, fan_out(w))


def fanned_events(counts: np.ndarray, fan: np.ndarray) -> np.ndarray:
    """Synaptic events (P, B) of spike counts (P, B, n_pre) from units with ``fan`` (P, n_pre)
    outgoing synapses each (:func:`fan_out`, ``NetworkBatch.fan_out``)."""
    return np.matmul(counts, fan[:, :, None])[..., 0]


def input_events(net, x: np.ndarray) -> np.ndarray:
    """Synaptic events (P, B) of input spikes x (T, B, n_in) or (T, P, B, n_in): each
    non-zero input counts the synapses of its channel into the network (for encodings that
    send spikes)."""
    fan = fan_out(net.weights[0]) if hasattr(net, "weights") else net.fan_out("in")   # (P, n_in)
    active = np.count_nonzero(np.asarray(x), axis=0).astype(np.float32)    # (B, n_in) or (P, B, n_in)
    if active.ndim == 2:
        return fan @ active.T
    return np.matmul(active, fan[:, :, None])[..., 0]


def _batch_size(x: np.ndarray) -> int:
    return np.shape(x)[-2] if np.ndim(x) >= 2 else 0


def _out_buffer(out: np.ndarray | None, shape: tuple) -> np.ndarray:
    if out is None:
        return np.empty(shape, np.float32)
    if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out: expected a C-contiguous float32 array of shape {shape}, got "
                         f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}")
    return out


def _constant_in_time(x: np.ndarray) -> bool:
    """True for an input that is the same at every step: a broadcast view (stride 0 over
    time), as direct-current encodings give, or a single step."""
    x = np.asarray(x)
    return x.ndim >= 3 and (x.shape[0] == 1 or (x.shape[0] > 1 and x.strides[0] == 0))


def _sequence(net: NetworkBatch, x: np.ndarray, reset: str, record: bool, out: np.ndarray | None = None,
              constant: bool = False):
    """The numba kernel over a whole input sequence: (spikes or None, counts, first, v).
    ``constant``: x is the same at every step, so its projection ``x[0] @ W_in`` is
    computed once and held, summed in the order the kernel sums a step's inputs
    (:func:`kernels.input_current`), so that a constant input gives the same spikes as a
    view (stride 0 over time) or as a copy."""
    T, B = x.shape[0], _batch_size(x)
    shape = (net.n_networks, B, net.n_neurons)
    finite = _finite_thresholds(net)
    spikes = _out_buffer(out, (T,) + shape) if record else _NO_SPIKES
    v, s, counts = np.zeros(shape, np.float32), np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    first = np.full(shape[:2] + (0 if record else net.n_out,), T, np.int32)
    if constant:
        x0 = np.ascontiguousarray(x[0], dtype=np.float32)
        current = np.empty((1,) + shape, np.float32)  # (1, P, B, N)
        kernels.input_current(x0[None] if x0.ndim == 2 else x0, net.w_in, current[0])
        kernels.run(current, True, True, T, net.w_in, net.w_rec, net.bias, net.beta, net.threshold, finite,
                    reset == "subtract", v, s, counts, first, record, spikes)
    else:
        kernels.run(x[:, None] if x.ndim == 3 else x, False, False, T, net.w_in, net.w_rec, net.bias, net.beta,
                    net.threshold, finite, reset == "subtract", v, s, counts, first, record, spikes)
    return (spikes if record else None), counts, first, v


def _model_steps(st: "models.ModelState", x: np.ndarray, hold: bool, T: int, subtract: bool, kernel: str,
                 first: np.ndarray | None = None, spikes: np.ndarray | None = None) -> None:
    """T steps of :mod:`neurons.models` on x (T or 1, X, B, n_in), by ``kernel``; ``first``
    (P, B, F) lowered to first-spike steps, ``spikes`` (T, P, B, N) written when given."""
    if kernel == "numba":
        models.model_kernel(st, x, hold, T, subtract, _NO_FIRST if first is None else first, spikes is not None,
                            _NO_SPIKES if spikes is None else spikes)
        return
    n_first = 0 if first is None else first.shape[2]

    def on_step(t: int, s: np.ndarray) -> None:
        if spikes is not None:
            spikes[t] = s
        if n_first:
            np.copyto(first, t, where=(s[..., :n_first] != 0) & (first > t))
    models.numpy_steps(st, x, hold, T, subtract, on_step)


def _model_sequence(net: NetworkBatch, x: np.ndarray, constant: bool, reset: str, kernel: str, record: bool,
                    out: np.ndarray | None = None):
    """Another neuron model or delays over a whole input sequence: (spikes or None, counts,
    first, v), as :func:`_sequence`."""
    T, B = x.shape[0], _batch_size(x)
    st = models.ModelState(net, B)
    x4 = x[:1] if constant else x
    x4 = x4[:, None] if x4.ndim == 3 else x4
    spikes = _out_buffer(out, (T,) + st.v.shape) if record else None
    first = np.full(st.v.shape[:2] + (net.n_out,), T, np.int32)
    _model_steps(st, np.ascontiguousarray(x4, dtype=np.float32), constant, T, reset == "subtract", kernel,
                 first, spikes)
    return spikes, st.counts, first, st.v


def _sequence_input(net: NetworkBatch, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """The checked float32 input and whether it is constant in time; a constant input stays
    a broadcast view (one step's data)."""
    if _constant_in_time(x):
        x = np.asarray(x)
        first = _check_input(net, x[:1], time_axis=True)
        return np.broadcast_to(first, x.shape), True
    return _check_input(net, x, time_axis=True), False


def simulate(net: NetworkBatch, x: np.ndarray, reset: str = "subtract", kernel: str | None = None,
             out: np.ndarray | None = None) -> np.ndarray:
    """Run the networks on x and return every neuron's spikes, (T, P, B, N) float32 0/1.

    x is (T, B, n_in) when all networks see the same data, or (T, P, B, n_in). ``out``: a
    preallocated (T, P, B, N) float32 array to write the spikes into (and return). Other
    network batches (a ``LayeredBatch``) run in their dense form (neurons.network.dense).
    """
    net = dense(net)
    x, constant = _sequence_input(net, x)
    if not net.plain:
        return _model_sequence(net, x, constant, check_reset(reset), _kernel(kernel, _batch_size(x)), True, out)[0]
    if _kernel(kernel, _batch_size(x)) == "numba":
        return _sequence(net, x, check_reset(reset), record=True, out=out, constant=constant)[0]
    sim = Simulator(net, _batch_size(x), reset, "numpy")
    out = _out_buffer(out, (x.shape[0],) + sim.v.shape)
    for t, current in enumerate(sim.currents(x)):
        out[t] = sim.step(current)
    return out


def simulate_outputs(net: NetworkBatch, x: np.ndarray, reset: str = "subtract",
                     kernel: str | None = None) -> OutputRecord:
    """Run the networks on x, keeping only output counts, first-spike times and final voltages.

    A batch that is not a NetworkBatch runs through its own ``simulate_outputs(x, reset)``
    (a ``LayeredBatch``: :func:`neurons.layered.simulate_layered`)."""
    if not isinstance(net, NetworkBatch):
        return net.simulate_outputs(x, reset)
    x, constant = _sequence_input(net, x)
    T = x.shape[0]
    n_out = net.n_out
    plain = net.plain
    if not plain or _kernel(kernel, _batch_size(x)) == "numba":
        if plain:
            _, counts, first, v = _sequence(net, x, check_reset(reset), record=False, constant=constant)
        else:
            _, counts, first, v = _model_sequence(net, x, constant, check_reset(reset),
                                                  _kernel(kernel, _batch_size(x)), False)
        return OutputRecord(counts=counts[..., :n_out].copy(), first_spike=first,
                            v_final=v[..., :n_out].copy(), total_spikes=counts.sum(axis=-1),
                            synaptic_events=fanned_events(counts, net.fan_out()))
    sim = Simulator(net, _batch_size(x), reset, "numpy")
    first = np.full(sim.v.shape[:2] + (n_out,), T, np.int32)
    new = np.empty(first.shape, bool)
    spiked_out = sim._spiked[..., :n_out]
    for t, current in enumerate(sim.currents(x)):
        sim.step(current)
        np.equal(first, T, out=new)
        np.logical_and(new, spiked_out, out=new)
        np.copyto(first, t, where=new)
    return OutputRecord(
        counts=sim.counts[..., :n_out].copy(),
        first_spike=first,
        v_final=sim.v[..., :n_out].copy(),
        total_spikes=sim.counts.sum(axis=-1),
        synaptic_events=fanned_events(sim.counts, net.fan_out()),
    )
