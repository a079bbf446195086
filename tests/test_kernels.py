"""The numba kernel against the numpy kernel, the kernel setting, and the speed benchmarks."""
from __future__ import annotations

import numpy as np
import pytest

import neurons
from neurons import NetworkBatch, Simulator, kernel_for, kernels, resolve_kernel, simulate, simulate_outputs

pytest.importorskip("numba")


def dyadic_nets(P=12, N=9, n_in=5, n_out=3, pad=2, seed=0) -> NetworkBatch:
    """Weights, thresholds and biases on a 2**-8 grid: every sum of them is exact in float32,
    so the kernels must agree bit for bit whatever order they add in. The last ``pad``
    neurons of odd networks are padding."""
    rng = np.random.default_rng(seed)
    grid = lambda a: (np.round(a * 256) / 256).astype(np.float32)  # noqa: E731
    w_in = grid(rng.normal(0, 1.0, (P, n_in, N)))
    w_rec = grid(rng.normal(0, 0.4, (P, N, N)) * (rng.random((P, N, N)) < 0.6))
    threshold = grid(rng.uniform(0.5, 1.5, (P, N)))
    beta = rng.uniform(0.5, 1.0, (P, N)).astype(np.float32)
    bias = grid(rng.normal(0, 0.2, (P, N)))
    for p in range(1, P, 2):
        threshold[p, N - pad:] = np.inf
        w_in[p, :, N - pad:] = 0
        w_rec[p, N - pad:, :] = 0
        w_rec[p, :, N - pad:] = 0
        bias[p, N - pad:] = 0
    return NetworkBatch(w_in, w_rec, threshold, beta, bias, n_out)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("per_network", [False, True])
@pytest.mark.parametrize("batch", [1, 3, 7])
@pytest.mark.parametrize("n_neurons", [9, 16])  # the scalar and the vector numba kernel
def test_numba_and_numpy_give_identical_spikes(reset, per_network, batch, n_neurons):
    net = dyadic_nets(N=n_neurons)
    rng = np.random.default_rng(1)
    shape = (40, net.n_networks, batch, net.n_in) if per_network else (40, batch, net.n_in)
    x = (rng.random(shape) < 0.3).astype(np.float32)
    a = simulate(net, x, reset, kernel="numba")
    b = simulate(net, x, reset, kernel="numpy")
    assert 0.02 < a.mean() < 0.9  # the networks are neither silent nor saturated
    np.testing.assert_array_equal(a, b)
    ra, rb = simulate_outputs(net, x, reset, kernel="numba"), simulate_outputs(net, x, reset, kernel="numpy")
    for name in ("counts", "first_spike", "v_final", "total_spikes"):
        np.testing.assert_array_equal(getattr(ra, name), getattr(rb, name), err_msg=name)
    assert not np.isnan(ra.v_final).any()


@pytest.mark.parametrize("n_neurons", [9, 16])
def test_numba_stepping_matches_its_sequence_and_numpy_stepping(n_neurons):
    net = dyadic_nets(N=n_neurons, seed=3)
    rng = np.random.default_rng(2)
    x = np.round(rng.normal(0.2, 1.0, (30, net.n_networks, 4, net.n_in)) * 256) / 256  # currents, on the grid
    whole = simulate(net, x, kernel="numba")
    sims = {k: Simulator(net, 4, kernel=k) for k in ("numba", "numpy")}
    for t in range(30):
        steps = {k: s.step(s.input_current(x[t])).copy() for k, s in sims.items()}
        np.testing.assert_array_equal(steps["numba"], whole[t])
        np.testing.assert_array_equal(steps["numba"], steps["numpy"])
    np.testing.assert_array_equal(sims["numba"].v, sims["numpy"].v)
    np.testing.assert_array_equal(sims["numba"].counts, whole.sum(axis=0))


