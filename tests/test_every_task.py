"""Every registered task runs end to end with the fixed-topology strategies and NEAT."""
import numpy as np
import pytest

import tasks
from event_files import write_nmnist, write_shd_dir
from evo.genomes import FixedTopology
from evo.training import config as cfg
from evo.results import load_run
from evo.training.api import run
from kernel_variants import shared_hidden

SMALL = {
    "cartpole": {"episodes": 2, "max_steps": 20, "validation_episodes": 2},
    "acrobot": {"episodes": 2, "max_steps": 20, "validation_episodes": 2},
    "mountaincar": {"episodes": 2, "max_steps": 20, "validation_episodes": 2},
    "mountaincar-continuous": {"episodes": 2, "max_steps": 20, "validation_episodes": 2},
    "pendulum": {"episodes": 2, "max_steps": 20, "validation_episodes": 2},
    "double-pole": {"max_steps": 20},
    "double-pole-nv": {"max_steps": 20, "test_steps": 30},
    "digits": {"batch_size": 20},
    "mnist": {"batch_size": 20, "validation_limit": 50},
    "temporal-patterns": {"samples": 2, "validation_samples": 2},
    "intervals": {"samples": 2, "validation_samples": 2},
    "lunarlander": {"episodes": 1, "max_steps": 10, "validation_episodes": 1},
}


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    """Small files in the formats of the data sets that users download (tests/event_files.py)."""
    root = tmp_path_factory.mktemp("data")
    files = {"nmnist": {"path": str(write_nmnist(root / "nmnist", 2, 0)), "limit": 10, "batch_size": 4}}
    try:
        import h5py  # noqa: F401
    except ImportError:
        return files
    (root / "shd").mkdir()
    files["shd"] = {"path": str(write_shd_dir(root / "shd")), "steps": 20, "batch_size": 16}
    return files


def available(name, options):
    """The task, made here; None only where it lacks an optional extra (the message says what
    to pip install). Any other TaskError (options this test gives that the task refuses)
    fails the test."""
    try:
        return tasks.make(name, **options)
    except tasks.TaskError as exc:
        if "pip install" in str(exc):
            return None
        raise


@pytest.mark.parametrize("strategy", ["cma", "neat", "openes", "pgpe", "snes"])
@pytest.mark.parametrize("name", tasks.names())
def test_task_runs_with_strategy(tmp_path, data_files, name, strategy):
    options = {**SMALL.get(name, {}), **data_files.get(name, {})}
    task = available(name, options)
    if task is None:
        pytest.skip(f"{name} needs an optional extra or data files you download")
    layer = {"task": {"name": name, **options}, "strategy": {"name": strategy, "population": 8},
             "run": {"generations": 2, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": "r",
                     "stop_on_solved": False, "stop_fitness": float("inf")}}
    if strategy != "neat":
        layer["genome"] = {"hidden": shared_hidden(task.n_outputs)}
    run(cfg.resolve(layer), log=None)
    r = load_run(tmp_path / "r")
    assert r.summary["status"] == "finished" and len(r.metrics) == 2
    assert r.summary["validation"] is not None


@pytest.mark.parametrize("name", tasks.names() + ["gym:CartPole-v1"])
def test_every_task_declares_the_metrics_it_reports(data_files, name):
    options = {**SMALL.get(name, {}), **data_files.get(name, {})}
    if name == "gym:CartPole-v1":
        options = {"episodes": 2, "max_steps": 20}
    task = available(name, options)
    if task is None:
        pytest.skip(f"{name} needs an optional extra or data files you download")
    space = FixedTopology(task.n_inputs, task.n_outputs, hidden=shared_hidden(task.n_outputs))
    nets = space.compile(np.random.default_rng(0).normal(0, 1.0, (4, space.dim)))
    assert task.metric_names is not None
    assert sorted(task.evaluate(nets, 0).metrics) == sorted(task.metric_names)
