"""The fixed-topology genome space: inputs -> one recurrent hidden layer -> outputs.

A genome is a row of a (P, D) float matrix. Its segments, in order:

- weights (if evolved): input->hidden (n_in x H), hidden->hidden (H x H, if ``recurrent``),
  hidden->output (H x n_out); with H = 0, input->output (n_in x n_out);
- thresholds (if evolved): N genes g, ``threshold = threshold0 * exp(g)`` (always > 0);
- betas (if evolved): N genes g, ``beta = sigmoid(logit(beta0) + g)`` (always in [0, 1]);
- biases (if evolved): N genes g, ``bias = bias0 + g``.

A gene of 0 gives the default value, and every real gene maps to a valid network, so a
strategy never needs to clip. Neurons 0..n_out-1 are the outputs, n_out..N-1 the hidden.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from neurons import NetworkBatch

from ..errors import GenomeError

__all__ = ["FixedTopology", "EVOLVABLE", "GenomeError"]

EVOLVABLE = ("weights", "thresholds", "betas", "biases")


class FixedTopology:
    """Maps a (P, D) matrix to a NetworkBatch in one vectorized call."""

    def __init__(self, n_in: int, n_out: int, *, hidden: int = 8, recurrent: bool = True,
                 evolve: Sequence[str] = ("weights", "thresholds", "betas"),
                 threshold: float = 1.0, beta: float = 0.9, bias: float = 0.0) -> None:
        if int(hidden) < 0:
            raise GenomeError(f"genome.hidden: {hidden}; expected an integer >= 0")
        unknown = [e for e in evolve if e not in EVOLVABLE]
        if unknown:
            raise GenomeError(f"genome.evolve: {unknown[0]!r} is not evolvable; expected some of {', '.join(EVOLVABLE)}")
        if not threshold > 0:
            raise GenomeError(f"genome.threshold: {threshold}; expected a value > 0")
        if not 0 < beta < 1:
            raise GenomeError(f"genome.beta: {beta}; expected a value in (0, 1)")
        self.n_in, self.n_out, self.hidden = int(n_in), int(n_out), int(hidden)
        self.recurrent = bool(recurrent)
        self.evolve = tuple(e for e in EVOLVABLE if e in evolve)
        self.threshold0, self.beta0, self.bias0 = float(threshold), float(beta), float(bias)
        self.n_neurons = self.n_out + self.hidden
        H, O, N = self.hidden, self.n_out, self.n_neurons
        # (name, shape, where it goes: (array, row slice, column slice))
        segs: list[tuple[str, tuple[int, ...]]] = []
        if "weights" in self.evolve:
            if H:
                segs += [("w_in_hidden", (self.n_in, H))]
                if self.recurrent:
                    segs += [("w_hidden_hidden", (H, H))]
                segs += [("w_hidden_out", (H, O))]
            else:
                segs += [("w_in_out", (self.n_in, O))]
        for name in ("thresholds", "betas", "biases"):
            if name in self.evolve:
                segs.append((name, (N,)))
        self.segments: dict[str, slice] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}
        start = 0
        for name, shape in segs:
            size = int(np.prod(shape))
            self.segments[name] = slice(start, start + size)
            self._shapes[name] = shape
            start += size
        self.dim = start
        if self.dim == 0:
            raise GenomeError("genome.evolve: nothing to evolve; choose some of " + ", ".join(EVOLVABLE))

    def bytes_per_network(self) -> int:
        """Memory of one genome (float64) and its compiled network (float32), in bytes."""
        N = self.n_neurons
        return 8 * self.dim + 4 * (self.n_in * N + N * N + 3 * N)

    def config(self) -> dict:
        return dict(hidden=self.hidden, recurrent=self.recurrent, evolve=list(self.evolve),
                    threshold=self.threshold0, beta=self.beta0, bias=self.bias0)

    kind = "fixed"

    def genome(self, X: np.ndarray, index: int) -> list[float]:
        """Row ``index`` as a JSON-ready list."""
        return [float(v) for v in np.asarray(X)[int(index)]]

    def decode_genome(self, obj, where: str = "genome") -> np.ndarray:
        """A (1, D) matrix from :meth:`genome`'s list; anything else is a GenomeError."""
        try:
            x = np.asarray(obj, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise GenomeError(f"{where}: expected a list of {self.dim} numbers ({exc})") from None
        if x.shape != (self.dim,) or not np.isfinite(x).all():
            raise GenomeError(f"{where}: expected a list of {self.dim} finite numbers for this genome space, "
                              f"got shape {x.shape}")
        return x[None]

    def _gene(self, X: np.ndarray, name: str) -> np.ndarray:
        return X[:, self.segments[name]].reshape((X.shape[0],) + self._shapes[name])

    @staticmethod
    def padded_size(X: np.ndarray) -> None:
        """Fixed networks all have the same size: no padding to agree on across chunks."""
        return None

    def compile(self, X: np.ndarray, pad_to: int | None = None) -> NetworkBatch:
        """The networks of the rows of X; every genome has the same size, so ``pad_to`` is unused."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[None]
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise GenomeError(f"genome matrix: shape {X.shape}; expected (P, {self.dim})")
        if not np.isfinite(X).all():
            raise GenomeError("genome matrix: contains NaN or infinity")
        P, H, O, N = X.shape[0], self.hidden, self.n_out, self.n_neurons
        w_in = np.zeros((P, self.n_in, N), np.float32)
        w_rec = np.zeros((P, N, N), np.float32)
        if "weights" in self.evolve:
            if H:
                w_in[:, :, O:] = self._gene(X, "w_in_hidden")
                if self.recurrent:
                    w_rec[:, O:, O:] = self._gene(X, "w_hidden_hidden")
                w_rec[:, O:, :O] = self._gene(X, "w_hidden_out")
            else:
                w_in[:, :, :O] = self._gene(X, "w_in_out")
        threshold = np.full((P, N), self.threshold0)
        beta = np.full((P, N), self.beta0)
        bias = np.full((P, N), self.bias0)
        if "thresholds" in self.evolve:
            threshold = self.threshold0 * np.exp(np.clip(self._gene(X, "thresholds"), -30, 30))
        if "betas" in self.evolve:
            logit0 = np.log(self.beta0 / (1 - self.beta0))
            beta = 1.0 / (1.0 + np.exp(-(logit0 + np.clip(self._gene(X, "betas"), -60, 60))))
        if "biases" in self.evolve:
            bias = self.bias0 + self._gene(X, "biases")
        return NetworkBatch(w_in, w_rec, threshold, beta, bias, O)
