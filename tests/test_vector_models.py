"""The vector kernel of the neuron models and delays (neurons.vector_models) against the
scalar one, bit for bit, on weights off any grid; and the SIMD helpers it is made of."""
import numpy as np
import pytest

from neurons import NetworkBatch, simulate, simulate_outputs
from neurons.kernels import AVAILABLE
from neurons.models import ModelState, delay_groups, model_kernel

from conftest import dyadic

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="numba is not installed: no compiled kernels")


def _nets(P, N, n_in, model, delays, seed):
    """Random networks of ``model`` with weights off any grid, so that another order of sums
    would round differently, some padding neurons, and random delays up to ``delays``."""
    rng = np.random.default_rng(seed)
    w_rec = (rng.normal(0, 0.6, (P, N, N)) * (rng.random((P, N, N)) < 0.5)).astype(np.float32)
    threshold = rng.uniform(0.5, 1.5, (P, N)).astype(np.float32)
    threshold[::3, -3:] = np.inf
    extra = {}
    if model == "alif":
        extra = dict(rho=rng.uniform(0, 1, (P, N)), b=rng.uniform(0, 0.5, (P, N)))
    elif model == "cuba":
        extra = dict(alpha=rng.uniform(0, 0.9, (P, N)))
    if delays:
        extra.update(delay_in=rng.integers(0, delays + 1, (P, n_in, N)),
                     delay_rec=rng.integers(1, delays + 1, (P, N, N)))
    return NetworkBatch(rng.normal(0, 1.0, (P, n_in, N)), w_rec, threshold, rng.uniform(0.3, 1.0, (P, N)),
                        rng.normal(0, 0.3, (P, N)), 3, **extra)


def _inputs(rng, kind, T, P, B, n_in):
    spikes = (rng.random((T, P, B, n_in)) < 0.3).astype(np.float32)
    if kind == "spikes":
        return spikes
    return (spikes * rng.uniform(0.5, 2.0, spikes.shape)).astype(np.float32)


def _run(net, xs, B, subtract, record, vector, hold=False):
    """Every call's outputs and the state after each call, stepping through ``xs`` (a list of
    (T', P, B, n_in) inputs, one per call) on one state."""
    st = ModelState(net, B)
    st.s[...] = np.random.default_rng(0).random(st.s.shape) < 0.3  # start with spikes in flight
    got = []
    for x in xs:
        T = 5 if hold else x.shape[0]
        first = np.full(st.v.shape[:2] + (net.n_out,), T, np.int32)
        spikes = np.zeros((T,) + st.v.shape, np.float32) if record else np.zeros((0, 0, 0, 0), np.float32)
        model_kernel(st, x, hold, T, subtract, first, record, spikes, vector=vector)
        got.append([first, spikes] + [a.copy() for a in (st.v, st.s, st.counts, st.i, st.a, st.ring, st.hist,
                                                           st.in_hist)])
    return got


# (model, N, longest delay, reset, record, inputs): 16 and 8 lanes, chunks of 3 and 4 vectors and
# two chunks, shifts (longest delay up to 31, on 16 and 8 lanes) and bit words of 32 and 64 bits, spike inputs (read from a history), other inputs (pushed
# into the ring), calls that mix them, inputs held for every step, and no delays; pairs of cases
# share a compiled kernel (recording is a run-time choice), which keeps CI's compile time down
CASES = [("lif", 64, 16, "subtract", True, "spikes"), ("lif", 24, 31, "subtract", False, "spikes"),
         ("lif", 64, 32, "subtract", False, "spikes"), ("alif", 48, 20, "zero", True, "currents"),
         ("cuba", 128, 5, "subtract", False, "mixed"), ("lif", 24, 40, "subtract", True, "spikes"),
         ("alif", 48, 0, "zero", False, "hold"), ("lif", 24, 0, "subtract", False, "currents")]


