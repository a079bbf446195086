"""The NEAT genome space: initial populations, compilation to a NetworkBatch, genome JSON.

Compilation (one vectorized call for the whole population): genome p's neurons are its
present node genes in id order, so its outputs are neurons ``0 .. n_out-1`` and its hidden
nodes follow; networks are padded to the largest genome (docs/design.md, "Networks"). An enabled
connection from input i goes to ``w_in[p, i, j]``; one from node a to node b goes to
``w_rec[p, a, b]`` (one step of delay), and a self-loop is such a connection with a = b.
With ``max_delay`` >= 1 the connections' delays go to ``delay_in[p, i, j]`` and
``delay_rec[p, a, b]`` alike (padding and absent synapses: 0 and 1, the defaults).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from neurons import NetworkBatch
from neurons.network import MAX_DELAY

from ...errors import GenomeError
from ..fixed import GENE_LIMIT
from .innovations import InnovationRegistry
from .population import NeatPopulation

__all__ = ["NeatSpace", "INITIAL"]

INITIAL = ("full", "partial", "none")


class NeatSpace:
    """Genomes of a NEAT run with ``n_in`` inputs and ``n_out`` outputs.

    Options: ``recurrent`` allows cycles and self-loops (otherwise add-connection keeps the
    graph acyclic); ``initial`` is the starting topology: every input connected to every
    output (``full``), each such connection present with probability ``initial_fraction``
    (``partial``), or none (``none``); initial weights are N(0, ``weight_std``); new neurons
    start at ``threshold``, ``beta`` and ``bias``. ``max_delay`` D >= 1 gives every
    connection gene an evolvable delay in steps, 0 .. D from an input and 1 .. D between
    neurons, starting at 0 and 1; 0 (the default) has no delays: every synapse keeps the
    default, and networks compile without delay arrays.
    """

    kind = "neat"

    def __init__(self, n_in: int, n_out: int, *, recurrent: bool = True, initial: str = "full",
                 initial_fraction: float = 0.5, weight_std: float = 1.0, threshold: float = 1.0,
                 beta: float = 0.9, bias: float = 0.0, max_delay: int = 0) -> None:
        if initial not in INITIAL:
            raise GenomeError(f"genome.initial: {initial!r}; expected one of {', '.join(INITIAL)}")
        if not 0 < initial_fraction <= 1:
            raise GenomeError(f"genome.initial_fraction: {initial_fraction}; expected a value in (0, 1]")
        if not 0 < weight_std <= GENE_LIMIT:
            raise GenomeError(f"genome.weight_std: {weight_std}; expected a value > 0 and at most {GENE_LIMIT:g}")
        if not 1e-3 <= threshold <= 1e3:
            raise GenomeError(f"genome.threshold: {threshold}; expected a value in [0.001, 1000] (mutation keeps "
                              f"thresholds there)")
        if not abs(bias) <= GENE_LIMIT:
            raise GenomeError(f"genome.bias: {bias}; expected a value from {-GENE_LIMIT:g} to {GENE_LIMIT:g} (it "
                              f"becomes a float32 value)")
        if not 0 < beta < 1:
            raise GenomeError(f"genome.beta: {beta}; expected a value in (0, 1)")
        if isinstance(max_delay, bool) or not isinstance(max_delay, (int, np.integer)) or \
                not 0 <= int(max_delay) <= MAX_DELAY:
            raise GenomeError(f"genome.max_delay: {max_delay!r}; expected an integer in 0..{MAX_DELAY} "
                              "(0: no delays, every synapse has the default delay)")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.recurrent, self.initial_kind = bool(recurrent), initial
        self.initial_fraction, self.weight_std = float(initial_fraction), float(weight_std)
        self.threshold0, self.beta0, self.bias0 = float(threshold), float(beta), float(bias)
        self.max_delay = int(max_delay)

    @property
    def defaults(self) -> tuple[float, float, float]:
        return self.threshold0, self.beta0, self.bias0

    def bytes_per_network(self) -> int:
        """Memory of one initial genome (node and connection genes) and its compiled network, in
        bytes; genomes grow as they evolve."""
        N, C = self.n_out, self.n_in * self.n_out
        compiled = 4 * (self.n_in * N + N * N + 3 * N)
        return 28 * C + 40 * N + (2 if self.max_delay else 1) * compiled

    def config(self) -> dict:
        return dict(recurrent=self.recurrent, initial=self.initial_kind, initial_fraction=self.initial_fraction,
                    weight_std=self.weight_std, threshold=self.threshold0, beta=self.beta0, bias=self.bias0,
                    max_delay=self.max_delay)

    def empty(self, size: int) -> NeatPopulation:
        """``size`` genomes with the output nodes and no connections."""
        P, O = int(size), self.n_out
        return NeatPopulation(
            self.n_in, O, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
            np.zeros((P, 0), bool), np.zeros((P, 0), bool), np.zeros((P, 0)),
            self.n_in + np.arange(O, dtype=np.int64), np.ones((P, O), bool),
            np.full((P, O), self.threshold0), np.full((P, O), self.beta0), np.full((P, O), self.bias0))

    def initial(self, size: int, rng: np.random.Generator, registry: InnovationRegistry) -> NeatPopulation:
        pop = self.empty(size)
        if self.initial_kind == "none":
            return pop
        src, dst = np.meshgrid(np.arange(self.n_in), self.n_in + np.arange(self.n_out), indexing="ij")
        innov = registry.connections(src.ravel(), dst.ravel())
        pop = pop.with_connections(innov, src.ravel(), dst.ravel())
        P, L = len(pop), pop.innov.size
        present = np.ones((P, L), bool)
        if self.initial_kind == "partial":
            present = rng.random((P, L)) < self.initial_fraction
        pop.present, pop.enabled = present, present.copy()
        pop.weight = np.where(present, rng.normal(0.0, self.weight_std, (P, L)), 0.0)
        return pop

    def _check_pop(self, pop: Any) -> NeatPopulation:
        if not isinstance(pop, NeatPopulation):
            raise GenomeError(f"neat genome space: expected a NeatPopulation, got {type(pop).__name__}")
        if pop.n_in != self.n_in or pop.n_out != self.n_out:
            raise GenomeError(f"neat genomes have {pop.n_in} inputs and {pop.n_out} outputs; this space "
                              f"has {self.n_in} and {self.n_out}")
        return pop

    @staticmethod
    def padded_size(pop: NeatPopulation) -> int:
        """Neurons per network when the whole population is compiled at once."""
        return int(pop.node_present.sum(axis=1).max())

    def compile(self, pop: NeatPopulation, pad_to: int | None = None) -> NetworkBatch:
        """The population's networks, padded to its largest genome or to ``pad_to`` neurons
        (chunks of one population compiled separately pad alike, so they simulate alike)."""
        pop = self._check_pop(pop)
        P = len(pop)
        pos = np.cumsum(pop.node_present, axis=1) - 1  # (P, K): neuron index of each present node
        N = max(self.padded_size(pop), int(pad_to or 0))
        w_in = np.zeros((P, self.n_in, N), np.float32)
        w_rec = np.zeros((P, N, N), np.float32)
        threshold = np.full((P, N), np.inf, np.float32)
        beta = np.zeros((P, N), np.float32)
        bias = np.zeros((P, N), np.float32)
        p, k = np.nonzero(pop.node_present)
        threshold[p, pos[p, k]] = pop.threshold[p, k]
        beta[p, pos[p, k]] = pop.beta[p, k]
        bias[p, pos[p, k]] = pop.bias[p, k]
        p, l = np.nonzero(pop.enabled)
        src, dst, w = pop.src[l], pop.dst[l], pop.weight[p, l]
        j = pos[p, pop.node_columns(dst)]
        from_in = src < self.n_in
        w_in[p[from_in], src[from_in], j[from_in]] = w[from_in]
        hid = ~from_in
        i = pos[p[hid], pop.node_columns(src[hid])]
        w_rec[p[hid], i, j[hid]] = w[hid]
        if not self.max_delay:
            return NetworkBatch(w_in, w_rec, threshold, beta, bias, self.n_out)
        d = pop.delay[p, l]
        delay_in = np.zeros((P, self.n_in, N), np.int32)
        delay_rec = np.ones((P, N, N), np.int32)
        delay_in[p[from_in], src[from_in], j[from_in]] = d[from_in]
        delay_rec[p[hid], i, j[hid]] = d[hid]
        return NetworkBatch(w_in, w_rec, threshold, beta, bias, self.n_out, delay_in=delay_in, delay_rec=delay_rec)

    # ---- one genome as JSON ----------------------------------------------------------------
    def genome(self, pop: NeatPopulation, index: int) -> dict:
        """Genome ``index`` as a JSON-ready dict of node and connection genes (with
        ``max_delay`` >= 1, each connection also has its ``delay``)."""
        i = int(index)
        kinds = np.where(pop.node < self.n_in + self.n_out, "output", "hidden")
        nodes = [{"id": int(k), "kind": "input"} for k in range(self.n_in)]
        nodes += [{"id": int(pop.node[c]), "kind": str(kinds[c]), "threshold": float(pop.threshold[i, c]),
                   "beta": float(pop.beta[i, c]), "bias": float(pop.bias[i, c])}
                  for c in np.flatnonzero(pop.node_present[i])]
        conns = [{"innovation": int(pop.innov[c]), "source": int(pop.src[c]), "target": int(pop.dst[c]),
                  "weight": float(pop.weight[i, c]), "enabled": bool(pop.enabled[i, c]),
                  **({"delay": int(pop.delay[i, c])} if self.max_delay else {})}
                 for c in np.flatnonzero(pop.present[i])]
        return {"n_in": self.n_in, "n_out": self.n_out, "nodes": nodes, "connections": conns}

    def decode_genome(self, obj: Any, where: str = "genome") -> NeatPopulation:
        """A population of one from :meth:`genome`'s dict; a malformed dict is a GenomeError.
        A connection without ``delay`` has the default (0 from an input, 1 otherwise)."""
        try:
            if int(obj["n_in"]) != self.n_in or int(obj["n_out"]) != self.n_out:
                raise GenomeError(f"{where}: {obj['n_in']} inputs and {obj['n_out']} outputs; the task has "
                                  f"{self.n_in} and {self.n_out}")
            nodes = [n for n in obj["nodes"] if n["kind"] != "input"]
            ids = np.array([int(n["id"]) for n in nodes], np.int64)
            order = np.argsort(ids)
            ids = ids[order]
            par = np.array([[float(n["threshold"]), float(n["beta"]), float(n["bias"])] for n in nodes]).reshape(-1, 3)[order]
            conns = sorted(obj["connections"], key=lambda c: int(c["innovation"]))
            innov = np.array([int(c["innovation"]) for c in conns], np.int64)
            src = np.array([int(c["source"]) for c in conns], np.int64)
            dst = np.array([int(c["target"]) for c in conns], np.int64)
            weight = np.array([float(c["weight"]) for c in conns], np.float64)
            enabled = np.array([bool(c["enabled"]) for c in conns], bool)
            delay = np.array([_delay(c["delay"]) if "delay" in c else int(int(c["source"]) >= self.n_in)
                              for c in conns], np.int64)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, GenomeError):
                raise
            raise GenomeError(f"{where}: malformed NEAT genome ({type(exc).__name__}: {exc})") from None
        L, K = innov.size, ids.size
        low = (src >= self.n_in).astype(np.int64)
        bad = (delay < low) | (delay > np.maximum(low, self.max_delay))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise GenomeError(f"{where}: connection {int(innov[k])} has delay {int(delay[k])}; expected "
                              f"{int(low[k])}..{max(int(low[k]), self.max_delay)} (genome.max_delay = {self.max_delay})")
        pop = NeatPopulation(self.n_in, self.n_out, innov, src, dst, np.ones((1, L), bool), enabled[None],
                             weight[None], ids, np.ones((1, K), bool), par[None, :, 0], par[None, :, 1],
                             par[None, :, 2], delay[None].astype(np.int16))
        try:
            pop.check()
        except ValueError as exc:
            raise GenomeError(f"{where}: {exc}") from None
        return pop


def _delay(value: Any) -> int:
    """A JSON delay: an integer, or a float with no fraction; anything else is a ValueError."""
    ok = (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))) or \
        (isinstance(value, float) and value.is_integer())
    if not ok or abs(value) > 2**31:
        raise ValueError(f"delay {value!r} is not an integer number of steps")
    return int(value)
