"""NIR export of the cuba model and of synaptic delays (evo.app.export), and the alif refusal."""
import numpy as np
import pytest

from evo.app.export import from_nir, read_nir, to_nir, write_nir
from evo.errors import ConfigError, RunDirError
from neurons import NetworkBatch, simulate

nir = pytest.importorskip("nir")

N_IN, N, PAD = 5, 7, 3  # neurons 0..N-1 are real; padding neurons follow in the padded networks


def _network(seed: int, model: str, delays: bool, padding: bool, P: int = 2) -> NetworkBatch:
    """P random networks with dyadic weights, thresholds and biases; padding neurons (zero weights
    and bias, infinite threshold) interleaved with the real ones when ``padding``."""
    rng = np.random.default_rng(seed)
    total = N + (PAD if padding else 0)

    def dyadic(shape, scale):
        return (np.round(rng.normal(0, scale, shape) * 64) / 64).astype(np.float32)

    w_in = dyadic((P, N_IN, total), 1.0) * (rng.random((P, N_IN, total)) < 0.8)
    w_rec = dyadic((P, total, total), 0.6) * (rng.random((P, total, total)) < 0.5)
    threshold = (1 + np.round(rng.random((P, total)) * 64) / 64).astype(np.float32)
    beta = rng.uniform(0.5, 1.0, (P, total)).astype(np.float32)
    beta[:, 0], beta[:, 1] = 1.0, 0.0  # the ends of the range: tau = NO_LEAK_TAU (2**30 dt) and tau = dt
    bias = dyadic((P, total), 0.1)
    extra = {}
    if model == "cuba":
        alpha = rng.uniform(0.0, 0.9, (P, total)).astype(np.float32)
        alpha[:, 2], alpha[:, 3] = 1.0, 0.0
        extra["alpha"] = alpha
    if model == "alif":
        extra["rho"] = rng.uniform(0.8, 1.0, (P, total)).astype(np.float32)
        extra["b"] = rng.uniform(0.0, 0.5, (P, total)).astype(np.float32)
    if delays:
        extra["delay_in"] = rng.integers(0, 6, (P, N_IN, total)).astype(np.int32)
        extra["delay_rec"] = rng.integers(1, 6, (P, total, total)).astype(np.int32)
        extra["delay_in"][0, 0, 0] = 64  # MAX_DELAY
    if padding:
        pad = rng.permutation(total)[:PAD]
        pad = pad[pad >= 2]  # keep the outputs real
        w_in[:, :, pad] = 0
        w_rec[:, pad, :] = 0
        w_rec[:, :, pad] = 0
        bias[:, pad] = 0
        threshold[:, pad] = np.inf
    return NetworkBatch(w_in, w_rec, threshold, beta, bias, 2, **extra)


def _inputs(seed: int, T: int = 150) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.round(rng.normal(0.3, 1.0, (T, 3, N_IN)) * 16) / 16 * (rng.random((T, 3, N_IN)) < 0.5)
            ).astype(np.float32)


@pytest.mark.parametrize("model", ["lif", "cuba"])
@pytest.mark.parametrize("delays", [False, True])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("padding", [False, True])
def test_round_trip_gives_identical_spikes(tmp_path, model, delays, reset, padding):
    net = _network(1, model, delays, padding)
    path = write_nir(net, tmp_path / "net.nir", reset)
    back, got_reset = read_nir(path)
    assert got_reset == reset and back.model == model and back.n_out == net.n_out
    assert back.has_delays == delays and back.n_networks == 1
    first = net.select(0)
    real = np.isfinite(first.threshold[0])
    assert back.n_neurons == real.sum()
    for name in ("threshold", "beta", "bias") + (("alpha",) if model == "cuba" else ()):
        assert np.array_equal(getattr(back, name)[0], getattr(first, name)[0, real]), name
    assert np.array_equal(back.w_in[0], first.w_in[0][:, real])
    assert np.array_equal(back.w_rec[0], first.w_rec[0][np.ix_(real, real)])
    if delays:  # the delays of the synapses that exist
        w, d = first.w_in[0][:, real], first.delay_in[0][:, real]
        assert np.array_equal(np.where(w != 0, back.delay_in[0], -1), np.where(w != 0, d, -1))
        w, d = first.w_rec[0][np.ix_(real, real)], first.delay_rec[0][np.ix_(real, real)]
        assert np.array_equal(np.where(w != 0, back.delay_rec[0], -1), np.where(w != 0, d, -1))
    x = _inputs(2)
    for kernel in ("numpy", "numba"):
        a = simulate(first, x, reset, kernel=kernel)[..., real]
        b = simulate(back, x, reset, kernel=kernel)
        assert a.any() and not a.all()
        assert np.array_equal(a, b), kernel


