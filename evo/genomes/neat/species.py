"""Compatibility distance and speciation (Stanley & Miikkulainen 2002, section 3.3).

    delta = c_excess * E / N + c_disjoint * D / N + c_weight * W + c_neuron * U + c_delay * T

E and D count the excess and disjoint connection genes, N is the larger genome's gene
count (1 when both have fewer than 20 genes, as in the paper), W is the mean absolute
weight difference of matching connections, U the mean absolute difference of matching
neurons' parameters (|d threshold| + |d beta| + |d bias|) and T the mean absolute delay
difference of matching connections, in steps (the term is left out when ``c_delay`` is 0).
"""
from __future__ import annotations

import numpy as np

from .population import NeatPopulation

__all__ = ["distance", "align", "assign_species"]

SMALL_GENOME = 20


def align(a: NeatPopulation, b: NeatPopulation, defaults: tuple[float, float, float]) -> tuple[NeatPopulation, NeatPopulation]:
    """Both populations over the union of their columns."""
    a2 = a.aligned(b.innov, b.src, b.dst, b.node, defaults)
    b2 = b.aligned(a2.innov, a2.src, a2.dst, a2.node, defaults)
    return a2, b2


def distance(a: NeatPopulation, b: NeatPopulation, coefficients: tuple[float, ...],
             defaults: tuple[float, float, float]) -> np.ndarray:
    """(len(a), len(b)) compatibility distances; ``coefficients`` is (c_excess, c_disjoint,
    c_weight, c_neuron) or the same followed by c_delay."""
    if not (_same(a.innov, b.innov) and _same(a.node, b.node)):
        a, b = align(a, b, defaults)
    c_exc, c_dis, c_w, c_n = coefficients[:4]
    c_d = float(coefficients[4]) if len(coefficients) > 4 else 0.0
    pa, pb = a.present.astype(np.float64), b.present.astype(np.float64)
    na, nb = pa.sum(1), pb.sum(1)
    L = pa.shape[1]
    match = pa @ pb.T
    idx = np.arange(L)
    last_a = np.max(np.where(a.present, idx, -1), axis=1, initial=-1)  # -1: no gene (none at all where L = 0)
    last_b = np.max(np.where(b.present, idx, -1), axis=1, initial=-1)
    cum_a = np.concatenate([np.zeros((len(a), 1)), np.cumsum(pa, axis=1)], axis=1)  # genes in cols < k
    cum_b = np.concatenate([np.zeros((len(b), 1)), np.cumsum(pb, axis=1)], axis=1)
    above_a = na[:, None] - cum_a[:, last_b + 1]          # a's genes beyond b's last gene
    above_b = (nb[:, None] - cum_b[:, last_a + 1]).T      # b's genes beyond a's last gene
    excess = above_a + above_b
    disjoint = na[:, None] + nb[None, :] - 2 * match - excess
    big = np.maximum(na[:, None], nb[None, :])
    norm = np.where(big < SMALL_GENOME, 1.0, big)
    wdiff = _pair_sum(a.weight, b.weight, a.present, b.present)
    w_mean = np.divide(wdiff, match, out=np.zeros_like(match), where=match > 0)
    qa, qb = a.node_present.astype(np.float64), b.node_present.astype(np.float64)
    nmatch = qa @ qb.T
    fa = np.concatenate([a.threshold, a.beta, a.bias], axis=1)
    fb = np.concatenate([b.threshold, b.beta, b.bias], axis=1)
    ndiff = _pair_sum(fa, fb, np.tile(a.node_present, 3), np.tile(b.node_present, 3))
    n_mean = np.divide(ndiff, nmatch, out=np.zeros_like(nmatch), where=nmatch > 0)
    delta = c_exc * excess / norm + c_dis * disjoint / norm + c_w * w_mean + c_n * n_mean
    if c_d:
        ddiff = _pair_sum(a.delay, b.delay, a.present, b.present)
        delta = delta + c_d * np.divide(ddiff, match, out=np.zeros_like(match), where=match > 0)
    return delta


def _same(x: np.ndarray, y: np.ndarray) -> bool:
    return x is y or (x.shape == y.shape and bool(np.array_equal(x, y)))


def _pair_sum(xa: np.ndarray, xb: np.ndarray, ma: np.ndarray, mb: np.ndarray) -> np.ndarray:
    """(A, B): sum over columns present in both of |xa - xb|."""
    cols = mb.any(axis=0) & ma.any(axis=0)  # only columns both sides use can contribute
    xa, xb, ma, mb = xa[:, cols], xb[:, cols], ma[:, cols], mb[:, cols]
    diff = xa.astype(np.float32)[:, None, :] - xb.astype(np.float32)[None, :, :]
    np.abs(diff, out=diff)
    diff *= ma[:, None, :] & mb[None, :, :]
    return diff.sum(axis=2, dtype=np.float64)


def assign_species(pop: NeatPopulation, reps: NeatPopulation, rep_ids: np.ndarray, next_id: int,
                   threshold: float, coefficients, defaults) -> tuple[np.ndarray, NeatPopulation, np.ndarray, int]:
    """Speciate ``pop`` against last generation's representatives.

    As in neat-python: each existing species first takes the genome closest to its old
    representative as its new representative; every other genome joins the species of the
    closest representative within ``threshold`` (new species founded earlier in index order
    included), or founds a new species. Returns (species id per genome, new representatives, their ids, next free id).
    """
    P = len(pop)
    species = np.full(P, -1, np.int64)
    new_rep_rows: list[int] = []
    new_ids: list[int] = []
    if len(reps):
        d_old = distance(pop, reps, coefficients, defaults)  # (P, S)
        free = np.ones(P, bool)
        for s in range(len(reps)):
            if not free.any():
                break
            i = int(np.argmin(np.where(free, d_old[:, s], np.inf)))
            free[i] = False
            species[i] = rep_ids[s]
            new_rep_rows.append(i)
            new_ids.append(int(rep_ids[s]))
    best_d, best_id = np.full(P, np.inf), np.full(P, -1, np.int64)
    if new_rep_rows:
        d_new = distance(pop, pop.take(new_rep_rows), coefficients, defaults)  # (P, S')
        best = np.argmin(d_new, axis=1)
        best_d, best_id = d_new[np.arange(P), best], np.asarray(new_ids)[best]
        ok = (species < 0) & (best_d < threshold)
        species[ok] = best_id[ok]
    for i in np.flatnonzero(species < 0):
        if best_d[i] < threshold:  # close enough to a species founded earlier in this loop
            species[i] = best_id[i]
            continue
        new_rep_rows.append(int(i))
        new_ids.append(next_id)
        species[i] = next_id
        later = np.flatnonzero((species < 0) & (np.arange(P) > i))
        if later.size:
            d = distance(pop.take(later), pop.take([i]), coefficients, defaults)[:, 0]
            closer = d < best_d[later]
            best_d[later[closer]], best_id[later[closer]] = d[closer], next_id
        next_id += 1
    return species, pop.take(new_rep_rows).compact(), np.asarray(new_ids, np.int64), next_id
