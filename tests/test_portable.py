"""neurons.portable: exp and log within 1 ulp, tanh within 3, with bits fixed on every CPU;
the one-float forms (for numba kernels) give the array forms' bits."""
import numpy as np
import pytest

from neurons import portable

# float.hex of the results, recorded once: basic IEEE arithmetic gives these bits on any CPU, where
# np.exp and np.log give the C library's bits on one machine and numpy's AVX-512 ones on another
EXP_BITS = {-0.3: "0x1.7b4c869c37c05p-1", -1.7: "0x1.7622c78a98a07p-3", -2.25: "0x1.afb718e8457f8p-4",
            -6.0: "0x1.44e51f113d4d6p-9", -0.001: "0x1.ff7cfe56f1a9ep-1", -12.5: "0x1.f42ed3f68e690p-19",
            3.3: "0x1.b1cd5e7807b7bp+4", -0.6931471805599453: "0x1.0000000000000p-1"}
LOG_BITS = {1.5: "0x1.9f323ecbf984cp-2", 2.0: "0x1.62e42fefa39efp-1", 3.0: "0x1.193ea7aad030ap+0",
            1.0001: "0x1.a368d0657fcd4p-14", 7.25: "0x1.fb22e98a1c24ep+0", 0.3: "-0x1.34378fcbda721p+0",
            1e-5: "-0x1.7069e2aa2aa5bp+3", 123456.789: "0x1.77281cad8a844p+3"}

TANH_BITS = {-0.3: "-0x1.2a4dda7d914f9p-2", 0.01: "0x1.47ab48ae4595ep-7", 1e-7: "0x1.ad7f29abcaf2ep-24",
             0.5: "0x1.d9353d7568af3p-2", -2.0: "-0x1.ed9505e1bc3d3p-1", 5.5: "0x1.fffb9f2fc1e90p-1",
             19.0: "0x1.0000000000000p+0", -0.17: "-0x1.58d8296a405bcp-3"}


def _ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_exp_is_within_one_ulp_of_numpys_over_its_range():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-700, 700, 100_000), rng.uniform(-5, 5, 100_000), rng.uniform(-1e-3, 1e-3, 1000)])
    assert _ulps(portable.exp(x), np.exp(x)).max() <= 1.0
    assert portable.exp(np.array([0.0]))[0] == 1.0


def test_log_is_within_one_ulp_of_numpys_over_its_range():
    rng = np.random.default_rng(1)
    x = np.concatenate([np.exp(rng.uniform(-700, 700, 100_000)), rng.uniform(0.5, 3, 100_000),
                        rng.uniform(0.999, 1.001, 10_000), [5e-324, 2.2e-308, 1.7e308]])  # subnormals too
    want = np.log(x)
    assert _ulps(portable.log(x)[want != 0], want[want != 0]).max() <= 1.0
    assert portable.log(np.array([1.0]))[0] == 0.0


def test_tanh_is_within_three_ulps_of_numpys_and_odd():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-30, 30, 100_000), rng.uniform(-1, 1, 100_000), rng.uniform(-1e-6, 1e-6, 1000),
                        [0.3465, 0.3466, 0.17328, 0.17329, 21.9, 22.0, 22.1]])  # both sides of each branch
    want = np.tanh(x)
    got = portable.tanh(x)
    assert _ulps(got[want != 0], want[want != 0]).max() <= 3.0
    np.testing.assert_array_equal(portable.tanh(-x), -got)
    assert np.signbit(portable.tanh(np.array([-0.0]))[0]) and portable.tanh(np.array([30.0]))[0] == 1.0


