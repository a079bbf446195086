"""Compiled rollouts (tasks.rollout) against the numpy closed loop (tasks.closed_loop).

The numpy path runs with the numba LIF kernel here, whose sums the rollouts repeat in order.
Every port agrees bit for bit: the physics are IEEE-exact (+, -, *, /, and sin, cos, which
numpy and the C library compute alike, checked below; where a numpy does not, on some CPU,
the comparisons skip and say why), and both paths take population encoding's exp and
membrane decoding's tanh from neurons.portable.
"""
import math
import time

import numpy as np
import pytest

from neurons import NetworkBatch, kernels, use_kernel
from tasks.closed_loop import Episodes, episode_seeds, rollout_path, run_episodes, timing
from tasks.registry import make
from kernel_variants import shared_hidden

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="compiled rollouts need numba")


def numpy_trig_is_the_c_librarys() -> bool:
    """Whether numpy's float64 sin and cos give the C library's bits (math.sin, math.cos, which
    the compiled physics call) on a sample of the arguments the ports take."""
    x = np.random.default_rng(0).uniform(-40.0, 40.0, 20_000)
    return all(np.array_equal(f(x), np.array([g(v) for v in x])) for f, g in ((np.sin, math.sin), (np.cos, math.cos)))


LIBM_TRIG = numpy_trig_is_the_c_librarys()


@pytest.fixture(autouse=True)
def numba_kernel():
    use_kernel("numba")
    yield
    use_kernel("auto")


def random_nets(task, P=24, hidden=None, seed=0, padding=0, model="lif"):
    """Networks of ``hidden`` hidden neurons; by default 8 or more, so that N is a multiple of
    4 (the block of kernel the other tests compile too: tests/kernel_variants.py)."""
    rng = np.random.default_rng(seed)
    n_out = task.n_outputs
    if hidden is None:
        hidden = 8 if (n_out + 8) % 4 == 3 else 8 + shared_hidden(n_out)  # N = 11 also takes blocks of 4
    N = n_out + hidden + padding
    w_in = rng.normal(0, 1.0, (P, task.n_inputs, N))
    w_rec = rng.normal(0, 1.0, (P, N, N)) * (rng.random((P, N, N)) < 0.5)
    thr = rng.uniform(0.5, 2.0, (P, N))
    if padding:
        w_in[:, :, -padding:] = 0
        w_rec[:, -padding:, :] = 0
        w_rec[:, :, -padding:] = 0
        thr[:, -padding:] = np.inf
    extra = {"alif": dict(rho=rng.uniform(0.5, 0.99, (P, N)), b=rng.uniform(0.0, 2.0, (P, N))),
             "cuba": dict(alpha=rng.uniform(0.0, 0.95, (P, N)))}.get(model, {})
    return NetworkBatch(w_in, w_rec, thr, rng.uniform(0.5, 1.0, (P, N)), rng.normal(0, 0.2, (P, N)), n_out, **extra)


def start_states(task, n=6):
    physics = task.physics
    return physics.start_states(episode_seeds(3, n)) if hasattr(physics, "start_states") else physics.start(n)


def both(task, nets, start, max_steps=None, **kw) -> tuple[Episodes, Episodes]:
    """The episodes of the numpy path and of the compiled path; a skip where numpy's sin or cos
    is not the C library's, as they then differ in the last bit."""
    if not LIBM_TRIG:
        pytest.skip(f"numpy {np.__version__}'s float64 sin or cos differs from the C library's on this CPU, so "
                    f"the numpy path's physics differ from the compiled path's in the last bit")
    o = task.options
    args = dict(max_steps=max_steps or min(o["max_steps"], 1500), sim_steps=o["sim_steps"], reset=o["reset"],
                decode=task.decode, final_state=True, **kw)
    return (run_episodes(nets, task.physics, start, task.encoder, rollout="numpy", **args),
            run_episodes(nets, task.physics, start, task.encoder, rollout="compiled", **args))


EXACT = [("cartpole", {}), ("cartpole", {"encoding": "population"}), ("cartpole", {"reset": "zero"}),
         ("acrobot", {}), ("mountaincar", {}), ("mountaincar-continuous", {}),
         ("pendulum", {}), ("pendulum", {"encoding": "population"}), ("double-pole-nv", {"decoding": "rate"}),
         ("double-pole", {"decoding": "rate"}),
         # membrane decoding: tanh from neurons.portable on both paths
         ("pendulum", {"decoding": "membrane"}), ("pendulum", {"encoding": "population", "decoding": "membrane"}),
         ("mountaincar-continuous", {"decoding": "membrane"}), ("double-pole", {}), ("double-pole-nv", {})]


