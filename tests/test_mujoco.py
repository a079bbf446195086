"""MuJoCo locomotion through the Gymnasium adapter: observation normalization as the task's
state, continuous decoding, and runs that keep the normalizer (checkpoint, best.json,
replay, Ray). Short horizons only, so that CI stays quick."""
import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mujoco", reason="the MuJoCo tests need the 'mujoco' extra (pip install 'evospike[mujoco]')")

from evo.results import load_run  # noqa: E402
from evo.rundir.layout import TIMING_COLUMNS  # noqa: E402
from evo.training import config as cfg  # noqa: E402
from evo.training.api import run  # noqa: E402
from neurons import NetworkBatch  # noqa: E402
from tasks import TaskError  # noqa: E402
from tasks.registry import make  # noqa: E402

ENV = "gym:HalfCheetah-v5"


def nets(task, P=4, seed=0):
    rng = np.random.default_rng(seed)
    N = task.n_outputs + 6
    return NetworkBatch(rng.normal(0, 1.0, (P, task.n_inputs, N)), rng.normal(0, 0.3, (P, N, N)),
                        np.ones((P, N)), np.full((P, N), 0.9), np.zeros((P, N)), task.n_outputs)


def test_mujoco_tasks_normalize_observations_from_the_first_episodes():
    task = make(ENV, episodes=2, max_steps=30)
    assert task.options["normalize"] == "auto" and task.has_state and task.n_outputs == 12
    before = task.state()
    ev = task.evaluate(nets(task), 1)
    assert ev.extras["obs_count"].tolist() == [30.0] * 4  # the first episode of each network, 30 steps
    task.update_state(ev)
    after = task.state()["normalizer"]
    assert after["count"] == pytest.approx(0.01 + 120)
    assert not np.allclose(after["sum"], before["normalizer"]["sum"])
    other = make(ENV, episodes=2, max_steps=30)
    other.set_state(task.state())  # the state is all a process needs to normalize alike
    np.testing.assert_array_equal(other.validate(nets(task), 3, episodes=1).fitness,
                                  task.validate(nets(task), 3, episodes=1).fitness)
    off = make(ENV, episodes=1, max_steps=10, normalize="off")
    assert off.state() is None and off.evaluate(nets(off), 1).extras == {}
    with pytest.raises(TaskError, match="task option normalize: 'yes'; expected 'auto', 'on' or 'off'"):
        make(ENV, normalize="yes")
    with pytest.raises(TaskError, match="expected count > 0"):
        task.set_state({"normalizer": {"count": 0, "sum": [0.0] * 17, "sumsq": [0.0] * 17}})


@pytest.mark.parametrize("env,n_in,n_out", [("HalfCheetah-v5", 17, 12), ("Hopper-v5", 11, 6),
                                           ("Walker2d-v5", 17, 12), ("Ant-v5", 105, 16)])
def test_the_locomotion_environments_run_normalized(env, n_in, n_out):
    task = make(f"gym:{env}", episodes=2, max_steps=10)
    assert (task.n_inputs, task.n_outputs) == (n_in, n_out) and task.normalizer is not None
    a, b = task.evaluate(nets(task, P=3), 4), task.evaluate(nets(task, P=3), 4)
    np.testing.assert_array_equal(a.fitness, b.fitness)  # the seeds decide the episodes
    assert a.extras["obs_count"].min() >= 1


def test_continuous_actions_stay_in_the_action_bounds():
    for decoding in ("rate", "membrane"):
        task = make(ENV, episodes=1, max_steps=5, decoding=decoding)
        counts = np.array([[[5.0, 0.0] * 6]], np.float32)
        v = np.array([[[100.0, -100.0] * 6]], np.float32)
        action = task._decode(counts, v)
        assert action.shape == (1, 1, 6) and np.all(action <= 1.0) and np.all(action >= -1.0)
        assert np.allclose(action, 1.0)  # the first of each pair far ahead: the largest action


RUN = {"task": {"name": ENV, "episodes": 1, "max_steps": 25, "validation_episodes": 1},
       "strategy": {"name": "openes", "population": 6, "sigma0": 0.1},
       "genome": {"hidden": 4}, "run": {"generations": 3, "quiet": True, "validate_every": 1, "backend": "serial"}}


def _config(tmp_path, name, **run_over):
    return cfg.resolve({**RUN, "run": {**RUN["run"], "out": str(tmp_path), "name": name, **run_over}})


