"""Neuron models beyond plain LIF, and synaptic delays (docs/design.md, "Neuron models").

For each network p, sample b, neuron j and step t = 1..T, in float32::

    I[t] = sum_k x[t - din[k, j]][k] W_in[k, j]         # input synapses: delays 0..D
         + bias[j]
         + sum_i s[t - drec[i, j]][i] W_rec[i, j]        # other synapses: delays 1..D
    lif, alif:  v[t] = beta * v[t-1] + I[t]
    cuba:       i[t] = alpha * i[t-1] + I[t]             # the synaptic current
                v[t] = beta * v[t-1] + i[t]
    lif, cuba:  A[t] = threshold
    alif:       a[t] = rho * a[t-1] + s[t-1]             # the adaptation
                A[t] = threshold + b * a[t]              # the effective threshold
    s[t] = v[t] > A[t]
    v[t] = v[t] - A[t] * s[t]                            # reset "subtract"
         | v[t] - v[t] * s[t]                            # reset "zero"

with every state, x and s zero before step 1. Plain LIF is the case alpha = None,
rho = b = None, din = 0 and drec = 1, and then :mod:`neurons.lif`'s kernels run. Here
the synapses are grouped by delay: ``W_in`` splits into one matrix per distinct input
delay and ``W_rec`` into one per distinct delay between neurons (zero elsewhere). The
numba kernel sums ``I[t]``'s input terms by delay (ascending) and channel, adds the bias,
then the rows of the neurons that spiked, by delay (ascending) and neuron; the numpy
kernel sums the s @ W_rec terms by delay, then the x @ W_in terms, then the bias. With
all delays at their defaults these are the plain kernels' orders, so alif with b = 0 and
cuba with alpha = 0 give the plain kernels' spikes bit for bit.

The state kept between calls: v, s, counts, the current i (cuba), the adaptation a
(alif), the last ``D_in + 1`` inputs and the last ``D_rec`` steps' spikes (rings indexed
by the step count). Two kernels: numpy (batched matmuls per delay group) and numba
(:func:`model_kernel`, event-driven, a row at a time, all steps of a call compiled).
"""
from __future__ import annotations

import numpy as np

from .network import NetworkBatch

__all__ = ["DelayGroups", "delay_groups", "ModelState", "numpy_steps", "model_kernel"]


class DelayGroups:
    """The synapses of ``net`` grouped by delay, delays ascending, only delays that some
    non-zero weight has (at least one group each): ``d_in`` / ``d_rec``, and per group the
    rows (g, p, i) of the synapses of that delay: ``w_in[g]`` (P, n_in, N) and ``w_rec[g]``
    (P, N, N), made on first use.
    ``in_rows[g, p, k]`` / ``rec_rows[g, p, i]``: the row has a non-zero weight. Made once
    per network batch (:func:`delay_groups`)."""

    def __init__(self, net: NetworkBatch) -> None:
        self._w = {"in": net.w_in, "rec": net.w_rec}
        self._delay = {"in": net.delay_in, "rec": net.delay_rec}
        self.d_in, self.d_rec = self._used("in", 0), self._used("rec", 1)
        self.in_rows, self.rec_rows = self._rows("in"), self._rows("rec")
        self.in_slots = int(self.d_in.max()) + 1    # inputs kept: steps t - D_in .. t
        self.rec_slots = int(self.d_rec.max())      # spikes kept: steps t - D_rec .. t - 1
        self._dense: dict = {}

    def _used(self, which: str, default: int) -> np.ndarray:
        w, delay = self._w[which], self._delay[which]
        if delay is None:
            return np.array([default], np.int64)
        used = np.unique(delay[w != 0])
        return (used if used.size else np.array([default])).astype(np.int64)

    def _group(self, which: str) -> np.ndarray:
        """The group of every synapse, (P, n_pre, N) int64 (0 without delays)."""
        delay, used = self._delay[which], self.d_in if which == "in" else self.d_rec
        if delay is None or used.size == 1:
            return np.zeros(self._w[which].shape, np.int64)
        return np.searchsorted(used, delay)

    def _rows(self, which: str) -> np.ndarray:
        w = self._w[which]
        G = (self.d_in if which == "in" else self.d_rec).size
        if G == 1:
            return np.ascontiguousarray((w != 0).any(axis=2))[None]
        rows = np.zeros((G,) + w.shape[:2], bool)
        p, i, _ = np.nonzero(w)
        rows[self._group(which)[w != 0], p, i] = True
        return rows

    @property
    def w_in(self) -> np.ndarray:
        return self.dense("in")

    @property
    def w_rec(self) -> np.ndarray:
        return self.dense("rec")

    def dense(self, which: str) -> np.ndarray:
        """(G, P, n_pre, N): the weights of each delay group, zero elsewhere."""
        if which not in self._dense:
            w, used = self._w[which], self.d_in if which == "in" else self.d_rec
            if used.size == 1:
                self._dense[which] = w[None]
            else:
                group = self._group(which)
                self._dense[which] = np.stack([np.where(group == g, w, np.float32(0.0)) for g in range(used.size)])
        return self._dense[which]


