"""Layered networks: stacks of LIF layers, simulated a layer at a time.

A :class:`LayeredBatch` holds P networks of L layers (hidden layers, then the output
layer). Layer 0 takes the input; layer l > 0 takes the spikes of layer l - 1; a layer may
also have recurrent synapses within itself. The equations are those of
:mod:`neurons.lif` for the equivalent dense network (:meth:`LayeredBatch.to_dense`: the
outputs first, then the hidden layers in order)::

    I_0[t] = x[t] @ W_0 + s_0[t-1] @ R_0 + bias_0
    I_l[t] = s_{l-1}[t-1] @ W_l + s_l[t-1] @ R_l + bias_l          (l > 0)
    v_l[t] = beta_l * v_l[t-1] + I_l[t];  s_l[t] = v_l[t] > threshold_l;  reset

so every synapse between neurons delays one step, as in the dense form.

Why a separate path: the dense form multiplies (N x N) matrices that are mostly zero
blocks. Here a layer without recurrence runs all T steps of its element-wise LIF update
first; the next layer's input for every step is then one batched matmul
``S_{l-1}[:, :-1] @ W_l`` of shape (P, (T-1) B, n_{l-1}) x (n_{l-1}, n_l). An input that is
the same at every step (a broadcast view with stride 0 over time) is projected
once, not once per step. Input spikes (0/1 values that change in time, as rate, latency
and event encodings give) run instead through the dense form's event-driven kernel when
numba is in use (it adds only the weight rows of active inputs and spiking neurons; the
two paths sum in different orders, like the two kernels). Networks are simulated ``max_chunk_bytes`` of spike buffers at a
time, so large networks fit in memory; a network's results never depend on the others in
its batch or on the chunking.

Shapes: ``simulate_layered(net, x)`` takes x (T, B, n_in) shared by all networks or
(T, P, B, n_in), and returns an :class:`~neurons.lif.OutputRecord` of the output layer.

Example::

    >>> net = LayeredBatch.random(P=2, sizes=(4, 16, 3), seed=0)
    >>> rec = simulate_layered(net, np.ones((10, 5, 4), np.float32))
    >>> rec.counts.shape                    # (P, B, n_out)
    (2, 5, 3)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import kernels
from .lif import OutputRecord, _constant_in_time, check_reset, current_kernel, simulate_outputs, spike_events
from .network import NetworkBatch, NetworkError

__all__ = ["LayeredBatch", "simulate_layered", "dense_offsets", "CHUNK_BYTES", "MAX_CHUNK_BYTES"]

# spike buffers and currents of one chunk of networks in the layer-at-a-time path, at most:
# a chunk that fits the last-level cache, where the next layer's matmul reads the spikes the
# kernel wrote (digits' preset: 757 ms a generation with 256 MB chunks, 444 ms with 16 MB)
CHUNK_BYTES = 16 << 20
MAX_CHUNK_BYTES = 256 << 20  # dense weights of one chunk of networks in the event-driven path, at most


def dense_offsets(sizes) -> list[int]:
    """Each layer's first neuron in the dense form of layers ``sizes`` (hidden layers, then
    the outputs): the outputs come first, then the hidden layers in order."""
    out, start = [0] * len(sizes), sizes[-1]
    for l in range(len(sizes) - 1):
        out[l] = start
        start += sizes[l]
    return out


def _f32(name: str, arr) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype.kind not in "fiub":
        raise NetworkError(f"LayeredBatch.{name}: dtype {a.dtype} is not numeric; expected float32")
    a = np.ascontiguousarray(a, dtype=np.float32)
    return a


@dataclass(frozen=True, eq=False)
class LayeredBatch:
    """P networks of LIF layers; layer L - 1 is the output layer.

    - ``weights[l]``   (P, n_{l-1}, n_l): layer l's input synapses (n_{-1} = n_in).
    - ``recurrent[l]`` (P, n_l, n_l) or None: synapses within layer l.
    - ``threshold[l]``, ``beta[l]``, ``bias[l]`` (P, n_l): as in NetworkBatch.
    """

    weights: tuple
    recurrent: tuple
    threshold: tuple
    beta: tuple
    bias: tuple

    def __post_init__(self) -> None:
        for field in ("weights", "recurrent", "threshold", "beta", "bias"):
            value = getattr(self, field)
            if isinstance(value, np.ndarray) or not isinstance(value, (tuple, list)):
                raise NetworkError(f"LayeredBatch.{field}: {type(value).__name__}; expected a tuple or list with "
                                   f"one array per layer")
        L = len(self.weights)
        if L < 1 or not all(len(getattr(self, f)) == L for f in ("recurrent", "threshold", "beta", "bias")):
            raise NetworkError(f"LayeredBatch: {L} weight matrices; expected one (and one recurrent entry, "
                               f"threshold, beta and bias) per layer, at least one layer")
        for field in ("weights", "threshold", "beta", "bias"):
            object.__setattr__(self, field, tuple(_f32(f"{field}[{l}]", a) for l, a in enumerate(getattr(self, field))))
        object.__setattr__(self, "recurrent", tuple(None if r is None else _f32(f"recurrent[{l}]", r)
                                                    for l, r in enumerate(self.recurrent)))
        P = self.weights[0].shape[0]
        fan_in = self.weights[0].shape[1] if self.weights[0].ndim == 3 else -1
        for l in range(L):
            w = self.weights[l]
            if w.ndim != 3 or w.shape[0] != P or w.shape[1] != fan_in:
                raise NetworkError(f"LayeredBatch.weights[{l}]: shape {w.shape}; expected ({P}, {fan_in}, n_{l})")
            n = w.shape[2]
            r = self.recurrent[l]
            if r is not None and r.shape != (P, n, n):
                raise NetworkError(f"LayeredBatch.recurrent[{l}]: shape {r.shape}; expected ({P}, {n}, {n})")
            for field in ("threshold", "beta", "bias"):
                a = getattr(self, field)[l]
                if a.shape != (P, n):
                    raise NetworkError(f"LayeredBatch.{field}[{l}]: shape {a.shape}; expected ({P}, {n})")
            if n < 1:
                raise NetworkError(f"LayeredBatch.weights[{l}]: shape {w.shape}; a layer has at least one neuron")
            for field, a in (("weights", w), ("recurrent", r), ("bias", self.bias[l])):
                if a is not None and not np.isfinite(a).all():
                    raise NetworkError(f"LayeredBatch.{field}[{l}]: value {a[~np.isfinite(a)].flat[0]}; weights "
                                       f"and biases must be finite")
            t = self.threshold[l]
            if not ((t > 0) & np.isfinite(t)).all():
                raise NetworkError(f"LayeredBatch.threshold[{l}]: value {t[~((t > 0) & np.isfinite(t))].flat[0]}; "
                                   f"thresholds must be finite and > 0")
            b = self.beta[l]
            if not ((b >= 0) & (b <= 1)).all():
                raise NetworkError(f"LayeredBatch.beta[{l}]: value {b[~((b >= 0) & (b <= 1))].flat[0]}; beta must "
                                   f"lie in [0, 1]")
            fan_in = n

    @classmethod
    def random(cls, P: int, sizes: Sequence[int], seed: int = 0, recurrent: bool = False,
               scale: float = 1.0) -> "LayeredBatch":
        """Random networks of layer sizes ``(n_in, n_1, ..., n_out)`` (tests and benchmarks)."""
        rng = np.random.default_rng(seed)
        ws, rs, th, be, bi = [], [], [], [], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            ws.append(rng.normal(0, scale / np.sqrt(a), (P, a, b)))
            rs.append(rng.normal(0, 0.5 / np.sqrt(b), (P, b, b)) if recurrent else None)
            th.append(np.exp(rng.normal(0, 0.3, (P, b))))
            be.append(rng.uniform(0.5, 1.0, (P, b)))
            bi.append(rng.normal(0, 0.05, (P, b)))
        return cls(tuple(ws), tuple(rs), tuple(th), tuple(be), tuple(bi))

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(w.shape[2] for w in self.weights)

    @property
    def n_networks(self) -> int:
        return self.weights[0].shape[0]

    @property
    def n_in(self) -> int:
        return self.weights[0].shape[1]

    @property
    def n_out(self) -> int:
        return self.weights[-1].shape[2]

    @property
    def n_neurons(self) -> int:
        return int(sum(self.sizes))

    def select(self, index) -> "LayeredBatch":
        """The sub-batch of networks ``index`` (an int, slice or index array)."""
        idx = np.atleast_1d(np.arange(self.n_networks)[index])
        return LayeredBatch(tuple(w[idx] for w in self.weights),
                            tuple(None if r is None else r[idx] for r in self.recurrent),
                            tuple(a[idx] for a in self.threshold), tuple(a[idx] for a in self.beta),
                            tuple(a[idx] for a in self.bias))

    def neuron_counts(self) -> np.ndarray:
        return np.full(self.n_networks, self.n_neurons, np.int64)

    def synapse_counts(self) -> np.ndarray:
        total = np.zeros(self.n_networks, np.int64)
        for w, r in zip(self.weights, self.recurrent):
            total += np.count_nonzero(w, axis=(1, 2))
            if r is not None:
                total += np.count_nonzero(r, axis=(1, 2))
        return total

    def simulate_outputs(self, x: np.ndarray, reset: str = "subtract") -> OutputRecord:
        """:func:`simulate_layered` of these networks."""
        return simulate_layered(self, x, reset)

    def to_dense(self) -> NetworkBatch:
        """The same networks as a NetworkBatch (outputs first, then the hidden layers)."""
        P, N, sizes, off = self.n_networks, self.n_neurons, self.sizes, dense_offsets(self.sizes)
        w_in = np.zeros((P, self.n_in, N), np.float32)
        w_rec = np.zeros((P, N, N), np.float32)
        params = {k: np.zeros((P, N), np.float32) for k in ("threshold", "beta", "bias")}
        for l, n in enumerate(sizes):
            cols = slice(off[l], off[l] + n)
            if l == 0:
                w_in[:, :, cols] = self.weights[0]
            else:
                w_rec[:, off[l - 1]:off[l - 1] + sizes[l - 1], cols] = self.weights[l]
            if self.recurrent[l] is not None:
                w_rec[:, cols, cols] = self.recurrent[l]
            for k in params:
                params[k][:, cols] = getattr(self, k)[l]
        return NetworkBatch(w_in, w_rec, params["threshold"], params["beta"], params["bias"], sizes[-1])


_NO_INT = np.empty((0, 0, 0), np.int32)
_NO_F32 = np.empty((0, 0, 0, 0), np.float32)


def _lif_layer(current, steps: int, rec, beta, threshold, reset_subtract: bool, spikes_out, counts, v, s, first,
               constant: bool) -> None:
    """T steps of one layer, in place. ``current``: (P, B, n) if ``constant`` else (P, T, B, n),
    with the bias included; ``spikes_out``: (P, T, B, n) buffer or None; ``first``: (P, B, n)
    int32 first-spike steps or None. A layer without recurrent synapses runs in the compiled
    kernel (kernels.lif_layer, bit for bit the numpy loop below) when numba is installed and
    the kernel setting is not numpy."""
    if rec is None and kernels.AVAILABLE and current_kernel() != "numpy":
        kernels.lif_layer(current[:, None] if constant else current, constant, steps, beta, threshold,
                          reset_subtract, v, s, counts, _NO_INT if first is None else first, first is not None,
                          _NO_F32 if spikes_out is None else spikes_out, spikes_out is not None)
        return
    P, B, n = v.shape
    I = np.empty_like(v)
    spiked = np.empty(v.shape, bool)
    new = np.empty(v.shape, bool) if first is not None else None
    tmp = np.empty_like(v)
    b, th = beta[:, None, :], threshold[:, None, :]
    for t in range(steps):
        c = current if constant else current[:, t]
        if rec is not None:
            np.matmul(s, rec, out=I)
            np.add(I, c, out=I)
            c = I
        np.multiply(v, b, out=v)
        np.add(v, c, out=v)
        np.greater(v, th, out=spiked)
        np.copyto(s, spiked)
        if reset_subtract:
            np.multiply(th, s, out=tmp)
            np.subtract(v, tmp, out=v)
        else:
            np.subtract(np.float32(1.0), s, out=tmp)
            np.multiply(v, tmp, out=v)
        np.add(counts, s, out=counts)
        if first is not None:
            np.equal(first, steps, out=new)
            np.logical_and(new, spiked, out=new)
            np.copyto(first, t, where=new)
        if spikes_out is not None:
            spikes_out[:, t] = s


def _simulate_chunk(net: LayeredBatch, x: np.ndarray, reset_subtract: bool) -> OutputRecord:
    T = x.shape[0]
    B = x.shape[-2]
    P = net.n_networks
    L = len(net.sizes)
    total = np.zeros((P, B), np.float32)
    events = np.zeros((P, B), np.float32)
    prev = None  # spikes of the previous layer, (P, T, B, n_prev)
    for l, n in enumerate(net.sizes):
        last = l == L - 1
        w, bias = net.weights[l], net.bias[l][:, None, :]
        if l == 0:
            if _constant_in_time(x):
                x0 = x[0]                                    # (B, n_in) or (P, B, n_in)
                current, constant = np.matmul(x0, w), True   # (P, B, n)
            else:
                xs = x if x.ndim == 4 else x[:, None]        # (T, P|1, B, n_in)
                current = np.ascontiguousarray(np.moveaxis(np.matmul(xs, w), 0, 1))  # (P, T, B, n)
                constant = False
        else:
            # the previous layer's spikes arrive one step later: step 0 gets none
            # every step's spikes in one contiguous matmul (the last step's result is unused), then
            # shifted one step later: step 0 gets nothing
            projected = np.matmul(prev.reshape(P, T * B, prev.shape[-1]), w).reshape(P, T, B, n)
            current = np.empty((P, T, B, n), np.float32)
            current[:, 0] = 0.0
            current[:, 1:] = projected[:, :T - 1]
            constant = False
        current += bias if constant else bias[:, None]
        v, s, counts = (np.zeros((P, B, n), np.float32) for _ in range(3))
        first = np.full((P, B, n), T, np.int32) if last else None
        spikes = None if last else np.empty((P, T, B, n), np.float32)
        _lif_layer(current, T, net.recurrent[l], net.beta[l], net.threshold[l], reset_subtract, spikes, counts,
                   v, s, first, constant)
        total += counts.sum(axis=-1)
        if not last:
            events += spike_events(counts, net.weights[l + 1])
        if net.recurrent[l] is not None:
            events += spike_events(counts, net.recurrent[l])
        prev = spikes
    return OutputRecord(counts=counts, first_spike=first, v_final=v, total_spikes=total, synaptic_events=events)


def _event_input(x: np.ndarray) -> bool:
    """Spike input (0/1, changing in time) with the compiled kernels in use: the event-driven
    dense kernel then adds only the weight rows of active inputs and spiking neurons, where
    a layer-at-a-time matmul would multiply every zero."""
    return (kernels.AVAILABLE and current_kernel() != "numpy" and not _constant_in_time(x)
            and bool(((x == 0) | (x == 1)).all()))


def _padded(net: NetworkBatch, N: int) -> NetworkBatch:
    """``net`` with padding neurons (no synapses, infinite threshold: they never spike) up to
    N neurons; every other neuron's spikes and sums are unchanged."""
    extra = N - net.n_neurons
    if extra <= 0:
        return net
    P = net.n_networks
    grow = lambda a, fill=0.0: np.concatenate([a, np.full(a.shape[:-1] + (extra,), fill, np.float32)], axis=-1)  # noqa: E731
    w_rec = np.zeros((P, N, N), np.float32)
    w_rec[:, :net.n_neurons, :net.n_neurons] = net.w_rec
    return NetworkBatch(grow(net.w_in), w_rec, grow(net.threshold, np.inf), grow(net.beta), grow(net.bias), net.n_out)


