"""The network batch: P spiking networks padded to a common number of neurons."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NetworkBatch", "NetworkError", "dense"]


class NetworkError(ValueError):
    """A NetworkBatch field has the wrong shape, dtype or value."""


def _as_f32(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise NetworkError(f"NetworkBatch.{name}: dtype {arr.dtype} is not numeric; expected float32")
    return np.ascontiguousarray(arr, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class NetworkBatch:
    """P leaky integrate-and-fire networks padded to N neurons (docs/design.md, "Networks").

    Fields, all float32:

    - ``w_in``      (P, n_in, N): input channel i to neuron j at ``[p, i, j]``.
    - ``w_rec``     (P, N, N):    neuron i to neuron j at ``[p, i, j]``; zero means no synapse.
    - ``threshold`` (P, N):       firing threshold, > 0 (``inf`` marks a padding neuron).
    - ``beta``      (P, N):       membrane decay per step, in [0, 1].
    - ``bias``      (P, N):       constant input current.
    - ``n_out``     int:          neurons ``0 .. n_out-1`` are the outputs.

    A padding neuron has zero weights in and out, zero bias and an infinite threshold:
    it never spikes and changes nothing.
    """

    w_in: np.ndarray
    w_rec: np.ndarray
    threshold: np.ndarray
    beta: np.ndarray
    bias: np.ndarray
    n_out: int

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
        if not isinstance(self.n_out, (int, np.integer)) or not 0 < int(self.n_out) <= N:
            raise NetworkError(f"NetworkBatch.n_out: {self.n_out!r}; expected an int in 1..{N}")
        object.__setattr__(self, "n_out", int(self.n_out))
        for name in ("w_in", "w_rec", "bias"):
            arr = getattr(self, name)
            if not np.isfinite(arr).all():
                raise NetworkError(f"NetworkBatch.{name}: contains NaN or infinity; weights must be finite")
        thr = self.threshold
        if np.isnan(thr).any() or (thr <= 0).any():
            bad = thr[np.isnan(thr) | (thr <= 0)].flat[0]
            raise NetworkError(f"NetworkBatch.threshold: value {bad}; thresholds must be > 0 (inf for padding)")
        beta = self.beta
        if np.isnan(beta).any() or (beta < 0).any() or (beta > 1).any():
            bad = beta[np.isnan(beta) | (beta < 0) | (beta > 1)].flat[0]
            raise NetworkError(f"NetworkBatch.beta: value {bad}; beta must lie in [0, 1]")

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
                            self.beta[idx], self.bias[idx], self.n_out)

    def synapse_counts(self) -> np.ndarray:
        """Number of non-zero synapses (input and recurrent) per network, (P,)."""
        return (np.count_nonzero(self.w_in, axis=(1, 2)) + np.count_nonzero(self.w_rec, axis=(1, 2)))

    def neuron_counts(self) -> np.ndarray:
        """Number of real (non-padding) neurons per network, (P,)."""
        return np.isfinite(self.threshold).sum(axis=1)


def dense(net) -> NetworkBatch:
    """``net`` as a NetworkBatch: itself, or the dense form of another network batch (such as
    a ``LayeredBatch``) through its ``to_dense()``."""
    if isinstance(net, NetworkBatch):
        return net
    to_dense = getattr(net, "to_dense", None)
    if to_dense is None:
        raise NetworkError(f"expected a NetworkBatch or a batch with to_dense(), got {type(net).__name__}")
    return to_dense()