@pytest.mark.parametrize("name,options", EXACT, ids=[f"{n}-{'-'.join(map(str, o.values())) or 'default'}"
                                                     for n, o in EXACT])
def test_compiled_rollouts_equal_the_numpy_path_bit_for_bit(name, options):
    task = make(name, **options)
    five = (name, options) == ("cartpole", {"reset": "zero"})  # N = 10: blocks of 5; the others of 4
    a, b = both(task, random_nets(task, hidden=8 if five else None), start_states(task))
    np.testing.assert_array_equal(a.returns, b.returns)
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(a.final_state, b.final_state)
    assert len(np.unique(a.returns)) > 3  # the networks differ, so the check is not vacuous


def test_blocks_of_six_neurons_play_the_numpy_paths_episodes_bit_for_bit():
    """N = 18 updates its neurons in blocks of 6 (the cases above take blocks of 5 and 4)."""
    from tasks.rollout import block_size

    task = make("cartpole")
    nets = random_nets(task, hidden=16)
    assert [block_size(n) for n in (nets.n_neurons, 8, 9)] == [6, 4, 5]
    a, b = both(task, nets, start_states(task))
    np.testing.assert_array_equal(a.returns, b.returns)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(a.final_state, b.final_state)
    assert len(np.unique(a.returns)) > 3


MODELS = [("cartpole", {"reset": "zero"}, "alif"), ("cartpole", {}, "cuba"),
          ("pendulum", {"encoding": "population"}, "cuba"), ("double-pole-nv", {"decoding": "rate", "sim_steps": 10}, "alif")]


@pytest.mark.parametrize("name,options,model", MODELS, ids=[f"{n}-{'-'.join(map(str, o.values())) or 'default'}-{m}"
                                                           for n, o, m in MODELS])
def test_alif_and_cuba_networks_play_the_numpy_paths_episodes_bit_for_bit(name, options, model):
    task = make(name, **options)
    nets = random_nets(task, model=model)
    a, b = both(task, nets, start_states(task))
    np.testing.assert_array_equal(a.returns, b.returns)
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(a.final_state, b.final_state)
    assert len(np.unique(a.returns)) > 3
    # the model's own state matters: the same weights as plain LIF play differently
    plain = both(task, random_nets(task), start_states(task))[1]
    assert not np.array_equal(plain.returns, b.returns)


def test_a_network_plays_the_same_alone_as_in_a_batch_and_with_padding():
    task = make("cartpole")
    nets = random_nets(task, P=20)
    start = start_states(task, 5)
    together = both(task, nets, start)[1]
    for p in (0, 7, 19):
        alone = both(task, nets.select([p]), start)[1]
        np.testing.assert_array_equal(alone.returns[0], together.returns[p])
    padded = random_nets(task, P=20, padding=4)
    a, b = both(task, padded, start)
    np.testing.assert_array_equal(a.returns, b.returns)


def test_episodes_end_at_max_steps_and_one_episode_per_network_works():
    task = make("double-pole")
    nets = random_nets(task, P=5)
    a, b = both(task, nets, task.physics.start(1), max_steps=40)
    np.testing.assert_array_equal(a.steps, b.steps)
    assert b.steps.max() <= 40


def test_the_kernel_setting_picks_the_path_and_tasks_use_it():
    use_kernel("numpy")
    assert rollout_path() == "numpy"
    use_kernel("auto")
    assert rollout_path() == "compiled"
    task = make("cartpole")
    nets = random_nets(task, P=4)
    with timing() as times:
        task.evaluate(nets, 1)
    assert times.seconds["rollout"] > 0 and times.seconds["simulation"] == 0
    use_kernel("numpy")
    with timing() as times:
        task.evaluate(nets, 1)
    assert times.seconds["rollout"] == 0 and times.seconds["simulation"] > 0


