import numpy as np
import pytest

from neurons import decoders, encoders


def test_rate_code_is_deterministic_under_a_seed():
    values = np.linspace(0, 1, 6)
    a = encoders.rate(values, 200, seed=7)
    b = encoders.rate(values, 200, seed=7)
    c = encoders.rate(values, 200, seed=8)
    assert a.shape == (200, 6) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a[:, 0].sum() == 0 and a[:, -1].sum() == 200
    np.testing.assert_allclose(a.mean(axis=0), values, atol=0.12)


def test_latency_code_puts_one_spike_earlier_for_larger_values():
    s = encoders.latency([1.0, 0.5, 0.0], 11)
    assert s.shape == (11, 3)
    assert s.sum(axis=0).tolist() == [1, 1, 1]
    assert s.argmax(axis=0).tolist() == [0, 5, 10]


def test_gaussian_fields_peak_at_their_centres():
    act = encoders.gaussian_fields(np.array([[-1.0, 0.5]]), low=[-1, -1], high=[1, 1], n=5)
    assert act.shape == (1, 10)
    assert act[0, :5].argmax() == 0 and act[0, 0] == pytest.approx(1.0)
    assert act[0, 5:].argmax() == 3 and act[0, 8] == pytest.approx(1.0)
    assert act[0, 5 + 2] == pytest.approx(np.exp(-0.5), rel=1e-6)  # one spacing away


def test_population_and_direct_repeat_over_time():
    d = encoders.direct(np.array([[0.5, -2.0]]), 4, scale=2.0)
    assert d.shape == (4, 1, 2)
    np.testing.assert_array_equal(d[3], [[1.0, -4.0]])
    p = encoders.population(np.array([0.0]), 3, -1, 1, 3)
    assert p.shape == (3, 3) and p[0].argmax() == 1


def test_decoders():
    counts = np.array([[1, 3, 3], [0, 0, 0]], np.float32)
    assert decoders.spike_count(counts).tolist() == [1, 0]
    assert decoders.first_spike(np.array([[5, 2, 9], [10, 10, 10]])).tolist() == [1, 0]
    assert decoders.membrane(np.array([[0.1, -0.3, 0.2]])).tolist() == [2]
    v = np.array([[0.0, -1.0, 0.5], [2.0, -5.0, -4.0]], np.float32)
    assert decoders.count_then_voltage(counts, v).tolist() == [2, 0]
    # a voltage never outweighs one spike
    assert decoders.count_then_voltage(np.array([[1.0, 0.0]]), np.array([[-1e6, 1e6]])).tolist() == [0]
    # potentials one float32 ulp apart, equal ones, infinities, NaN: comparisons, nothing rounded
    a = np.float32(1e4)
    b = np.nextafter(a, np.float32(np.inf))
    v = np.array([[a, b, a], [b, b, a], [-np.inf, -np.inf, -np.inf], [np.nan, a, b], [a, np.nan, a]], np.float32)
    counts = np.array([[2, 2, 2], [2, 2, 2], [0, 1, 1], [3, 3, 3], [1, 1, 1]], np.float32)
    assert decoders.count_then_voltage(counts, v).tolist() == [1, 0, 1, 2, 0]
