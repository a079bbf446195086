import numpy as np
import pytest

from neurons import NetworkBatch, NetworkError, Simulator, simulate, simulate_outputs

from conftest import dyadic, random_net


def single(beta, threshold, w=1.0, bias=0.0):
    return NetworkBatch(np.full((1, 1, 1), w), np.zeros((1, 1, 1)), np.full((1, 1), threshold),
                        np.full((1, 1), beta), np.full((1, 1), bias), 1)


def voltages(net, x, reset="subtract"):
    sim = Simulator(net, x.shape[1], reset)
    vs, ss = [], []
    for current in sim.currents(x):
        ss.append(sim.step(current).copy())
        vs.append(sim.v.copy())
    return np.array(vs)[:, 0, 0, 0], np.array(ss)[:, 0, 0, 0]


def test_leak_without_spike_by_hand():
    # beta 0.5, input 0.25 each step, threshold 1: v = 0.25, 0.375, 0.4375, 0.46875 ... never spikes
    v, s = voltages(single(0.5, 1.0), np.full((4, 1, 1), 0.25, np.float32))
    np.testing.assert_array_equal(v, [0.25, 0.375, 0.4375, 0.46875])
    np.testing.assert_array_equal(s, [0, 0, 0, 0])


def test_threshold_crossing_and_subtract_reset_by_hand():
    # input 0.75, beta 0.5: v = 0.75, 1.125 -> spike, minus 1 = 0.125; 0.0625 + 0.75 = 0.8125;
    # 0.40625 + 0.75 = 1.15625 -> spike -> 0.15625
    v, s = voltages(single(0.5, 1.0), np.full((4, 1, 1), 0.75, np.float32), "subtract")
    np.testing.assert_array_equal(v, [0.75, 0.125, 0.8125, 0.15625])
    np.testing.assert_array_equal(s, [0, 1, 0, 1])


def test_zero_reset_by_hand():
    # same input: 0.75, 1.125 -> spike -> 0; 0.75; 1.125 -> spike -> 0
    v, s = voltages(single(0.5, 1.0), np.full((4, 1, 1), 0.75, np.float32), "zero")
    np.testing.assert_array_equal(v, [0.75, 0.0, 0.75, 0.0])
    np.testing.assert_array_equal(s, [0, 1, 0, 1])


def test_spike_needs_strictly_more_than_threshold():
    v, s = voltages(single(0.0, 1.0), np.ones((2, 1, 1), np.float32))
    np.testing.assert_array_equal(s, [0, 0])
    np.testing.assert_array_equal(v, [1.0, 1.0])


def test_bias_and_weight_scale_by_hand():
    # beta 1 (no leak), w 0.5, x 1, bias 0.25: v grows by 0.75 a step: 0.75, 1.5 -> spike -> 0.5, 1.25 -> 0.25
    v, s = voltages(single(1.0, 1.0, w=0.5, bias=0.25), np.ones((4, 1, 1), np.float32))
    np.testing.assert_array_equal(v, [0.75, 0.5, 1.25 - 1.0, 1.0])
    np.testing.assert_array_equal(s, [0, 1, 1, 0])


def test_each_synapse_after_the_input_delays_one_step():
    # chain: input -> n0 -> n1 -> n2, each strong enough to fire the next at once
    N = 3
    w_in = np.zeros((1, 1, N)); w_in[0, 0, 0] = 2.0
    w_rec = np.zeros((1, N, N)); w_rec[0, 0, 1] = 2.0; w_rec[0, 1, 2] = 2.0
    net = NetworkBatch(w_in, w_rec, np.ones((1, N)), np.zeros((1, N)), np.zeros((1, N)), 1)
    x = np.zeros((6, 1, 1), np.float32); x[0] = 1.0
    s = simulate(net, x)[:, 0, 0, :]
    assert s[:, 0].nonzero()[0].tolist() == [0]  # 1 synapse: same step as the input
    assert s[:, 1].nonzero()[0].tolist() == [1]  # 2 synapses: 1 step later
    assert s[:, 2].nonzero()[0].tolist() == [2]  # 3 synapses: 2 steps later


