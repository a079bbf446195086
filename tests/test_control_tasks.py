import re
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest

import tasks
from evo.training import config as cfg
from evo.app.cli import main
from evo.genomes import FixedTopology
from kernel_variants import shared_hidden
from evo.results import load_run
from tasks import registry
from tasks.physics import AcrobotPhysics, ContinuousMountainCarPhysics, MountainCarPhysics, PendulumPhysics

PORTS = [("Acrobot-v1", AcrobotPhysics), ("MountainCar-v0", MountainCarPhysics),
         ("MountainCarContinuous-v0", ContinuousMountainCarPhysics), ("Pendulum-v1", PendulumPhysics)]


@pytest.mark.parametrize("env_id,physics_cls", PORTS)
def test_port_agrees_with_gymnasium(env_id, physics_cls):
    physics = physics_cls()
    compared = 0
    for seed in range(4):
        env = gym.make(env_id).unwrapped
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        state = physics.start_states([seed])
        np.testing.assert_array_equal(physics.observe(state)[0], obs)
        for _ in range(250):
            a = env.action_space.sample()
            obs, reward, terminated, _, _ = env.step(a)
            action = np.array([a]) if np.ndim(a) == 0 else np.asarray(a)[None, 0]
            state, r, term = physics.step(state, action)
            np.testing.assert_allclose(physics.observe(state)[0], obs, rtol=0, atol=1e-6)
            assert r[0] == pytest.approx(reward, abs=1e-6)
            assert bool(term[0]) == terminated
            compared += 1
            if terminated:
                break
    assert compared >= 200


def random_nets(task, P=6, seed=0, hidden=None):
    space = FixedTopology(task.n_inputs, task.n_outputs, hidden=shared_hidden(task.n_outputs) if hidden is None else hidden)
    return space.compile(np.random.default_rng(seed).normal(0, 1.0, (P, space.dim)))


@pytest.mark.parametrize("name", ["acrobot", "mountaincar", "mountaincar-continuous", "pendulum"])
def test_control_tasks_are_deterministic_and_use_common_episodes(name):
    task = tasks.make(name, episodes=3, max_steps=60, validation_episodes=3)
    nets = random_nets(task)
    a, b = task.evaluate(nets, 5), task.evaluate(nets, 5)
    np.testing.assert_array_equal(a.fitness, b.fitness)
    twins = nets.select([0, 0, 1])
    ev = task.evaluate(twins, 5)
    assert ev.fitness[0] == ev.fitness[1] == a.fitness[0]
    assert set(ev.metrics) == {"steps", "spikes"}
    assert np.isfinite(task.validate(nets, 1).fitness).all()


def test_continuous_action_is_the_rate_difference_of_two_outputs():
    task = tasks.make("pendulum", episodes=1, max_steps=5, sim_steps=4)
    assert task.n_outputs == 2
    counts = np.array([[[4.0, 0.0], [1.0, 3.0], [2.0, 2.0]]], np.float32)
    np.testing.assert_allclose(task.decode(counts, np.zeros_like(counts)), [[2.0, -1.0, 0.0]])
    graded = tasks.make("pendulum", decoding="membrane")
    v = np.array([[[0.5, 0.0], [0.0, 3.0]]], np.float32)
    np.testing.assert_allclose(graded.decode(np.zeros_like(v), v), [[2 * np.tanh(0.5), 2 * np.tanh(-3.0)]], rtol=1e-6)
    with pytest.raises(tasks.TaskError, match="decoding"):
        tasks.make("pendulum", decoding="spikes")


def test_gym_adapter_matches_the_port_it_wraps():
    """MountainCar's observation bounds give the port's own encoding, so scores agree."""
    port = tasks.make("mountaincar", episodes=3, max_steps=120)
    adapter = tasks.make("gym:MountainCar-v0", episodes=3, max_steps=120)
    assert (adapter.n_inputs, adapter.n_outputs) == (port.n_inputs, port.n_outputs)
    nets = random_nets(port, P=8, seed=2)
    np.testing.assert_allclose(adapter.evaluate(nets, 11).fitness, port.evaluate(nets, 11).fitness)


def test_gym_adapter_box_actions_and_errors():
    task = tasks.make("gym:Pendulum-v1", episodes=2, max_steps=30)
    assert (task.n_inputs, task.n_outputs) == (3, 2)
    nets = random_nets(task, P=4)
    ev = task.evaluate(nets, 3)
    np.testing.assert_array_equal(ev.fitness, task.evaluate(nets, 3).fitness)
    assert (ev.metrics["steps"] == 30).all()
    with pytest.raises(tasks.TaskError, match="only 1-D Box observations"):
        tasks.make("gym:FrozenLake-v1")
    with pytest.raises(tasks.TaskError, match="cannot make the environment"):
        tasks.make("gym:NoSuchEnv-v0")
    with pytest.raises(tasks.TaskError, match="unknown option 'episdes'"):
        tasks.make("gym:CartPole-v1", episdes=3)