def test_run_constant_equals_repeated_steps_and_keep_preserves_state():
    net = dyadic_nets(seed=4)
    current = np.random.default_rng(5).normal(0.3, 1.0, (net.n_networks, 2, net.n_neurons)).astype(np.float32)
    a, b = Simulator(net, 2, kernel="numba"), Simulator(net, 2, kernel="numba")
    a.run_constant(current, 7)
    for _ in range(7):
        b.step(current)
    for name in ("v", "s", "counts"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    keep = np.array([1, 4, 5])
    a.keep(keep)
    a.run_constant(current[keep], 3)
    b.run_constant(current, 3)
    np.testing.assert_array_equal(a.v, b.v[keep])


@pytest.mark.parametrize("N", [23, 32])
def test_a_networks_spikes_do_not_depend_on_the_rest_of_the_batch(N):
    # general (non-grid) weights: this holds within the kernel whatever the rounding
    rng = np.random.default_rng(6)
    P = 40
    net = NetworkBatch(rng.normal(0, 1, (P, 4, N)), rng.normal(0, 0.5, (P, N, N)), rng.uniform(0.5, 1.5, (P, N)),
                       rng.uniform(0.5, 1, (P, N)), rng.normal(0, 0.3, (P, N)), 2)
    x = rng.random((50, 1, 4)).astype(np.float32)
    whole = simulate(net, x, kernel="numba")
    for idx in ([7], [3, 31, 17], list(range(20, 40))):
        np.testing.assert_array_equal(simulate(net.select(idx), x, kernel="numba"), whole[:, idx])


def _general_nets(P, N, n_in, seed):
    """Random weights off any grid, so that a different order of sums would show."""
    rng = np.random.default_rng(seed)
    w_rec = (rng.normal(0, 0.6, (P, N, N)) * (rng.random((P, N, N)) < 0.5)).astype(np.float32)
    threshold = rng.uniform(0.5, 1.5, (P, N)).astype(np.float32)
    threshold[::3, -3:] = np.inf  # padding neurons
    return NetworkBatch(rng.normal(0, 1.0, (P, n_in, N)), w_rec, threshold, rng.uniform(0.3, 1.0, (P, N)),
                        rng.normal(0, 0.3, (P, N)), 3)


def _kernel_call(fn, net, x, is_current, hold, T, subtract, record, state):
    from neurons.lif import _finite_thresholds
    v, s, counts = (a.copy() for a in state)
    first = np.full(v.shape[:2] + (net.n_out,), T, np.int32)
    spikes = np.zeros((T,) + v.shape, np.float32) if record else np.empty((0, 0, 0, 0), np.float32)
    fn(x, is_current, hold, T, net.w_in, net.w_rec, net.bias, net.beta, net.threshold, _finite_thresholds(net),
       subtract, v, s, counts, first, record, spikes)
    return v, s, counts, first, spikes


@pytest.mark.parametrize("N", [8, 24, 64, 72, 96, 136])
@pytest.mark.parametrize("mode", ["spikes", "currents", "hold"])
@pytest.mark.parametrize("subtract", [True, False])
@pytest.mark.parametrize("record", [True, False])
def test_vector_and_scalar_kernels_are_bit_identical(N, mode, subtract, record):
    """The vector kernel adds the same terms in the same order as the scalar kernel: every
    output is equal bit for bit, on weights where another order would round differently."""
    assert kernels.vector_lanes(N) > 0
    P, B, T = 7, 2, 30
    net = _general_nets(P, N, 6, seed=N)
    rng = np.random.default_rng(N + 1)
    if mode == "spikes":  # input spikes, shared (X = 1)
        x = (rng.random((T, 1, B, net.n_in)) < 0.4).astype(np.float32) * rng.uniform(0.5, 2, (T, 1, B, net.n_in))
    elif mode == "currents":  # input currents per network
        x = rng.normal(0.2, 1.0, (T, P, B, N)).astype(np.float32)
    else:  # one current held for every step
        x = rng.normal(0.2, 1.0, (1, P, B, N)).astype(np.float32)
    x = x.astype(np.float32)
    # start from a state with spikes in it
    state = (rng.normal(0, 0.5, (P, B, N)).astype(np.float32), (rng.random((P, B, N)) < 0.3).astype(np.float32),
             np.zeros((P, B, N), np.float32))
    args = (net, x, mode != "spikes", mode == "hold", T, subtract, record, state)
    vec = _kernel_call(kernels.run, *args)
    ref = _kernel_call(kernels._scalar_run, *args)
    for name, a, b in zip(("v", "s", "counts", "first", "spikes"), vec, ref):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert 0.02 < vec[2].mean() / T < 0.9  # neither silent nor saturated
    assert not np.isnan(vec[0]).any()


def test_vector_lanes_chunks_never_cross_a_spike_word():
    assert [kernels.vector_lanes(n) for n in (0, 5, 9, 63)] == [0, 0, 0, 0]  # the scalar kernel
    assert [kernels.vector_lanes(n) for n in (8, 24, 64)] == [1, 3, 8]      # one chunk of N
    assert [kernels.vector_lanes(n) for n in (72, 96, 128, 256)] == [1, 4, 8, 8]
    for n in range(8, 600, 8):
        width = 8 * kernels.vector_lanes(n)
        assert n % width == 0 and (n <= 64 or 64 % width == 0)


def test_kernel_settings_and_errors(monkeypatch):
    assert kernel_for("auto", 1) == "numba" and kernel_for("auto", 256) == "numba"
    limit = neurons.lif.AUTO_STEPPING_NUMBA_MAX_BATCH  # closed loops, stepped one call per step
    assert kernel_for("auto", limit, stepping=True) == "numba" and kernel_for("auto", limit + 1, stepping=True) == "numpy"
    assert Simulator(dyadic_nets(), limit + 1).kernel == "numpy" and Simulator(dyadic_nets(), limit).kernel == "numba"
    assert kernel_for("numpy", 1) == "numpy" and kernel_for("numba", 500) == "numba"
    with pytest.raises(ValueError, match="'fast' is not a simulator kernel; expected auto or one of numpy, numba"):
        resolve_kernel("fast")
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    assert resolve_kernel("auto") == "numpy"
    with pytest.raises(ValueError, match=r"needs the numba package, which is not installed \(pip install -e '.*\[fast\]'\)"):
        Simulator(dyadic_nets(), 1, kernel="numba")


def test_use_kernel_sets_the_process_default():
    before = neurons.current_kernel()
    try:
        assert neurons.use_kernel("numpy") == "numpy"
        assert Simulator(dyadic_nets(), 1).kernel == "numpy"
        neurons.use_kernel("auto")
        assert Simulator(dyadic_nets(), 1).kernel == "numba"
    finally:
        neurons.use_kernel(before)


def test_simulate_out_buffer_is_used_and_checked():
    net = dyadic_nets()
    x = np.ones((5, 1, net.n_in), np.float32)
    for kernel in ("numba", "numpy"):
        buf = np.full((5, net.n_networks, 1, net.n_neurons), 7.0, np.float32)
        assert simulate(net, x, kernel=kernel, out=buf) is buf
        np.testing.assert_array_equal(buf, simulate(net, x, kernel=kernel))
        with pytest.raises(ValueError, match=r"out: expected a C-contiguous float32 array of shape \(5, 12, 1, 9\)"):
            simulate(net, x, kernel=kernel, out=np.zeros((5, 12, 1, 8), np.float32))


def test_run_kernel_config_is_checked_and_recorded(tmp_path):
    from evo.training import config as cfg
    from evo.errors import ConfigError
    from evo.results import load_run
    from evo.training.api import run
    with pytest.raises(ConfigError, match="run.kernel: 'gpu'; expected one of auto, numpy, numba"):
        cfg.resolve({"task": {"name": "xor"}, "run": {"kernel": "gpu"}})
    before = neurons.current_kernel()
    try:
        for kernel in ("numpy", "auto"):
            config = cfg.resolve({"task": {"name": "xor"}, "run": {"kernel": kernel, "backend": "serial",
                                  "generations": 2, "out": str(tmp_path), "name": kernel, "quiet": True}})
            run(config, log=None)
            assert load_run(tmp_path / kernel).config["run"]["kernel"] == kernel
    finally:
        neurons.use_kernel(before)


def test_bench_sim_reports_identical_spikes_and_rates():
    from evo.app.bench_speed import bench_network, reference_lif, sim
    net, x = bench_network(32, 16, 1, 0.15)
    assert abs(simulate(net, x).mean() - 0.15) < 0.05
    out = sim(shapes=[(16, 16, 1), (8, 8, 8), (4, 16, 4, 64, 0.1)], rates=[0.15], rounds=1, min_seconds=0.01)
    assert [r["kernel"] for r in out["rows"]] == ["numba"] * 3
    assert [(r["n_in"], r["input_rate"]) for r in out["rows"]] == [(8, 0.2), (8, 0.2), (64, 0.1)]
    for r in out["rows"]:
        assert r["identical_spikes"]
        assert r["updates_per_s"] > 0 and r["reference_updates_per_s"] > 0
        assert r["ratio"] == pytest.approx(r["updates_per_s"] / r["reference_updates_per_s"])
        assert 0.05 < r["firing_rate"] < 0.3
        assert r["reference_projection"] in ("dense", "sparse")
    # the sparse form of the reference's input projection gives the same spikes
    wide, spikes = bench_network(4, 16, 4, 0.15, n_in=64, input_rate=0.1)
    np.testing.assert_array_equal(reference_lif(wide, spikes, projection="sparse"), reference_lif(wide, spikes))
    np.testing.assert_array_equal(reference_lif(wide, spikes), simulate(wide, spikes))


def test_bench_eval_splits_the_time():
    from evo.app.bench_speed import evaluation
    out = evaluation("cartpole", population=8, generations=1, late=2)
    rows = out["rows"]
    assert [(r["path"], r["population_age"]) for r in rows] == [
        ("numpy", "early"), ("compiled", "early"), ("numpy", "late"), ("compiled", "late")]
    for r in rows[:2]:
        split = r["split_seconds"]
        assert r["env_steps"] > 8
        assert sum(split.values()) == pytest.approx(r["seconds"])
        assert r["env_steps_per_second"] > 0
    assert rows[0]["split_seconds"]["simulation"] > 0 and "rollout" not in rows[0]["split_seconds"]
    assert rows[1]["split_seconds"]["rollout"] > 0 and "simulation" not in rows[1]["split_seconds"]
    # the same populations on both paths: the same steps, and the ratio of the rates
    assert rows[0]["env_steps"] == rows[1]["env_steps"] and rows[2]["env_steps"] == rows[3]["env_steps"]
    for numpy_row, compiled_row in (rows[:2], rows[2:]):
        assert compiled_row["ratio"] == pytest.approx(compiled_row["env_steps_per_second"]
                                                      / numpy_row["env_steps_per_second"])
        # and round by round: each round's compiled rate over the same round's numpy rate
        assert compiled_row["round_ratios"] == pytest.approx([c / n for c, n in zip(compiled_row["rates"],
                                                                                    numpy_row["rates"])])
        assert "round_ratios" not in numpy_row
    for r in rows:  # alternating rounds (3 by default); a row is its path's median round
        assert r["rounds"] == 3 and len(r["rates"]) == 3
        assert r["env_steps_per_second"] == sorted(r["rates"])[1]


def test_bench_eval_worker_rows_are_the_median_of_the_rounds(capsys):
    from evo.app.bench_speed import evaluation, print_eval_row
    rows = evaluation("cartpole", population=8, generations=1, late=0, workers=(1,), rounds=3,
                      paths=("numpy",))["rows"]
    (row,) = [r for r in rows if r["path"] == "workers"]
    assert row["workers"] == 1 and row["rounds"] == 3 and len(row["rates"]) == 3
    assert row["env_steps"] > 8 and row["env_steps_per_second"] == pytest.approx(sorted(row["rates"])[1])
    assert row["seconds"] == pytest.approx(row["env_steps"] / row["env_steps_per_second"])
    print_eval_row(row)
    assert "environment steps/s (median of 3 rounds: " in capsys.readouterr().out


def test_bench_eval_command_prints_json(capsys):
    import json

    from evo.app.cli import main
    assert main(["bench", "eval", "--population", "8", "--generations", "1", "--kernel", "numpy", "--late", "0",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["benchmark"] == "eval" and [r["path"] for r in out["rows"]] == ["numpy"]
    assert main(["bench", "sim", "--rounds", "0"]) == 2
    assert "--rounds: 0; expected an integer >= 1" in capsys.readouterr().err


def test_a_bad_kernel_environment_variable_is_a_clear_error(monkeypatch):
    import neurons.lif as lif
    monkeypatch.setenv("EVOSPIKE_KERNEL", "bogus")
    monkeypatch.setattr(lif, "_default_kernel", None)
    with pytest.raises(ValueError, match="EVOSPIKE_KERNEL: kernel: 'bogus' is not a simulator kernel"):
        simulate(dyadic_nets(), np.zeros((2, 1, 5), np.float32))
    monkeypatch.setenv("EVOSPIKE_KERNEL", "numpy")
    assert lif.current_kernel() == "numpy"


def test_input_lists_are_each_rows_nonzero_entries_in_order():
    x = np.zeros((3, 1, 4, 6), np.float32)
    x[0, 0, 1, [4, 1, 5]] = 1.0
    x[2, 0, 3, 2] = 0.5
    idx, n, binary = kernels.nonzero_inputs(x, False)
    assert n[:, 0].tolist() == [[0, 3, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
    assert idx[0, 0, 1, :3].tolist() == [1, 4, 5] and idx[2, 0, 3, 0] == 2 and not binary
    assert kernels.nonzero_inputs(np.minimum(x * 4, 1), False)[2]  # all 0 or 1


@pytest.mark.parametrize("record", [False, True])
def test_the_product_free_path_for_spike_inputs_gives_the_same_bits(record):
    from neurons.vector_kernel import vector_kernel
    rng = np.random.default_rng(3)
    P, B, N, K, T = 3, 4, 16, 30, 25
    w_in = rng.normal(0, 0.7, (P, K, N)).astype(np.float32)   # not dyadic: products would show
    w_rec = rng.normal(0, 0.3, (P, N, N)).astype(np.float32)
    x = (rng.random((T, 1, B, K)) < 0.3).astype(np.float32)
    idx, n, binary = kernels.nonzero_inputs(x, False)
    assert binary
    params = [rng.normal(0, 0.1, (P, N)).astype(np.float32), np.full((P, N), 0.9, np.float32),
              np.ones((P, N), np.float32), np.ones((P, N), np.float32)]
    out = []
    for flag in (False, True):
        v, s, c = (np.zeros((P, B, N), np.float32) for _ in range(3))
        spikes = np.zeros((T, P, B, N), np.float32) if record else np.zeros((0, 0, 0, 0), np.float32)
        first = np.full((P, B, 0 if record else 2), T, np.int32)
        vector_kernel(kernels.vector_lanes(N), True, record, flag)(x, idx, n, False, False, T, w_in, w_rec, *params,
                                                                   v, s, c, first, spikes)
        out.append((v, c, first, spikes))
    for a, b in zip(*out):
        assert np.array_equal(a, b)
    assert out[0][1].sum() > 0


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_a_constant_input_is_projected_once_with_the_same_spikes(kernel):
    net = dyadic_nets(N=16)
    z = (np.round(np.random.default_rng(4).normal(0, 1, (3, net.n_in)) * 16) / 16).astype(np.float32)
    held = np.broadcast_to(z, (30,) + z.shape)
    assert held.strides[0] == 0
    full = np.ascontiguousarray(held)
    assert np.array_equal(simulate(net, held, kernel=kernel), simulate(net, full, kernel=kernel))
    a, b = simulate_outputs(net, held, kernel=kernel), simulate_outputs(net, full, kernel=kernel)
    assert np.array_equal(a.counts, b.counts) and np.array_equal(a.synaptic_events, b.synaptic_events)


def test_layered_networks_on_spike_input_run_event_driven_in_dense_form():
    from neurons import LayeredBatch, simulate_layered
    net = LayeredBatch.random(P=5, sizes=(40, 16, 4), seed=2)
    x = (np.random.default_rng(5).random((20, 6, 40)) < 0.2).astype(np.float32)
    before = neurons.current_kernel()
    try:
        neurons.use_kernel("auto")
        a = simulate_layered(net, x)
    finally:
        neurons.use_kernel(before)
    b = simulate_outputs(net.to_dense(), x, kernel="numba")
    for f in ("counts", "first_spike", "v_final", "total_spikes", "synaptic_events"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert a.total_spikes.sum() > 0
    c = neurons.layered._dense_events(net, x, "subtract", max_chunk_bytes=1)  # one network at a time
    assert np.array_equal(c.counts, a.counts) and np.array_equal(c.synaptic_events, a.synaptic_events)


def test_bench_events_times_each_kernel_and_leaves_the_setting_as_it_was():
    from evo.app import bench_speed
    before = neurons.current_kernel()
    try:
        neurons.use_kernel("numpy")
        result = bench_speed.events(P=4, rounds=1)
        assert [r["kernel"] for r in result["rows"]] == ["numpy", "numba"]
        assert result["rows"][0]["hidden_spikes_per_sample"] == result["rows"][1]["hidden_spikes_per_sample"]
        assert neurons.current_kernel() == "numpy"
    finally:
        neurons.use_kernel(before)
