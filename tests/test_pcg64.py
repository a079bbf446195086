import numpy as np
import pytest

from tasks.pcg64 import uniform_per_seed


def numpy_draws(seeds, low, high, size=None):
    return np.stack([np.random.default_rng(int(s)).uniform(low, high, size) for s in seeds])


SEEDS = np.concatenate([[0, 1, 2, 2**31 - 1, 2**31, 2**32 - 1],
                        np.random.default_rng(0).integers(0, 2**32, 5000)])


@pytest.mark.parametrize("low, high, size", [(-0.05, 0.05, 4), (-0.1, 0.1, (4,)), (-0.6, -0.4, None),
                                             (0.0, 1.0, (2, 3)), (-1e6, 3.0, 7)])
def test_the_draws_are_default_rngs_bit_for_bit(low, high, size):
    got = uniform_per_seed(SEEDS, low, high, size)
    want = numpy_draws(SEEDS, low, high, size)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_array_bounds_draw_one_value_per_element():
    high = np.array([np.pi, 1.0])
    np.testing.assert_array_equal(uniform_per_seed(SEEDS, -high, high), numpy_draws(SEEDS, -high, high))


def test_seeds_beyond_one_word_take_numpys_path_and_negative_seeds_are_refused():
    seeds = [2**32, 2**40 + 3, 7]
    np.testing.assert_array_equal(uniform_per_seed(seeds, -1.0, 1.0, 3), numpy_draws(seeds, -1.0, 1.0, 3))
    with pytest.raises(ValueError):
        uniform_per_seed([-1], 0.0, 1.0)


def test_no_seeds_give_no_rows():
    assert uniform_per_seed([], 0.0, 1.0, 4).shape == (0, 4)
