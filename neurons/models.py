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
rho = b = None, din = 0 and drec = 1, and then :mod:`neurons.lif`'s kernels run.

Delays. The synapses of delay 0 (inputs) and 1 (between neurons) add to ``I[t]``
directly. A synapse between neurons of delay d reads bit d - 1 of its presynaptic
neuron's spike history, a word holding the neuron's last 32 steps (64 where a delay
exceeds 32). Delayed input synapses do the same with a history of their input channel
when every input of a call is 0 or 1 (spikes); otherwise each adds its contribution to a
ring of future currents, in the slot of step t + d, when its input is non-zero at step t.
The numba kernel (:func:`model_kernel`, event-driven, a row at a time, all steps of a call
compiled) sums the delay-0 input rows by channel, the ring, the delayed input synapses by
channel (spike inputs), the bias, then the synapses between neurons by presynaptic
neuron; for N a multiple of 8 it runs on SIMD vectors (:mod:`neurons.vector_models`), in
the same order, with the same bits. The numpy kernel groups synapses by delay (batched
matmuls, one per distinct delay): its sum is ``s[t - d] @ W_rec`` by delay, the delay-0
``x @ W_in``, the ring, then the bias. Without delays both are the plain kernels' orders,
so alif with b = 0 and cuba with alpha = 0 give the plain kernels' spikes bit for bit; with
delays the kernels agree where sums are exact (the order of a sum differs).