def test_compiled_refuses_what_it_cannot_play():
    task = make("cartpole")
    nets = random_nets(task, P=2)

    class Custom:
        def step(self, state, action):
            return state, np.zeros(state.shape[:2]), np.ones(state.shape[:2], bool)

        def observe(self, state):
            return state.astype(np.float32)

    o = task.options
    with pytest.raises(ValueError, match="has no compiled port"):
        run_episodes(nets, Custom(), start_states(task, 2), task.encoder, max_steps=5, sim_steps=1,
                     rollout="compiled")
    with pytest.raises(ValueError, match="raster"):
        run_episodes(nets, task.physics, start_states(task, 2), task.encoder, max_steps=5, sim_steps=1,
                     record=True, rollout="compiled")
    with pytest.raises(ValueError, match="rollout: 'fast'"):
        run_episodes(nets, task.physics, start_states(task, 2), task.encoder, max_steps=5, sim_steps=1,
                     rollout="fast")
    # by default, what has no compiled form plays on the numpy path
    ep = run_episodes(nets, Custom(), start_states(task, 2), task.encoder, max_steps=5, sim_steps=o["sim_steps"])
    assert (ep.steps == 1).all()


def test_the_kernels_buffers_start_on_cache_lines():
    """Every buffer of an episode kernel is carved from one block that starts on a 64-byte line,
    whatever the allocator returns, so that no 16-lane vector load or store straddles two lines."""
    import numba

    from tasks.rollout import _block

    @numba.njit
    def blocks(words):
        out = np.empty((40, 3), np.int64)
        keep = []
        for k in range(40):
            b = _block(words + k)
            keep.append(b)
            out[k] = b.ctypes.data % 64, b.size - (words + k), np.int64(np.abs(b).sum() != 0.0)
        return out

    out = blocks(13)
    assert (out == 0).all()


def test_the_vector_decoder_picks_count_then_voltages_action_in_every_lane():
    """Ties of counts, potentials a few ulps apart or equal, huge potentials, NaN: in every
    lane the action is numpy's count_then_voltage, exactly (comparisons only)."""
    import numba

    from neurons.decoders import count_then_voltage
    from tasks.rollout import LANES, _discrete_actions

    @numba.njit
    def actions(cnt, v, n_out):
        acts = np.zeros(LANES, np.float32)
        _discrete_actions(cnt, v, n_out, acts)
        return acts

    rng = np.random.default_rng(3)
    ties = 0
    for trial in range(600):
        n_out = (2, 3, 5)[trial % 3]
        counts = rng.integers(0, 3, (LANES, n_out)).astype(np.float32)
        v = (rng.normal(size=(LANES, n_out)) * (1.0, 30.0, 3e3, 1e5)[trial % 4]).astype(np.float32)
        ulps = rng.integers(0, 3, (LANES, n_out)).astype(np.float32) * np.float32(1.2e-7)
        v = np.where(rng.random((LANES, n_out)) < 0.5, v[:, :1] * (1 + ulps), v).astype(np.float32)
        v[rng.random((LANES, n_out)) < 0.02] = np.nan
        counts = np.where(rng.random((LANES, n_out)) < 0.5, counts[:, :1], counts)
        got = actions(np.ascontiguousarray(counts.T).reshape(-1), np.ascontiguousarray(v.T).reshape(-1), n_out)
        np.testing.assert_array_equal(got.astype(np.int64), count_then_voltage(counts, v), err_msg=f"trial {trial}")
        vt = np.where(counts == counts.max(axis=1, keepdims=True), v, -np.inf)  # the potentials of the top counts
        ties += int(((vt == vt.max(axis=1, keepdims=True)).sum(axis=1) > 1).sum())
    assert ties > 100  # equal counts and equal potentials: the lower index