def _run_and_score(tmp_path):
    """A short run; the best network's validation with best.json's normalizer."""
    run(_config(tmp_path, "r"), log=None)
    r = load_run(tmp_path / "r")
    state = r.best["task_state"]["normalizer"]
    assert state["count"] > 1 and len(state["sum"]) == 17
    loop = json.loads((tmp_path / "r" / "checkpoints" / "loop.json").read_text())
    assert loop["task_state"]["normalizer"]["count"] == pytest.approx(0.01 + 3 * 6 * 25)
    # replay rebuilds the task with best.json's normalizer, which changes the score
    from evo.app import cli
    from evo.seeding import validation_seed
    task, space, *_ = cli._rebuild(r)
    genome = space.compile(space.decode_genome(r.best["genome"]))
    with_state = task.validate(genome, validation_seed(int(r.config["run"]["seed"]))).fitness[0]
    plain = make(ENV, **{k: v for k, v in r.config["task"].items() if k != "name"})
    without = plain.validate(genome, validation_seed(int(r.config["run"]["seed"]))).fitness[0]
    assert with_state != without
    return with_state


def test_a_run_keeps_the_normalizer_in_its_checkpoint_and_best_json(tmp_path):
    from evo.app.cli import main
    _run_and_score(tmp_path)
    pytest.importorskip("nir")
    assert main(["export", str(tmp_path / "r"), str(tmp_path / "r.nir"), "--network", "best"]) == 0
    side = json.loads((tmp_path / "r.nir.json").read_text())  # export keeps what the inputs went through
    assert side["task_state"] == load_run(tmp_path / "r").best["task_state"]
    assert main(["export", str(tmp_path / "r"), str(tmp_path / "r.nir")]) == 0  # the center the run validated
    center = json.loads((tmp_path / "r" / "center.json").read_text())
    assert json.loads((tmp_path / "r.nir.json").read_text())["task_state"] == center["task_state"] != side["task_state"]


def test_replay_uses_the_normalizer_of_best_json(tmp_path, capsys):
    from evo.app.cli import main
    want = _run_and_score(tmp_path)
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "r"), "--json", "--network", "best"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == pytest.approx(want, abs=0, rel=0)
    assert main(["replay", str(tmp_path / "r"), "--json"]) == 0  # the center, with center.json's normalizer
    assert json.loads(capsys.readouterr().out)["score"] == load_run(tmp_path / "r").summary["validation"]


def test_resume_and_ray_give_the_undisturbed_serial_run(tmp_path, capsys):
    pytest.importorskip("ray")
    from evo.training.api import resume
    run(_config(tmp_path, "serial"), log=None)
    want = load_run(tmp_path / "serial").metrics.drop(columns=TIMING_COLUMNS)
    run(_config(tmp_path, "part", generations=2), log=None)
    resume(tmp_path / "part", generations=3, log=None)
    pd.testing.assert_frame_equal(load_run(tmp_path / "part").metrics.drop(columns=TIMING_COLUMNS), want)
    run(_config(tmp_path, "ray", backend="ray", workers=2), log=None)
    pd.testing.assert_frame_equal(load_run(tmp_path / "ray").metrics.drop(columns=TIMING_COLUMNS), want)
    assert load_run(tmp_path / "ray").best == load_run(tmp_path / "serial").best


def test_hopper_preset_shifts_training_rewards_and_the_others_do_not():
    hopper, cheetah = cfg.resolve({"task": {"name": "gym:Hopper-v5"}}), cfg.resolve({"task": {"name": ENV}})
    assert hopper["task"]["reward_shift"] == -1.0 and hopper["strategy"]["sigma0"] == 0.05
    assert cheetah["task"]["reward_shift"] == 0.0 and cheetah["strategy"]["sigma0"] == 0.02
    walker = cfg.resolve({"task": {"name": "gym:Walker2d-v5"}})
    assert walker["task"]["reward_shift"] == 0.0 and walker["strategy"]["sigma0"] == 0.05
    assert walker["genome"]["hidden"] == [32] and walker["run"]["generations"] == 300
    task = make("gym:Hopper-v5", episodes=1, max_steps=20, reward_shift=-1.0)
    plain = make("gym:Hopper-v5", episodes=1, max_steps=20)
    n = nets(task, P=3)
    shifted, base = task.evaluate(n, 2), plain.evaluate(n, 2)
    np.testing.assert_allclose(shifted.fitness, base.fitness - base.metrics["steps"])
