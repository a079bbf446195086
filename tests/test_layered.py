"""Layered networks: the layer-at-a-time simulator against the dense one, the layered and
sparse fixed genome, and chunked evaluation."""
import numpy as np
import pytest

import neurons
import tasks
from evo.evaluation import Problem, SerialEvaluator
from evo.evaluation import base as evaluation_base
from evo.genomes import FixedTopology, GenomeError
from neurons import LayeredBatch, NetworkError, simulate_layered, simulate_outputs
from neurons import kernels

FIELDS = ("counts", "first_spike", "v_final", "total_spikes")


def same(a, b):
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in FIELDS)


def _sixteenths(a) -> np.ndarray:
    return (np.round(np.asarray(a) * 16) / 16).astype(np.float32)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("constant", [False, True])
def test_feed_forward_layers_give_the_dense_simulators_results_bit_for_bit_where_sums_are_exact(reset, constant):
    """Weights and inputs on a grid of 1/16: every matmul sum is exact, so the layered and
    dense forms agree bit for bit whatever order the BLAS of this CPU sums in."""
    net = LayeredBatch.random(P=5, sizes=(6, 24, 16, 4), seed=2, scale=3.0)
    net = LayeredBatch(tuple(_sixteenths(w) for w in net.weights), net.recurrent, net.threshold, net.beta, net.bias)
    x = _sixteenths(np.random.default_rng(0).normal(0.5, 1.0, (12, 30, 6)))
    if constant:
        x = np.broadcast_to(x[:1], x.shape)  # direct current: projected once
    a = simulate_layered(net, x, reset)
    b = simulate_outputs(net.to_dense(), x, reset, kernel="numpy")
    assert same(a, b) and a.counts.sum() > 0 and (a.counts < 12).any()


@pytest.mark.parametrize("constant", [False, True])
def test_feed_forward_layers_agree_with_the_dense_form_to_float32_rounding(constant):
    """Off the grid, BLAS sums x @ W in an order that depends on the CPU (an AMD EPYC without
    AVX-512 rounds some membrane potentials differently from the dense form's larger matmul)."""
    net = LayeredBatch.random(P=5, sizes=(6, 24, 16, 4), seed=2, scale=3.0)
    x = np.random.default_rng(0).normal(0.5, 1.0, (12, 30, 6)).astype(np.float32)
    if constant:
        x = np.broadcast_to(x[:1], x.shape)
    a = simulate_layered(net, x)
    b = simulate_outputs(net.to_dense(), x, kernel="numpy")
    assert (a.counts != b.counts).mean() < 0.01 and a.counts.sum() > 0
    np.testing.assert_allclose(a.v_final, b.v_final, rtol=1e-5, atol=1e-5)


def test_recurrent_layers_agree_with_the_dense_form_to_a_floats_last_bits():
    net = LayeredBatch.random(P=4, sizes=(5, 20, 3), seed=1, recurrent=True, scale=3.0)
    x = np.random.default_rng(0).normal(0.5, 1.0, (15, 25, 5)).astype(np.float32)
    a = simulate_layered(net, x)
    b = simulate_outputs(net.to_dense(), x, kernel="numpy")
    assert (a.counts != b.counts).mean() < 0.01
    np.testing.assert_allclose(a.v_final, b.v_final, atol=1e-3)


@pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
def test_compiled_and_numpy_layer_updates_are_identical():
    net = LayeredBatch.random(P=3, sizes=(4, 32, 8, 3), seed=4, scale=3.0)
    x = np.random.default_rng(1).normal(0.4, 1.0, (10, 17, 4)).astype(np.float32)
    try:
        neurons.use_kernel("numba")
        a = simulate_layered(net, x)
        neurons.use_kernel("numpy")
        b = simulate_layered(net, x)
    finally:
        neurons.use_kernel("auto")
    assert same(a, b)


def test_chunks_of_networks_give_the_whole_batchs_results():
    net = LayeredBatch.random(P=7, sizes=(4, 16, 3), seed=3, scale=3.0)
    x = np.random.default_rng(2).normal(0.5, 1.0, (9, 11, 4)).astype(np.float32)
    assert same(simulate_layered(net, x, max_chunk_bytes=1), simulate_layered(net, x))
    one = simulate_layered(net.select([5]), x)
    assert np.array_equal(one.counts[0], simulate_layered(net, x).counts[5])