def test_the_pendulums_modulo_is_the_remainder_operators_bit_for_bit():
    """_mod_two_pi_select (exact arithmetic with selects instead of the library's fmod; the
    pendulum's lanes) and _mod_two_pi (it, or the library's from 10^6) against numba's ``%``
    and numpy's remainder: random angles, multiples of 2 pi and their neighbours a few ulps
    away (where the quotient's rounding crosses an integer), zeros, large values."""
    import math

    import numba

    from tasks import rollout as ro

    c = 2 * math.pi
    rng = np.random.default_rng(9)
    k = rng.integers(-20_000, 20_000, 20_000).astype(np.float64) * c
    x = np.concatenate([rng.uniform(-300, 300, 200_000), rng.normal(0, 4, 100_000), k, np.nextafter(k, np.inf),
                        np.nextafter(k, -np.inf), *(k * (1 + j * 1e-16) for j in range(-30, 31)),
                        [0.0, -0.0, c, -c, math.pi, -math.pi, 1e-300, -1e-300, 9.9e5, -9.9e5, 3e6, -3e6]])

    @numba.njit
    def both(values, ours, theirs, selected, far):
        for i in range(values.size):
            ours[i], theirs[i] = ro._mod_two_pi(values[i]), values[i] % (2 * math.pi)
            selected[i], far[i] = ro._mod_two_pi_select(values[i])

    ours, theirs, selected, far = (np.empty_like(x) for _ in range(4))
    both(x, ours, theirs, selected, far)
    assert np.array_equal(ours.view(np.int64), theirs.view(np.int64))
    assert np.array_equal(ours.view(np.int64), np.remainder(x, c).view(np.int64))
    near = far == 0.0  # the select form says where it leaves the value to the library
    assert np.array_equal(near, np.abs(x) < 1e6) and near.sum() > x.size - 3
    assert np.array_equal(selected[near].view(np.int64), theirs[near].view(np.int64))


def test_the_vector_pendulum_step_equals_the_scalar_one_in_every_lane():
    """_pendulum_lanes steps all lanes in one vectorized loop; lanes whose angle is 10^6 or
    more step with _step_pendulum. Both kinds of lanes, and the clipping edges of the action
    and the speed, give _step_pendulum's state and reward."""
    import numba

    from tasks import rollout as ro

    L = ro.LANES
    rng = np.random.default_rng(6)
    n = 40 * L
    th = rng.uniform(-30.0, 30.0, n)
    th[:4] = [3e6, -2e6, 2 * np.pi - 1e-15, -np.pi]
    thdot = rng.uniform(-8.0, 8.0, n)
    thdot[4:12] = [8.0, -8.0, 7.99, -7.99, 0.0, -0.0, 8.0, -8.0]
    actions = rng.uniform(-3.0, 3.0, n).astype(np.float32)
    actions[12:16] = [2.0, -2.0, 2.5, -2.5]

    @numba.njit
    def vector(st, acts, trig, w, reward, done):
        ro._pendulum_lanes(st, acts, trig, w, acts.shape[0], reward, done)

    @numba.njit
    def scalar(st, l, action, sin_th):
        return ro._step_pendulum(st, l, action, sin_th)

    for b in range(0, n, L):
        st = np.stack([th[b:b + L], thdot[b:b + L]], axis=1)
        ref = st.copy()
        trig = np.concatenate([np.sin(st[:, 0]), np.zeros(3 * L)])
        reward, done = np.zeros(L), np.ones(L, np.float32)
        vector(st, actions[b:b + L].copy(), trig, np.zeros(5 * L), reward, done)
        for l in range(L):
            r, ended = scalar(ref, l, actions[b + l], trig[l])
            assert reward[l] == r and not ended and done[l] == 0.0, (b + l, reward[l], r)
        np.testing.assert_array_equal(st.view(np.int64), ref.view(np.int64))


def _lane_states(port, rng, n):
    """Random states of ``port`` (cartpole or mountaincar) with its edges first: the track's
    and the pole's limits; the wall (position -1.2, moving left), the goal and the speed
    limits. Returns (states (n, S), actions (n,) float32 indices)."""
    if port == "cartpole":
        st = np.stack([rng.uniform(-2.5, 2.5, n), rng.uniform(-3.0, 3.0, n), rng.uniform(-0.25, 0.25, n),
                       rng.uniform(-3.0, 3.0, n)], axis=1)
        edge = 12 * 2 * np.pi / 360
        st[:6] = [[2.4, 0, 0, 0], [-2.4, 0, 0, 0], [0, 0, edge, 0], [0, 0, -edge, 0], [2.39, 1, 0.2, 2], [0, 0, 0, 0]]
        return st, rng.integers(0, 2, n).astype(np.float32)
    st = np.stack([rng.uniform(-1.2, 0.6, n), rng.uniform(-0.07, 0.07, n)], axis=1)
    st[:8] = [[-1.2, -0.01], [-1.2, 0.0], [-1.19, -0.07], [0.5, 0.0], [0.499, 0.001], [0.6, 0.07], [0.4999, 0.0001],
              [-0.5, 0.07]]
    return st, rng.integers(0, 3, n).astype(np.float32)


