"""The innovation registry: the same new structure always gets the same number.

A connection (source, target) has one innovation number for the whole run, whichever
genome creates it and whenever. Splitting connection ``c`` always creates the same node id
and the same two connections (source -> node, node -> target), so genomes that make the
same structural change in the same generation (or later) stay aligned for crossover and
speciation. New numbers are handed out in sorted order of the new keys, so a generation's
numbering does not depend on the order in which genomes are processed.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["InnovationRegistry"]

_SHIFT = np.int64(1 << 32)


def _key(src, dst) -> np.ndarray:
    return np.asarray(src, np.int64) * _SHIFT + np.asarray(dst, np.int64)


class InnovationRegistry:
    def __init__(self, n_in: int, n_out: int) -> None:
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.keys = np.zeros(0, np.int64)      # sorted (src << 32 | dst)
        self.innov = np.zeros(0, np.int64)     # innovation of each key
        self.split_of = np.zeros(0, np.int64)  # sorted innovation numbers that were split
        self.split_node = np.zeros(0, np.int64)
        self.next_innov = 0
        self.next_node = self.n_in + self.n_out

    def connections(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """The innovation number of each connection, registering new ones."""
        keys = _key(src, dst)
        if not keys.size:
            return np.zeros(0, np.int64)
        new = np.unique(keys[~np.isin(keys, self.keys)])
        if new.size:
            numbers = self.next_innov + np.arange(new.size, dtype=np.int64)
            self.next_innov += int(new.size)
            all_keys = np.concatenate([self.keys, new])
            order = np.argsort(all_keys, kind="stable")
            self.keys = all_keys[order]
            self.innov = np.concatenate([self.innov, numbers])[order]
        return self.innov[np.searchsorted(self.keys, keys)]

    def split(self, innov: np.ndarray, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Split connections ``innov`` (src -> dst): (new node ids, innov src->node, innov node->dst)."""
        innov = np.asarray(innov, np.int64)
        new = np.unique(innov[~np.isin(innov, self.split_of)])
        if new.size:
            ids = self.next_node + np.arange(new.size, dtype=np.int64)
            self.next_node += int(new.size)
            all_split = np.concatenate([self.split_of, new])
            order = np.argsort(all_split, kind="stable")
            self.split_of = all_split[order]
            self.split_node = np.concatenate([self.split_node, ids])[order]
        node = self.split_node[np.searchsorted(self.split_of, innov)] if innov.size else np.zeros(0, np.int64)
        return node, self.connections(src, node), self.connections(node, dst)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"next_innov": self.next_innov, "next_node": self.next_node},
                {"reg_keys": self.keys, "reg_innov": self.innov, "reg_split_of": self.split_of,
                 "reg_split_node": self.split_node})

    @classmethod
    def from_state(cls, n_in: int, n_out: int, meta: dict[str, Any], arrays: dict) -> "InnovationRegistry":
        reg = cls(n_in, n_out)
        reg.next_innov, reg.next_node = int(meta["next_innov"]), int(meta["next_node"])
        reg.keys = np.asarray(arrays["reg_keys"], np.int64)
        reg.innov = np.asarray(arrays["reg_innov"], np.int64)
        reg.split_of = np.asarray(arrays["reg_split_of"], np.int64)
        reg.split_node = np.asarray(arrays["reg_split_node"], np.int64)
        return reg
