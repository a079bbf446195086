"""Neuron models (lif, alif, cuba) and synaptic delays: hand traces, kernels, stepping."""
import numpy as np
import pytest

from neurons import NetworkBatch, NetworkError, Simulator, simulate, simulate_outputs
from neurons.kernels import AVAILABLE

from conftest import dyadic, random_net

KERNELS = ["numpy"] + (["numba"] if AVAILABLE else [])


def single(beta=0.5, threshold=1.0, **extra):
    """One neuron driven by one input channel with weight 1."""
    extra = {k: np.full((1, 1), v, np.float32) for k, v in extra.items()}
    return NetworkBatch(np.ones((1, 1, 1)), np.zeros((1, 1, 1)), np.full((1, 1), threshold),
                        np.full((1, 1), beta), np.zeros((1, 1)), 1, **extra)


def trace(net, x, kernel, reset="subtract"):
    """(v after each step, spikes) of neuron 0, network 0, sample 0, stepping one step at a time."""
    sim = Simulator(net, x.shape[1], reset, kernel=kernel)
    vs, ss = [], []
    for x_t in x:
        ss.append(sim.step(sim.input_current(x_t)).copy())
        vs.append(sim.v.copy())
    return np.array(vs)[:, 0, 0, 0], np.array(ss)[:, 0, 0, 0]


@pytest.mark.parametrize("kernel", KERNELS)
def test_cuba_by_hand(kernel):
    # alpha 0.5, beta 0.5, input 0.5 each step:
    # i = 0.5, 0.75, 0.875;   v = 0.5, 0.25 + 0.75 = 1.0 (not > 1), 0.5 + 0.875 = 1.375 -> spike -> 0.375
    v, s = trace(single(alpha=0.5), np.full((3, 1, 1), 0.5, np.float32), kernel)
    np.testing.assert_array_equal(v, [0.5, 1.0, 0.375])
    np.testing.assert_array_equal(s, [0, 0, 1])


