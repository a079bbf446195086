"""The simulator used directly: batches that cannot change under it, inputs whose layout
never changes the spikes, and bad inputs refused in one line."""
import numpy as np
import pytest

from neurons import NetworkBatch, NetworkError, Simulator, encoders, simulate, simulate_outputs
from neurons import kernels

numba_only = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")


def small(rng, P=2, n_in=3, N=5, **extra):
    return NetworkBatch(rng.normal(size=(P, n_in, N)), rng.normal(size=(P, N, N)) * 0.3, np.ones((P, N)),
                        np.full((P, N), 0.9), np.zeros((P, N)), 2, **extra)


def test_a_batch_cannot_be_edited_in_place():
    rng = np.random.default_rng(0)
    w_in = rng.normal(size=(1, 2, 4)).astype(np.float32)
    net = NetworkBatch(w_in, np.zeros((1, 4, 4)), np.ones((1, 4)), np.full((1, 4), 0.5), np.zeros((1, 4)), 1,
                       delay_in=np.full((1, 2, 4), 3), delay_rec=np.full((1, 4, 4), 2))
    for name in ("w_in", "w_rec", "threshold", "beta", "bias", "delay_in", "delay_rec"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(net, name)[0, 0] = 2
    w_in[0, 0, 0] = 1.0  # the caller's own array stays the caller's


@numba_only
def test_constant_inputs_give_the_same_spikes_as_a_view_or_a_copy_and_as_every_model():
    """The numba kernel holds a constant input's projection, summed in the order it sums a
    step's inputs: a copy, a broadcast view, and the model kernels (alif with b = 0, cuba with
    alpha = 0, delays of 0 and 1) end with the same voltages, bit for bit."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        n_in = int(rng.integers(3, 12))
        w = rng.normal(size=(1, n_in, 3)).astype(np.float32)
        bias = rng.normal(size=(1, 3)).astype(np.float32)
        values = rng.normal(size=(1, n_in)).astype(np.float32)

        def net(**extra):
            return NetworkBatch(w, np.zeros((1, 3, 3)), np.full((1, 3), 100.0), np.full((1, 3), 0.5), bias, 3,
                                **extra)

        def v_final(batch, x):
            return simulate_outputs(batch, x, kernel="numba").v_final

        view = np.broadcast_to(values, (3,) + values.shape)
        plain = v_final(net(), view)
        np.testing.assert_array_equal(v_final(net(), encoders.direct(values, 3)), plain)
        for extra in ({"rho": np.full((1, 3), 0.5), "b": np.zeros((1, 3))}, {"alpha": np.zeros((1, 3))},
                      {"delay_in": np.zeros((1, n_in, 3), int), "delay_rec": np.full((1, 3, 3), 2)}):
            np.testing.assert_array_equal(v_final(net(**extra), view)[..., :1], plain[..., :1], err_msg=str(extra))


@pytest.mark.parametrize("kernel", ["numpy", pytest.param("numba", marks=numba_only)])
@pytest.mark.parametrize("extra", [{}, {"alpha": 0.5}])
def test_bad_inputs_are_refused_and_no_steps_give_empty_results(kernel, extra):
    rng = np.random.default_rng(1)
    net = small(rng, **{k: np.full((2, 5), v) for k, v in extra.items()})
    spikes = simulate(net, np.zeros((0, 4, 3)), kernel=kernel)
    assert spikes.shape == (0, 2, 4, 5) and spikes.dtype == np.float32
    record = simulate_outputs(net, np.zeros((0, 4, 3)), kernel=kernel)
    assert record.counts.shape == (2, 4, 2) and not record.counts.any() and (record.first_spike == 0).all()
    with pytest.raises(ValueError, match=r"^input x: holds no sample \(B = 0\); expected B >= 1$"):
        simulate(net, np.zeros((5, 0, 3)), kernel=kernel)
    for bad in (np.nan, np.inf):
        x = np.zeros((5, 2, 3))
        x[2, 1, 0] = bad
        with pytest.raises(ValueError, match=rf"^input x: contains {bad}; inputs must be finite$"):
            simulate_outputs(net, x, kernel=kernel)


def test_a_step_current_of_another_shape_is_refused():
    sim = Simulator(small(np.random.default_rng(2)), 2, kernel="numpy")
    for current in (np.ones((2, 5)), np.ones((2, 2, 8), np.float32)):
        with pytest.raises(ValueError, match=r"^current: shape \(2, (5|2, 8)\); expected \(P, B, N\) = \(2, 2, 5\)"):
            sim.step(current)


def test_values_beyond_float32_are_refused_not_made_infinite():
    with pytest.raises(NetworkError, match=r"^NetworkBatch.threshold: value 1e\+39 is beyond float32's range"):
        NetworkBatch(np.zeros((1, 2, 3)), np.zeros((1, 3, 3)), np.full((1, 3), 1e39), np.full((1, 3), 0.5),
                     np.zeros((1, 3)), 1)
    with pytest.raises(NetworkError, match=r"^NetworkBatch.threshold: value 1e-50 is 0.0 in float32 \(the smallest "
                                           r"positive float32 is 1.4e-45\); thresholds must be > 0$"):
        NetworkBatch(np.zeros((1, 2, 3)), np.zeros((1, 3, 3)), np.array([[1.0, 1e-50, 1.0]]), np.full((1, 3), 0.5),
                     np.zeros((1, 3)), 1)
    tiny = NetworkBatch(np.zeros((1, 2, 3)), np.zeros((1, 3, 3)), np.full((1, 3), 1e-44), np.full((1, 3), 0.5),
                        np.zeros((1, 3)), 1)  # a subnormal float32 is still > 0
    assert (tiny.threshold > 0).all()


@pytest.mark.parametrize("call, message", [
    (lambda: encoders.direct([np.nan], 5), "direct: values contain nan; expected finite numbers"),
    (lambda: encoders.direct([1.0], 0), "direct: steps=0; expected an integer >= 1"),
    (lambda: encoders.rate([0.5], -1, 0), "rate: steps=-1; expected an integer >= 1"),
    (lambda: encoders.rate([0.5], 5, 0, max_rate=float("nan")), "rate: max_rate=nan; expected a probability"),
    (lambda: encoders.rate([0.5], 5, 0, max_rate=-1), "rate: max_rate=-1; expected a probability"),
    (lambda: encoders.latency([0.5], 0), "latency: steps=0; expected an integer >= 1"),
    (lambda: encoders.gaussian_fields(np.zeros((2, 1)), 0, 1, 4, width=0), "gaussian_fields: width=0; expected"),
    (lambda: encoders.gaussian_fields(np.zeros((2, 1)), np.nan, 1, 3), "gaussian_fields: low contain nan"),
    (lambda: encoders.gaussian_fields(np.zeros((2, 1)), 0, np.inf, 3), "gaussian_fields: high contain inf"),
    (lambda: encoders.gaussian_fields(np.zeros((2, 1)), 0, 1, 2.5), "gaussian_fields: n=2.5; expected an integer"),
    (lambda: encoders.gaussian_fields(np.full((2, 1), np.nan), 0, 1, 3), "gaussian_fields: values contain nan"),
])
def test_encoders_refuse_bad_parameters_in_one_line(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_nir_keeps_neurons_that_never_spike_but_act_and_writes_finite_time_constants(tmp_path):
    pytest.importorskip("nir")
    from evo.app.export import read_nir, to_nir, write_nir
    rng = np.random.default_rng(3)
    N = 4
    threshold = np.array([[np.inf, 1.0, 1.0, np.inf]])  # neuron 0: a membrane read out; neuron 3: padding
    w_in = rng.normal(size=(1, 2, N)).astype(np.float32)
    w_in[0, :, 3] = 0
    w_rec = (rng.normal(size=(1, N, N)) * 0.5).astype(np.float32)
    w_rec[0, 3, :] = w_rec[0, :, 3] = 0
    beta = np.array([[1.0, 0.5, 1.0, 0.9]])  # no leak in neurons 0 and 2
    net = NetworkBatch(w_in, w_rec, threshold, beta, np.zeros((1, N)), 1)
    graph = to_nir(net)
    assert np.isfinite(graph.nodes["lif"].tau).all() and np.isfinite(graph.nodes["lif"].r).all()
    back, reset = read_nir(write_nir(net, tmp_path / "n.nir"))
    assert back.n_neurons == 3 and back.n_out == 1 and reset == "subtract"
    np.testing.assert_array_equal(back.beta[0], [1.0, 0.5, 1.0])
    x = (rng.random((30, 2, 2)) < 0.5).astype(np.float32)
    for kernel in ("numpy",) + (("numba",) if kernels.AVAILABLE else ()):
        a, b = simulate_outputs(net, x, kernel=kernel), simulate_outputs(back, x, kernel=kernel)
        np.testing.assert_array_equal(a.v_final, b.v_final)  # the read-out membrane survives the round trip
    with pytest.raises(ValueError, match=r"^reset: 'bogus' is not a reset mode"):
        to_nir(net, reset="bogus")


@pytest.mark.parametrize("change, message", [
    ({"weights": None}, "LayeredBatch.weights: NoneType; expected a tuple or list with one array per layer"),
    ({"threshold": (np.array([[1.0, -2.0]]),)}, "LayeredBatch.threshold[0]: value -2.0; thresholds must be"),
    ({"beta": (np.array([[1.5, 0.5]]),)}, "LayeredBatch.beta[0]: value 1.5; beta must lie in [0, 1]"),
    ({"bias": (np.array([[np.nan, 0.0]]),)}, "LayeredBatch.bias[0]: value nan; weights and biases must be finite"),
    ({"weights": (np.zeros((1, 3, 0)),), "threshold": (np.ones((1, 0)),), "beta": (np.ones((1, 0)),),
      "bias": (np.zeros((1, 0)),)}, "LayeredBatch.weights[0]: shape (1, 3, 0); a layer has at least one neuron"),
])
def test_layered_batches_name_the_bad_value(change, message):
    from neurons import LayeredBatch
    fields = {"weights": (np.ones((1, 3, 2)),), "recurrent": (None,), "threshold": (np.ones((1, 2)),),
              "beta": (np.full((1, 2), 0.5),), "bias": (np.zeros((1, 2)),)}
    with pytest.raises(NetworkError) as caught:
        LayeredBatch(**{**fields, **change})
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("change, message", [
    ({"w_in": [[[1.0, 2.0], [3.0]]]}, "NetworkBatch.w_in: not an array ("),
    ({"bias": np.array([[0.0, np.nan, 0.0]])}, "NetworkBatch.bias: value nan; weights and biases must be finite"),
    ({"n_out": True}, "NetworkBatch.n_out: True; expected an int in 1..3"),
    ({"w_in": np.zeros((1, 2, 0)), "w_rec": np.zeros((1, 0, 0)), "threshold": np.zeros((1, 0)),
      "beta": np.zeros((1, 0)), "bias": np.zeros((1, 0))}, "NetworkBatch.w_rec: shape (1, 0, 0); a network has at"),
])
def test_network_batches_name_the_bad_field_and_value(change, message):
    fields = {"w_in": np.zeros((1, 2, 3)), "w_rec": np.zeros((1, 3, 3)), "threshold": np.ones((1, 3)),
              "beta": np.full((1, 3), 0.5), "bias": np.zeros((1, 3)), "n_out": 1}
    with pytest.raises(NetworkError) as caught:
        NetworkBatch(**{**fields, **change})
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