@pytest.mark.parametrize("port", ["cartpole", "mountaincar"])
def test_the_vector_step_of_a_port_equals_its_scalar_step_in_every_lane(port):
    """_cartpole_lanes and _mountaincar_lanes step all lanes at once (the C library's
    sines and cosines from lane_trig, branches as selects, the cartpole's divisions eight
    lanes at a time): random states and the edges (_lane_states), every action, give the
    scalar step's state, reward and end, with the vectorized sines and cosines and with
    the library's; so do the calls of other decodings (every action 0)."""
    import numba

    from tasks import rollout as ro

    lanes, step = {"cartpole": (ro._cartpole_lanes, ro._step_cartpole),
                   "mountaincar": (ro._mountaincar_lanes, ro._step_mountaincar)}[port]

    @numba.njit
    def vector(st, acts, discrete, reward, done, w, replica):
        lanes(st, acts, discrete, reward, done, w, acts.shape[0], replica)

    @numba.njit
    def scalar(st, l, action):
        return step(st, l, action)

    L = ro.LANES
    states, actions = _lane_states(port, np.random.default_rng(8), 40 * L)
    ends, stopped = set(), 0
    for replica in {ro.replica_trig(port), False}:
        for discrete in (True, False):
            for b in range(0, len(states), L):
                st = states[b:b + L].copy()
                ref = st.copy()
                acts = actions[b:b + L].copy() if discrete else np.zeros(L, np.float32)
                reward, done = np.zeros(L), np.full(L, 7.0, np.float32)
                vector(st, acts, discrete, reward, done, np.zeros(ro.PHYSICS_WORK * L), replica)
                for l in range(L):
                    r, ended = scalar(ref, l, np.int64(acts[l]) if discrete else 0)
                    assert reward[l] == r and done[l] == (1.0 if ended else 0.0), (b + l, reward[l], r, done[l])
                    ends.add(bool(ended))
                    stopped += bool(port == "mountaincar" and ref[l, 0] == -1.2 and ref[l, 1] == 0.0)
                np.testing.assert_array_equal(st.view(np.int64), ref.view(np.int64))
    assert ends == {True, False}                          # episodes that end and go on
    assert port == "cartpole" or stopped >= 2             # MountainCar's wall stopped cars


def test_the_vector_double_pole_step_equals_the_scalar_one_in_every_lane():
    """_dp_lanes runs both RK4 steps over all lanes (the sines and cosines of the poles from
    lane_trig's near-range form): random states and forces, the clipping of the force and the
    failure edges give _step_double_pole's state, damping window, reward and end, with the
    vectorized sines and cosines and with the library's."""
    import numba

    from tasks import rollout as ro

    @numba.njit
    def vector(st, acts, w, reward, done, replica):
        ro._dp_lanes(st, acts, w, acts.shape[0], reward, done, replica)

    @numba.njit
    def scalar(st, l, action, work):
        return ro._step_double_pole(st, l, action, work)

    L, S = ro.LANES, 7 + ro.WINDOW
    rng = np.random.default_rng(9)
    n = 40 * L
    states = np.zeros((n, S))
    states[:, :6] = rng.normal(0.0, [1.0, 1.0, 0.3, 1.0, 0.3, 1.0], (n, 6))
    states[:, 6:6 + ro.WINDOW] = rng.uniform(0.0, 3.0, (n, ro.WINDOW))
    states[:, 6 + ro.WINDOW] = rng.integers(0, 500, n)
    states[:4, :6] = [[2.39, 1, 0, 0, 0, 0], [0, 0, 0.628, 1, 0, 0], [0, 0, 0, 0, -0.628, -1], [0, 0, 0.9, 0, 0, 0]]
    actions = rng.uniform(-1.5, 1.5, n).astype(np.float32)
    ends = set()
    for replica in {ro.replica_trig("double-pole"), False}:
        for b in range(0, n, L):
            st = states[b:b + L].copy()
            ref = st.copy()
            reward, done = np.zeros(L), np.full(L, 7.0, np.float32)
            vector(st, actions[b:b + L].copy(), np.zeros(ro.PHYSICS_WORK * L), reward, done, replica)
            for l in range(L):
                r, ended = scalar(ref, l, actions[b + l], np.zeros((5, 6)))
                assert reward[l] == r and done[l] == (1.0 if ended else 0.0), (b + l, reward[l], r, done[l])
                ends.add(bool(ended))
            np.testing.assert_array_equal(st.view(np.int64), ref.view(np.int64))
    assert ends == {True, False}