def test_plain_lif_graph_layout_is_unchanged():
    net = _network(3, "lif", False, False)
    graph = to_nir(net)
    assert set(graph.nodes) == {"input", "w_in", "lif", "w_rec", "output"}
    assert sorted(graph.edges) == sorted([("input", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                                          ("lif", "output")])
    assert isinstance(graph.nodes["lif"], nir.LIF)


def test_delays_of_one_and_zero_are_the_plain_layout():
    net = _network(3, "lif", False, False)
    defaults = NetworkBatch(net.w_in, net.w_rec, net.threshold, net.beta, net.bias, net.n_out,
                            delay_in=np.zeros(net.w_in.shape, np.int32), delay_rec=np.ones(net.w_rec.shape, np.int32))
    graph = to_nir(defaults)
    assert set(graph.nodes) == {"input", "w_in", "lif", "w_rec", "output"}
    back, _ = from_nir(graph)
    assert back.delay_in is None and back.delay_rec is None


def test_delay_branches_and_cuba_parameters():
    # input 0 -> neuron 0 at delay 0, input 1 -> neuron 1 at delay 3; neuron 0 -> 1 at delay 1,
    # neuron 1 -> 0 at delay 4
    w_in = np.array([[[1.0, 0.0], [0.0, 0.5]]], np.float32)
    w_rec = np.array([[[0.0, 0.25], [-0.75, 0.0]]], np.float32)
    delay_in = np.array([[[0, 0], [0, 3]]], np.int32)
    delay_rec = np.array([[[1, 1], [4, 1]]], np.int32)
    alpha = np.array([[0.5, 0.75]], np.float32)
    beta = np.array([[0.875, 1.0]], np.float32)
    net = NetworkBatch(w_in, w_rec, np.ones((1, 2)), beta, np.array([[0.125, 0.0]]), 1, alpha=alpha,
                       delay_in=delay_in, delay_rec=delay_rec)
    g = to_nir(net, "zero")
    assert set(g.nodes) == {"input", "w_in", "lif", "w_rec", "output", "delay_in_3", "w_in_3", "delay_rec_4", "w_rec_4"}
    assert {("input", "delay_in_3"), ("delay_in_3", "w_in_3"), ("w_in_3", "lif"), ("lif", "delay_rec_4"),
            ("delay_rec_4", "w_rec_4"), ("w_rec_4", "lif")} <= set(g.edges)
    assert np.array_equal(g.nodes["delay_in_3"].delay, [3.0, 3.0])       # input delay d: Delay d
    assert np.array_equal(g.nodes["delay_rec_4"].delay, [3.0, 3.0])      # between neurons: d - 1, plus the cycle
    assert np.array_equal(g.nodes["w_in"].weight, [[1.0, 0.0], [0.0, 0.0]])
    assert np.array_equal(g.nodes["w_in_3"].weight, [[0.0, 0.0], [0.0, 0.5]])
    assert np.array_equal(g.nodes["w_rec"].weight, [[0.0, 0.0], [0.25, 0.0]])   # W^T: row = target
    assert np.array_equal(g.nodes["w_rec_4"].weight, [[0.0, -0.75], [0.0, 0.0]])
    assert np.array_equal(g.nodes["w_in"].bias, [0.125, 0.0]) and not g.nodes["w_in_3"].bias.any()
    lif = g.nodes["lif"]
    assert isinstance(lif, nir.CubaLIF)
    assert np.array_equal(lif.tau_syn, [2.0, 4.0]) and np.array_equal(lif.w_in, [2.0, 4.0])
    assert np.array_equal(lif.tau_mem, [8.0, 2.0**30]) and np.array_equal(lif.r, lif.tau_mem)
    assert g.metadata["reset"] == "zero"


def _nir_reference(graph, x: np.ndarray) -> np.ndarray:
    """Spikes (T, B, N) of a graph by NIR's definitions, in float64: each Delay shifts its input
    by its delay, a cycle through the neurons acts one step later, and the neurons are
    forward Euler of NIR's LIF / CubaLIF with step dt (the reset from the graph's metadata)."""
    dt = graph.metadata["dt"]
    into = {}
    for a, b in graph.edges:
        into.setdefault(b, []).append(a)
    lif = graph.nodes["lif"]
    cuba = isinstance(lif, nir.CubaLIF)
    tau = lif.tau_mem if cuba else lif.tau
    T, B, _ = x.shape
    n = lif.v_threshold.size
    v, i_syn = np.zeros((B, n)), np.zeros((B, n))
    s = np.zeros((T, B, n))
    for t in range(T):
        current = np.zeros((B, n))
        for name in into["lif"]:
            aff = graph.nodes[name]
            src, = into[name]
            shift = 0
            if isinstance(graph.nodes[src], nir.Delay):
                shift, src = int(graph.nodes[src].delay[0] / dt), into[src][0]
            if src == "input":
                pre = x[t - shift] if t - shift >= 0 else np.zeros_like(x[0])
            else:
                pre = s[t - 1 - shift] if t - 1 - shift >= 0 else np.zeros((B, n))
            current += pre @ aff.weight.T.astype(np.float64) + aff.bias
        if cuba:
            i_syn = i_syn + dt / lif.tau_syn * (-i_syn + lif.w_in * current)
            current = i_syn
        v = v + dt / tau * (lif.v_leak - v + lif.r * current)
        s[t] = v > lif.v_threshold
        v = np.where(s[t] > 0, v - lif.v_threshold if graph.metadata["reset"] == "subtract" else lif.v_reset, v)
    return s


@pytest.mark.parametrize("model", ["lif", "cuba"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_nir_semantics_of_the_graph_match_the_simulator(model, reset):
    """The graph means what the simulator computes, read by NIR's own definitions (not our reader)."""
    rng = np.random.default_rng(4)
    P, n = 1, 6
    w_in = (np.round(rng.normal(0, 1, (P, N_IN, n)) * 64) / 64).astype(np.float32)
    w_rec = (np.round(rng.normal(0, 0.7, (P, n, n)) * 64) / 64 * (rng.random((P, n, n)) < 0.5)).astype(np.float32)
    extra = {"alpha": rng.uniform(0.2, 0.9, (P, n)).astype(np.float32)} if model == "cuba" else {}
    net = NetworkBatch(w_in, w_rec, np.ones((P, n)), rng.uniform(0.5, 0.95, (P, n)).astype(np.float32),
                       np.full((P, n), 0.0625), 2, delay_in=rng.integers(0, 5, (P, N_IN, n)).astype(np.int32),
                       delay_rec=rng.integers(1, 5, (P, n, n)).astype(np.int32), **extra)
    x = _inputs(5, 80)
    ours = simulate(net, x, reset)[:, 0]
    assert ours.any() and np.array_equal(ours, _nir_reference(to_nir(net, reset), x))


def test_alif_refuses_with_one_line(tmp_path):
    net = _network(1, "alif", False, False)
    msg = "alif neuron model \\(adaptive threshold\\) has no NIR node; NIR can hold lif and cuba networks"
    with pytest.raises(ConfigError, match=msg):
        to_nir(net)
    with pytest.raises(ConfigError, match=msg):
        write_nir(net, tmp_path / "a.nir")
    assert not (tmp_path / "a.nir").exists()


def test_a_graph_in_another_time_convention_is_refused():
    graph = to_nir(_network(1, "lif", False, False))
    lif = graph.nodes["lif"]
    graph.nodes["lif"] = nir.LIF(tau=lif.tau * 1e-4, r=lif.r, v_leak=lif.v_leak, v_threshold=lif.v_threshold,
                                 v_reset=lif.v_reset)  # snnTorch's dt = 1e-4: r = tau / dt
    with pytest.raises(RunDirError, match="lif.r is not tau / dt"):
        from_nir(graph)


def test_decays_round_trip_exactly_from_two_to_the_minus_29():
    from evo.app.export import _decay, _tau
    decays = np.array([0.0, 2.0 ** -29, 1e-3, 0.5, 0.9, np.nextafter(np.float32(1), np.float32(0)), 1.0], np.float32)
    assert np.array_equal(_decay(_tau(decays)), decays)