def reference(net: NetworkBatch, x: np.ndarray, reset: str) -> np.ndarray:
    """Plain per-network, per-sample, per-neuron loop over the equations of docs/design.md, "Networks"."""
    f32 = np.float32
    T = x.shape[0]
    P, N, n_in = net.n_networks, net.n_neurons, net.n_in
    shared = x.ndim == 3
    B = x.shape[1] if shared else x.shape[2]
    out = np.zeros((T, P, B, N), f32)
    for p in range(P):
        for b in range(B):
            v = [f32(0)] * N
            s = [f32(0)] * N
            for t in range(T):
                xt = x[t, b] if shared else x[t, p, b]
                new_s = [f32(0)] * N
                for j in range(N):
                    a = f32(0)
                    for i in range(n_in):
                        a = f32(a + f32(xt[i] * net.w_in[p, i, j]))
                    r = f32(0)
                    for i in range(N):
                        r = f32(r + f32(s[i] * net.w_rec[p, i, j]))
                    I = f32(f32(a + r) + net.bias[p, j])
                    vj = f32(f32(net.beta[p, j] * v[j]) + I)
                    if vj > net.threshold[p, j]:
                        new_s[j] = f32(1)
                        vj = f32(vj - net.threshold[p, j]) if reset == "subtract" else f32(0)
                    v[j] = vj
                s = new_s
                out[t, p, b] = s
    return out


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("shared", [True, False])
def test_batched_equals_reference_loop_bit_for_bit(rng, reset, shared):
    P, B, n_in, N, T = 4, 3, 3, 7, 25
    net = random_net(rng, P, n_in, N, n_out=2)
    shape = (T, B, n_in) if shared else (T, P, B, n_in)
    x = dyadic(rng, shape, scale=2)
    expected = reference(net, x, reset)
    got = simulate(net, x, reset)
    assert got.dtype == np.float32 and got.shape == (T, P, B, N)
    assert 0.05 < expected.mean() < 0.95  # the networks are active: the comparison means something
    np.testing.assert_array_equal(got, expected)


def test_per_network_input_equals_each_network_alone(rng):
    P, B, n_in, N, T = 5, 2, 4, 6, 20
    net = random_net(rng, P, n_in, N, n_out=2)
    x = dyadic(rng, (T, P, B, n_in))
    whole = simulate(net, x)
    for p in range(P):
        np.testing.assert_array_equal(whole[:, p:p + 1], simulate(net.select(p), x[:, p:p + 1]))


def pad(net: NetworkBatch, extra: int) -> NetworkBatch:
    P, N = net.n_networks, net.n_neurons
    w_in = np.zeros((P, net.n_in, N + extra), np.float32); w_in[:, :, :N] = net.w_in
    w_rec = np.zeros((P, N + extra, N + extra), np.float32); w_rec[:, :N, :N] = net.w_rec
    thr = np.full((P, N + extra), np.inf, np.float32); thr[:, :N] = net.threshold
    beta = np.zeros((P, N + extra), np.float32); beta[:, :N] = net.beta
    bias = np.zeros((P, N + extra), np.float32); bias[:, :N] = net.bias
    return NetworkBatch(w_in, w_rec, thr, beta, bias, net.n_out)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_padding_neurons_never_spike_and_change_nothing(rng, reset):
    net = random_net(rng, 4, 3, 6, n_out=2)
    x = dyadic(rng, (30, 2, 3))
    padded = pad(net, 5)
    sim = Simulator(padded, 2, reset)
    spikes = []
    for current in sim.currents(x):
        spikes.append(sim.step(current).copy())
        assert np.isfinite(sim.v).all()
    spikes = np.array(spikes)
    assert spikes[..., 6:].sum() == 0
    np.testing.assert_array_equal(spikes[..., :6], simulate(net, x, reset))


def test_outputs_record_matches_full_spikes(rng):
    net = random_net(rng, 3, 2, 8, n_out=3)
    x = dyadic(rng, (40, 4, 2))
    full = simulate(net, x)
    rec = simulate_outputs(net, x)
    np.testing.assert_array_equal(rec.counts, full[..., :3].sum(axis=0))
    np.testing.assert_array_equal(rec.total_spikes, full.sum(axis=(0, 3)))
    fired = full[..., :3] > 0
    expected_first = np.where(fired.any(axis=0), fired.argmax(axis=0), 40)
    np.testing.assert_array_equal(rec.first_spike, expected_first)
    sim = Simulator(net, 4)
    for current in sim.currents(x):
        sim.step(current)
    np.testing.assert_array_equal(rec.v_final, sim.v[..., :3])
    assert (rec.first_spike < 40).any() and (rec.first_spike == 40).any()
    # each spike reaches every outgoing synapse of its neuron; the fan-out is counted once per batch
    fan = np.count_nonzero(net.w_rec, axis=2)
    np.testing.assert_array_equal(rec.synaptic_events, np.einsum("tpbi,pi->pb", full, fan))
    assert net.fan_out() is net.fan_out() and net.fan_out("in").shape == (3, 2)
    np.testing.assert_array_equal(net.fan_out("in"), np.count_nonzero(net.w_in, axis=2))
    for kernel in ("numpy", "auto"):
        np.testing.assert_array_equal(simulate_outputs(net, x, kernel=kernel).synaptic_events, rec.synaptic_events)


