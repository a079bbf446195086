"""Compiled LIF kernels (numba, optional): event-driven and fused over time.

The same equations as :mod:`neurons.lif`, in float32, for one network p and sample b::

    I[t] = x[t] @ W_in + s[t-1] @ W_rec + bias
    v[t] = beta * v[t-1] + I[t]
    s[t] = v[t] > threshold
    v[t] = v[t] - threshold * s[t]          # subtract, or v[t] * (1 - s[t]) for zero

Two things make them fast:

- **event-driven sums**: ``I[t]`` is built as ``(x[t] @ W_in + bias)`` plus the rows of
  W_rec of the neurons that spiked, one after the other in increasing neuron order, where
  ``x[t] @ W_in`` adds the rows of W_in of the non-zero inputs; the work scales with
  activity, not with N squared;
- **fusion over time**: a call runs all its steps in compiled code, one block of networks
  at a time, with the block's weights in cache and no Python between steps;
- **sums in registers** (when N is a multiple of 8): a row's ``I[t]``, up to 64 neurons at a
  time, stays in SIMD registers (:mod:`neurons.simd`) while the input rows, the bias and the
  spiking rows are added, and the spikes of a step are kept as bit masks, walked lowest bit
  first. Other N use a scalar kernel with the same sums in the same order.

Sums are taken in a fixed order per (p, b), so a network's spikes do not depend on the
other networks in the batch, on the batch size or on how many steps one call runs. They
can differ from the numpy kernel's BLAS sums in the last bit of a float (the order of a
sum), so a run records its kernel setting (``run.kernel``) and keeps it. Kernels are
compiled on first use and cached on disk (numba ``cache=True``).
"""
from __future__ import annotations

import importlib.util

import numpy as np

from .blocks import BLOCK_ELEMENTS

__all__ = ["AVAILABLE", "BLOCK_ELEMENTS", "jit", "run", "vector_lanes", "vector_model_lanes", "input_current",
           "lif_layer"]

AVAILABLE = importlib.util.find_spec("numba") is not None  # numba is imported on first use


class jit:
    """A function compiled with numba on its first call (cached on disk); without numba,
    calling it raises."""

    def __init__(self, f) -> None:
        self.f, self.compiled = f, None
        self.__doc__, self.__name__ = f.__doc__, f.__name__

    def __call__(self, *args):
        if self.compiled is None:
            import numba
            self.compiled = numba.njit(cache=True, nogil=True, boundscheck=False)(self.f)
        return self.compiled(*args)