def delay_groups(net: NetworkBatch) -> DelayGroups:
    """The delay groups of ``net``, made on first use and kept with it."""
    g = getattr(net, "_delay_groups", None)
    if g is None:
        g = DelayGroups(net)
        object.__setattr__(net, "_delay_groups", g)
    return g


class ModelState:
    """The state of P networks x B samples under :mod:`neurons.models`' equations: ``v``,
    ``s``, ``counts``, ``i`` (cuba), ``a`` (alif), each (P, B, N) float32; the input ring
    ``xh`` (D_in + 1, X, B, n_in) and spike ring ``sh`` (D_rec, P, B, N); ``step`` counts
    the steps done. X is 1 when every network sees the same input, else P; it is fixed by
    the first input."""

    def __init__(self, net: NetworkBatch, batch: int, groups: DelayGroups | None = None) -> None:
        self.net, self.groups = net, groups or delay_groups(net)
        P, N = net.n_networks, net.n_neurons
        shape = (P, int(batch), N)
        self.v, self.s, self.counts = (np.zeros(shape, np.float32) for _ in range(3))
        self.i = np.zeros(shape if net.alpha is not None else (0, 0, 0), np.float32)
        self.a = np.zeros(shape if net.rho is not None else (0, 0, 0), np.float32)
        self.sh = np.zeros((self.groups.rec_slots,) + shape, np.float32)
        self.xh: np.ndarray | None = None
        self.step = 0

    def inputs(self, X: int) -> np.ndarray:
        """The input ring, made for X (1 or P) input rows on first use."""
        if self.xh is None or self.xh.shape[1] != X:
            if self.xh is not None and self.step:
                raise ValueError(f"input x: {X} input rows per step after {self.xh.shape[1]}; a simulation "
                                 "keeps one input layout (shared by all networks, or one per network)")
            P, B = self.v.shape[:2]
            self.xh = np.zeros((self.groups.in_slots, X, B, self.net.n_in), np.float32)
        return self.xh

    def reset(self) -> None:
        for arr in (self.v, self.s, self.counts, self.i, self.a, self.sh):
            arr.fill(0.0)
        if self.xh is not None:
            self.xh.fill(0.0)
        self.step = 0

    def keep(self, index: np.ndarray, net: NetworkBatch) -> None:
        """Continue with only the networks ``index``."""
        self.net, self.groups = net, delay_groups(net)
        for name in ("v", "s", "counts"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name)[index]))
        for name in ("i", "a"):
            arr = getattr(self, name)
            if arr.size:
                setattr(self, name, np.ascontiguousarray(arr[index]))
        self.sh = _resize_ring(np.ascontiguousarray(self.sh[:, index]), self.groups.rec_slots, self.step)
        if self.xh is not None:
            xh = self.xh if self.xh.shape[1] == 1 else np.ascontiguousarray(self.xh[:, index])
            self.xh = _resize_ring(xh, self.groups.in_slots, self.step)


def _resize_ring(ring: np.ndarray, slots: int, step: int) -> np.ndarray:
    """A ring of ``slots`` slots holding the most recent entries of ``ring`` (slot u % S for
    step u), after ``step`` steps: kept networks may use fewer delays than before."""
    old = ring.shape[0]
    if old == slots:
        return ring
    out = np.zeros((slots,) + ring.shape[1:], ring.dtype)
    for back in range(1, min(old, slots) + 1):
        u = step - back
        if u >= 0:
            out[u % slots] = ring[u % old]
    return out


def _params(net: NetworkBatch) -> dict:
    thr = net.threshold
    return dict(thr=thr, thr_fin=np.where(np.isfinite(thr), thr, np.float32(0.0)).astype(np.float32))