def test_reward_shift_applies_to_training_episodes_only():
    """CartPole pays 1 per step: shifted by -1, every training return is 0, while validation
    reports the environment's own return, the episode's length."""
    plain = tasks.make("gym:CartPole-v1", episodes=3, validation_episodes=3, max_steps=60)
    shifted = tasks.make("gym:CartPole-v1", episodes=3, validation_episodes=3, max_steps=60, reward_shift=-1.0)
    nets = random_nets(plain, P=6, seed=4)
    ev, base = shifted.evaluate(nets, 5), plain.evaluate(nets, 5)
    np.testing.assert_array_equal(ev.metrics["steps"], base.metrics["steps"])
    assert (base.metrics["steps"] > 5).all()
    np.testing.assert_array_equal(ev.fitness, np.zeros(6))
    np.testing.assert_array_equal(base.fitness, base.metrics["steps"])
    val = shifted.validate(nets, 5)
    np.testing.assert_array_equal(val.fitness, plain.validate(nets, 5).fitness)
    np.testing.assert_array_equal(val.fitness, val.metrics["steps"])
    for bad in ("x", float("inf"), True):
        with pytest.raises(tasks.TaskError, match=rf"^task option reward_shift: {re.escape(repr(bad))}; "
                                                  r"expected a finite number$"):
            tasks.make("gym:CartPole-v1", reward_shift=bad)


def test_gym_task_runs_from_the_cli(tmp_path):
    assert main(["run", "gym:CartPole-v1", "--backend", "serial", "--generations", "2", "--quiet",
                 "--out", str(tmp_path), "--name", "g"]) == 0
    r = load_run(tmp_path / "g")
    assert r.config["task"]["name"] == "gym:CartPole-v1" and r.summary["status"] == "finished"


def test_task_from_a_third_party_entry_point(tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "site"
    (pkg / "ext_tasks_demo.py").parent.mkdir(parents=True)
    (pkg / "ext_tasks_demo.py").write_text(textwrap.dedent('''
        import tasks

        def make_task(*, episodes: int = 2):
            """Demo task from an installed package."""
            return tasks.make("cartpole", episodes=episodes, max_steps=20, validation_episodes=2)
    '''))
    dist = pkg / "ext_tasks_demo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ext-tasks-demo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[evospike.tasks]\ndemo-ext = ext_tasks_demo:make_task\n")
    monkeypatch.syspath_prepend(str(pkg))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    assert "demo-ext" in tasks.names()
    assert tasks.make("demo-ext", episodes=1).options["episodes"] == 1
    assert main(["tasks"]) == 0
    assert "demo-ext" in capsys.readouterr().out
    resolved = cfg.resolve({"task": {"name": "demo-ext", "episodes": 3}})
    assert resolved["task"]["episodes"] == 3


def test_the_plugin_example_in_the_tasks_readme_works(monkeypatch):
    from pathlib import Path
    text = (Path(__file__).parents[1] / "tasks" / "README.md").read_text()
    code = next(block.split("\n", 1)[1] for block in text.split("```python")[1:] if "class Parity3" in block)
    code = code.split("```")[0]
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    exec(compile(code, "tasks/README.md", "exec"), {})
    task = tasks.make("parity3", steps=12)
    space = FixedTopology(task.n_inputs, task.n_outputs, hidden=4)
    ev = task.evaluate(space.compile(np.random.default_rng(0).normal(0, 1, (5, space.dim))), 0)
    assert ev.fitness.shape == (5,) and (ev.fitness <= 8).all() and task.solved(ev).dtype == bool
    assert sorted(ev.metrics) == sorted(task.metric_names)
    assert cfg.defaults("parity3")["task"] == {"name": "parity3", "steps": 10}  # as the README says


def test_lunarlander_through_the_adapter():
    try:
        import Box2D  # noqa: F401
    except ImportError:
        from pathlib import Path
        clone = Path(__file__).resolve().parents[1]
        with pytest.raises(tasks.TaskError, match=re.escape(f"needs Box2D: pip install -e '{clone}[box2d]'")):
            tasks.make("lunarlander")
        pytest.skip("Box2D is not installed (the 'box2d' extra); checked the error instead")
    task = tasks.make("lunarlander", episodes=2, max_steps=50)
    assert (task.n_inputs, task.n_outputs) == (8, 4)
    ev = task.evaluate(random_nets(task, P=3), 0)
    assert np.isfinite(ev.fitness).all()