The state kept between calls: v, s, counts, the current i (cuba), the adaptation a
(alif), the ring and the spike histories of neurons and inputs (:class:`ModelState`).
"""
from __future__ import annotations

import numpy as np

from .blocks import BLOCK_ELEMENTS
from .kernels import nonzero_inputs, vector_model_lanes
from .network import NetworkBatch, line_aligned

__all__ = ["DelayGroups", "delay_groups", "ModelState", "numpy_steps", "model_kernel"]


class DelayGroups:
    """The synapses of ``net`` split for the kernels, made once per network batch
    (:func:`delay_groups`).

    - ``d_in`` / ``d_rec``: the delays that some non-zero weight has, ascending (at least one
      each: 0 and 1 without delays); ``dense("in")`` / ``dense("rec")`` (G, P, n_pre, N): the
      weights of each delay, zero elsewhere (the numpy kernel's matmuls).
    - Inputs. ``w_in0`` (P, n_in, N): the synapses of delay 0, summed at the step itself
      (the whole W_in without delays), ``in0_rows`` (P, n_in): the row has one. The others
      read an input history where the input is spikes: ``in_bit`` (P, n_in, N) the bit of
      delay - 1 (0 for delay 0 or no synapse), ``in_mask`` (P, n_in) the bits that a row reads,
      in ``in_hist_type`` (uint32; uint64 where a delay exceeds 32); other inputs are pushed
      into a ring of future currents: per input row (p, k), in CSR form, ``in_ptr``
      (P * n_in + 1) into ``in_off`` (d * N + j, uint64) and ``in_w``; ``dmax``: their
      largest delay (0: none).
    - Synapses between neurons. ``rec_delayed``: some delay is not 1. Without, the rows of
      W_rec (``rec_rows`` (P, N)) of the neurons that spiked are added. With, each neuron
      keeps its last 32 steps as bits (``hist_type`` uint32; 64 in uint64 where a delay
      exceeds 32), ``rec_bit`` (P, N, N) holds the bit of delay - 1 that a synapse reads,
      and ``rec_mask`` (P, N) the bits that a row reads."""

    def __init__(self, net: NetworkBatch) -> None:
        self._w = {"in": net.w_in, "rec": net.w_rec}
        self._delay = {"in": net.delay_in, "rec": net.delay_rec}
        self.d_in, self.d_rec = self._used("in", 0), self._used("rec", 1)
        self._dense: dict = {}
        self.w_in0, self.in0_rows, self.in_ptr, self.in_off, self.in_w, self.dmax = self._split_inputs()
        self.in_hist_type, self.in_bit, self.in_mask = self._history_bits("in", self.dmax)
        w, delay = net.w_rec, net.delay_rec
        self.rec_rows = np.ascontiguousarray((w != 0).any(axis=2))
        self.rec_delayed = delay is not None and bool((delay[w != 0] != 1).any())
        longest = int(delay[w != 0].max()) if self.rec_delayed else 0
        self.hist_type, self.rec_bit, self.rec_mask = self._history_bits("rec", longest)
        self._longest = {"in": self.dmax, "rec": longest}
        self._vector: dict = {}

    def vector_bits(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """What the vector kernel reads to tell whether a synapse of ``which`` (in or rec)
        adds at a step: (bits, shifts), one of them empty. Where the longest delay is at most
        31, shifts: (P, n_pre, N) uint8 ``32 - delay`` (0 for delay 0 or no synapse), so that
        the sign bit of the uint32 ``(h & mask) << shift`` is the synapse's bit (``mask``, the
        row's bits, leaves bit 31 clear; one vector shift per eight synapses, a quarter of
        the bytes of the weights). Otherwise bits: ``in_bit`` or ``rec_bit`` in the narrowest
        unsigned type that holds the bit of the longest delay (uint32 up to 32 steps, else
        uint64)."""
        if which not in self._vector:
            longest, delay = self._longest[which], self._delay[which]
            none = np.zeros((0, 0, 0), np.uint8)
            if 0 < longest <= 31:
                late = (self._w[which] != 0) & (delay != 0)
                got = none, line_aligned(np.ascontiguousarray(np.where(late, 32 - delay, 0), dtype=np.uint8))
            else:
                bits = self.in_bit if which == "in" else self.rec_bit
                kind = next(k for k, n in ((np.uint8, 8), (np.uint16, 16), (np.uint32, 32), (np.uint64, 64))
                            if longest <= n)
                got = line_aligned(np.ascontiguousarray(bits, dtype=kind)), none
            self._vector[which] = got
        return self._vector[which]

    def _history_bits(self, which: str, dmax: int) -> tuple:
        """(word type: uint32, uint64 where ``dmax`` exceeds 32; (P, n_pre, N) the bit of
        delay - 1 of each synapse of delay >= 1 (0 for the others); (P, n_pre) the bits that
        each row reads) of the ``which`` synapses (in or rec) with delays up to ``dmax``
        (0: none, empty arrays)."""
        if not dmax:
            return np.uint64, np.zeros((0, 0, 0), np.uint64), np.zeros((0, 0), np.uint64)
        w, delay = self._w[which], self._delay[which]
        kind = np.uint32 if dmax <= 32 else np.uint64  # 16 lanes per vector
        late = (w != 0) & (delay != 0)
        bits = np.where(late, np.left_shift(kind(1), np.where(late, delay - 1, 0).astype(kind)), kind(0))
        return kind, np.ascontiguousarray(bits, dtype=kind), np.bitwise_or.reduce(bits, axis=2).astype(kind)

    def _used(self, which: str, default: int) -> np.ndarray:
        w, delay = self._w[which], self._delay[which]
        if delay is None:
            return np.array([default], np.int64)
        used = np.unique(delay[w != 0])
        return (used if used.size else np.array([default])).astype(np.int64)

    def _split_inputs(self) -> tuple:
        """(delay-0 weights, their row mask, CSR pointers, offsets d * N + j, weights, largest
        delay) of the input synapses."""
        w, delay = self._w["in"], self._delay["in"]
        P, n_pre, N = w.shape
        if delay is None or not delay[w != 0].any():
            return (w, np.ascontiguousarray((w != 0).any(axis=2)), np.zeros(P * n_pre + 1, np.int64),
                    np.zeros(0, np.uint64), np.zeros(0, np.float32), 0)
        near = np.ascontiguousarray(np.where(delay == 0, w, np.float32(0.0)), dtype=np.float32)
        late = (w != 0) & (delay != 0)
        p, i, j = np.nonzero(late)                      # row-major: by row (p, i), then j
        ptr = np.zeros(P * n_pre + 1, np.int64)
        np.cumsum(np.bincount(p * n_pre + i, minlength=P * n_pre), out=ptr[1:])
        d = delay[p, i, j].astype(np.int64)
        return (near, np.ascontiguousarray((near != 0).any(axis=2)), ptr, (d * N + j).astype(np.uint64),
                np.ascontiguousarray(w[p, i, j], dtype=np.float32), int(d.max()))

    def _group(self, which: str) -> np.ndarray:
        """The group of every synapse, (P, n_pre, N) int64 (0 without delays)."""
        delay, used = self._delay[which], self.d_in if which == "in" else self.d_rec
        if delay is None or used.size == 1:
            return np.zeros(self._w[which].shape, np.int64)
        return np.searchsorted(used, delay)

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
    ``s``, ``counts``, ``i`` (cuba), ``a`` (alif), each (P, B, N) float32; ``ring``
    (P, B, 2R, N) float32, the currents that delayed input synapses have scheduled for the
    next R steps (R = their largest delay + 1; 0 without): step u's lie in slots u % R and
    u % R + R, and an input of delay d at step u adds to slot u % R + d; ``hist`` (P, B, N)
    (uint32, or uint64 with a delay over 32) with delays between neurons, bit k set where the
    neuron spiked k + 1 steps ago; ``in_hist`` (P, B, n_in) likewise for the inputs, with
    delayed input synapses: bit k set where the input was 1 k + 1 steps ago and its delayed
    synapses read it there (a call whose inputs are all 0 or 1 with the numba kernel), clear
    where they went to the ring; ``ring_clean``: nothing has been written to the ring since
    the start (the numba kernel then skips reading it); ``step`` counts the steps done."""

    def __init__(self, net: NetworkBatch, batch: int, groups: DelayGroups | None = None) -> None:
        self.net, self.groups = net, groups or delay_groups(net)
        P, N = net.n_networks, net.n_neurons
        shape = (P, int(batch), N)
        self.v, self.s, self.counts = (_zeros(shape, np.float32) for _ in range(3))
        self.i = _zeros(shape if net.alpha is not None else (0, 0, 0), np.float32)
        self.a = _zeros(shape if net.rho is not None else (0, 0, 0), np.float32)
        R = self.groups.dmax + 1 if self.groups.dmax else 0
        self.ring = _zeros((P, int(batch), 2 * R, N), np.float32)
        self.hist = _zeros(shape if self.groups.rec_delayed else (0, 0, 0), self.groups.hist_type)
        self.in_hist = _zeros((P, int(batch), net.n_in) if self.groups.dmax else (0, 0, 0), self.groups.in_hist_type)
        self.ring_clean = True
        self.step = 0

    def reset(self) -> None:
        for arr in (self.v, self.s, self.counts, self.i, self.a, self.ring, self.hist, self.in_hist):
            arr.fill(0.0)
        self.ring_clean = True
        self.step = 0

    def keep(self, index: np.ndarray, net: NetworkBatch) -> None:
        """Continue with only the networks ``index`` (the ring and the input history keep
        their length and word: kept networks' delays fit in them)."""
        self.net, self.groups = net, delay_groups(net)
        for name in ("v", "s", "counts", "ring"):
            setattr(self, name, line_aligned(np.ascontiguousarray(getattr(self, name)[index])))
        for name in ("i", "a", "hist", "in_hist"):
            arr = getattr(self, name)
            if arr.size:
                setattr(self, name, line_aligned(np.ascontiguousarray(arr[index])))
        if self.in_hist.size and self.groups.dmax:  # a narrower word where the kept delays fit in 32 bits
            self.in_hist = self.in_hist.astype(self.groups.in_hist_type)


