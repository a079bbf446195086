import math

import numpy as np
import pytest

import tasks
from evo.genomes import FixedTopology
from kernel_variants import shared_hidden
from tasks.double_pole import WINDOW, DoublePolePhysics


def reference_step(action: float, st: list[float]) -> list[float]:
    """Stanley's NEAT double-pole code (CartPole::performAction), scalar, line for line."""
    MUP, GRAVITY, MASSCART = 0.000002, -9.8, 1.0
    MASSPOLE_1, LENGTH_1, MASSPOLE_2, LENGTH_2, FORCE_MAG, TAU = 0.1, 0.5, 0.01, 0.05, 10.0, 0.01

    def step(st):
        force = action * FORCE_MAG
        c1, s1, c2, s2 = math.cos(st[2]), math.sin(st[2]), math.cos(st[4]), math.sin(st[4])
        gs1, gs2 = GRAVITY * s1, GRAVITY * s2
        ml1, ml2 = LENGTH_1 * MASSPOLE_1, LENGTH_2 * MASSPOLE_2
        t1, t2 = MUP * st[3] / ml1, MUP * st[5] / ml2
        fi1 = (ml1 * st[3] * st[3] * s1) + (0.75 * MASSPOLE_1 * c1 * (t1 + gs1))
        fi2 = (ml2 * st[5] * st[5] * s2) + (0.75 * MASSPOLE_2 * c2 * (t2 + gs2))
        mi1, mi2 = MASSPOLE_1 * (1 - (0.75 * c1 * c1)), MASSPOLE_2 * (1 - (0.75 * c2 * c2))
        d1 = (force + fi1 + fi2) / (mi1 + mi2 + MASSCART)
        d3 = -0.75 * (d1 * c1 + gs1 + t1) / LENGTH_1
        d5 = -0.75 * (d1 * c2 + gs2 + t2) / LENGTH_2
        return [st[1], d1, st[3], d3, st[5], d5]

    for _ in range(2):
        hh, h6 = TAU * 0.5, TAU / 6.0
        dydx = step(st)
        yt = [y + hh * d for y, d in zip(st, dydx)]
        dyt = step(yt)
        yt = [y + hh * d for y, d in zip(st, dyt)]
        dym = step(yt)
        yt = [y + TAU * d for y, d in zip(st, dym)]
        dym = [a + b for a, b in zip(dym, dyt)]
        dyt = step(yt)
        st = [y + h6 * (a + b + 2.0 * c) for y, a, b, c in zip(st, dydx, dyt, dym)]
    return st


def test_physics_matches_the_scalar_reference():
    rng = np.random.default_rng(0)
    ph = DoublePolePhysics()
    states = DoublePolePhysics.start(8, rng.uniform(-0.1, 0.1, (8, 6)))
    refs = [list(s[:6]) for s in states]
    for _ in range(50):
        action = rng.uniform(-1, 1, 8)
        states, reward, failed = ph.step(states, action)
        refs = [reference_step(float(a), r) for a, r in zip(action, refs)]
        np.testing.assert_allclose(states[:, :6], np.array(refs), rtol=0, atol=1e-12)
    assert (states[:, -1] == 50).all()


def test_poles_fall_without_control_and_the_run_fails():
    ph = DoublePolePhysics()
    s = DoublePolePhysics.start(1)
    for t in range(1000):
        s, r, failed = ph.step(s, np.zeros(1))
        if failed[0]:
            break
    assert failed[0] and r[0] == 0.0 and 10 < t < 1000
    assert max(abs(s[0, 2]), abs(s[0, 4])) > ph.FAIL_ANGLE


def test_damping_window_holds_the_last_100_jiggles():
    ph = DoublePolePhysics(velocities=False)
    s = DoublePolePhysics.start(1)
    seen = []
    for _ in range(130):
        s, _, _ = ph.step(s, np.full(1, 0.01))
        seen.append(abs(s[0, 0]) + abs(s[0, 1]) + abs(s[0, 2]) + abs(s[0, 3]))
    assert s[0, 6:6 + WINDOW].sum() == pytest.approx(sum(seen[-WINDOW:]))


@pytest.mark.parametrize("velocities,n_in", [(True, 6), (False, 3)])
def test_variants_and_their_fitness(velocities, n_in):
    task = tasks.make("double-pole", velocities=velocities, max_steps=300,
                      **({} if velocities else {"test_steps": 400}))  # the test runs without velocities only
    assert (task.n_inputs, task.n_outputs) == (n_in, 2)
    space = FixedTopology(n_in, 2, hidden=shared_hidden(2))
    nets = space.compile(np.random.default_rng(1).normal(0, 1, (6, space.dim)))
    ev = task.evaluate(nets, 0)
    steps = ev.metrics["steps"]
    assert ((steps >= 1) & (steps <= 300)).all()
    if velocities:
        np.testing.assert_array_equal(ev.fitness, steps)
    else:
        assert (ev.fitness >= 0.1 * steps / 1000 - 1e-12).all()
        np.testing.assert_array_equal(ev.fitness[steps < WINDOW], 0.1 * steps[steps < WINDOW] / 1000)
    if velocities:  # solved: balanced for max_steps
        np.testing.assert_array_equal(task.solved(ev), steps >= 300)
    else:  # solved: a network that balanced a generalization test, which these never reach
        np.testing.assert_array_equal(task.solved(ev), ev.metrics["balanced_test"] > 0)
        assert not task.solved(ev).any()
    val = task.validate(nets.select([0]), 0)
    assert 0 <= val.fitness[0] <= 625


def alif_pair(b: float) -> "NetworkBatch":
    """Two ALIF output neurons, no hidden ones: output 0 gets +k . (x, theta1, theta2), output 1
    -k; a bias that alone would fire them every step, held back by the adaptation b."""
    from neurons import NetworkBatch
    w_in = np.zeros((1, 3, 2), np.float32)
    k = np.array([-8.55, -68.76, 53.28], np.float32)
    w_in[0, :, 0], w_in[0, :, 1] = k, -k
    full = lambda v: np.full((1, 2), v, np.float32)  # noqa: E731
    return NetworkBatch(w_in, np.zeros((1, 2, 2), np.float32), full(1.0), full(0.0), full(14.74), 2,
                        rho=full(0.905), b=full(b))


def test_spiking_alif_outputs_balance_the_double_pole_without_velocities():
    """Decoded from spike counts (the preset's rate decoding, 10 steps per decision), with
    thresholds of 1: the adaptation supplies the velocity estimate; without it (b = 0) the
    same weights drop the poles at once."""
    task = tasks.make("double-pole-nv", decoding="rate", sim_steps=10, test_steps=3_000)
    ev = task.evaluate(alif_pair(1.33), 0)
    assert ev.metrics["steps"][0] == 1000 and task.solved(ev)[0]
    assert 0.05 < ev.fitness[0] < 1
    assert 2 < ev.metrics["spikes"][0] < 19.5  # of 20 possible (2 neurons, 10 steps): both fire, neither always
    assert task.validate(alif_pair(1.33), 0).fitness[0] > 100  # of Gruau's 625 start states
    plain = task.evaluate(alif_pair(0.0), 0)
    assert plain.metrics["steps"][0] < 100 and not task.solved(plain)[0]