def _dense_events(net: LayeredBatch, x: np.ndarray, reset: str, max_chunk_bytes: int = MAX_CHUNK_BYTES
                  ) -> OutputRecord:
    """The dense form's event-driven simulation, ``max_chunk_bytes`` of dense weights at a time."""
    N = -(-net.n_neurons // 8) * 8  # padded to a multiple of 8 for the vector kernel
    chunk = max(1, int(max_chunk_bytes) // (4 * N * (net.n_in + N)))
    parts = [simulate_outputs(_padded(net.select(np.arange(lo, min(net.n_networks, lo + chunk))).to_dense(), N),
                              x if x.ndim == 3 else x[:, lo:lo + chunk], reset)
             for lo in range(0, net.n_networks, chunk)]
    return _joined(parts)


def _joined(parts: list[OutputRecord]) -> OutputRecord:
    """The records of consecutive chunks of networks as one."""
    if len(parts) == 1:
        return parts[0]
    return OutputRecord(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                          ("counts", "first_spike", "v_final", "total_spikes", "synaptic_events")))


def simulate_layered(net: LayeredBatch, x: np.ndarray, reset: str = "subtract",
                     max_chunk_bytes: int = CHUNK_BYTES) -> OutputRecord:
    """Run layered networks on x (T, B, n_in) or (T, P, B, n_in); the output layer's record.
    Layer at a time, networks in chunks of about ``max_chunk_bytes`` of spikes and currents;
    spike input with the compiled kernels: event-driven on the dense form (``MAX_CHUNK_BYTES``
    of dense weights at a time). A network's record never depends on its chunk."""
    reset_subtract = check_reset(reset) == "subtract"
    x = np.asarray(x)
    if x.dtype != np.float32:
        x = x.astype(np.float32)
    P = net.n_networks
    if x.ndim not in (3, 4) or x.shape[-1] != net.n_in or (x.ndim == 4 and x.shape[1] != P):
        raise ValueError(f"input x: shape {x.shape}; expected (T, B, {net.n_in}) shared by all networks "
                         f"or (T, {P}, B, {net.n_in}) per network")
    T, B = x.shape[0], x.shape[-2]
    if _event_input(x):
        return _dense_events(net, x, reset)
    per_net = 4 * T * B * max(max(net.sizes), 1) * 3  # spike buffer and currents of the widest layer
    chunk = max(1, int(max_chunk_bytes) // max(per_net, 1))
    if chunk >= P:
        return _simulate_chunk(net, x, reset_subtract)
    parts = []
    for lo in range(0, P, chunk):
        idx = np.arange(lo, min(P, lo + chunk))
        parts.append(_simulate_chunk(net.select(idx), x if x.ndim == 3 else x[:, idx], reset_subtract))
    return _joined(parts)
