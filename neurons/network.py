"""The network batch: P spiking networks padded to a common number of neurons."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NetworkBatch", "NetworkError", "dense", "fan_out", "MODELS", "MAX_DELAY"]

MODELS = ("lif", "alif", "cuba")
MAX_DELAY = 64  # the longest synaptic delay a NetworkBatch may hold, in steps


class NetworkError(ValueError):
    """A NetworkBatch field has the wrong shape, dtype or value."""


def _as_f32(name: str, value) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # a ragged nested list
        raise NetworkError(f"NetworkBatch.{name}: not an array ({exc}); expected a float32 array") from None
    if arr.dtype.kind not in "fiub":
        raise NetworkError(f"NetworkBatch.{name}: dtype {arr.dtype} is not numeric; expected float32")
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 4:
        with np.errstate(over="ignore"):
            out = np.ascontiguousarray(arr, dtype=np.float32)
        lost = np.isinf(out) & np.isfinite(arr)
        if lost.any():
            raise NetworkError(f"NetworkBatch.{name}: value {float(arr[lost].flat[0])!r} is beyond float32's range "
                               f"(|x| <= {float(np.finfo(np.float32).max):.4g})")
        vanished = (out == 0) & (arr > 0)
        if name == "threshold" and vanished.any():  # named as given, not as the 0.0 it became
            tiny = float(np.finfo(np.float32).smallest_subnormal)
            raise NetworkError(f"NetworkBatch.threshold: value {float(arr[vanished].flat[0])!r} is 0.0 in float32 "
                               f"(the smallest positive float32 is {tiny:.3g}); thresholds must be > 0")
        return line_aligned(out)
    return line_aligned(np.ascontiguousarray(arr, dtype=np.float32))


def line_aligned(arr: np.ndarray) -> np.ndarray:
    """``arr`` (C-contiguous) itself when its data starts on a 64-byte cache line, else a copy
    that does. numpy aligns to 16 bytes only; the kernels load rows of weights as 32-byte
    vectors, and a row that starts 16 or 48 bytes into a line splits every other load across
    two lines: 11-24% of the plain LIF kernel's time at (256, 64, 1) with 15-40% firing."""
    if arr.ctypes.data % 64 == 0:
        return arr
    buf = np.empty(arr.nbytes + 64, np.uint8)
    start = -buf.ctypes.data % 64
    out = buf[start:start + arr.nbytes].view(arr.dtype).reshape(arr.shape)
    out[...] = arr
    return out


