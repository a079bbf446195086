"""The vector kernel of :mod:`neurons.models`: its equations, delays and order of sums, with a
row's input current held in SIMD registers (:mod:`neurons.simd`).

For one network p and sample b (a row), per step, per chunk of up to 64 neurons::

    I = the delay-0 input rows of the non-zero inputs, by channel     # x[t] @ W_in (delay 0)
      + ring[u % R] + ring[u % R + R]                                 # what delayed inputs scheduled
      + the input rows whose history holds a bit they read            # x[t - din] @ W_in (spikes)
        (each synapse masked by its bit)
      + bias
      + the rows of W_rec: with delays between neurons, each row whose spike history holds a
        bit one of its synapses reads, each synapse masked by its bit; without, the rows of
        the neurons that spiked at t - 1, lowest first
    cuba: i = alpha * i + I;  I = i
    alif: a = rho * a + s;    A = threshold + b * a                   # else A = threshold
    v = beta * v + I;  s = v > A;  v = v - A * s                      # or v - v * s (zero)

These are the scalar kernel's operations in its order, lane by lane, so both give
bit-identical spikes. A synapse masked out adds 0.0, as in the scalar kernel. With delays of
at most 31 steps, a synapse's bit is the sign of ``(h & row mask) << (32 - delay)``
(:meth:`neurons.models.DelayGroups.vector_bits`, ``vshiftadd``), else ``h & bit``
(``vtestadd``). One compiled kernel per (lanes, vectors per chunk, model, reset), cached on
disk.
"""
from __future__ import annotations

import types

import numba
import numpy as np
from numba import uint64
from numba.np.numpy_support import carray

from . import simd
from .simd import SOURCE_DIGEST, WIDE_LANES, address, lowest_bit, stack_floats
from .simd import vadd16 as vadd, vbits16 as vbits, vgreater16 as vgreater, vload16 as vload, vmul16 as vmul
from .simd import vpushbit16 as vpushbit, vsplat16 as vsplat, vstore16 as vstore, vsub16 as vsub
from .simd import vtestadd16 as vtestadd, vtestbits16 as vtestbits, vunbits16 as vunbits, vshiftadd16 as vshiftadd

__all__ = ["vector_model_kernel"]

_compiled: dict = {}
_VECTOR_NAMES = ("vadd", "vbits", "vgreater", "vload", "vmul", "vpushbit", "vsplat", "vstore", "vsub", "vtestadd",
                 "vtestbits", "vunbits", "vshiftadd")


@numba.njit(inline="always")
def view(flat, start, n):
    """flat[start:start + n], a view without a reference count (:func:`neurons.simd.address`)."""
    return carray(address(flat, start), n)