@pytest.mark.parametrize("model, N, delays, reset, record, inputs", CASES)
def test_the_vector_kernel_equals_the_scalar_kernel_bit_for_bit(model, N, delays, reset, record, inputs):
    P, B, n_in = 5, 2, 6
    net = _nets(P, N, n_in, model, delays, seed=N + delays)
    rng = np.random.default_rng(N)
    if inputs == "hold":
        xs = [_inputs(rng, "currents", 1, P, B, n_in) for _ in range(2)]
    elif inputs == "mixed":  # a call of currents fills the ring, a call of spikes then reads it
        xs = [_inputs(rng, kind, 17, P, B, n_in) for kind in ("spikes", "currents", "spikes", "currents")]
    else:
        xs = [_inputs(rng, inputs, T, P, B, n_in) for T in (23, 1, 31)]
    vec = _run(net, xs, B, reset == "subtract", record, True, hold=inputs == "hold")
    ref = _run(net, xs, B, reset == "subtract", record, False, hold=inputs == "hold")
    names = ("first", "spikes", "v", "s", "counts", "i", "a", "ring", "hist", "in_hist")
    for call, (a, b) in enumerate(zip(vec, ref)):
        for name, u, w in zip(names, a, b):
            np.testing.assert_array_equal(u, w, err_msg=f"call {call}: {name}")
    rate = sum(call[4].sum() for call in vec[-1:]) / (P * B * N * sum(x.shape[0] for x in xs))
    assert 0.02 < rate < 0.9 or inputs == "hold"  # neither silent nor saturated
    assert vec[-1][4].any() and not np.isnan(vec[-1][2]).any()


def test_delays_through_simulate_agree_with_the_numpy_kernel_where_sums_are_exact(rng):
    """End to end on the bench's shape class: dyadic weights make every order of sums exact,
    so the numpy kernel (matmuls by delay) and the vector kernel give the same spikes."""
    P, N, n_in = 4, 64, 8
    base = NetworkBatch(dyadic(rng, (P, n_in, N), scale=2), dyadic(rng, (P, N, N)) * (rng.random((P, N, N)) < 0.3),
                        np.ones((P, N)), rng.integers(8, 15, (P, N)) / 16, dyadic(rng, (P, N), scale=0.25), 2,
                        delay_in=rng.integers(0, 17, (P, n_in, N)), delay_rec=rng.integers(1, 17, (P, N, N)))
    x = (rng.random((60, 3, n_in)) < 0.2).astype(np.float32)
    a, b = simulate(base, x, kernel="numpy"), simulate(base, x, kernel="numba")
    np.testing.assert_array_equal(a, b)
    assert 0.02 < a.mean() < 0.9
    ra, rb = simulate_outputs(base, x, kernel="numpy"), simulate_outputs(base, x, kernel="numba")
    np.testing.assert_array_equal(ra.counts, rb.counts)
    np.testing.assert_array_equal(ra.first_spike, rb.first_spike)


def test_chunks_of_the_vector_kernel_divide_the_row_and_never_cross_a_spike_word():
    from neurons.kernels import vector_model_lanes

    assert [vector_model_lanes(n) for n in (0, 5, 12, 63)] == [(0, 0)] * 4  # the scalar kernel
    assert [vector_model_lanes(n) for n in (8, 24, 16, 48, 64)] == [(8, 1), (8, 3), (16, 1), (16, 3), (16, 4)]
    for n in range(8, 600, 8):
        lanes, vectors = vector_model_lanes(n)
        width = lanes * vectors
        assert lanes == (16 if n % 16 == 0 else 8) and n % width == 0
        assert width == n if n <= 64 else 64 % width == 0  # one chunk, or chunks inside 64-neuron words


def test_the_vector_kernel_reads_shifts_up_to_31_steps_and_narrow_bits_beyond(rng):
    P, N, n_in = 2, 16, 3
    for longest, kind in ((1, None), (8, None), (17, None), (31, None), (32, np.uint32), (40, np.uint64)):
        delay_in = rng.integers(0, longest + 1, (P, n_in, N))
        delay_in[0, 0, 0] = longest
        w_in = rng.normal(size=(P, n_in, N))
        w_in[1, 2] = 0.0  # no synapses: no bit, and shift 0
        net = NetworkBatch(w_in, rng.normal(size=(P, N, N)), np.ones((P, N)),
                           np.full((P, N), 0.5), np.zeros((P, N)), 2,
                           delay_in=delay_in, delay_rec=np.full((P, N, N), longest))
        g = delay_groups(net)
        for which, bits, delay, w in (("in", g.in_bit, net.delay_in, net.w_in),
                                      ("rec", g.rec_bit, net.delay_rec, net.w_rec)):
            narrow, shifts = g.vector_bits(which)
            if which == "rec" and longest == 1:  # every delay 1: no history, nothing to read
                assert narrow.size == shifts.size == 0 and not g.rec_delayed
                continue
            late = (w != 0) & (delay > 0)
            if kind is None:  # h << shift has the synapse's bit (delay - 1) as its sign bit
                assert narrow.size == 0 and shifts.dtype == np.uint8 and shifts.flags.c_contiguous
                np.testing.assert_array_equal(shifts, np.where(late, 32 - delay, 0))
                np.testing.assert_array_equal(late, bits != 0)
                h = np.uint32(2**32 - 1) >> np.uint32(32 - longest)  # every bit a row can read
                sign = (np.left_shift(h, shifts.astype(np.uint32)) >> np.uint32(31)) == 1
                np.testing.assert_array_equal(sign, late)
            else:
                assert shifts.size == 0 and narrow.dtype == kind and narrow.flags.c_contiguous
                np.testing.assert_array_equal(narrow, bits)  # the same bits: the word only narrows
                np.testing.assert_array_equal(narrow, np.where(late, np.left_shift(kind(1), (delay - 1).astype(kind)), 0))


