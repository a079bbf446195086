import numpy as np
import pytest

from evo.genomes import FixedTopology, GenomeError


def test_dimension_counts_each_segment():
    g = FixedTopology(4, 2, hidden=8)
    assert g.dim == 4 * 8 + 8 * 8 + 8 * 2 + 10 + 10
    assert FixedTopology(4, 2, hidden=8, recurrent=False, evolve=["weights"]).dim == 4 * 8 + 8 * 2
    assert FixedTopology(3, 2, hidden=0, evolve=["weights", "biases"]).dim == 3 * 2 + 2


def test_zero_genome_gives_the_defaults():
    g = FixedTopology(4, 2, hidden=3, threshold=0.75, beta=0.8)
    net = g.compile(np.zeros((2, g.dim)))
    np.testing.assert_allclose(net.threshold, 0.75)
    np.testing.assert_allclose(net.beta, 0.8, rtol=1e-6)
    assert not net.w_in.any() and not net.w_rec.any()


def test_topology_places_weights_in_the_layered_structure():
    g = FixedTopology(2, 1, hidden=2, evolve=["weights"])
    x = np.arange(1, g.dim + 1, dtype=float)[None]
    net = g.compile(x)
    # inputs reach hidden neurons 1..2 only; outputs get nothing from the input
    assert not net.w_in[0, :, 0].any() and net.w_in[0, :, 1:].all()
    np.testing.assert_array_equal(net.w_in[0, :, 1:], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(net.w_rec[0, 1:, 1:], [[5, 6], [7, 8]])  # hidden -> hidden
    np.testing.assert_array_equal(net.w_rec[0, 1:, 0], [9, 10])            # hidden -> output
    assert net.w_rec[0, 0].sum() == 0                                       # the output projects nowhere


def test_any_real_genome_compiles_to_a_valid_network():
    g = FixedTopology(4, 2, hidden=5, evolve=["weights", "thresholds", "betas", "biases"])
    rng = np.random.default_rng(0)
    x = rng.normal(scale=50, size=(64, g.dim))
    net = g.compile(x)  # NetworkBatch validates the ranges
    assert (net.threshold > 0).all() and np.isfinite(net.threshold).all()
    assert ((net.beta >= 0) & (net.beta <= 1)).all()


def test_batched_compile_equals_row_by_row():
    g = FixedTopology(3, 2, hidden=4)
    x = np.random.default_rng(1).normal(size=(5, g.dim))
    whole = g.compile(x)
    for p in range(5):
        one = g.compile(x[p])
        for f in ("w_in", "w_rec", "threshold", "beta", "bias"):
            np.testing.assert_array_equal(getattr(whole, f)[p], getattr(one, f)[0])


def test_bad_options_and_shapes():
    with pytest.raises(GenomeError, match="'wieghts' is not evolvable"):
        FixedTopology(2, 1, evolve=["wieghts"])
    with pytest.raises(GenomeError, match="genome.beta: 1.0"):
        FixedTopology(2, 1, beta=1.0)
    with pytest.raises(GenomeError, match=r"shape \(2, 3\); expected \(P, "):
        FixedTopology(2, 1).compile(np.zeros((2, 3)))


@pytest.mark.parametrize("options", [dict(hidden=3), dict(hidden=[3, 2], recurrent=True)])
def test_a_weight_or_bias_gene_beyond_float32_is_named(options):
    g = FixedTopology(2, 1, evolve=["weights", "biases"], **options)
    x = np.zeros((3, g.dim))
    x[2, 4] = 4e38
    with pytest.raises(GenomeError, match=r"^genome matrix: network 2, gene 4 \((w_in_hidden|w0)\): 4e\+38; it "
                                          r"becomes a float32 value, so expected at most 3\.4e\+38 in magnitude$"):
        g.compile(x)
    x[2, 4], x[1, g.segments["biases"].start + 1] = 3e38, -4e38
    with pytest.raises(GenomeError, match=r"network 1, gene \d+ \(biases\): -4e\+38"):
        g.compile(x)
    x[1, g.segments["biases"].start + 1] = -3e38
    bias = g.compile(x).bias  # layered: one array per layer
    assert all(np.isfinite(b).all() for b in (bias if isinstance(bias, tuple) else [bias]))


@pytest.mark.parametrize("options", [
    dict(hidden=5, neuron="alif", max_delay=4, evolve=["weights", "thresholds", "betas", "biases", "rhos",
                                                       "adaptations", "delays"], bias=0.1),
    dict(hidden=5, neuron="cuba", evolve=["weights", "biases", "alphas"], bias=0.3),
    dict(hidden=[6, 4], recurrent=True, density=0.5, evolve=["weights", "thresholds", "betas", "biases"], bias=0.2),
])
def test_float32_genomes_compile_to_the_networks_of_their_float64_values(options):
    """A seed-described population hands its float32 genomes to compile as they are: every gene a
    transform reads is taken in float64 first, so the networks equal those of the float64 copy."""
    space = FixedTopology(3, 2, **options)
    X = np.random.default_rng(1).normal(0, 1.5, (6, space.dim)).astype(np.float32)
    a, b = space.compile(X), space.compile(X.astype(np.float64))
    fields = [f for f in vars(a) if isinstance(getattr(a, f), (np.ndarray, tuple))]
    assert fields
    for f in fields:
        for x, y in zip(*(v if isinstance(v, tuple) else (v,) for v in (getattr(a, f), getattr(b, f)))):
            if x is None:
                assert y is None
            else:
                np.testing.assert_array_equal(x, y, err_msg=f)