def _zeros(shape: tuple, dtype) -> np.ndarray:
    """Zeros starting on a cache line, as the kernels' vector loads of rows want them."""
    return line_aligned(np.zeros(shape, dtype))


def _params(net: NetworkBatch) -> dict:
    thr = net.threshold
    return dict(thr=thr, thr_fin=np.where(np.isfinite(thr), thr, np.float32(0.0)).astype(np.float32))


def numpy_steps(st: ModelState, x: np.ndarray, hold: bool, T: int, subtract: bool,
                on_step=None) -> None:
    """Advance ``st`` T steps with the numpy kernel. x: (T, X, B, n_in), or one step
    (1, X, B, n_in) used at every step when ``hold``. ``on_step(t, s)`` is called after each
    step with the spikes (P, B, N)."""
    net, g = st.net, st.groups
    R = st.ring.shape[2] // 2
    rec = [(int(d), w) for d, w in zip(g.d_rec, g.w_rec)]
    inp = [(int(d), w) for d, w in zip(g.d_in, g.w_in)]
    p = _params(net)
    beta, bias = net.beta[:, None, :], net.bias[:, None, :]
    thr, thr_fin = p["thr"][:, None, :], p["thr_fin"][:, None, :]
    I, tmp, part = (np.empty(st.v.shape, np.float32) for _ in range(3))  # no allocation per step
    A, A_fin = (np.empty(st.v.shape, np.float32) for _ in range(2)) if net.rho is not None else (thr, thr_fin)
    spiked = np.empty(st.v.shape, bool)
    if g.rec_delayed:
        bits, sd = np.empty(st.v.shape, st.hist.dtype), np.empty(st.v.shape, np.float32)
        one_bit = st.hist.dtype.type(1)
    if R:
        st.ring_clean = False
    for t in range(T):
        u = st.step
        q = u % R if R else 0
        xt = x[0 if hold else t]
        I.fill(0.0)                                              # the plain numpy kernel's order:
        for d, w in rec:
            if d == 1:
                I += np.matmul(st.s, w, out=part)                # s[t-1] @ W_rec (delay 1)
            else:
                np.right_shift(st.hist, st.hist.dtype.type(d - 1), out=bits)
                np.bitwise_and(bits, one_bit, out=bits)
                np.copyto(sd, bits, casting="unsafe")            # s[t-d]
                I += np.matmul(sd, w, out=part)                  # + s[t-d] @ W_rec (delay d)
        for d, w in inp:
            if d == 0:
                I += np.matmul(xt, w, out=part)                  # + x[t] @ W_in (delay 0)
            else:
                st.ring[:, :, q + d] += np.matmul(xt, w, out=part)  # x[t] for step t + d
        if R:
            I += st.ring[:, :, q]                                # + what delayed synapses scheduled
            I += st.ring[:, :, q + R]
            st.ring[:, :, q] = 0.0
            st.ring[:, :, q + R] = 0.0
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
        if g.rec_delayed:
            np.left_shift(st.hist, one_bit, out=st.hist)         # the spike history, newest in bit 0
            np.bitwise_or(st.hist, spiked, out=st.hist)
        if st.in_hist.size:                                      # this step's inputs went to the ring
            np.left_shift(st.in_hist, st.in_hist.dtype.type(1), out=st.in_hist)
        st.step += 1
        if on_step is not None:
            on_step(t, st.s)


