"""sin and cos of many values at once (tasks.lane_trig) against the C library's, and the
compiled rollouts on either source of them."""
import math

import numpy as np
import pytest

from neurons import kernels, use_kernel
from tasks.closed_loop import episode_seeds, run_episodes
from tasks.registry import make

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="tasks.lane_trig needs numba")


@pytest.fixture(scope="module")
def trig():
    from tasks import lane_trig
    if not lane_trig.library_agrees():
        pytest.skip("this C library's sin and cos differ from glibc's (FMA build) algorithm: the rollouts call "
                    "the library itself, which the last test checks")
    return lane_trig


def library(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sn = np.array([math.sin(v) if math.isfinite(v) else math.nan for v in x])
    cs = np.array([math.cos(v) if math.isfinite(v) else math.nan for v in x])
    return sn, cs


def lanes(trig, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    import numba

    @numba.njit
    def run(w, n):
        return trig.sincos_lanes(w, 0, n, 2 * n, 3 * n, n)
    n = x.size
    w = np.concatenate([x, np.full(3 * n, 7.0)])
    by_library = run(w, n)
    return w[n:2 * n], w[2 * n:3 * n], by_library


def spread(n: int, seed: int) -> np.ndarray:
    """Every range of s_sin.c: Taylor and table rows, 0.855-2.426, the Cody-Waite reduction
    up to 10^8; values next to multiples of pi/2 and to the edges of table rows."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(-30.0, 30.0, n),
                           rng.uniform(-1.0, 1.0, n) * 10.0 ** rng.uniform(-9, 2, n),
                           rng.uniform(-1e8, 1e8, n // 4),
                           rng.integers(-60, 60, n) * (math.pi / 2) + rng.normal(0.0, 1e-4, n),
                           (rng.integers(0, 110, n) + 0.5) / 128 * rng.choice([-1.0, 1.0], n)
                           + rng.normal(0.0, 1e-15, n)])


def test_the_lane_sines_and_cosines_are_the_c_librarys_bit_for_bit(trig):
    x = spread(100_000, 1)
    sn, cs, by_library = lanes(trig, x)
    want_sn, want_cs = library(x)
    np.testing.assert_array_equal(sn, want_sn)
    np.testing.assert_array_equal(cs, want_cs)
    tiny = np.sum(np.abs(x) < 2.0 ** -26)  # sin x = x there: the library's
    assert tiny <= by_library <= tiny + 0.001 * x.size  # and rows' edges between 0.855 and 2.426


def test_values_outside_the_replicas_ranges_go_to_the_library(trig):
    x = np.array([0.0, -0.0, 1e-9, 2e8, -1e12, np.inf, -np.inf, np.nan, -3e-8, 0.5, -2.0, 7.0])
    sn, cs, by_library = lanes(trig, x)
    assert by_library == 8  # below 2^-26, from 105414350, not finite
    want_sn, want_cs = library(x)
    np.testing.assert_array_equal(sn, want_sn)
    np.testing.assert_array_equal(cs, want_cs)
    assert math.copysign(1.0, sn[1]) == -1.0  # sin(-0.0) = -0.0


def test_the_near_range_form_gives_the_librarys_bits_and_leaves_it_the_rest(trig):
    """sincos_near_lanes (CartPole's poles) computes |x| < 0.855469 as sincos_lanes does and
    sends the rest to the library: below 2^-26, from 0.855469, not finite."""
    import numba

    @numba.njit
    def run(w, n):
        return trig.sincos_near_lanes(w, 0, n, 2 * n, 3 * n, n)

    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-0.86, 0.86, 200_000),
                        rng.uniform(-1.0, 1.0, 20_000) * 10.0 ** rng.uniform(-9, 0, 20_000), spread(2_000, 3),
                        [trig._NEAR, -trig._NEAR, np.nextafter(trig._NEAR, 0.0), 0.0, np.nan]])
    n = x.size
    w = np.concatenate([x, np.full(3 * n, 7.0)])
    by_library = run(w, n)
    want_sn, want_cs = library(x)
    np.testing.assert_array_equal(w[n:2 * n], want_sn)
    np.testing.assert_array_equal(w[2 * n:3 * n], want_cs)
    ax = np.abs(x)
    assert by_library == np.sum(~((ax >= 2.0 ** -26) & (ax < trig._NEAR)))  # NaN compares false: the library's
    assert trig.near_agrees()


def test_the_table_holds_sine_and_cosine_of_each_row_in_two_doubles(trig):
    k = np.arange(trig.ENTRIES)
    for hi, lo, f in ((trig._SN, trig._SSN, np.sin), (trig._CS, trig._CCS, np.cos)):
        np.testing.assert_array_equal(hi + lo, hi)  # normalized: the low part below half an ulp
        assert np.all(np.abs(hi - f(k / 128)) <= np.spacing(np.abs(hi)))
    assert trig._SN[1].hex() == "0x1.fffeaaaaeeeefp-8" and trig._CS[109].hex() == "0x1.514f57d7bf3dap-1"


@pytest.mark.parametrize("name", ["acrobot", "pendulum", "mountaincar", "cartpole"])
def test_rollouts_play_the_same_episodes_with_the_library_trig(name, monkeypatch):
    """The compiled path calls the library where the replica disagrees with it: the episodes
    stay the same, so only the speed depends on the library."""
    from tasks import lane_trig
    from test_rollout import random_nets

    task = make(name)
    nets = random_nets(task, P=12)
    start = task.physics.start_states(episode_seeds(5, 4))
    o = task.options
    args = dict(max_steps=o["max_steps"], sim_steps=o["sim_steps"], reset=o["reset"], decode=task.decode,
                final_state=True, rollout="compiled")
    use_kernel("numba")
    try:
        replica = run_episodes(nets, task.physics, start, task.encoder, **args)
        monkeypatch.setattr(lane_trig, "_AGREES", False)
        monkeypatch.setattr(lane_trig, "_NEAR_AGREES", False)
        own = run_episodes(nets, task.physics, start, task.encoder, **args)
    finally:
        use_kernel("auto")
    for field in ("returns", "steps", "spikes", "final_state"):
        np.testing.assert_array_equal(getattr(replica, field), getattr(own, field))
    assert len(np.unique(replica.returns)) > 2