@pytest.mark.parametrize("kernel", KERNELS)
def test_alif_by_hand(kernel):
    # beta 0.5, threshold 1, rho 0.5, b 0.5, input 1 each step:
    # t1: a = 0,                    A = 1,     v = 1      -> no spike (not > 1)
    # t2: a = 0,                    A = 1,     v = 1.5    -> spike, v = 0.5
    # t3: a = 0 * 0.5 + 1 = 1,      A = 1.5,   v = 1.25   -> no spike (subtract would use 1.5)
    # t4: a = 0.5,                  A = 1.25,  v = 1.625  -> spike, v = 1.625 - 1.25 = 0.375
    # t5: a = 0.25 + 1 = 1.25,      A = 1.625, v = 1.1875 -> no spike
    v, s = trace(single(rho=0.5, b=0.5), np.ones((5, 1, 1), np.float32), kernel)
    np.testing.assert_array_equal(s, [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(v, [1.0, 0.5, 1.25, 0.375, 1.1875])


@pytest.mark.parametrize("kernel", KERNELS)
def test_alif_zero_reset_by_hand(kernel):
    # as above with the zero reset: t2 spikes -> v = 0; t3: a = 1, A = 1.5, v = 1; t4: a = 0.5, A = 1.25,
    # v = 1.5 -> spike -> 0; t5: a = 1.25, A = 1.625, v = 1
    v, s = trace(single(rho=0.5, b=0.5), np.ones((5, 1, 1), np.float32), kernel, reset="zero")
    np.testing.assert_array_equal(s, [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(v, [1.0, 0.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("long", [33, 64])
def test_delays_over_32_steps_by_hand(kernel, long):
    # as below, with n1 -> n0 delayed by more than one 32-step history word holds
    w_in = np.array([[[0.0, 2.0]]])
    w_rec = np.array([[[0.0, 0.0], [2.0, 0.0]]])
    net = NetworkBatch(w_in, w_rec, np.ones((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)), 1,
                       delay_in=np.full((1, 1, 2), 3), delay_rec=np.array([[[1, 1], [long, 1]]]))
    x = np.zeros((3 + long + 4, 1, 1), np.float32)
    x[0] = 1.0
    spikes = simulate(net, x, kernel=kernel)[:, 0, 0]
    assert np.flatnonzero(spikes[:, 1]).tolist() == [3]
    assert np.flatnonzero(spikes[:, 0]).tolist() == [3 + long]
    sim = Simulator(net, 1, kernel=kernel)  # one step per call: the history carries over
    stepped = np.stack([sim.step(sim.input_current(x_t)).copy() for x_t in x])[:, 0, 0]
    np.testing.assert_array_equal(stepped, spikes)


@pytest.mark.parametrize("kernel", KERNELS)
def test_delays_by_hand(kernel):
    # input -> n1 with delay 3, n1 -> n0 with delay 5, every weight strong enough to fire at once:
    # an input spike at step 0 fires n1 at step 3 and n0 at step 8
    w_in = np.array([[[0.0, 2.0]]])
    w_rec = np.array([[[0.0, 0.0], [2.0, 0.0]]])
    net = NetworkBatch(w_in, w_rec, np.ones((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)), 1,
                       delay_in=np.full((1, 1, 2), 3), delay_rec=np.array([[[1, 1], [5, 1]]]))
    x = np.zeros((12, 1, 1), np.float32)
    x[0] = 1.0
    spikes = simulate(net, x, kernel=kernel)[:, 0, 0]
    assert np.flatnonzero(spikes[:, 1]).tolist() == [3]
    assert np.flatnonzero(spikes[:, 0]).tolist() == [8]
    assert net.max_delay == 5


def _models(rng, P, N, name, n_in=3, delays=0):
    """random_net's networks with the parameters of model ``name`` (dyadic values, so that any
    summation order gives the same bits) and, with ``delays`` D, random delays up to D."""
    base = random_net(rng, P, n_in, N, 2)
    extra = {}
    if name == "alif":
        extra = dict(rho=rng.integers(0, 17, (P, N)) / 16, b=rng.integers(0, 9, (P, N)) / 16)
    elif name == "cuba":
        extra = dict(alpha=rng.integers(0, 17, (P, N)) / 16)
    if delays:
        extra.update(delay_in=rng.integers(0, delays + 1, (P, n_in, N)),
                     delay_rec=rng.integers(1, delays + 1, (P, N, N)))
    return NetworkBatch(base.w_in, base.w_rec, base.threshold, base.beta, base.bias, 2, **extra)


CASES = [(m, d) for m in ("lif", "alif", "cuba") for d in (0, 4)] + [("lif", 20), ("alif", 64)]


@pytest.mark.skipif(not AVAILABLE, reason="numba is not installed: only the numpy kernel exists")
@pytest.mark.parametrize("model, delays", CASES)
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_both_kernels_give_identical_spikes(rng, model, delays, reset):
    net = _models(rng, 4, 6, model, delays=delays)
    assert net.model == model and net.has_delays == bool(delays)
    T = 30 + delays  # long delays act within the window
    x = (rng.random((T, 3, 3)) < 0.4).astype(np.float32) * dyadic(rng, (T, 3, 3), scale=2)
    a = simulate(net, x, reset, kernel="numpy")
    b = simulate(net, x, reset, kernel="numba")
    np.testing.assert_array_equal(a, b)
    assert 0.02 < a.mean() < 0.9  # the networks do spike, and not always
    ra = simulate_outputs(net, x, reset, kernel="numpy")
    rb = simulate_outputs(net, x, reset, kernel="numba")
    for field in ("counts", "first_spike", "v_final", "total_spikes", "synaptic_events"):
        np.testing.assert_array_equal(getattr(ra, field), getattr(rb, field))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_default_delays_and_neutral_parameters_give_todays_spikes(rng, kernel, reset):
    """alif with b = 0 and cuba with alpha = 0 are LIF; with explicit delays of 1 (inputs 0)
    they run through neurons.models and give the plain kernels' spikes bit for bit."""
    plain = random_net(rng, 5, 4, 16, 2)
    x = (rng.random((40, 3, 4)) < 0.3).astype(np.float32) * rng.random((40, 3, 4), dtype=np.float32)
    ref = simulate(plain, x, reset, kernel=kernel)
    delays = dict(delay_in=np.zeros(plain.w_in.shape, int), delay_rec=np.ones(plain.w_rec.shape, int))
    base = (plain.w_in, plain.w_rec, plain.threshold, plain.beta, plain.bias, 2)
    zeros = np.zeros((5, 16), np.float32)
    for extra in (dict(rho=zeros + 0.5, b=zeros), dict(alpha=zeros)):
        net = NetworkBatch(*base, **extra, **delays)
        assert not net.plain and not net.has_delays
        np.testing.assert_array_equal(simulate(net, x, reset, kernel=kernel), ref)
        rec, rec_ref = simulate_outputs(net, x, reset, kernel=kernel), simulate_outputs(plain, x, reset, kernel=kernel)
        np.testing.assert_array_equal(rec.counts, rec_ref.counts)
        np.testing.assert_array_equal(rec.v_final, rec_ref.v_final)
    assert ref.mean() > 0.02
    assert NetworkBatch(*base, **delays).plain  # default delays alone: the plain kernels


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("model", ["alif", "cuba"])
def test_stepping_equals_the_whole_sequence_and_keep_preserves_networks(rng, kernel, model):
    net = _models(rng, 6, 5, model, delays=3)
    x = (rng.random((25, 6, 2, 3)) < 0.5).astype(np.float32)
    whole = simulate(net, x, kernel=kernel)
    sim = Simulator(net, 2, kernel=kernel)
    kept = np.array([0, 2, 5])
    got = []
    for t, x_t in enumerate(x):
        if t == 10:
            sim.keep(kept)
        got.append(sim.step(sim.input_current(x_t if t < 10 else x_t[kept])).copy())
    np.testing.assert_array_equal(np.stack(got[:10]), whole[:10])
    np.testing.assert_array_equal(np.stack(got[10:]), whole[10:, kept])
    sim.reset()
    assert not sim.v.any() and not sim.counts.any()


@pytest.mark.skipif(not AVAILABLE, reason="numba is not installed: only the numpy kernel exists")
@pytest.mark.parametrize("longest", [20, 40])
def test_spike_and_current_inputs_through_delays_agree_when_mixed_and_kept(rng, longest):
    """The numba kernel reads delayed spike inputs from a history and pushes other inputs into
    the ring; stepping with spikes at some steps and currents at others, and keeping only the
    networks whose input delays fit in 32 bits, gives the numpy kernel's spikes."""
    net = _models(rng, 6, 5, "lif", delays=4)
    d_in = rng.integers(0, longest + 1, net.w_in.shape)
    d_in[:3] = np.minimum(d_in[:3], 30)
    net = NetworkBatch(net.w_in, net.w_rec, net.threshold, net.beta, net.bias, 2, delay_in=d_in,
                       delay_rec=net.delay_rec)
    T = 30 + longest
    x = (rng.random((T, 6, 2, 3)) < 0.4).astype(np.float32)
    x[T // 4: T // 2] *= dyadic(rng, (T // 2 - T // 4, 6, 2, 3), scale=2)  # currents in between
    kept = np.array([0, 2])
    out = {}
    for kernel in ("numpy", "numba"):
        sim = Simulator(net, 2, kernel=kernel)
        got = []
        for t, x_t in enumerate(x):
            if t == 3 * T // 4:
                sim.keep(kept)
            got.append(sim.step(sim.input_current(x_t if t < 3 * T // 4 else x_t[kept])).copy())
        out[kernel] = got
        whole = simulate(net, x, kernel=kernel)
        np.testing.assert_array_equal(np.stack(got[:3 * T // 4]), whole[:3 * T // 4])
        np.testing.assert_array_equal(np.stack(got[3 * T // 4:]), whole[3 * T // 4:, kept])
    for a, b in zip(out["numpy"], out["numba"]):
        np.testing.assert_array_equal(a, b)
    assert 0.02 < np.stack(out["numba"][:3 * T // 4]).mean() < 0.9


@pytest.mark.parametrize("kernel", KERNELS)
def test_run_constant_holds_the_input_through_delays(rng, kernel):
    net = _models(rng, 3, 4, "lif", delays=3)
    x = rng.random((1, 3, 2, 3)).astype(np.float32)
    whole = simulate(net, np.broadcast_to(x, (7,) + x.shape[1:]), kernel=kernel)
    sim = Simulator(net, 2, kernel=kernel)
    sim.run_constant(sim.input_current(x[0]), 7)
    np.testing.assert_array_equal(sim.counts, whole.sum(axis=0))


def test_a_networks_spikes_do_not_depend_on_the_rest_of_the_batch(rng):
    net = _models(rng, 5, 6, "alif", delays=4)
    x = (rng.random((20, 2, 3)) < 0.4).astype(np.float32)
    for kernel in KERNELS:
        whole = simulate(net, x, kernel=kernel)
        np.testing.assert_array_equal(simulate(net.select([3]), x, kernel=kernel)[:, 0], whole[:, 3])


def test_network_batch_checks_the_new_fields():
    P, N = 1, 2
    base = (np.zeros((P, 1, N)), np.zeros((P, N, N)), np.ones((P, N)), np.full((P, N), 0.5), np.zeros((P, N)), 1)
    bad = [
        (dict(alpha=np.full((P, N), 1.5)), "alpha: value 1.5"),
        (dict(rho=np.full((P, N), 0.5)), "alif model needs both"),
        (dict(rho=np.full((P, N), 0.5), b=np.full((P, N), -1.0)), "b: value -1.0"),
        (dict(alpha=np.zeros((P, N)), rho=np.zeros((P, N)), b=np.zeros((P, N))), "one neuron model per batch"),
        (dict(delay_rec=np.zeros((P, N, N), int)), "delay_rec: value 0; delays must lie in 1..64"),
        (dict(delay_in=np.full((P, 1, N), 65)), "delay_in: value 65"),
        (dict(delay_in=np.zeros((P, 1, N))), "delay_in: dtype float64; expected integer steps"),
        (dict(delay_rec=np.ones((P, N, 1), int)), "delay_rec: shape"),
        (dict(alpha=np.zeros((P, 3))), "alpha: shape (1, 3)"),
    ]
    for extra, message in bad:
        with pytest.raises(NetworkError, match=message.replace("(", r"\(").replace(")", r"\)")):
            NetworkBatch(*base, **extra)
    net = NetworkBatch(*base, alpha=np.zeros((P, N)), delay_rec=np.full((P, N, N), 7))
    assert net.model == "cuba" and net.has_delays and net.max_delay == 1  # no non-zero weight has delay 7
    assert net.select([0]).alpha is not None and net.select([0]).delay_rec is not None


@pytest.mark.parametrize("task_name", ["cartpole", "pendulum"])
def test_closed_loops_play_delays_on_the_numpy_path_and_compiled_refuses(task_name):
    from tasks.registry import make
    task = make(task_name)
    rng = np.random.default_rng(3)
    P, N = 6, task.n_outputs + 6
    base = NetworkBatch(rng.normal(0, 1, (P, task.n_inputs, N)), rng.normal(0, 1, (P, N, N)),
                        rng.uniform(0.5, 2, (P, N)), rng.uniform(0.5, 1, (P, N)), rng.normal(0, 0.2, (P, N)),
                        task.n_outputs)
    fields = (base.w_in, base.w_rec, base.threshold, base.beta, base.bias, base.n_out)
    net = NetworkBatch(*fields, rho=np.full((P, N), 0.9), b=np.full((P, N), 0.3),
                       delay_rec=rng.integers(1, 4, (P, N, N)))
    if AVAILABLE:
        from tasks.closed_loop import episode_seeds, run_episodes
        start = task.physics.start_states(episode_seeds(0, 2, False))
        with pytest.raises(ValueError, match=r"compiled rollouts run networks without synaptic delays \(lif, alif or "
                                             r"cuba\); these have delays"):
            run_episodes(net, task.physics, start, task.encoder, max_steps=5, sim_steps=2, rollout="compiled")
    ev = task.evaluate(net, 0)  # the default path: the numpy closed loop for these networks
    assert np.isfinite(ev.fitness).all()
    for p in (0, 4):  # one network alone scores as in the batch
        np.testing.assert_array_equal(task.evaluate(net.select([p]), 0).fitness, ev.fitness[[p]])
    plain = task.evaluate(base, 0).fitness
    assert not np.array_equal(plain, ev.fitness)  # the model and delays change behaviour



def test_bench_models_reports_the_ratio_of_medians_and_each_rounds_ratio(monkeypatch):
    from evo.app import bench_speed
    # seconds per call, in the order the rounds time them: lif, alif, cuba, lif+delays per round
    script = iter([1.0, 4.0, 2.0, 6.0,
                   3.0, 3.0, 3.0, 3.0,
                   2.0, 9.0, 8.0, 1.0])
    monkeypatch.setattr(bench_speed, "_rate", lambda fn, min_seconds: (next(script), 1))
    result = bench_speed.models(shape=(2, 8, 1), rates=(0.15,), max_delay=2, rounds=3, min_seconds=0.0)
    rows = {r["variant"]: r for r in result["rows"]}
    # medians: lif 2, alif 4, cuba 3, lif+delays 3
    assert {k: r["seconds"] for k, r in rows.items()} == {"lif": 2.0, "alif": 4.0, "cuba": 3.0, "lif+delays": 3.0}
    assert {k: r["cost_vs_lif"] for k, r in rows.items()} == {"lif": 1.0, "alif": 2.0, "cuba": 1.5, "lif+delays": 1.5}
    assert rows["alif"]["round_costs"] == [4.0, 1.0, 4.5]
    assert rows["lif+delays"]["round_costs"] == [6.0, 1.0, 0.5]


def test_bench_models_times_every_variant_on_the_same_networks():
    from evo.app.bench_speed import MODEL_VARIANTS, model_networks, models
    result = models(shape=(8, 16, 1), rates=(0.15,), max_delay=4, rounds=2, min_seconds=0.01)
    rows = {r["variant"]: r for r in result["rows"]}
    assert list(rows) == list(MODEL_VARIANTS)
    assert rows["lif"]["cost_vs_lif"] == 1.0 and rows["lif+delays"]["max_delay"] == 4
    assert rows["lif"]["round_costs"] == [1.0, 1.0]
    assert all(len(r["round_costs"]) == 2 for r in rows.values())
    assert all(r["seconds"] > 0 and 0 < r["firing_rate"] < 1 for r in rows.values())
    # each variant's bias is tuned to the same firing: a model's cost, not its activity
    rates = {k: r["firing_rate"] for k, r in rows.items()}
    assert all(abs(r - 0.15) < 0.03 for r in rates.values()), rates
    nets = model_networks(random_net(np.random.default_rng(0), 3, 2, 8, 1), max_delay=4)
    assert [n.model for n in nets.values()] == ["lif", "alif", "cuba", "lif"]
    assert nets["lif+delays"].has_delays and nets["lif"].plain