def test_bad_layers_are_one_line_errors():
    with pytest.raises(NetworkError, match=r"weights\[1\]"):
        LayeredBatch((np.zeros((2, 3, 4)), np.zeros((2, 5, 2))), (None, None), (np.ones((2, 4)), np.ones((2, 2))),
                     (np.ones((2, 4)), np.ones((2, 2))), (np.zeros((2, 4)), np.zeros((2, 2))))
    net = LayeredBatch.random(P=2, sizes=(3, 4, 2))
    with pytest.raises(ValueError, match=r"expected \(T, B, 3\)"):
        simulate_layered(net, np.zeros((5, 2, 4), np.float32))


def test_one_hidden_layer_as_a_list_is_the_integer_forms_network():
    a, b = FixedTopology(4, 3, hidden=8), FixedTopology(4, 3, hidden=[8])
    X = np.random.default_rng(0).normal(size=(5, a.dim))
    dense, layered = a.compile(X), b.compile(X)
    assert a.dim == b.dim and isinstance(layered, LayeredBatch)
    for f in ("w_in", "w_rec", "threshold", "beta", "bias"):
        np.testing.assert_array_equal(getattr(dense, f), getattr(layered.to_dense(), f))


def test_layered_genome_sizes_and_sparse_masks():
    g = FixedTopology(64, 10, hidden=[256, 128], recurrent=False, evolve=["weights"])
    assert g.dim == 64 * 256 + 256 * 128 + 128 * 10 and g.sizes == [256, 128, 10]
    s = FixedTopology(64, 10, hidden=[256, 128], recurrent=False, evolve=["weights"], density=0.1, mask_seed=3)
    assert 0.08 * g.dim < s.dim < 0.12 * g.dim
    net = s.compile(np.ones((2, s.dim)))
    assert (net.synapse_counts() == s.dim).all()           # one synapse per gene, the rest absent
    again = FixedTopology(64, 10, hidden=[256, 128], recurrent=False, evolve=["weights"], density=0.1, mask_seed=3)
    assert all(np.array_equal(s.masks[k], again.masks[k]) for k in s.masks)  # the mask is a function of its seed
    other = FixedTopology(64, 10, hidden=[256, 128], recurrent=False, evolve=["weights"], density=0.1, mask_seed=4)
    assert not np.array_equal(s.masks["w1"], other.masks["w1"])


def test_layered_genome_errors_name_the_field():
    with pytest.raises(GenomeError, match="genome.hidden"):
        FixedTopology(4, 2, hidden=[8, 0])
    with pytest.raises(GenomeError, match="genome.density.*hidden as a list"):
        FixedTopology(4, 2, hidden=8, density=0.5)
    with pytest.raises(GenomeError, match="genome.density"):
        FixedTopology(4, 2, hidden=[8], density=1.5)


def test_a_layered_digits_network_runs_through_the_task_and_chunked_evaluation(monkeypatch):
    problem = Problem({"name": "digits", "batch_size": 40}, "fixed", {"hidden": [32], "recurrent": False})
    ev = SerialEvaluator(problem, 0)
    X = np.random.default_rng(0).normal(0, 0.3, (6, ev.space.dim))
    whole, sizes = ev.evaluate(X, 3)
    monkeypatch.setattr(evaluation_base, "CHUNK_BYTES", ev.space.bytes_per_network() * 2)  # 2 networks at a time
    chunked, sizes2 = ev.evaluate(X, 3)
    np.testing.assert_array_equal(whole.fitness, chunked.fitness)
    np.testing.assert_array_equal(sizes["synapses"], sizes2["synapses"])
    assert 0 < whole.fitness.mean() < 1 and whole.metrics["spikes"].mean() > 0
    t = tasks.make("digits")
    assert 0 <= t.validate(ev.space.compile(X[:1]), 0).fitness[0] <= 1


def test_a_layered_genome_runs_closed_loop_tasks_in_its_dense_form(tmp_path):
    from evo.results import load_run
    from evo.training.api import run
    from evo.training.config import resolve
    layer = {"task": {"name": "cartpole", "episodes": 3, "max_steps": 50, "validation_episodes": 2},
             "genome": {"hidden": [6, 4], "recurrent": True}, "strategy": {"name": "snes"},
             "run": {"generations": 2, "backend": "serial", "quiet": True, "out": str(tmp_path), "name": "r"}}
    run(resolve(layer), log=None)
    r = load_run(tmp_path / "r")
    assert r.summary["status"] == "finished" and r.config["genome"]["hidden"] == [6, 4]
    assert (r.metrics.mean_neurons == 12).all()
