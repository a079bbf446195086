import gymnasium as gym
import numpy as np
import pytest

import tasks
from neurons import NetworkBatch
from tasks.physics import CartPolePhysics
from tasks.closed_loop import episode_seeds


def test_start_states_match_gymnasium_reset():
    seeds = [0, 1, 12345, 2**31 + 5]
    ours = CartPolePhysics.start_states(seeds)
    env = gym.make("CartPole-v1")
    for s, state in zip(seeds, ours):
        obs, _ = env.reset(seed=s)
        np.testing.assert_array_equal(np.float32(state), obs)
        np.testing.assert_array_equal(state, env.unwrapped.state)


def test_physics_matches_gymnasium_step_for_step():
    physics = CartPolePhysics()
    rng = np.random.default_rng(0)
    env = gym.make("CartPole-v1").unwrapped
    checked = 0
    for seed in range(5):
        env.reset(seed=seed)
        state = env.state.copy()[None, None]
        for _ in range(300):
            a = int(rng.integers(2))
            obs, reward, terminated, _, _ = env.step(a)
            state, r, term = physics.step(state, np.array([[a]]))
            np.testing.assert_allclose(state[0, 0], env.state, rtol=0, atol=1e-12)
            np.testing.assert_array_equal(physics.observe(state)[0, 0], obs)
            assert r[0, 0] == reward and bool(term[0, 0]) == terminated
            checked += 1
            if terminated:  # keep stepping the physics past a failure, as a vector does
                env.reset(seed=seed + 100)
                state = env.state.copy()[None, None]
    assert checked >= 1000


def constant_action_net(action: int, P: int = 1) -> NetworkBatch:
    """Two output neurons; only `action` gets a bias large enough to fire every step."""
    bias = np.zeros((P, 2)); bias[:, action] = 2.0
    return NetworkBatch(np.zeros((P, 4, 2)), np.zeros((P, 2, 2)), np.ones((P, 2)), np.full((P, 2), 0.5), bias, 2)


@pytest.mark.parametrize("action", [0, 1])
def test_returns_equal_gymnasium_episodes_for_a_fixed_policy(action):
    task = tasks.make("cartpole", episodes=4)
    ev = task.evaluate(constant_action_net(action), seed=3)
    env = gym.make("CartPole-v1")
    lengths = []
    for s in episode_seeds(3, 4):
        env.reset(seed=int(s))
        n, done = 0, False
        while not done:
            _, r, term, trunc, _ = env.step(action)
            n += r
            done = term or trunc
        lengths.append(n)
    assert ev.fitness[0] == pytest.approx(np.mean(lengths))
    assert ev.metrics["steps"][0] == pytest.approx(np.mean(lengths))
    assert ev.metrics["spikes"][0] == pytest.approx(task.options["sim_steps"])  # one neuron fires each SNN step


def test_common_random_numbers_and_seeds(rng):
    task = tasks.make("cartpole", episodes=5, max_steps=100)
    P = 6
    w_in = rng.normal(size=(P, 4, 6)).astype(np.float32)
    w_rec = rng.normal(size=(P, 6, 6)).astype(np.float32)
    net = NetworkBatch(w_in, w_rec, np.ones((P, 6)), np.full((P, 6), 0.8), np.zeros((P, 6)), 2)
    a = task.evaluate(net, seed=11)
    # each network alone gets the same fitness as inside the population
    for p in range(P):
        assert task.evaluate(net.select(p), seed=11).fitness[0] == a.fitness[p]
    assert np.array_equal(task.evaluate(net, seed=11).fitness, a.fitness)
    assert len(set(a.fitness)) > 1


def test_validation_episodes_never_come_from_training_range():
    train = episode_seeds(5, 1000)
    val = episode_seeds(5, 1000, validation=True)
    assert train.max() < 2**31 <= val.min()
    task = tasks.make("cartpole")
    ev = task.validate(constant_action_net(1), seed=5, episodes=7)
    assert ev.fitness.shape == (1,)


def test_bad_options_are_clear_errors():
    with pytest.raises(tasks.TaskError, match="unknown option 'epsiodes'; valid options: episodes"):
        tasks.make("cartpole", epsiodes=3)
    with pytest.raises(tasks.TaskError, match="episodes: 0"):
        tasks.make("cartpole", episodes=0)
    with pytest.raises(tasks.TaskError, match="encoding: 'spiky'"):
        tasks.make("cartpole", encoding="spiky")
    with pytest.raises(tasks.UnknownTaskError, match="valid tasks: .*cartpole"):
        tasks.make("cartpol")


def test_population_encoding_changes_the_interface():
    task = tasks.make("cartpole", encoding="population", fields=3)
    assert task.n_inputs == 12
    P = 2
    net = NetworkBatch(np.ones((P, 12, 2)), np.zeros((P, 2, 2)), np.ones((P, 2)), np.full((P, 2), 0.5),
                       np.zeros((P, 2)), 2)
    assert task.evaluate(net, 0).fitness.shape == (2,)
    with pytest.raises(tasks.TaskError, match="networks have 4 inputs and 2 outputs; the task needs 12 and 2"):
        task.evaluate(constant_action_net(0), 0)


def test_register_a_user_task():
    class Constant(tasks.Task):
        n_inputs, n_outputs = 1, 1
        def __init__(self, *, value: float = 1.0):
            self.value = value
            self.options = {"value": value}
        def evaluate(self, nets, seed):
            return tasks.Evaluation(np.full(nets.n_networks, self.value))
        validate = evaluate

    tasks.register("constant-test", Constant, "a constant", replace=True)
    t = tasks.make("constant-test", value=3.0)
    assert isinstance(t, tasks.Task)
    assert "constant-test" in tasks.names()
    with pytest.raises(tasks.TaskError, match="valid options: value"):
        tasks.make("constant-test", vlaue=2)
