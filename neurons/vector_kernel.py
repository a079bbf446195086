"""The vector LIF kernel: the equations of :mod:`neurons.kernels`, with a row's input
current held in SIMD registers (:mod:`neurons.simd`) and spikes kept as bit masks.

For one network p and sample b (a row), per step and per chunk of up to 64 neurons::

    I = x[t] @ W_in + bias             # the rows of W_in of the non-zero inputs, in input order
    I = I + W_rec[i] for each i with s[t-1, i] = 1, lowest i first
    v = beta * v + I
    s = v > threshold
    v = v - threshold * s              # subtract, or v - v * s for zero

These are the scalar kernel's operations in the scalar kernel's order, so the two give
bit-identical spikes. Rows advance in blocks of about ``BLOCK_ELEMENTS`` neurons, step by
step, so recorded spikes are written in contiguous stretches. Vectors of 16 floats (one
AVX-512 register, two AVX2 ones) where N is a multiple of 16, else of 8
(:func:`neurons.kernels.vector_model_lanes`). One compiled kernel per (lanes, vectors per
chunk, reset, record, binary), each cached on disk.
"""
from __future__ import annotations

import types

import numba
import numpy as np
from numba import uint64
from numba.np.numpy_support import carray

from . import simd
from .blocks import BLOCK_ELEMENTS
from .simd import SOURCE_DIGEST, WIDE_LANES, lowest_bit, stack_floats
from .simd import vadd16 as vadd, vbits16 as vbits, vgreater16 as vgreater, vload16 as vload, vmul16 as vmul
from .simd import vsplat16 as vsplat, vstore16 as vstore, vsub16 as vsub

__all__ = ["vector_kernel"]

_compiled: dict = {}
_VECTOR_NAMES = ("vadd", "vbits", "vgreater", "vload", "vmul", "vsplat", "vstore", "vsub")