def numpy_steps(st: ModelState, x: np.ndarray, hold: bool, T: int, subtract: bool,
                on_step=None) -> None:
    """Advance ``st`` T steps with the numpy kernel. x: (T, X, B, n_in), or one step
    (1, X, B, n_in) used at every step when ``hold``. ``on_step(t, s)`` is called after each
    step with the spikes (P, B, N)."""
    net, g = st.net, st.groups
    X = x.shape[1]
    xh = st.inputs(X)
    p = _params(net)
    beta, bias = net.beta[:, None, :], net.bias[:, None, :]
    thr, thr_fin = p["thr"][:, None, :], p["thr_fin"][:, None, :]
    I, tmp, part = (np.empty(st.v.shape, np.float32) for _ in range(3))  # no allocation per step
    A, A_fin = (np.empty(st.v.shape, np.float32) for _ in range(2)) if net.rho is not None else (thr, thr_fin)
    spiked = np.empty(st.v.shape, bool)
    for t in range(T):
        u = st.step
        xh[u % g.in_slots] = x[0 if hold else t]
        I.fill(0.0)                                              # the plain numpy kernel's order:
        for d, w in zip(g.d_rec, g.w_rec):
            if u - d >= 0:
                I += np.matmul(st.sh[(u - d) % g.rec_slots], w, out=part)  # s[t - drec] @ W_rec
        for d, w in zip(g.d_in, g.w_in):
            if u - d >= 0:
                I += np.matmul(xh[(u - d) % g.in_slots], w, out=part)      # + x[t - din] @ W_in
        I += bias                                                # + bias
        if net.alpha is not None:
            np.multiply(st.i, net.alpha[:, None, :], out=st.i)   # alpha * i[t-1]
            np.add(st.i, I, out=st.i)                            # + I[t]
            I[...] = st.i
        np.multiply(st.v, beta, out=st.v)                        # beta * v[t-1]
        np.add(st.v, I, out=st.v)                                # + I[t] (cuba: + i[t])
        if net.rho is not None:
            np.multiply(st.a, net.rho[:, None, :], out=st.a)     # rho * a[t-1]
            np.add(st.a, st.s, out=st.a)                         # + s[t-1]
            np.multiply(net.b[:, None, :], st.a, out=tmp)        # b * a[t]
            np.add(thr, tmp, out=A)                              # threshold + b * a[t]
            np.add(thr_fin, tmp, out=A_fin)
        np.greater(st.v, A, out=spiked)                          # s[t] = v[t] > A[t]
        np.copyto(st.s, spiked)
        if subtract:
            np.multiply(A_fin, st.s, out=tmp)
            np.subtract(st.v, tmp, out=st.v)                     # v[t] - A[t] * s[t]
        else:
            np.multiply(st.v, st.s, out=tmp)
            np.subtract(st.v, tmp, out=st.v)                     # v[t] - v[t] * s[t]
        np.add(st.counts, st.s, out=st.counts)
        st.sh[u % g.rec_slots] = st.s
        st.step += 1
        if on_step is not None:
            on_step(t, st.s)


def model_kernel(st: ModelState, x: np.ndarray, hold: bool, T: int, subtract: bool, first: np.ndarray,
                 record: bool, spikes: np.ndarray) -> None:
    """Advance ``st`` T steps with the numba kernel (:func:`_kernel`); ``first`` (P, B, F)
    int32 is lowered to each of neurons 0..F-1's first spike step within the call,
    ``spikes`` (T, P, B, N) written when ``record``."""
    net, g = st.net, st.groups
    xh = st.inputs(x.shape[1])
    p = _params(net)
    empty = np.zeros((0, 0), np.float32)
    c = np.ascontiguousarray
    kernel = _kernel(net.alpha is not None, net.rho is not None, bool(subtract), bool(record))
    kernel(c(x, dtype=np.float32), bool(hold), int(T), int(st.step), xh, g.d_in, g.w_in, g.in_rows,
           st.sh, g.d_rec, g.w_rec, g.rec_rows, net.bias, net.beta, p["thr"], p["thr_fin"],
           net.alpha if net.alpha is not None else empty, net.rho if net.rho is not None else empty,
           net.b if net.b is not None else empty, st.v, st.s, st.counts, st.i, st.a, first, spikes)
    st.step += int(T)


_compiled: dict = {}