def test_the_simd_bit_helpers():
    import numba

    from neurons.simd import vbits16, vload16, vpushbit16, vstore16, vtestadd16, vtestbits16, vunbits16

    @numba.njit
    def helpers(words, h, w, acc, a, b, hist, s, out):
        vstore16(out, 0, vtestadd16(words, 0, h, vload16(acc, 0), w, 0))   # acc + w where words & h
        vstore16(out, 16, vunbits16(vtestbits16(a, 0, b, 0)))             # 1.0 where a & b
        vpushbit16(hist, 0, vload16(s, 0))                                # hist << 1 | (s != 0)
        return vbits16(vload16(s, 0))

    rng = np.random.default_rng(3)
    words = rng.integers(0, 2**16, 16).astype(np.uint16)
    h = np.uint32(0x10005)  # bit 16 lies beyond the words: only the low 16 bits count
    w, acc = rng.normal(size=16).astype(np.float32), rng.normal(size=16).astype(np.float32)
    a, b = rng.integers(0, 2**32, 16, dtype=np.uint64).astype(np.uint32), rng.integers(0, 8, 16).astype(np.uint32)
    hist = rng.integers(0, 2**31, 16).astype(np.uint32)
    s = (rng.random(16) < 0.5).astype(np.float32)
    out = np.zeros(32, np.float32)
    before = hist.copy()
    mask = helpers(words, h, w, acc, a, b, hist, s, out)
    hit = (words & np.uint16(h & 0xFFFF)) != 0
    np.testing.assert_array_equal(out[:16], acc + np.where(hit, w, np.float32(0.0)))
    assert hit.any() and not hit.all()
    np.testing.assert_array_equal(out[16:], ((a & b) != 0).astype(np.float32))
    np.testing.assert_array_equal(hist, (before << np.uint32(1)) | (s != 0).astype(np.uint32))
    assert mask == sum(1 << u for u in range(16) if s[u])


def test_the_shift_helper_reads_the_bit_that_each_lane_shifts_into_the_sign():
    import numba

    from neurons.simd import vload, vload16, vshiftadd, vshiftadd16, vstore, vstore16

    @numba.njit
    def shifted(shifts, h, w, acc, out):
        vstore16(out, 0, vshiftadd16(shifts, 0, h, vload16(acc, 0), w, 0))  # 16 lanes
        vstore(out, 16, vshiftadd(shifts, 16, h, vload(acc, 16), w, 16))     # 8 lanes, at an offset

    rng = np.random.default_rng(4)
    shifts = rng.integers(0, 32, 24).astype(np.uint8)
    shifts[:2] = (0, 31)
    h = np.uint32(0b1010_0110_0101_1001_0110_1100_1011_0101)
    w, acc = rng.normal(size=24).astype(np.float32), rng.normal(size=24).astype(np.float32)
    out = np.zeros(24, np.float32)
    shifted(shifts, h, w, acc, out)
    hit = np.array([(int(h) >> (31 - int(k))) & 1 for k in shifts], bool)  # bit 31 - shift of h
    np.testing.assert_array_equal(out, acc + np.where(hit, w, np.float32(0.0)))
    assert hit.any() and not hit.all() and hit[0] and hit[1]  # bit 31 and bit 0 of h