def vector_model_kernel(lanes: int, NV: int, CUBA: bool, ALIF: bool, SUB: bool):
    """The kernel for chunks of ``NV`` vectors of ``lanes`` floats, compiled on first use.

    Its arguments are those of :func:`neurons.models._kernel`'s, all arrays C-contiguous,
    plus ``x_idx`` / ``x_n`` (:func:`neurons.kernels.nonzero_inputs`: the non-zero inputs of
    each step) and ``group``: rows whose recorded spikes are written together, contiguous
    per step; spikes are recorded where ``spikes`` is not empty (a run-time choice: it costs
    nothing measurable and halves the variants to compile). A row runs all its steps at
    once, its network's weights kept in the cache."""
    key = (lanes, NV, CUBA, ALIF, SUB)
    if key in _compiled:
        return _compiled[key]
    L, CW = lanes, lanes * NV
    SIMD = SOURCE_DIGEST

    def vector_model_run(x, x_idx, x_n, hold, T, t0, w_in0, in0_rows, in_ptr, in_off, in_w, pull, w_in, in_bit,
                         in_shift, in_mask, in_hist, in_one, w_rec, rec_rows, delayed, rec_bit, rec_shift,
                         rec_mask, hist, bit, ring, R,
                         ring_read, bias, beta, thr, thr_fin, alpha, rho, badapt, v, s, counts, isyn, a, first,
                         spikes, group):
        SIMD  # noqa: B018  a closure cell, so in numba's cache key: a change of neurons.simd recompiles
        P, B, N = v.shape
        X, K = x.shape[1], x.shape[3]
        n_first = first.shape[2]
        NW = (N + 63) // 64                                  # 64-neuron spike words
        n_rows = P * B
        G = max(1, min(n_rows, group))
        out = spikes.reshape(spikes.size)
        vf, sf, cf, isf, af = v.reshape(v.size), s.reshape(s.size), counts.reshape(counts.size), \
            isyn.reshape(isyn.size), a.reshape(a.size)
        bf, bef, thf, fif = bias.reshape(bias.size), beta.reshape(beta.size), thr.reshape(thr.size), \
            thr_fin.reshape(thr_fin.size)
        alf, rhf, baf = alpha.reshape(alpha.size), rho.reshape(rho.size), badapt.reshape(badapt.size)
        w0f, wif, wrf = w_in0.reshape(w_in0.size), w_in.reshape(w_in.size), w_rec.reshape(w_rec.size)
        ibf, rbf, i0f = in_bit.reshape(in_bit.size), rec_bit.reshape(rec_bit.size), in0_rows.reshape(in0_rows.size)
        ishf, rshf = in_shift.reshape(in_shift.size), rec_shift.reshape(rec_shift.size)
        in_shifted, rec_shifted = in_shift.size > 0, rec_shift.size > 0  # else in_bit, rec_bit
        imf, rmf = in_mask.reshape(in_mask.size), rec_mask.reshape(rec_mask.size)
        hf, hif = hist.reshape(hist.size), in_hist.reshape(in_hist.size)
        plane = n_rows * N                                   # spikes[t] stride
        masks = np.zeros((2, NW), np.uint64)                 # masks[old]: who spiked at t - 1; masks[new]: at t
        REC = spikes.size > 0                                # record every spike
        kept = np.zeros((T if REC else 0, G, NW), np.uint64)  # the group's spikes, written out after it
        active = np.zeros(NW, np.uint64)                     # rows of W_rec whose history holds a bit they read
        acc = carray(stack_floats(CW), (CW,))                # I[t] of one chunk, in registers
        zero_v = vsplat(np.float32(0.0))
        zero = np.float32(0.0)
        in_none = in_one ^ in_one
        in_kept = in_hist.shape[2] > 0
        in_read = in_mask.shape[0] > 0
        slot = 2 * R * N                                     # one row's ring
        for r0 in range(0, n_rows, G):
            rows_g = min(G, n_rows - r0)
            for qq in range(rows_g):                         # a row at a time, all steps: its weights stay cached
                row = r0 + qq
                p, b = row // B, row % B
                xp = 0 if X == 1 else p
                r, pn, pk = row * N, p * N, p * K
                # the row's views (the views of arrays that the model or the delays do not use are
                # never read); without reference counts, so cheap to make for every row
                vv, ss, cc = view(vf, r, N), view(sf, r, N), view(cf, r, N)
                bp, bep, thp, fip = view(bf, pn, N), view(bef, pn, N), view(thf, pn, N), view(fif, pn, N)
                w0p, wip, wrp = view(w0f, pk * N, K * N), view(wif, pk * N, K * N), view(wrf, pn * N, N * N)
                i0p, ringr = view(i0f, pk, K), view(ring, row * slot, slot)
                alp, isp, rhp, bap, ap = view(alf, pn, N), view(isf, r, N), view(rhf, pn, N), view(baf, pn, N), \
                    view(af, r, N)
                ibp, imp, hin = view(ibf, pk * N, K * N), view(imf, pk, K), view(hif, row * K, K)
                rbp, rmp, hp = view(rbf, pn * N, N * N), view(rmf, pn, N), view(hf, r, N)
                ishp, rshp = view(ishf, pk * N, K * N), view(rshf, pn * N, N * N)
                for w in range(NW):
                    m = uint64(0)
                    for j in range(64 * w, min(N, 64 * w + 64)):
                        m |= uint64(ss[j] != zero) << uint64(j - 64 * w)
                    masks[0, w] = m
                old = 0
                q = t0 % R if R else 0                       # step u's ring slots: q and q + R, q = u % R
                for t in range(T):
                    new = 1 - old
                    tx = 0 if hold else t
                    lo, hi = q * N, (q + R) * N
                    n_in = x_n[tx, xp, b]
                    if R and not pull:                       # x[t] for step t + d (slots other than lo, hi)
                        for kk in range(n_in):
                            k = x_idx[tx, xp, b, kk]
                            xk = x[tx, xp, b, k]
                            e0 = p * K + k
                            for e in range(in_ptr[e0], in_ptr[e0 + 1]):
                                ringr[np.uint64(lo) + in_off[e]] += xk * in_w[e]
                    if delayed:
                        for w in range(NW):
                            m = uint64(0)
                            for j in range(0, min(64, N - 64 * w), L):
                                m |= vtestbits(hp, 64 * w + j, rmp, 64 * w + j) << uint64(j)
                            active[w] = m
                    for c in range(0, N, CW):
                        started = False
                        for kk in range(n_in):               # x[t] @ W_in, delay 0, by channel
                            k = x_idx[tx, xp, b, kk]
                            if not i0p[k]:
                                continue
                            xs = vsplat(x[tx, xp, b, k])
                            wo = k * N + c
                            if started:
                                for u in range(NV):
                                    vstore(acc, L * u, vadd(vload(acc, L * u), vmul(xs, vload(w0p, wo + L * u))))
                            else:
                                for u in range(NV):
                                    vstore(acc, L * u, vmul(xs, vload(w0p, wo + L * u)))
                                started = True
                        if R:
                            if ring_read:                    # + ring[q] + ring[q + R], then cleared
                                if started:
                                    for u in range(NV):
                                        vstore(acc, L * u, vadd(vload(acc, L * u), vload(ringr, lo + c + L * u)))
                                else:
                                    for u in range(NV):
                                        vstore(acc, L * u, vload(ringr, lo + c + L * u))
                                    started = True
                                for u in range(NV):
                                    vstore(acc, L * u, vadd(vload(acc, L * u), vload(ringr, hi + c + L * u)))
                                    vstore(ringr, lo + c + L * u, zero_v)
                                    vstore(ringr, hi + c + L * u, zero_v)
                            elif not started:                # an empty ring: its zeros
                                for u in range(NV):
                                    vstore(acc, L * u, zero_v)
                                started = True
                            if in_read:                      # + x[t - din] @ W_in, spike inputs, by channel
                                for k in range(K):
                                    h = hin[k] & imp[k]
                                    if h == in_none:
                                        continue
                                    wo = k * N + c
                                    if in_shifted:
                                        for u in range(NV):
                                            vstore(acc, L * u, vshiftadd(ishp, wo + L * u, h, vload(acc, L * u),
                                                                         wip, wo + L * u))
                                    else:
                                        for u in range(NV):
                                            vstore(acc, L * u, vtestadd(ibp, wo + L * u, h, vload(acc, L * u),
                                                                        wip, wo + L * u))
                        if started:                          # + bias
                            for u in range(NV):
                                vstore(acc, L * u, vadd(vload(acc, L * u), vload(bp, c + L * u)))
                        else:
                            for u in range(NV):
                                vstore(acc, L * u, vload(bp, c + L * u))
                        if delayed:                          # + s[t - drec] @ W_rec, by neuron, lowest first
                            for w in range(NW):
                                m = active[w]
                                while m != uint64(0):
                                    i = 64 * w + np.int64(lowest_bit(m))
                                    m &= m - uint64(1)
                                    h = hp[i] & rmp[i]
                                    wo = i * N + c
                                    if rec_shifted:
                                        for u in range(NV):
                                            vstore(acc, L * u, vshiftadd(rshp, wo + L * u, h, vload(acc, L * u),
                                                                         wrp, wo + L * u))
                                    else:
                                        for u in range(NV):
                                            vstore(acc, L * u, vtestadd(rbp, wo + L * u, h, vload(acc, L * u),
                                                                        wrp, wo + L * u))
                        else:                                # + s[t-1] @ W_rec, lowest neuron first
                            for w in range(NW):
                                m = masks[old, w]
                                while m != uint64(0):
                                    i = 64 * w + np.int64(lowest_bit(m))
                                    m &= m - uint64(1)
                                    if rec_rows[p, i]:
                                        wo = i * N + c
                                        for u in range(NV):
                                            vstore(acc, L * u, vadd(vload(acc, L * u), vload(wrp, wo + L * u)))
                        bits = uint64(0)
                        for u in range(NV):
                            o = c + L * u
                            cur = vload(acc, L * u)
                            if CUBA:                         # i[t] = alpha i[t-1] + I[t]
                                cur = vadd(vmul(vload(alp, o), vload(isp, o)), cur)
                                vstore(isp, o, cur)
                            vj = vadd(vmul(vload(vv, o), vload(bep, o)), cur)        # beta v[t-1] + I[t]
                            if ALIF:                         # a[t] = rho a[t-1] + s[t-1]; A = threshold + b a[t]
                                aj = vadd(vmul(vload(rhp, o), vload(ap, o)), vload(ss, o))
                                vstore(ap, o, aj)
                                ba = vmul(vload(bap, o), aj)
                                sj = vgreater(vj, vadd(vload(thp, o), ba))           # s[t] = v[t] > A[t]
                                if SUB:
                                    vstore(vv, o, vsub(vj, vmul(vadd(vload(fip, o), ba), sj)))
                                else:
                                    vstore(vv, o, vsub(vj, vmul(vj, sj)))
                            else:
                                sj = vgreater(vj, vload(thp, o))                     # s[t] = v[t] > threshold
                                if SUB:
                                    vstore(vv, o, vsub(vj, vmul(vload(fip, o), sj)))  # v[t] - A[t] s[t]
                                else:
                                    vstore(vv, o, vsub(vj, vmul(vj, sj)))          # v[t] - v[t] s[t]
                            vstore(ss, o, sj)
                            vstore(cc, o, vadd(vload(cc, o), sj))
                            bits |= vbits(sj) << uint64(L * u)
                        if c % 64 == 0:
                            masks[new, c // 64] = bits
                        else:
                            masks[new, c // 64] |= bits << uint64(c % 64)
                    if delayed:                              # the spike history, newest in bit 0
                        for j in range(0, N, L):
                            vpushbit(hp, j, vload(ss, j))
                    if in_kept:                              # the input history, newest in bit 0
                        for k in range(K):
                            hin[k] = (hin[k] << in_one) | (in_one if pull and x[tx, xp, b, k] != zero else in_none)
                    for j in range(n_first):
                        if (masks[new, j // 64] >> uint64(j % 64)) & uint64(1):
                            if first[p, b, j] > t:
                                first[p, b, j] = t
                    if REC:
                        for w in range(NW):
                            kept[t, qq, w] = masks[new, w]
                    if R:
                        q = q + 1 if q + 1 < R else 0
                    old = new
            if REC:                                          # spikes[t] of the group's rows, contiguous
                for t in range(T):
                    for qq in range(rows_g):
                        o = t * plane + (r0 + qq) * N
                        for w in range(NW):
                            m = kept[t, qq, w]
                            for j in range(0, min(64, N - 64 * w), L):
                                vstore(out, o + 64 * w + j, vunbits(m >> uint64(j)))

    if lanes != WIDE_LANES:  # the same code on the eight-lane intrinsics: the module's globals, those swapped
        eight = dict(globals(), **{name: getattr(simd, name) for name in _VECTOR_NAMES})
        vector_model_run = types.FunctionType(vector_model_run.__code__, eight, vector_model_run.__name__, None,
                                              vector_model_run.__closure__)
    kernel = numba.njit(cache=True, nogil=True, boundscheck=False)(vector_model_run)
    _compiled[key] = kernel
    return kernel