def vector_kernel(NV: int, subtract: bool, record: bool, binary: bool = False, lanes: int = 8):
    """The vector kernel for chunks of ``NV`` vectors of ``lanes`` (8 or 16) floats, compiled
    on first use and cached on disk, one per (lanes, NV, subtract, record, binary).
    ``binary``: every non-zero input is 1.0 (spikes), so ``x * W_in[k]`` is ``W_in[k]``
    exactly and the product is skipped."""
    key = (lanes, NV, subtract, record, binary)
    if key in _compiled:
        return _compiled[key]
    L, CW = lanes, lanes * NV  # floats per vector, neurons per chunk
    SUB, REC, BIN = subtract, record, binary
    SIMD = SOURCE_DIGEST

    def vector_run(x, x_idx, x_n, is_current, hold, T, w_in, w_rec, bias, beta, thr, thr_fin, v, s, counts, first,
                   spikes):
        SIMD  # noqa: B018  a closure cell, so in numba's cache key: a change of neurons.simd recompiles
        P, B, N = v.shape
        X, K = x.shape[1], x.shape[3]
        n_first = first.shape[2]
        NW = (N + 63) // 64                                  # 64-neuron spike words per row
        n_rows = P * B
        R = max(1, min(n_rows, BLOCK_ELEMENTS // N))
        xf, wif, wrf = x.reshape(x.size), w_in.reshape(w_in.size), w_rec.reshape(w_rec.size)
        bf, bef = bias.reshape(bias.size), beta.reshape(beta.size)
        thf, fif = thr.reshape(thr.size), thr_fin.reshape(thr_fin.size)
        vf, sf, cf = v.reshape(v.size), s.reshape(s.size), counts.reshape(counts.size)
        out = spikes.reshape(spikes.size)
        plane = n_rows * N                                   # spikes[t] stride
        masks = np.zeros((2, R, NW), np.uint64)              # masks[old]: who spiked at t-1
        acc = carray(stack_floats(CW), (CW,))                # I[t] of one chunk, in registers
        for r0 in range(0, n_rows, R):
            rows = min(R, n_rows - r0)
            for q in range(rows):
                r = (r0 + q) * N
                for w in range(NW):
                    m = uint64(0)
                    for j in range(64 * w, min(N, 64 * w + 64)):
                        m |= uint64(sf[r + j] != 0.0) << uint64(j - 64 * w)
                    masks[0, q, w] = m
            old = 0
            for t in range(T):
                new = 1 - old
                tx = 0 if hold else t
                for q in range(rows):
                    p, b = (r0 + q) // B, (r0 + q) % B
                    xp = 0 if X == 1 else p
                    pn, r = p * N, (r0 + q) * N
                    for w in range(NW):
                        masks[new, q, w] = 0
                    for c in range(0, N, CW):
                        # x[t] @ W_in over the non-zero inputs in order, + bias
                        if is_current:
                            xo = ((tx * X + xp) * B + b) * K + c
                            for u in range(NV):
                                vstore(acc, L * u, vadd(vload(xf, xo + L * u), vload(bf, pn + c + L * u)))
                        else:
                            n_in = x_n[tx, xp, b]
                            if n_in == 0:
                                for u in range(NV):
                                    vstore(acc, L * u, vload(bf, pn + c + L * u))
                            else:
                                k = x_idx[tx, xp, b, 0]
                                wo = (p * K + k) * N + c
                                if BIN:
                                    for u in range(NV):
                                        vstore(acc, L * u, vload(wif, wo + L * u))
                                    for kk in range(1, n_in):
                                        wo = (p * K + x_idx[tx, xp, b, kk]) * N + c
                                        for u in range(NV):
                                            vstore(acc, L * u, vadd(vload(acc, L * u), vload(wif, wo + L * u)))
                                else:
                                    xk = vsplat(x[tx, xp, b, k])
                                    for u in range(NV):
                                        vstore(acc, L * u, vmul(xk, vload(wif, wo + L * u)))
                                    for kk in range(1, n_in):
                                        k = x_idx[tx, xp, b, kk]
                                        xk = vsplat(x[tx, xp, b, k])
                                        wo = (p * K + k) * N + c
                                        for u in range(NV):
                                            vstore(acc, L * u,
                                                   vadd(vload(acc, L * u), vmul(xk, vload(wif, wo + L * u))))
                                for u in range(NV):
                                    vstore(acc, L * u, vadd(vload(acc, L * u), vload(bf, pn + c + L * u)))
                        # + s[t-1] @ W_rec: the rows of the neurons that spiked, lowest first
                        for w in range(NW):
                            m = masks[old, q, w]
                            while m != uint64(0):
                                i = 64 * w + np.int64(lowest_bit(m))
                                m &= m - uint64(1)
                                wo = (pn + i) * N + c
                                for u in range(NV):
                                    vstore(acc, L * u, vadd(vload(acc, L * u), vload(wrf, wo + L * u)))
                        bits = uint64(0)
                        for u in range(NV):
                            o, po = r + c + L * u, pn + c + L * u
                            vj = vadd(vmul(vload(vf, o), vload(bef, po)), vload(acc, L * u))  # beta * v[t-1] + I[t]
                            sj = vgreater(vj, vload(thf, po))                  # s[t] = v[t] > threshold
                            vstore(sf, o, sj)
                            vstore(cf, o, vadd(vload(cf, o), sj))
                            if SUB:
                                vstore(vf, o, vsub(vj, vmul(vload(fif, po), sj)))  # v[t] - threshold * s[t]
                            else:
                                vstore(vf, o, vsub(vj, vmul(vj, sj)))          # v[t] - v[t] * s[t]
                            bits |= vbits(sj) << uint64(L * u)
                            if REC:
                                vstore(out, t * plane + o, sj)
                        masks[new, q, c // 64] |= bits << uint64(c % 64)
                    for j in range(n_first):
                        if (masks[new, q, j // 64] >> uint64(j % 64)) & uint64(1):
                            if first[p, b, j] > t:
                                first[p, b, j] = t
                old = new

    if lanes != WIDE_LANES:  # the same code on the eight-lane intrinsics: the module's globals, those swapped
        eight = dict(globals(), **{name: getattr(simd, name) for name in _VECTOR_NAMES})
        vector_run = types.FunctionType(vector_run.__code__, eight, vector_run.__name__, None, vector_run.__closure__)
    kernel = numba.njit(cache=True, nogil=True, boundscheck=False)(vector_run)
    _compiled[key] = kernel
    return kernel