def model_kernel(st: ModelState, x: np.ndarray, hold: bool, T: int, subtract: bool, first: np.ndarray,
                 record: bool, spikes: np.ndarray, vector: bool = True) -> None:
    """Advance ``st`` T steps with the numba kernel; ``first`` (P, B, F) int32 is lowered to
    each of neurons 0..F-1's first spike step within the call, ``spikes`` (T, P, B, N)
    written when ``record``. N a multiple of 8 takes the vector kernel
    (:mod:`neurons.vector_models`) unless ``vector`` is False, other N the scalar one
    (:func:`_kernel`); their spikes are bit-identical."""
    net, g = st.net, st.groups
    p = _params(net)
    empty = np.zeros((0, 0), np.float32)
    c = np.ascontiguousarray
    x = c(x, dtype=np.float32)
    flags = (net.alpha is not None, net.rho is not None, bool(subtract))
    spikes = spikes if record else np.zeros((0, 0, 0, 0), np.float32)  # the kernels record into a non-empty one
    lanes, NV = vector_model_lanes(net.n_neurons) if vector else (0, 0)
    x_idx, x_n, binary = nonzero_inputs(x, False)
    pull = bool(g.dmax) and binary  # spike inputs (every non-zero one 1.0): delayed synapses read a history
    ring_read = not (pull and st.ring_clean)  # a ring that nothing has written to holds zeros
    R = st.ring.shape[2] // 2
    params = (c(net.bias), c(net.beta), c(p["thr"]), c(p["thr_fin"]),
              c(net.alpha) if net.alpha is not None else empty, c(net.rho) if net.rho is not None else empty,
              c(net.b) if net.b is not None else empty, st.v, st.s, st.counts, st.i, st.a, first, spikes)
    if lanes:
        from .vector_models import vector_model_kernel  # loads numba
        group = max(1, BLOCK_ELEMENTS // net.n_neurons)  # rows whose recorded spikes are written together
        vector_model_kernel(lanes, NV, *flags)(
            x, x_idx, x_n, bool(hold), int(T), int(st.step), c(g.w_in0), g.in0_rows, g.in_ptr, g.in_off, g.in_w,
            pull, c(net.w_in), *g.vector_bits("in"), g.in_mask, st.in_hist, st.in_hist.dtype.type(1), c(net.w_rec),
            g.rec_rows, g.rec_delayed, *g.vector_bits("rec"), g.rec_mask, st.hist, st.hist.dtype.type(1),
            st.ring.reshape(-1), R, ring_read, *params, group)
    else:
        _kernel(*flags)(
            x, bool(hold), int(T), int(st.step), c(g.w_in0), g.in0_rows, g.in_ptr, g.in_off, g.in_w, pull,
            c(net.w_in), g.in_bit, g.in_mask, st.in_hist, st.in_hist.dtype.type(1), c(net.w_rec), g.rec_rows,
            g.rec_delayed, g.rec_bit, g.rec_mask, st.hist, st.hist.dtype.type(1), st.ring.reshape(-1),
            st.ring.reshape(-1, st.ring.shape[3]), R, ring_read, *params)
    st.step += int(T)
    if g.dmax and not pull:
        st.ring_clean = False


_compiled: dict = {}
_pull_rows = None  # the compiled _pull_rows_py, a module global so that the kernels' disk cache holds


def _pull_rows_py(acc, words, masks, bits, w, nothing):
    """acc += the rows of w read from a history: row k adds w[k, j] where its word has the bit
    bits[k, j]; rows whose word holds none of masks[k] are skipped."""
    for k in range(words.shape[0]):
        h = words[k]
        if (h & masks[k]) == nothing:
            continue
        for j in range(acc.shape[0]):
            acc[j] += w[k, j] if (h & bits[k, j]) != nothing else np.float32(0.0)


def _kernel(CUBA: bool, ALIF: bool, SUB: bool):
    """The numba kernel of the module's equations for one (model, reset), compiled on first
    use and cached on disk; a row (p, b) at a time, all T steps. Spikes are recorded where
    ``spikes`` is not empty (a run-time choice, as in the vector kernel: half the variants).

    ``I[t]`` is summed as: the input rows of delay 0 of the non-zero inputs, by channel;
    what delayed inputs scheduled for the step (ring slots u % R, then u % R + R); the delayed
    input synapses of spike inputs (of calls whose inputs are all 0 or 1, ``pull``), by
    channel, each row whose input history has a bit that one of its synapses reads; the bias; then
    the synapses between neurons, by presynaptic neuron. Without delays between neurons
    these are the rows of the neurons that spiked at t - 1; with, every row whose spike
    history has a bit that one of its synapses reads. A row read from a history adds each
    synapse's weight where the bit of its delay is set (a branch-free select that numba
    vectorizes). Other inputs push their delayed synapses when non-zero (x * w into slot
    u % R + d): the work per input event is its number of delayed synapses. Rows without a
    non-zero weight are skipped. Without delays this is the plain kernels' order."""
    key = (CUBA, ALIF, SUB)
    if key in _compiled:
        return _compiled[key]
    import numba
    global _pull_rows
    if _pull_rows is None:
        _pull_rows = numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")(_pull_rows_py)

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def run(x, hold, T, t0, w_in0, in0_rows, in_ptr, in_off, in_w, pull, w_in, in_bit, in_mask, in_hist, in_one,
            w_rec, rec_rows, delayed, rec_bit, rec_mask, hist, bit,
            ring, slots, R, ring_read,
            bias, beta, thr, thr_fin, alpha, rho, badapt, v, s, counts, isyn, a, first, spikes):
        P, B, N = v.shape
        X, K = x.shape[1], x.shape[3]
        n_first = first.shape[2]
        acc = np.empty(N, np.float32)
        lst = np.empty(N, np.int64)                  # the neurons that spiked at the last step
        one, zero = np.float32(1.0), np.float32(0.0)
        none = bit ^ bit                             # 0 and 1 in the history's type
        in_none = in_one ^ in_one                    # and in the input history's
        in_hist_kept = in_hist.shape[2] > 0
        in_read = in_mask.shape[0] > 0               # delayed input synapses: the history may hold spikes
        REC = spikes.size > 0
        for p in range(P):
            xp = 0 if X == 1 else p
            bp, betap, thp, tfp = bias[p], beta[p], thr[p], thr_fin[p]
            for b in range(B):
                vv, ss, cc = v[p, b], s[p, b], counts[p, b]
                row = (p * B + b) * 2 * R                # this row's first slot in slots (a 2-D view of ring)
                q = t0 % R if R else 0                   # step u's slots: q and q + R, q = u % R
                n_sp = 0
                for i in range(N):
                    lst[n_sp] = i
                    n_sp += np.int64(ss[i] != zero)
                for t in range(T):
                    tx = 0 if hold else t
                    lo, hi = row + q, row + q + R
                    base = np.uint64(lo * N)                             # unsigned: no wraparound test per push
                    started = False
                    for k in range(K):                                   # x[t] @ W_in, delay 0
                        xk = x[tx, xp, b, k]
                        if xk == zero or not in0_rows[p, k]:
                            continue
                        if started:
                            for j in range(N):
                                acc[j] += xk * w_in0[p, k, j]
                        else:
                            for j in range(N):
                                acc[j] = xk * w_in0[p, k, j]
                            started = True
                    if R:                                                # + what delayed synapses scheduled
                        if ring_read:
                            if started:
                                for j in range(N):
                                    acc[j] += slots[lo, j]
                            else:
                                for j in range(N):
                                    acc[j] = slots[lo, j]
                                started = True
                            for j in range(N):
                                acc[j] += slots[hi, j]
                            for j in range(N):
                                slots[lo, j] = zero
                                slots[hi, j] = zero
                        elif not started:                                # an empty ring: its zeros
                            for j in range(N):
                                acc[j] = zero
                            started = True
                        if in_read:                                      # + x[t - din] @ W_in, by channel,
                            _pull_rows(acc, in_hist[p, b], in_mask[p], in_bit[p], w_in[p], in_none)  # spikes
                        if not pull:
                            for k in range(K):                           # x[t] for step t + d
                                xk = x[tx, xp, b, k]
                                if xk == zero:
                                    continue
                                r = p * K + k
                                for e in range(in_ptr[r], in_ptr[r + 1]):
                                    ring[base + in_off[e]] += xk * in_w[e]
                    if started:                                          # + bias
                        for j in range(N):
                            acc[j] = acc[j] + bp[j]
                    else:
                        for j in range(N):
                            acc[j] = bp[j]
                    if delayed:                                          # + s[t - drec] @ W_rec, by neuron
                        _pull_rows(acc, hist[p, b], rec_mask[p], rec_bit[p], w_rec[p], none)
                    else:
                        for e0 in range(n_sp):                           # + s[t-1] @ W_rec, by neuron
                            i = lst[e0]
                            if rec_rows[p, i]:
                                for j in range(N):
                                    acc[j] += w_rec[p, i, j]
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
                    if delayed:                                          # the spike history, newest in bit 0
                        hp = hist[p, b]
                        for j in range(N):
                            hp[j] = (hp[j] << bit) | (bit if ss[j] != zero else none)
                    else:                                                # the neurons that spiked
                        n_sp = 0
                        for j in range(N):
                            lst[n_sp] = j
                            n_sp += np.int64(ss[j] != zero)
                    if in_hist_kept:                                     # the input history, newest in bit 0
                        hin = in_hist[p, b]
                        for k in range(K):
                            hin[k] = (hin[k] << in_one) | (in_one if pull and x[tx, xp, b, k] != zero else in_none)
                    if R:
                        q = q + 1 if q + 1 < R else 0
                    if REC:
                        for j in range(N):
                            spikes[t, p, b, j] = ss[j]
                    for j in range(n_first):
                        if ss[j] != zero and first[p, b, j] > t:
                            first[p, b, j] = t

    _compiled[key] = run
    return run
