"""A NEAT population stored as arrays: one column per gene, one row per genome.

Node ids: inputs are ``0 .. n_in-1`` (implicit, always present, no parameters), outputs
``n_in .. n_in+n_out-1`` (always present), hidden nodes ``>= n_in+n_out``.

Columns are shared by the whole population and sorted: connection columns by innovation
number, node columns by id. A genome owns a gene where its row is ``present``; genes that
two genomes share sit in the same column, so crossover and compatibility distance align
genes by innovation number with plain array indexing.

Connection genes, columns ``(L,)``: ``innov``, ``src``, ``dst``; rows ``(P, L)``:
``present``, ``enabled`` (only where present), ``weight`` and ``delay`` (int16 steps: from an
input 0 .. MAX_DELAY, between neurons 1 .. MAX_DELAY; a gene a genome lacks holds the default,
0 from an input and 1 otherwise, which is also every delay of a run without delays).
Node genes (outputs and hidden), columns ``(K,)``: ``node``; rows ``(P, K)``:
``node_present``, ``threshold`` (> 0), ``beta`` (in (0, 1)) and ``bias``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from neurons.network import MAX_DELAY

__all__ = ["NeatPopulation", "ROW_FIELDS", "CONN_ROWS", "NODE_ROWS"]

CONN_ROWS = ("present", "enabled", "weight", "delay")
DELAY_DTYPE = np.int16
NODE_ROWS = ("node_present", "threshold", "beta", "bias")
ROW_FIELDS = CONN_ROWS + NODE_ROWS


@dataclass
class NeatPopulation:
    n_in: int
    n_out: int
    innov: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    present: np.ndarray
    enabled: np.ndarray
    weight: np.ndarray
    node: np.ndarray
    node_present: np.ndarray
    threshold: np.ndarray
    beta: np.ndarray
    bias: np.ndarray
    delay: np.ndarray | None = None  # None: every gene at its default delay

    def __post_init__(self) -> None:
        if self.delay is None:
            self.delay = np.broadcast_to(self.default_delays(), self.present.shape).astype(DELAY_DTYPE)

    def default_delays(self, src: np.ndarray | None = None) -> np.ndarray:
        """The default delay of connections from ``src`` (default: every column): 0 from an input, else 1."""
        src = self.src if src is None else np.asarray(src)
        return (src >= self.n_in).astype(DELAY_DTYPE)

    # ---- shape and views -------------------------------------------------------------------
    def __len__(self) -> int:
        return self.present.shape[0]

    @property
    def size(self) -> int:
        return len(self)

    @property
    def is_hidden(self) -> np.ndarray:
        """(K,) bool: node columns that are hidden nodes."""
        return self.node >= self.n_in + self.n_out

    def hidden_counts(self) -> np.ndarray:
        return (self.node_present & self.is_hidden).sum(axis=1)

    def enabled_counts(self) -> np.ndarray:
        return self.enabled.sum(axis=1)

    def take(self, rows) -> "NeatPopulation":
        """The genomes ``rows`` (an index array), sharing the column layout."""
        rows = np.asarray(rows, dtype=np.int64)
        return replace(self, **{f: getattr(self, f)[rows] for f in ROW_FIELDS})

    def copy(self) -> "NeatPopulation":
        return replace(self, **{f.name: np.array(getattr(self, f.name)) for f in fields(self)
                                if isinstance(getattr(self, f.name), np.ndarray)})

    # ---- columns ---------------------------------------------------------------------------
    def node_columns(self, ids: np.ndarray) -> np.ndarray:
        """Column index of each node id (which must have a column)."""
        return np.searchsorted(self.node, ids)

    def conn_columns(self, innov: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.innov, innov)

    def with_connections(self, innov: np.ndarray, src: np.ndarray, dst: np.ndarray) -> "NeatPopulation":
        """Add (absent) columns for the innovations that have none yet."""
        innov = np.asarray(innov, np.int64)
        new, first = np.unique(innov[~np.isin(innov, self.innov)], return_index=True)
        if not new.size:
            return self
        pos = np.flatnonzero(~np.isin(innov, self.innov))[first]
        all_innov = np.concatenate([self.innov, new])
        order = np.argsort(all_innov, kind="stable")
        P, n = len(self), new.size

        def grow(a, fill):
            return np.concatenate([a, np.full((P, n), fill, a.dtype)], axis=1)[:, order]

        new_src = np.asarray(src, np.int64)[pos]
        delay = np.concatenate([self.delay, np.broadcast_to(self.default_delays(new_src), (P, n))], axis=1)
        return replace(self, innov=all_innov[order],
                       src=np.concatenate([self.src, new_src])[order],
                       dst=np.concatenate([self.dst, np.asarray(dst, np.int64)[pos]])[order],
                       present=grow(self.present, False), enabled=grow(self.enabled, False),
                       weight=grow(self.weight, 0.0), delay=delay[:, order])

    def with_nodes(self, ids: np.ndarray, threshold: float, beta: float, bias: float) -> "NeatPopulation":
        """Add (absent) columns for node ids that have none yet, with default parameters."""
        new = np.unique(np.asarray(ids, np.int64))
        new = new[~np.isin(new, self.node)]
        if not new.size:
            return self
        all_ids = np.concatenate([self.node, new])
        order = np.argsort(all_ids, kind="stable")
        P, n = len(self), new.size

        def grow(a, fill):
            return np.concatenate([a, np.full((P, n), fill, a.dtype)], axis=1)[:, order]

        return replace(self, node=all_ids[order], node_present=grow(self.node_present, False),
                       threshold=grow(self.threshold, threshold), beta=grow(self.beta, beta),
                       bias=grow(self.bias, bias))

    def aligned(self, innov: np.ndarray, src: np.ndarray, dst: np.ndarray, node: np.ndarray,
                defaults: tuple[float, float, float]) -> "NeatPopulation":
        """This population over a superset of its columns (absent genes where it had none)."""
        return self.with_connections(innov, src, dst).with_nodes(node, *defaults)

    def compact(self) -> "NeatPopulation":
        """Drop columns no genome owns (the outputs' columns always stay)."""
        keep_c = self.present.any(axis=0)
        keep_n = self.node_present.any(axis=0) | ~self.is_hidden
        out = self
        if not keep_c.all():
            out = replace(out, innov=out.innov[keep_c], src=out.src[keep_c], dst=out.dst[keep_c],
                          present=out.present[:, keep_c], enabled=out.enabled[:, keep_c],
                          weight=out.weight[:, keep_c], delay=out.delay[:, keep_c])
        if not keep_n.all():
            out = replace(out, node=out.node[keep_n], node_present=out.node_present[:, keep_n],
                          threshold=out.threshold[:, keep_n], beta=out.beta[:, keep_n],
                          bias=out.bias[:, keep_n])
        return out

    # ---- saving ----------------------------------------------------------------------------
    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {prefix + f.name: np.asarray(getattr(self, f.name)) for f in fields(self)
                if f.name not in ("n_in", "n_out")}

    @classmethod
    def from_arrays(cls, n_in: int, n_out: int, arrays: dict[str, Any], prefix: str = "") -> "NeatPopulation":
        """Read :meth:`arrays`' output back; arrays saved without delays get the default delays."""
        kw = {}
        for f in fields(cls):
            if f.name in ("n_in", "n_out"):
                continue
            if f.name == "delay" and prefix + f.name not in arrays:
                continue
            kw[f.name] = np.asarray(arrays[prefix + f.name])
        for name in ("innov", "src", "dst", "node"):
            kw[name] = kw[name].astype(np.int64)
        for name in ("present", "enabled", "node_present"):
            kw[name] = kw[name].astype(bool)
        for name in ("weight", "threshold", "beta", "bias"):
            kw[name] = kw[name].astype(np.float64)
        if "delay" in kw:
            d = kw["delay"]
            if d.dtype.kind not in "iu" or (d.size and (d.min() < 0 or d.max() > MAX_DELAY)):
                raise ValueError(f"neat population: delays must be integers in 0..{MAX_DELAY}")
            kw["delay"] = d.astype(DELAY_DTYPE)
        return cls(int(n_in), int(n_out), **kw)

    def check(self) -> None:
        """Raise ValueError unless every genome is a valid graph (used by tests and on load)."""
        P, L, K = len(self), self.innov.size, self.node.size
        for name in CONN_ROWS:
            if getattr(self, name).shape != (P, L):
                raise ValueError(f"neat population: {name} has shape {getattr(self, name).shape}; expected ({P}, {L})")
        for name in NODE_ROWS:
            if getattr(self, name).shape != (P, K):
                raise ValueError(f"neat population: {name} has shape {getattr(self, name).shape}; expected ({P}, {K})")
        if self.src.shape != (L,) or self.dst.shape != (L,) or self.node.shape != (K,):
            raise ValueError("neat population: column arrays do not match the row arrays")
        if np.any(np.diff(self.innov) <= 0):
            raise ValueError("neat population: innovation numbers must be unique and sorted")
        if np.unique(self.src * (1 << 32) + self.dst).size != L:
            raise ValueError("neat population: two innovation numbers for the same connection")
        if np.any(np.diff(self.node) <= 0):
            raise ValueError("neat population: node ids must be unique and sorted")
        outs = self.n_in + np.arange(self.n_out)
        if not np.isin(outs, self.node).all() or not self.node_present[:, np.isin(self.node, outs)].all():
            raise ValueError("neat population: every genome must have all output nodes")
        if np.any(self.node < self.n_in):
            raise ValueError("neat population: input ids are not node genes")
        if np.any(self.enabled & ~self.present):
            raise ValueError("neat population: a connection is enabled but not present")
        if np.any(self.dst < self.n_in):
            raise ValueError("neat population: a connection targets an input")
        if not np.isin(self.dst, self.node).all() or not np.isin(self.src[self.src >= self.n_in], self.node).all():
            raise ValueError("neat population: a connection refers to a node that has no column")
        dst_ok = self.node_present[:, self.node_columns(self.dst)]
        src_col = self.node_columns(np.maximum(self.src, self.n_in))
        src_ok = np.where(self.src < self.n_in, True, self.node_present[:, src_col])
        if np.any(self.present & ~(dst_ok & src_ok)):
            raise ValueError("neat population: a genome has a connection to or from a node it lacks")
        for name in ("weight", "threshold", "beta", "bias"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"neat population: {name} contains NaN or infinity")
        if np.any(self.threshold <= 0) or np.any((self.beta < 0) | (self.beta > 1)):
            raise ValueError("neat population: thresholds must be > 0 and betas in [0, 1]")
        low = self.default_delays()
        if np.any((self.delay < low) | (self.delay > MAX_DELAY)):
            raise ValueError(f"neat population: delays must lie in 0..{MAX_DELAY} from an input and "
                             f"1..{MAX_DELAY} between neurons")