def nonzero_inputs(x: np.ndarray, is_current: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """The non-zero inputs of each step, in input order, for the kernels' ``x @ W_in``:
    ``idx[t, xp, b, :n[t, xp, b]]`` (x (T', X, B, K); idx's last axis is as long as the
    longest list), and whether every non-zero input is 1.0 (spikes); empty lists when x is
    a current. One compiled pass over x."""
    if is_current:
        return np.empty((0,) + x.shape[1:], np.int64), np.empty((0,) + x.shape[1:3], np.int64), False
    flat = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    n = np.empty(flat.shape[0], np.int64)
    width, binary = _count_nonzero(flat, n)
    idx = np.empty((flat.shape[0], max(width, 1)), np.int64)
    _list_nonzero(flat, idx)
    return idx.reshape(x.shape[:3] + (idx.shape[1],)), n.reshape(x.shape[:3]), bool(binary)


@jit
def _count_nonzero(flat, n):
    """n[r] = the non-zero entries of row r; returns the largest, and whether all are 1.0."""
    width = 0
    binary = True
    for r in range(flat.shape[0]):
        c = 0
        for k in range(flat.shape[1]):
            c += flat[r, k] != 0.0
            binary &= (flat[r, k] == 0.0) | (flat[r, k] == 1.0)
        n[r] = c
        width = max(width, c)
    return width, binary


@jit
def _list_nonzero(flat, idx):
    """idx[r, :n[r]] = the columns of row r's non-zero entries, in order (the rest is 0)."""
    for r in range(flat.shape[0]):
        c = 0
        for k in range(flat.shape[1]):
            if flat[r, k] != 0.0:
                idx[r, c] = k
                c += 1
        for k in range(c, idx.shape[1]):
            idx[r, k] = 0


def _scalar_run(x, is_current, hold, T, w_in, w_rec, bias, beta, thr, thr_fin, subtract, v, s, counts, first,
                record, spikes) -> None:
    """The scalar kernel (any N); the arguments are those of :func:`_scalar_kernel`."""
    x_idx, x_n, _ = nonzero_inputs(x, is_current)
    _scalar_kernel(x, x_idx, x_n, is_current, hold, T, w_in, w_rec, bias, beta, thr, thr_fin, subtract, v, s,
                   counts, first, record, spikes)


@jit
def _scalar_kernel(x, x_idx, x_n, is_current, hold, T, w_in, w_rec, bias, beta, thr, thr_fin, subtract, v, s,
                   counts, first, record, spikes):
    """Advance every network p and sample b ``T`` steps from the state v, s, counts (P, B, N).

    x is the input: (T', X, B, K) with X = 1 (shared by all networks) or P. With
    ``is_current`` it is the input current itself (K = N), else x[t] @ W_in is computed
    (K = n_in) over its non-zero inputs x_idx, x_n (:func:`nonzero_inputs`). ``hold``:
    use x[0] at every step (T' = 1). ``first`` (P, B, F): lowered to
    the step index of each of neurons 0..F-1's spikes (the caller fills it with T).
    ``record``: write the spikes of step t to ``spikes[t]`` (T, P, B, N).

    Rows (p, b) advance in blocks of about ``BLOCK_ELEMENTS`` neurons, step by step: the
    element-wise update then runs over one long contiguous stretch (fast for small and large
    N alike), the block's weights stay in cache, and recorded spikes are written contiguously.
    """
    P, B, N = v.shape
    X, K = x.shape[1], x.shape[3]
    n_first = first.shape[2]
    n_rows = P * B
    R = max(1, min(n_rows, BLOCK_ELEMENTS // N))
    vf, sf, cf = v.reshape(n_rows * N), s.reshape(n_rows * N), counts.reshape(n_rows * N)
    out = spikes.reshape(spikes.shape[0], spikes.size // max(spikes.shape[0], 1))
    M = R * N
    bias_b, beta_b = np.empty(M, np.float32), np.empty(M, np.float32)
    thr_b, fin_b = np.empty(M, np.float32), np.empty(M, np.float32)
    acc = np.empty(M, np.float32)                         # the input current I[t] of the block
    acc2 = acc.reshape(R, N)  # (row, neuron) view: 2-D indexing vectorizes
    bias2 = bias_b.reshape(R, N)
    spk = np.empty((2, M), np.int64)     # spk[old, :n_prev]: the block's neurons that spiked at t-1
    row_of, col_of = np.empty(M, np.int64), np.empty(M, np.int64)
    for f in range(M):
        row_of[f], col_of[f] = f // N, f % N
    net_of, sample_of = np.empty(R, np.int64), np.empty(R, np.int64)
    for r0 in range(0, n_rows, R):
        rows = min(R, n_rows - r0)
        m, base = rows * N, r0 * N
        vb, sb, cb = vf[base:base + m], sf[base:base + m], cf[base:base + m]
        for q in range(rows):
            p, b = (r0 + q) // B, (r0 + q) % B
            net_of[q], sample_of[q] = p, b
            for j in range(N):
                bias_b[q * N + j], beta_b[q * N + j] = bias[p, j], beta[p, j]
                thr_b[q * N + j], fin_b[q * N + j] = thr[p, j], thr_fin[p, j]
        n_prev = 0
        for f in range(m):
            spk[0, n_prev] = f
            n_prev += np.int64(sb[f] != 0.0)
        old = 0
        for t in range(T):
            new = 1 - old
            tx = 0 if hold else t
            for q in range(rows):
                p, b = net_of[q], sample_of[q]
                xp = 0 if X == 1 else p
                # x[t] @ W_in over the non-zero inputs in order, then + bias, in as few passes
                # over the row as the sums allow (0 + y is y: no pass to clear it first)
                if is_current:
                    for j in range(N):
                        acc2[q, j] = x[tx, xp, b, j] + bias2[q, j]
                    continue
                n_in = x_n[tx, xp, b]
                if n_in == 0:
                    for j in range(N):
                        acc2[q, j] = bias2[q, j]
                    continue
                k = x_idx[tx, xp, b, 0]
                xk = x[tx, xp, b, k]
                if n_in == 1:
                    for j in range(N):
                        acc2[q, j] = xk * w_in[p, k, j] + bias2[q, j]
                    continue
                for j in range(N):
                    acc2[q, j] = xk * w_in[p, k, j]
                for kk in range(1, n_in - 1):
                    k = x_idx[tx, xp, b, kk]
                    xk = x[tx, xp, b, k]
                    for j in range(N):
                        acc2[q, j] += xk * w_in[p, k, j]
                k = x_idx[tx, xp, b, n_in - 1]
                xk = x[tx, xp, b, k]
                for j in range(N):
                    acc2[q, j] = (acc2[q, j] + xk * w_in[p, k, j]) + bias2[q, j]
            kk = 0
            while kk < n_prev:                                        # + s[t-1] @ W_rec, spiking rows: I[t]
                f = spk[old, kk]
                q, i = row_of[f], col_of[f]
                p = net_of[q]
                # Up to four rows of one row q in one pass (the list is sorted, so rows are
                # contiguous in it), still added one after the other: fewer passes over acc.
                if N >= 32 and kk + 3 < n_prev and row_of[spk[old, kk + 3]] == q:
                    i2, i3, i4 = col_of[spk[old, kk + 1]], col_of[spk[old, kk + 2]], col_of[spk[old, kk + 3]]
                    for j in range(N):
                        acc2[q, j] = (((acc2[q, j] + w_rec[p, i, j]) + w_rec[p, i2, j]) + w_rec[p, i3, j]) \
                            + w_rec[p, i4, j]
                    kk += 4
                elif N >= 32 and kk + 1 < n_prev and row_of[spk[old, kk + 1]] == q:
                    i2 = col_of[spk[old, kk + 1]]
                    for j in range(N):
                        acc2[q, j] = (acc2[q, j] + w_rec[p, i, j]) + w_rec[p, i2, j]
                    kk += 2
                else:
                    for j in range(N):
                        acc2[q, j] += w_rec[p, i, j]
                    kk += 1
            for f in range(m):
                vj = vb[f] * beta_b[f]                                # beta * v[t-1]
                vj = vj + acc[f]                                      # + I[t]
                sj = np.float32(1.0) if vj > thr_b[f] else np.float32(0.0)  # s[t] = v[t] > threshold
                sb[f] = sj
                cb[f] += sj
                r = fin_b[f] if subtract else vj                      # v[t] - threshold * s[t], or
                vb[f] = vj - r * sj                                   # v[t] - v[t] * s[t] = v[t] * (1 - s[t])
            n_prev = 0
            for f in range(m):                                        # the neurons that spiked, no branches
                spk[new, n_prev] = f
                n_prev += np.int64(sb[f] != 0.0)
            for q in range(rows):
                for j in range(n_first):
                    p, b = net_of[q], sample_of[q]
                    first[p, b, j] = min(first[p, b, j], t if sb[q * N + j] != 0.0 else T)
            if record:
                ob = out[t, base:base + m]
                for f in range(m):
                    ob[f] = sb[f]
            old = new


@jit
def input_current(x, w_in, out):
    """out = x @ W_in, x (X, B, n_in) with X = 1 (shared) or P, summed over the non-zero
    inputs in order exactly as :func:`run` does; out (P, B, N)."""
    P, B, N = out.shape
    for p in range(P):
        xp = 0 if x.shape[0] == 1 else p
        for b in range(B):
            for j in range(N):
                out[p, b, j] = 0.0
            for k in range(x.shape[2]):
                xk = x[xp, b, k]
                if xk != 0.0:
                    for j in range(N):
                        out[p, b, j] += xk * w_in[p, k, j]


def vector_lanes(n_neurons: int) -> int:
    """How many 8-float vectors of a row the eight-lane vector kernel keeps in registers at once, or 0
    where it does not apply (N not a positive multiple of 8: the scalar kernel runs). Up to
    64 neurons are one chunk; above, the largest of 8, 4, 2, 1 vectors that divides the row,
    so that no chunk crosses a 64-neuron spike word."""
    if n_neurons <= 0 or n_neurons % 8:
        return 0
    vectors = n_neurons // 8
    if vectors <= 8:
        return vectors
    return next(d for d in (8, 4, 2, 1) if vectors % d == 0)


def vector_model_lanes(n_neurons: int) -> tuple[int, int]:
    """(lanes per vector, vectors per chunk) of the vector kernels (:mod:`neurons.vector_kernel`,
    :mod:`neurons.vector_models`) for N neurons, or (0, 0) where they do not apply (N not a
    positive multiple of 8: the scalar kernel runs). Sixteen lanes where N is a multiple of
    16, else eight; a chunk is at most 64 neurons and never crosses a 64-neuron word."""
    if n_neurons <= 0 or n_neurons % 8:
        return 0, 0
    lanes = 16 if n_neurons % 16 == 0 else 8
    vectors = n_neurons // lanes
    per_word = 64 // lanes
    if vectors <= per_word:
        return lanes, vectors
    return lanes, next(d for d in (per_word, per_word // 2, per_word // 4, 1) if d and vectors % d == 0)


def run(x, is_current, hold, T, w_in, w_rec, bias, beta, thr, thr_fin, subtract, v, s, counts, first, record,
        spikes) -> None:
    """Advance every network p and sample b ``T`` steps from the state v, s, counts (P, B, N),
    in place; the arguments are those of :func:`_scalar_kernel`. N a multiple of 8 takes
    the vector kernel, other N the scalar one; both add the same terms in the same order,
    so their spikes are bit-identical. v, s, counts, first and spikes must be C-contiguous."""
    lanes, NV = vector_model_lanes(v.shape[2])
    if NV == 0:
        _scalar_run(x, is_current, hold, T, w_in, w_rec, bias, beta, thr, thr_fin, subtract, v, s, counts, first,
                    record, spikes)
        return
    from .vector_kernel import vector_kernel
    x_idx, x_n, binary = nonzero_inputs(x, is_current)
    kernel = vector_kernel(NV, bool(subtract), bool(record), binary, lanes)
    c = np.ascontiguousarray  # the vector kernel reads rows as flat arrays; no copy when already contiguous
    kernel(c(x), x_idx, x_n, bool(is_current), bool(hold), T, c(w_in), c(w_rec), c(bias), c(beta), c(thr),
           c(thr_fin), v, s, counts, first, spikes)


@jit
def lif_layer(current, constant, T, beta, thr, subtract, v, s, counts, first, has_first, spikes, record):
    """T steps of one layer without recurrent synapses (neurons.layered), element-wise and in
    the numpy path's order of operations, so the two agree bit for bit::

        v = v * beta + current[t];  s = v > thr;  v = v - thr * s  (or v * (1 - s))

    ``current`` (P, T or 1, B, n) with the bias included (1: the same every step, when
    ``constant``); ``v``, ``s``, ``counts`` (P, B, n) updated in place; ``first`` (P, B, n)
    int32 first-spike steps (if ``has_first``); ``spikes`` (P, T, B, n) written if ``record``."""
    P, B, n = v.shape
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for p in range(P):
        bp, tp = beta[p], thr[p]
        for b in range(B):
            vv, ss, cc = v[p, b], s[p, b], counts[p, b]
            for t in range(T):
                cur = current[p, 0 if constant else t, b]
                if subtract:
                    for j in range(n):  # branch-free, so that it vectorizes
                        x = vv[j] * bp[j] + cur[j]
                        sp = one if x > tp[j] else zero
                        vv[j] = x - tp[j] * sp
                        ss[j] = sp
                        cc[j] += sp
                else:
                    for j in range(n):
                        x = vv[j] * bp[j] + cur[j]
                        sp = one if x > tp[j] else zero
                        vv[j] = x * (one - sp)
                        ss[j] = sp
                        cc[j] += sp
                if record:
                    spikes[p, t, b] = ss
                if has_first:
                    fp = first[p, b]
                    for j in range(n):
                        if ss[j] > zero and fp[j] == T:
                            fp[j] = t