def test_the_vector_mountaincar_continuous_step_equals_the_scalar_one_in_every_lane():
    """_mcc_lanes steps all lanes with a polynomial cosine; where float32 rounding of the
    gravity term could tell it from the C library's cos, the lane takes _step_mcc. Both
    kinds of lanes, and the clipping edges, give _step_mcc's state, reward and end."""
    import numba

    from tasks import rollout as ro

    L = ro.LANES
    rng = np.random.default_rng(5)
    # positions whose gravity term lies next to a float32 rounding boundary (found with numpy's cos)
    pos = rng.uniform(-1.2, 0.6, 4_000_000).astype(np.float32)
    g = 0.0025 * np.cos((np.float32(3) * pos).astype(np.float64))
    near = pos[(g - 2.5e-17).astype(np.float32) != (g + 2.5e-17).astype(np.float32)]
    assert near.size >= 4
    positions = np.concatenate([near[:8], [-1.2, -1.2, 0.6, 0.45, 0.4499], rng.uniform(-1.2, 0.6, 20 * L)])
    positions = positions[:(positions.size // L) * L].astype(np.float32)
    velocities = rng.uniform(-0.07, 0.07, positions.size).astype(np.float32)
    velocities[8:10] = -0.07  # into the left wall
    velocities[16:48:2] = 0.07  # at the speed limits
    velocities[17:48:2] = -0.07
    actions = rng.uniform(-2.0, 2.0, positions.size).astype(np.float32)
    actions[16:48:4] = 1.0

    @numba.njit
    def vector(st, acts, scratch, three, grav, exact, reward, done):
        ro._mcc_lanes(st, acts, scratch, three, grav, exact, reward, done)

    @numba.njit
    def scalar(st, l, action):
        return ro._step_mcc(st, l, action)

    flagged = 0
    for b in range(0, positions.size, L):
        st = np.stack([positions[b:b + L], velocities[b:b + L]], axis=1).astype(np.float64)
        ref = st.copy()
        buffers = [np.zeros(4 * L, np.float32)] + [np.zeros(L, np.float32) for _ in range(3)]
        reward, done = np.zeros(L), np.zeros(L, np.float32)
        vector(st, actions[b:b + L].copy(), *buffers, reward, done)
        for l in range(L):
            r, ended = scalar(ref, l, actions[b + l])
            assert (st[l, 0], st[l, 1], reward[l], bool(done[l])) == (ref[l, 0], ref[l, 1], r, ended), (b, l)
        flagged += int(buffers[3].sum())
    assert flagged >= 4  # the exact path ran


def test_a_compiled_call_runs_beside_the_main_thread_and_stops_when_a_signal_handler_raises():
    import signal
    import threading
    from tasks.closed_loop import interruptible
    seen = []

    def call(stop):  # stands for a compiled call: it checks stop, as the kernel does
        seen.append(threading.current_thread() is threading.main_thread())
        while not stop[0]:
            time.sleep(0.001)
        return "stopped"

    def expired(signum, frame):
        raise TimeoutError("alarm")
    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        with pytest.raises(TimeoutError, match="alarm"):
            interruptible(call)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert seen == [False] and not [t for t in threading.enumerate()
                                    if t.name == "evospike-compiled-call" and t.is_alive()]  # it has ended
    assert interruptible(lambda stop: int(stop[0]) + 41) == 41
    with pytest.raises(ZeroDivisionError):
        interruptible(lambda stop: 1 // int(stop[0]))
    out = []
    worker = threading.Thread(target=lambda: out.append(interruptible(lambda stop: threading.current_thread().name)))
    worker.start()
    worker.join()
    assert out == [worker.name]  # outside the main thread the call runs where it is made


def test_the_tests_shared_hidden_layer_gives_neats_first_block():
    from tasks.rollout import block_size
    for n_out in (1, 2, 3, 4):
        assert block_size(n_out + shared_hidden(n_out)) == block_size(n_out) == 4