def _kernel(CUBA: bool, ALIF: bool, SUB: bool, REC: bool):
    """The numba kernel of the module's equations for one (model, reset, record), compiled
    on first use and cached on disk; a row (p, b) at a time, all T steps.

    The sums of ``I[t]`` are taken in the module docstring's order: input rows of the
    non-zero inputs by delay and channel, the bias, then the rows of the neurons that
    spiked by delay and neuron; rows without a non-zero weight are skipped. Steps are counted from ``t0``: inputs of earlier
    calls are read from ``xh[u % len(xh)]`` (and this call's last ones are left there),
    spikes of step u are kept in ``sh[u % len(sh)]``."""
    key = (CUBA, ALIF, SUB, REC)
    if key in _compiled:
        return _compiled[key]
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def run(x, hold, T, t0, xh, d_in, w_in, in_rows, sh, d_rec, w_rec, rec_rows, bias, beta, thr, thr_fin, alpha, rho,
            badapt, v, s, counts, isyn, a, first, spikes):
        P, B, N = v.shape
        X, K = x.shape[1], x.shape[3]
        SX, SR = xh.shape[0], sh.shape[0]
        GI, GR = d_in.shape[0], d_rec.shape[0]
        n_first = first.shape[2]
        acc = np.empty(N, np.float32)
        lst = np.empty((SR, N), np.int64)        # the neurons that spiked at the steps of the ring
        cnt = np.zeros(SR, np.int64)
        one, zero = np.float32(1.0), np.float32(0.0)
        for p in range(P):
            xp = 0 if X == 1 else p
            bp, betap, thp, tfp = bias[p], beta[p], thr[p], thr_fin[p]
            for b in range(B):
                vv, ss, cc = v[p, b], s[p, b], counts[p, b]
                for q in range(SR):                                      # spike lists of earlier calls
                    n = 0
                    so = sh[q, p, b]
                    for i in range(N):
                        lst[q, n] = i
                        n += np.int64(so[i] != zero)
                    cnt[q] = n
                for t in range(T):
                    u = t0 + t
                    started = False
                    for gi in range(GI):                                 # x[t - din] @ W_in, by delay
                        uu = u - d_in[gi]
                        if uu < 0:
                            continue
                        here = uu >= t0                                  # this call's input, or an earlier one
                        tx, qx = (0 if hold else uu - t0), uu % SX
                        for k in range(K):
                            xk = x[tx, xp, b, k] if here else xh[qx, xp, b, k]
                            if xk == zero or not in_rows[gi, p, k]:
                                continue
                            if started:
                                for j in range(N):
                                    acc[j] += xk * w_in[gi, p, k, j]
                            else:
                                for j in range(N):
                                    acc[j] = xk * w_in[gi, p, k, j]
                                started = True
                    if started:                                          # + bias
                        for j in range(N):
                            acc[j] = acc[j] + bp[j]
                    else:
                        for j in range(N):
                            acc[j] = bp[j]
                    for gi in range(GR):                                 # + s[t - drec] @ W_rec, by delay
                        uu = u - d_rec[gi]
                        if uu < 0:
                            continue
                        q = uu % SR
                        for e0 in range(cnt[q]):
                            i = lst[q, e0]
                            if not rec_rows[gi, p, i]:
                                continue
                            for j in range(N):
                                acc[j] += w_rec[gi, p, i, j]
                    if CUBA:
                        ip, al = isyn[p, b], alpha[p]
                        for j in range(N):
                            ip[j] = al[j] * ip[j] + acc[j]                       # i[t] = alpha i[t-1] + I[t]
                            acc[j] = ip[j]
                    if ALIF:
                        ap, rp, bap = a[p, b], rho[p], badapt[p]
                        for j in range(N):
                            aj = rp[j] * ap[j] + ss[j]                           # a[t] = rho a[t-1] + s[t-1]
                            ap[j] = aj
                            ba = bap[j] * aj
                            vj = vv[j] * betap[j]                                # beta * v[t-1]
                            vj = vj + acc[j]                                     # + I[t]
                            sj = one if vj > thp[j] + ba else zero               # s[t] = v[t] > threshold + b a[t]
                            vv[j] = vj - (tfp[j] + ba if SUB else vj) * sj       # v[t] - A[t] s[t] | v[t] - v[t] s[t]
                            ss[j] = sj
                            cc[j] += sj
                    else:
                        for j in range(N):
                            vj = vv[j] * betap[j]                                # beta * v[t-1]
                            vj = vj + acc[j]                                     # + I[t] (cuba: + i[t])
                            sj = one if vj > thp[j] else zero                    # s[t] = v[t] > threshold
                            vv[j] = vj - (tfp[j] if SUB else vj) * sj            # v[t] - A[t] s[t] | v[t] - v[t] s[t]
                            ss[j] = sj
                            cc[j] += sj
                    q = u % SR
                    n = 0
                    for j in range(N):
                        sh[q, p, b, j] = ss[j]
                        lst[q, n] = j
                        n += np.int64(ss[j] != zero)
                    cnt[q] = n
                    if REC:
                        for j in range(N):
                            spikes[t, p, b, j] = ss[j]
                    for j in range(n_first):
                        if ss[j] != zero and first[p, b, j] > t:
                            first[p, b, j] = t
        for uu in range(max(t0, t0 + T - SX), t0 + T):                   # the inputs later calls need
            for xp in range(X):
                for b in range(B):
                    xs = x[0 if hold else uu - t0, xp, b]
                    xr = xh[uu % SX, xp, b]
                    for k in range(K):
                        xr[k] = xs[k]

    _compiled[key] = run
    return run