def test_the_one_float_forms_give_the_array_forms_bits_in_python_and_in_numba():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(-745, 709, 20_000), rng.uniform(-30, 30, 20_000), rng.uniform(-1, 1, 20_000),
                        [0.0, -0.0, 0.17329, -0.17329, 22.0, -22.1, 710.0, -746.0, np.inf, -np.inf, np.nan]])
    e, t = portable.exp(x), portable.tanh(x)
    sample = x[::97]
    np.testing.assert_array_equal([portable.exp1(float(v)) for v in sample], portable.exp(sample))
    np.testing.assert_array_equal([portable.tanh1(float(v)) for v in sample], portable.tanh(sample))
    numba = pytest.importorskip("numba")
    exp1, tanh1 = numba.njit(portable.exp1), numba.njit(portable.tanh1)

    @numba.njit
    def each(xs, out_e, out_t):
        for i in range(xs.size):
            out_e[i], out_t[i] = exp1(xs[i]), tanh1(xs[i])
    out_e, out_t = np.empty_like(x), np.empty_like(x)
    each(x, out_e, out_t)
    np.testing.assert_array_equal(out_e, e)
    np.testing.assert_array_equal(out_t, t)


def test_special_values_without_warnings():
    with np.errstate(all="raise"):
        e = portable.exp(np.array([np.nan, -np.inf, np.inf, -800.0, 800.0]))
        lg = portable.log(np.array([0.0, -1.0, np.inf, np.nan]))
        th = portable.tanh(np.array([np.nan, np.inf, -np.inf]))
    assert np.isnan(th[0]) and th[1] == 1.0 and th[2] == -1.0
    assert np.isnan(e[0]) and e[1] == 0.0 and e[2] == np.inf and e[3] == 0.0 and e[4] == np.inf
    assert lg[0] == -np.inf and np.isnan(lg[1]) and lg[2] == np.inf and np.isnan(lg[3])
    assert portable.exp(np.zeros((2, 3))).shape == (2, 3)


@pytest.mark.parametrize("fn, table", [(portable.exp, EXP_BITS), (portable.log, LOG_BITS), (portable.tanh, TANH_BITS)],
                         ids=["exp", "log", "tanh"])
def test_the_bits_are_the_recorded_ones(fn, table):
    got = fn(np.array(list(table)))
    assert [float(v).hex() for v in got] == list(table.values())


def test_the_classification_fitness_calls_neither_np_exp_nor_np_log(monkeypatch):
    from neurons import NetworkBatch
    from tasks import registry

    task = registry.make("iris")
    rng = np.random.default_rng(2)
    P, N = 6, 8
    nets = NetworkBatch(rng.normal(0, 1, (P, task.n_inputs, N)), rng.normal(0, 0.5, (P, N, N)), np.ones((P, N)),
                        np.full((P, N), 0.9), rng.normal(0, 0.2, (P, N)), task.n_outputs)
    want = task.evaluate(nets, 3)

    def refused(*args, **kwargs):
        raise AssertionError("a machine-dependent numpy exp or log in the fitness")
    monkeypatch.setattr(np, "exp", refused)
    monkeypatch.setattr(np, "log", refused)
    got = task.evaluate(nets, 3)
    np.testing.assert_array_equal(got.fitness, want.fitness)
    assert np.unique(got.fitness).size > 1


def test_population_encoding_and_membrane_decoding_call_neither_np_exp_nor_np_tanh(monkeypatch):
    from neurons.encoders import gaussian_fields
    from tasks.control import MembraneDifference

    values = np.random.default_rng(6).uniform(-1, 1, (5, 3))
    v = np.random.default_rng(7).normal(0, 2, (4, 6, 2)).astype(np.float32)
    decode = MembraneDifference(2.0)
    fields, actions = gaussian_fields(values, -1.0, 1.0, 4), decode(np.zeros_like(v), v)

    def refused(*args, **kwargs):
        raise AssertionError("a machine-dependent numpy exp or tanh")
    monkeypatch.setattr(np, "exp", refused)
    monkeypatch.setattr(np, "tanh", refused)
    np.testing.assert_array_equal(gaussian_fields(values, -1.0, 1.0, 4), fields)
    np.testing.assert_array_equal(decode(np.zeros_like(v), v), actions)
    assert actions.dtype == np.float32 and np.abs(actions).max() < 2.0 and np.unique(actions).size > 10