@dataclass(frozen=True, eq=False)
class NetworkBatch:
    """P leaky integrate-and-fire networks padded to N neurons (docs/design.md, "Networks").

    Fields, float32 unless said:

    - ``w_in``      (P, n_in, N): input channel i to neuron j at ``[p, i, j]``.
    - ``w_rec``     (P, N, N):    neuron i to neuron j at ``[p, i, j]``; zero means no synapse.
    - ``threshold`` (P, N):       firing threshold, > 0 (``inf`` marks a padding neuron).
    - ``beta``      (P, N):       membrane decay per step, in [0, 1].
    - ``bias``      (P, N):       constant input current.
    - ``n_out``     int:          neurons ``0 .. n_out-1`` are the outputs.

    Optional, None unless the networks use them (docs/design.md, "Neuron models"):

    - ``alpha``     (P, N): synaptic current decay in [0, 1], model ``cuba``.
    - ``rho``, ``b`` (P, N): adaptation decay in [0, 1] and strength >= 0, model ``alif``
      (both or neither).
    - ``delay_in``  (P, n_in, N) int32: input synapse delays, 0 .. MAX_DELAY steps (None: 0).
    - ``delay_rec`` (P, N, N) int32: delays of synapses between neurons, 1 .. MAX_DELAY
      (None: 1).

    The arrays are read-only views (an edit in place raises): a batch never changes, so
    what is derived from it once (delay groups, fan-outs, the kernels' layouts) stays valid. Make a
    new batch for new values (``dataclasses.replace(net, w_in=...)``).

    A padding neuron has zero weights in and out, zero bias and an infinite threshold:
    it never spikes and changes nothing. With every optional field None, the networks
    are the plain LIF networks of the equations in :mod:`neurons.lif`.
    """

    w_in: np.ndarray
    w_rec: np.ndarray
    threshold: np.ndarray
    beta: np.ndarray
    bias: np.ndarray
    n_out: int
    alpha: np.ndarray | None = None
    rho: np.ndarray | None = None
    b: np.ndarray | None = None
    delay_in: np.ndarray | None = None
    delay_rec: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("w_in", "w_rec", "threshold", "beta", "bias"):
            object.__setattr__(self, name, _as_f32(name, getattr(self, name)))
        w_in, w_rec = self.w_in, self.w_rec
        if w_rec.ndim != 3 or w_rec.shape[1] != w_rec.shape[2]:
            raise NetworkError(f"NetworkBatch.w_rec: shape {w_rec.shape}; expected (P, N, N)")
        P, N = w_rec.shape[0], w_rec.shape[1]
        if w_in.ndim != 3 or w_in.shape[0] != P or w_in.shape[2] != N:
            raise NetworkError(
                f"NetworkBatch.w_in: shape {w_in.shape}; expected (P, n_in, N) = ({P}, n_in, {N})"
            )
        for name in ("threshold", "beta", "bias"):
            arr = getattr(self, name)
            if arr.shape != (P, N):
                raise NetworkError(f"NetworkBatch.{name}: shape {arr.shape}; expected (P, N) = ({P}, {N})")
        if N < 1:
            raise NetworkError(f"NetworkBatch.w_rec: shape {w_rec.shape}; a network has at least one neuron")
        if isinstance(self.n_out, bool) or not isinstance(self.n_out, (int, np.integer)) or not 0 < int(self.n_out) <= N:
            raise NetworkError(f"NetworkBatch.n_out: {self.n_out!r}; expected an int in 1..{N}")
        object.__setattr__(self, "n_out", int(self.n_out))
        for name in ("w_in", "w_rec", "bias"):
            arr = getattr(self, name)
            if not np.isfinite(arr).all():
                raise NetworkError(f"NetworkBatch.{name}: value {arr[~np.isfinite(arr)].flat[0]}; weights and biases "
                                   f"must be finite")
        thr = self.threshold
        if np.isnan(thr).any() or (thr <= 0).any():
            bad = thr[np.isnan(thr) | (thr <= 0)].flat[0]
            raise NetworkError(f"NetworkBatch.threshold: value {bad}; thresholds must be > 0 (inf for padding)")
        for name in ("beta", "alpha", "rho"):
            arr = getattr(self, name)
            if arr is None:
                continue
            if name != "beta":
                arr = _as_f32(name, arr)
                object.__setattr__(self, name, arr)
                if arr.shape != (P, N):
                    raise NetworkError(f"NetworkBatch.{name}: shape {arr.shape}; expected (P, N) = ({P}, {N})")
            if np.isnan(arr).any() or (arr < 0).any() or (arr > 1).any():
                bad = arr[np.isnan(arr) | (arr < 0) | (arr > 1)].flat[0]
                raise NetworkError(f"NetworkBatch.{name}: value {bad}; {name} must lie in [0, 1]")
        if (self.rho is None) != (self.b is None):
            raise NetworkError("NetworkBatch.rho, b: the alif model needs both (adaptation decay and strength); "
                               "got only " + ("rho" if self.b is None else "b"))
        if self.b is not None:
            b = _as_f32("b", self.b)
            object.__setattr__(self, "b", b)
            if b.shape != (P, N):
                raise NetworkError(f"NetworkBatch.b: shape {b.shape}; expected (P, N) = ({P}, {N})")
            if not np.isfinite(b).all() or (b < 0).any():
                bad = b[~np.isfinite(b) | (b < 0)].flat[0]
                raise NetworkError(f"NetworkBatch.b: value {bad}; adaptation strengths must be finite and >= 0")
        if self.alpha is not None and self.rho is not None:
            raise NetworkError("NetworkBatch.alpha, rho: one neuron model per batch; give alpha (cuba) or "
                               "rho and b (alif), not both")
        for name, shape, low in (("delay_in", (P, w_in.shape[1], N), 0), ("delay_rec", (P, N, N), 1)):
            arr = getattr(self, name)
            if arr is None:
                continue
            arr = np.asarray(arr)
            if arr.dtype.kind not in "iu":
                raise NetworkError(f"NetworkBatch.{name}: dtype {arr.dtype}; expected integer steps")
            if arr.shape != shape:
                raise NetworkError(f"NetworkBatch.{name}: shape {arr.shape}; expected {shape}")
            if arr.size and (arr.min() < low or arr.max() > MAX_DELAY):
                bad = arr[(arr < low) | (arr > MAX_DELAY)].flat[0]
                raise NetworkError(f"NetworkBatch.{name}: value {bad}; delays must lie in {low}..{MAX_DELAY}")
            object.__setattr__(self, name, np.ascontiguousarray(arr, dtype=np.int32))
        for name in ("w_in", "w_rec", "threshold", "beta", "bias") + OPTIONAL:  # read-only (class docstring)
            arr = getattr(self, name)
            if arr is not None and arr.flags.writeable:
                view = arr.view()
                view.flags.writeable = False
                object.__setattr__(self, name, view)

    @property
    def model(self) -> str:
        """The neuron model: ``lif``, ``alif`` (rho and b set) or ``cuba`` (alpha set)."""
        return "cuba" if self.alpha is not None else ("alif" if self.rho is not None else "lif")

    @property
    def has_delays(self) -> bool:
        """True when a synapse's delay differs from the default (inputs 0, others 1)."""
        return bool((self.delay_in is not None and self.delay_in.any())
                    or (self.delay_rec is not None and (self.delay_rec != 1).any()))

    @property
    def plain(self) -> bool:
        """True for plain LIF networks with the default delays: today's kernels apply."""
        return self.model == "lif" and not self.has_delays

    @property
    def max_delay(self) -> int:
        """The longest delay of a synapse with a non-zero weight (at least 1)."""
        longest = 1
        if self.delay_in is not None:
            longest = max(longest, int(np.where(self.w_in != 0, self.delay_in, 0).max(initial=0)))
        if self.delay_rec is not None:
            longest = max(longest, int(np.where(self.w_rec != 0, self.delay_rec, 0).max(initial=0)))
        return longest

    def extras(self) -> dict:
        """The optional fields that are set, by name."""
        return {k: getattr(self, k) for k in OPTIONAL if getattr(self, k) is not None}

    @property
    def n_networks(self) -> int:
        return self.w_rec.shape[0]

    @property
    def n_neurons(self) -> int:
        return self.w_rec.shape[1]

    @property
    def n_in(self) -> int:
        return self.w_in.shape[1]

    def select(self, index) -> "NetworkBatch":
        """The sub-batch of networks ``index`` (an int, slice or index array)."""
        idx = np.atleast_1d(np.arange(self.n_networks)[index])
        return NetworkBatch(self.w_in[idx], self.w_rec[idx], self.threshold[idx],
                            self.beta[idx], self.bias[idx], self.n_out,
                            **{k: v[idx] for k, v in self.extras().items()})

    def fan_out(self, which: str = "rec") -> np.ndarray:
        """Outgoing synapses (non-zero weights) of each neuron (``"rec"``: (P, N)) or input
        channel (``"in"``: (P, n_in)), float32; counted on first use and kept (the batch
        never changes)."""
        key = f"_fan_out_{which}"
        got = self.__dict__.get(key)
        if got is None:
            got = fan_out(self.w_rec if which == "rec" else self.w_in)
            object.__setattr__(self, key, got)
        return got

    def synapse_counts(self) -> np.ndarray:
        """Number of non-zero synapses (input and recurrent) per network, (P,)."""
        return (np.count_nonzero(self.w_in, axis=(1, 2)) + np.count_nonzero(self.w_rec, axis=(1, 2)))

    def neuron_counts(self) -> np.ndarray:
        """Number of real (non-padding) neurons per network, (P,)."""
        return np.isfinite(self.threshold).sum(axis=1)


OPTIONAL = ("alpha", "rho", "b", "delay_in", "delay_rec")


def fan_out(w: np.ndarray) -> np.ndarray:
    """Outgoing synapses (non-zero weights) of each presynaptic unit: w (P, n_pre, n_post)
    -> (P, n_pre) float32."""
    return np.count_nonzero(w, axis=2).astype(np.float32)


def dense(net) -> NetworkBatch:
    """``net`` as a NetworkBatch: itself, or the dense form of another network batch (such as
    a ``LayeredBatch``) through its ``to_dense()``."""
    if isinstance(net, NetworkBatch):
        return net
    to_dense = getattr(net, "to_dense", None)
    if to_dense is None:
        raise NetworkError(f"expected a NetworkBatch or a batch with to_dense(), got {type(net).__name__}")
    return to_dense()
