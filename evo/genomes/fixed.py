"""The fixed-topology genome space: inputs -> hidden LIF layers -> outputs.

Two forms:

- ``hidden = H`` (an integer, the default 8): one hidden layer of H neurons, recurrent
  if ``recurrent``, compiled to a dense ``NetworkBatch``;
- ``hidden = [H1, H2, ...]`` (a list, possibly empty): layers inputs -> H1 -> H2 -> ...
  -> outputs, each hidden layer recurrent within itself if ``recurrent``, compiled to a
  ``LayeredBatch`` (neurons.layered), which simulates a layer at a time. With
  ``density`` < 1 each weight matrix keeps a fixed random fraction ``density`` of its
  synapses (the same mask for every genome, drawn from ``mask_seed``), and only those
  have genes: a 10^6-gene genome can then be a sparse network of thousands of neurons.

A genome is a row of a (P, D) float matrix. Its segments, in order:

- weights (if evolved): input->hidden (n_in x H), hidden->hidden (H x H, if ``recurrent``),
  hidden->output (H x n_out); with H = 0, input->output (n_in x n_out). Layered: for each
  layer in order (the hidden layers, then the outputs) its input weights (n_prev x n, row
  major; with a mask only the kept synapses), then its recurrent weights (hidden layers,
  if ``recurrent``);
- thresholds (if evolved): N genes g, ``threshold = threshold0 * exp(g)`` (always > 0);
- betas (if evolved): N genes g, ``beta = sigmoid(logit(beta0) + g)`` (always in [0, 1]);
- biases (if evolved): N genes g, ``bias = bias0 + g``;
- alphas (``neuron = "cuba"``, if evolved): N genes g, ``alpha = sigmoid(logit(alpha0) + g)``;
- rhos (``neuron = "alif"``, if evolved): N genes g, ``rho = sigmoid(logit(rho0) + g)``;
- adaptations (``neuron = "alif"``, if evolved): N genes g, ``b = b0 * exp(g)``;
- delays (``max_delay`` D >= 1, if evolved): one gene per synapse, in the order of the
  weights, ``d = lo + min(floor((D - lo + 1) * sigmoid(g)), D - lo)`` with lo = 0 for input
  synapses and 1 for the others: g = 0 is the middle of lo..D, and a standard logistic g
  is uniform over it.

A gene of 0 gives the default value (for a delay: the middle of its range), and every
real gene maps to a valid network, so a strategy never needs to clip. Neurons
0..n_out-1 are the outputs, n_out..N-1 the hidden. ``neuron`` is the model of every
neuron (lif, alif or cuba; neurons.models); its parameters not evolved take the values
``alpha``, ``rho`` and ``b``. Other models and delays need the dense form (an integer
``hidden``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from neurons import LayeredBatch, NetworkBatch, NetworkError
from neurons.network import MAX_DELAY, MODELS
from neurons.layered import dense_offsets

from ..errors import GenomeError
from .seeded import SeededPopulation

F32_MAX = float(np.finfo(np.float32).max)
SCALED_LIMIT = 1e25  # threshold0 and b0: times e^30 (the clip of their genes' exp) they stay below F32_MAX
GENE_LIMIT = 1e30    # genes, strategies' scales and centres, bias0: beyond this float32 values overflow

__all__ = ["FixedTopology", "EVOLVABLE", "GenomeError"]

EVOLVABLE = ("weights", "thresholds", "betas", "biases", "alphas", "rhos", "adaptations", "delays")
_MODEL_GENES = {"lif": (), "alif": ("rhos", "adaptations"), "cuba": ("alphas",)}


class FixedTopology:
    """Maps a (P, D) matrix to a NetworkBatch in one vectorized call."""

    def __init__(self, n_in: int, n_out: int, *, hidden: int | Sequence[int] = 8, recurrent: bool = True,
                 evolve: Sequence[str] | None = None,
                 threshold: float = 1.0, beta: float = 0.9, bias: float = 0.0, density: float = 1.0,
                 mask_seed: int = 0, neuron: str = "lif", max_delay: int = 0, alpha: float = 0.5,
                 rho: float = 0.95, b: float = 0.5) -> None:
        """``evolve`` None: weights, thresholds, betas, the parameters of ``neuron`` and, with
        ``max_delay`` >= 1, delays."""
        if neuron not in MODELS:
            raise GenomeError(f"genome.neuron: {neuron!r}; expected one of {', '.join(MODELS)}")
        if isinstance(max_delay, bool) or not isinstance(max_delay, (int, np.integer)) or \
                not 0 <= int(max_delay) <= MAX_DELAY:
            raise GenomeError(f"genome.max_delay: {max_delay!r}; expected an integer in 0..{MAX_DELAY} "
                              "(0: no delay genes, every synapse has the default delay)")
        for name, value in (("alpha", alpha), ("rho", rho)):
            if not 0 <= value < 1:
                raise GenomeError(f"genome.{name}: {value}; expected a value in [0, 1)")
        if not 0 < b <= SCALED_LIMIT:
            raise GenomeError(f"genome.b: {b}; expected a value > 0 and at most {SCALED_LIMIT:.3g} (b e^30, the "
                              f"largest an evolved gene makes it, stays a float32 value)")
        self.neuron, self.max_delay = str(neuron), int(max_delay)
        self.alpha0, self.rho0, self.b0 = float(alpha), float(rho), float(b)
        if evolve is None:
            evolve = ("weights", "thresholds", "betas") + _MODEL_GENES[neuron] + (("delays",) if max_delay else ())
        if isinstance(evolve, str) or not isinstance(evolve, (list, tuple)):
            raise GenomeError(f"genome.evolve: {evolve!r}; expected a list of some of {', '.join(EVOLVABLE)}")
        for name in evolve:
            model = next((m for m, genes in _MODEL_GENES.items() if name in genes), None)
            if model is not None and model != neuron:
                raise GenomeError(f"genome.evolve: {name!r} belongs to the {model} neuron model; "
                                  f"genome.neuron is {neuron!r}")
            if name == "delays" and not self.max_delay:
                raise GenomeError("genome.evolve: 'delays' needs genome.max_delay >= 1")
        if self.max_delay and "delays" not in evolve:
            raise GenomeError(f"genome.max_delay: {self.max_delay} without 'delays' in genome.evolve changes nothing "
                              f"(every synapse keeps its default delay); add 'delays' to evolve, or set max_delay = 0")
        self.layered = isinstance(hidden, (list, tuple))
        if self.layered and (neuron != "lif" or self.max_delay):
            raise GenomeError(f"genome.hidden: {list(hidden)!r}; the {neuron} neuron model"
                              f"{' with delays' if self.max_delay else ''} needs a dense network: give hidden "
                              "as an integer")
        layers = list(hidden) if self.layered else [hidden]
        if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or int(h) < 0 or
               (self.layered and int(h) < 1) for h in layers):
            raise GenomeError(f"genome.hidden: {hidden!r}; expected an integer >= 0, or a list of layer sizes >= 1")
        if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0 < float(density) <= 1:
            raise GenomeError(f"genome.density: {density!r}; expected a number in (0, 1]")
        if float(density) < 1 and not self.layered:
            raise GenomeError(f"genome.density: {density}; connectivity masks need layers: give hidden as a "
                              f"list of sizes (e.g. hidden = [{int(hidden)}])")
        if isinstance(mask_seed, bool) or not isinstance(mask_seed, (int, np.integer)) or int(mask_seed) < 0:
            raise GenomeError(f"genome.mask_seed: {mask_seed!r}; expected an integer >= 0")
        self.density, self.mask_seed = float(density), int(mask_seed)
        unknown = [e for e in evolve if e not in EVOLVABLE]
        if unknown:
            raise GenomeError(f"genome.evolve: {unknown[0]!r} is not evolvable; expected some of {', '.join(EVOLVABLE)}")
        if not 0 < threshold <= SCALED_LIMIT:
            raise GenomeError(f"genome.threshold: {threshold}; expected a value > 0 and at most {SCALED_LIMIT:.3g} "
                              f"(threshold e^30, the largest an evolved gene makes it, stays a float32 value)")
        if not 0 < beta < 1:
            raise GenomeError(f"genome.beta: {beta}; expected a value in (0, 1)")
        if not abs(bias) <= GENE_LIMIT:
            raise GenomeError(f"genome.bias: {bias}; expected a value from {-GENE_LIMIT:g} to {GENE_LIMIT:g} (it "
                              f"becomes a float32 value)")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.hidden = [int(h) for h in layers] if self.layered else int(hidden)
        self.recurrent = bool(recurrent)
        self.evolve = tuple(e for e in EVOLVABLE if e in evolve)
        self.threshold0, self.beta0, self.bias0 = float(threshold), float(beta), float(bias)
        self.sizes = (self.hidden if self.layered else [self.hidden]) + [self.n_out]  # layered: layer sizes
        self.n_neurons = self.n_out + (sum(self.hidden) if self.layered else self.hidden)
        H, O, N = self.hidden, self.n_out, self.n_neurons
        # (name, shape, where it goes: (array, row slice, column slice))
        segs: list[tuple[str, tuple[int, ...]]] = []
        self.masks: dict[str, np.ndarray | None] = {}  # layered: kept synapses (flat indices), None for all
        if "weights" in self.evolve and self.layered:
            fan_in = self.n_in
            for l, n in enumerate(self.sizes):
                mats = [(f"w{l}", (fan_in, n))]
                if self.recurrent and l < len(self.sizes) - 1:
                    mats.append((f"r{l}", (n, n)))
                for k, (name, shape) in enumerate(mats):
                    mask = self._mask(l, k, shape)
                    self.masks[name] = mask
                    segs.append((name, shape if mask is None else (mask.size,)))
                fan_in = n
        elif "weights" in self.evolve:
            if H:
                segs += [("w_in_hidden", (self.n_in, H))]
                if self.recurrent:
                    segs += [("w_hidden_hidden", (H, H))]
                segs += [("w_hidden_out", (H, O))]
            else:
                segs += [("w_in_out", (self.n_in, O))]
        weight_segs = list(segs)
        self._weights = frozenset(name for name, _ in weight_segs)  # genes that are float32 weights as they are
        self._direct = [name for name, _ in weight_segs] + (["biases"] if "biases" in self.evolve else [])
        for name in ("thresholds", "betas", "biases", "alphas", "rhos", "adaptations"):
            if name in self.evolve:
                segs.append((name, (N,)))
        if "delays" in self.evolve:  # one per synapse, in the order of the weights
            segs += [("d" + name, shape) for name, shape in weight_segs] if weight_segs else \
                [("d" + name, shape) for name, shape in self._weight_shapes()]
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

    def _weight_shapes(self) -> list[tuple[str, tuple[int, int]]]:
        """The dense form's weight matrices (name, shape), as the weight genes order them."""
        H, O = self.hidden, self.n_out
        if not H:
            return [("w_in_out", (self.n_in, O))]
        return [("w_in_hidden", (self.n_in, H))] + ([("w_hidden_hidden", (H, H))] if self.recurrent else []) + \
            [("w_hidden_out", (H, O))]

    def _mask(self, layer: int, k: int, shape: tuple[int, int]) -> np.ndarray | None:
        """The flat indices of the kept synapses of one weight matrix (None: all kept)."""
        if self.density >= 1:
            return None
        rng = np.random.default_rng(np.random.SeedSequence(self.mask_seed, spawn_key=(layer, k)))
        keep = np.flatnonzero(rng.random(int(np.prod(shape)), dtype=np.float32) < self.density)
        return keep if keep.size else np.zeros(1, np.int64)  # at least one synapse per matrix

    def bytes_per_network(self) -> int:
        """Memory of one genome (float64) and its compiled network (float32), in bytes."""
        N = self.n_neurons
        if self.layered:
            fan = [self.n_in] + self.sizes[:-1]
            weights = sum(a * b for a, b in zip(fan, self.sizes))
            weights += sum(n * n for n in self.sizes[:-1]) if self.recurrent else 0
            return 8 * self.dim + 4 * (weights + 3 * N)
        return 8 * self.dim + 4 * (self.n_in * N + N * N + 3 * N)

    def config(self) -> dict:
        return dict(hidden=list(self.hidden) if self.layered else self.hidden, recurrent=self.recurrent,
                    evolve=list(self.evolve), threshold=self.threshold0, beta=self.beta0, bias=self.bias0,
                    density=self.density, mask_seed=self.mask_seed, neuron=self.neuron, max_delay=self.max_delay,
                    alpha=self.alpha0, rho=self.rho0, b=self.b0)

    kind = "fixed"

    def genome(self, X: np.ndarray | SeededPopulation, index: int) -> list[float]:
        """Row ``index`` as a JSON-ready list."""
        row = X.row(index) if isinstance(X, SeededPopulation) else np.asarray(X)[int(index)]
        return [float(v) for v in row]

    def decode_genome(self, obj, where: str = "genome") -> np.ndarray:
        """A (1, D) matrix from :meth:`genome`'s list; anything else is a GenomeError."""
        try:
            x = np.asarray(obj, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise GenomeError(f"{where}: expected a list of {self.dim} numbers ({exc})") from None
        if x.shape != (self.dim,):
            raise GenomeError(f"{where}: expected a list of {self.dim} finite numbers for this genome space, "
                              f"got shape {x.shape}")
        if not np.isfinite(x).all():
            bad = int(np.flatnonzero(~np.isfinite(x))[0])
            raise GenomeError(f"{where}: gene {bad} is {x[bad]}; expected a list of {self.dim} finite numbers")
        return x[None]

    def _gene(self, X: np.ndarray, name: str) -> np.ndarray:
        """The genes ``name`` of every row of X, shaped; float64 for every gene a transform reads
        (X may be float32: a seed-described population's genomes, exact in float64)."""
        genes = X[:, self.segments[name]].reshape((X.shape[0],) + self._shapes[name])
        return genes if name in self._weights else genes.astype(np.float64, copy=False)

    def _check_float32(self, X: np.ndarray) -> None:
        """Weight and bias genes become float32 values as they are (the bias plus bias0): a
        GenomeError naming the first one beyond float32's range (compile calls it when a cast
        overflowed)."""
        for name in self._direct:
            seg = self.segments[name]
            genes = X[:, seg] + self.bias0 if name == "biases" else X[:, seg]  # a view: no copy of the weights
            if genes.size and max(genes.max(), -genes.min()) > F32_MAX:
                p, j = np.argwhere(np.abs(genes) > F32_MAX)[0]
                raise GenomeError(f"genome matrix: network {p}, gene {seg.start + j} ({name}): "
                                  f"{float(X[p, seg.start + j]):.6g}; it becomes a float32 value, so "
                                  f"expected at most {F32_MAX:.3g} in magnitude")

    @staticmethod
    def padded_size(X: np.ndarray) -> None:
        """Fixed networks all have the same size: no padding to agree on across chunks."""
        return None

    def compile(self, X: np.ndarray, pad_to: int | None = None) -> NetworkBatch:
        """The networks of the rows of X (a matrix or a SeededPopulation); every genome has the
        same size, so ``pad_to`` is unused."""
        if isinstance(X, SeededPopulation):  # float32 genomes: the weights need no float64 copy
            X = X.take(np.arange(len(X)), np.float32)
        if not (isinstance(X, np.ndarray) and X.dtype == np.float32):
            X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[None]
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise GenomeError(f"genome matrix: shape {X.shape}; expected (P, {self.dim})")
        if not np.isfinite(X).all():
            raise GenomeError("genome matrix: contains NaN or infinity")
        try:
            with np.errstate(over="raise"):  # a gene beyond float32's range: found only then, at no cost before
                return self._compile_layered(X) if self.layered else self._compile_dense(X)
        except (FloatingPointError, NetworkError):  # NetworkBatch refuses a value beyond float32's range
            self._check_float32(X)
            raise

    def _compile_dense(self, X: np.ndarray) -> NetworkBatch:
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
        threshold, beta, bias = self._neuron_params(X)
        return NetworkBatch(w_in, w_rec, threshold, beta, bias, O, **self._model_params(X), **self._delays(X))

    def _model_params(self, X: np.ndarray) -> dict:
        """alpha (cuba) or rho and b (alif), each (P, N), by their transforms."""
        P, N = X.shape[0], self.n_neurons

        def squash(name: str, default: float) -> np.ndarray:
            if name not in self.evolve:
                return np.full((P, N), default)
            logit0 = np.log(default / (1 - default)) if default > 0 else -60.0
            return 1.0 / (1.0 + np.exp(-np.clip(logit0 + self._gene(X, name), -60, 60)))
        if self.neuron == "cuba":
            return {"alpha": squash("alphas", self.alpha0)}
        if self.neuron == "alif":
            b = np.full((P, N), self.b0)
            if "adaptations" in self.evolve:
                b = self.b0 * np.exp(np.clip(self._gene(X, "adaptations"), -30, 30))
            return {"rho": squash("rhos", self.rho0), "b": b}
        return {}

    def _delays(self, X: np.ndarray) -> dict:
        """delay_in and delay_rec by the delay genes' transform (none without delays)."""
        if not self.max_delay:
            return {}
        P, H, O, N, D = X.shape[0], self.hidden, self.n_out, self.n_neurons, self.max_delay
        d_in = np.zeros((P, self.n_in, N), np.int32)
        d_rec = np.ones((P, N, N), np.int32)
        if "delays" not in self.evolve:
            return {"delay_in": d_in, "delay_rec": d_rec}

        def steps(name: str, lo: int) -> np.ndarray:
            g = np.clip(self._gene(X, "d" + name), -60, 60)
            return lo + np.minimum(np.floor((D - lo + 1) / (1.0 + np.exp(-g))), D - lo).astype(np.int32)
        if H:
            d_in[:, :, O:] = steps("w_in_hidden", 0)
            if self.recurrent:
                d_rec[:, O:, O:] = steps("w_hidden_hidden", 1)
            d_rec[:, O:, :O] = steps("w_hidden_out", 1)
        else:
            d_in[:, :, :O] = steps("w_in_out", 0)
        return {"delay_in": d_in, "delay_rec": d_rec}

    def _neuron_params(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(threshold, beta, bias), each (P, N): outputs first, then the hidden neurons."""
        P, N = X.shape[0], self.n_neurons
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
        return threshold, beta, bias

    def _compile_layered(self, X: np.ndarray) -> LayeredBatch:
        P, sizes = X.shape[0], self.sizes
        fan = [self.n_in] + sizes[:-1]
        weights, recurrent = [], []
        for l, n in enumerate(sizes):
            mats = []
            for name, shape in ((f"w{l}", (fan[l], n)), (f"r{l}", (n, n))):
                if name not in self.segments:
                    mats.append(None if name.startswith("r") else np.zeros((P,) + shape, np.float32))
                    continue
                genes = X[:, self.segments[name]]
                mask = self.masks[name]
                if mask is None:
                    w = genes.reshape((P,) + shape).astype(np.float32)
                else:
                    w = np.zeros((P, shape[0] * shape[1]), np.float32)
                    w[:, mask] = genes
                    w = w.reshape((P,) + shape)
                mats.append(w)
            weights.append(mats[0])
            recurrent.append(mats[1])
        params = self._neuron_params(X)
        cols = [slice(a, a + n) for a, n in zip(dense_offsets(sizes), sizes)]  # outputs first, then hidden
        split = [tuple(np.ascontiguousarray(p[:, c]) for c in cols) for p in params]
        return LayeredBatch(tuple(weights), tuple(recurrent), *split)