def test_stepping_form_equals_simulate(rng):
    net = random_net(rng, 3, 2, 5, n_out=2)
    x = dyadic(rng, (15, 3, 2, 2))
    sim = Simulator(net, 2)
    steps = [sim.step(sim.input_current(x[t])).copy() for t in range(15)]
    np.testing.assert_array_equal(np.array(steps), simulate(net, x))
    sim.reset()
    assert not sim.v.any() and not sim.s.any() and not sim.counts.any()


def test_float32_spikes_are_zero_or_one(rng):
    net = random_net(rng, 2, 2, 5, n_out=1)
    s = simulate(net, dyadic(rng, (10, 2, 2)))
    assert s.dtype == np.float32 and set(np.unique(s)) <= {0.0, 1.0}


def good_fields(P=2, n_in=3, N=4):
    return dict(w_in=np.zeros((P, n_in, N)), w_rec=np.zeros((P, N, N)), threshold=np.ones((P, N)),
                beta=np.full((P, N), 0.5), bias=np.zeros((P, N)), n_out=1)


@pytest.mark.parametrize("field,value,message", [
    ("w_rec", np.zeros((2, 4, 5)), "w_rec: shape (2, 4, 5)"),
    ("w_in", np.zeros((2, 3, 5)), "w_in: shape (2, 3, 5)"),
    ("threshold", -np.ones((2, 4)), "threshold: value -1.0"),
    ("threshold", np.zeros((2, 4)), "thresholds must be > 0"),
    ("beta", np.full((2, 4), 1.5), "beta: value 1.5"),
    ("beta", np.full((2, 4), -0.1), "beta must lie in [0, 1]"),
    ("bias", np.zeros((2, 3)), "bias: shape (2, 3)"),
    ("n_out", 9, "n_out: 9"),
    ("w_in", np.full((2, 3, 4), np.nan), "w_in: value nan; weights and biases must be finite"),
])
def test_network_batch_rejects_bad_fields_with_a_clear_error(field, value, message):
    fields = good_fields()
    fields[field] = value
    with pytest.raises(NetworkError) as err:
        NetworkBatch(**fields)
    assert message in str(err.value)


def test_network_batch_casts_to_float32():
    net = NetworkBatch(**good_fields())
    assert all(getattr(net, f).dtype == np.float32 for f in ("w_in", "w_rec", "threshold", "beta", "bias"))


def test_wrong_input_shape_is_a_clear_error():
    net = NetworkBatch(**good_fields())
    with pytest.raises(ValueError, match=r"input x: shape \(5, 1, 2\); expected \(T, B, 3\)"):
        simulate(net, np.zeros((5, 1, 2)))
    with pytest.raises(ValueError, match="reset"):
        simulate(net, np.zeros((5, 1, 3)), reset="hard")


def test_network_arrays_start_on_cache_lines():
    """Weights that numpy left 16, 32 or 48 bytes into a cache line are copied onto one; values,
    shapes and dtypes are unchanged, and arrays already on a line are kept, not copied."""
    rng = np.random.default_rng(0)
    P, n_in, N = 3, 5, 7

    def at(a, off):
        buf = np.empty(a.nbytes + 128, np.uint8)
        k = (off - buf.ctypes.data) % 64
        out = buf[k:k + a.nbytes].view(np.float32).reshape(a.shape)
        out[...] = a
        return out

    fields = [rng.normal(size=s).astype(np.float32) for s in ((P, n_in, N), (P, N, N), (P, N), (P, N), (P, N))]
    fields[2] = np.abs(fields[2]) + 0.5
    fields[3] = np.clip(np.abs(fields[3]), 0, 1)
    for off in (0, 16, 32, 48):
        given = [at(a, off) for a in fields]
        net = NetworkBatch(*given, 1)
        for name, a, g in zip(("w_in", "w_rec", "threshold", "beta", "bias"), fields, given):
            arr = getattr(net, name)
            assert arr.ctypes.data % 64 == 0 and arr.flags.c_contiguous and arr.dtype == np.float32, name
            np.testing.assert_array_equal(arr, a)
            assert np.shares_memory(arr, g) == (off == 0), name  # a view of the caller's array, or a copy
