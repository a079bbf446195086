import numpy as np
import pytest

from evo.training import config as cfg
from evo.app.cli import main
from evo.training.api import run

pytest.importorskip("matplotlib")


def quick_run(tmp_path, name, task="cartpole", strategy="cma", seed=0, genome=None):
    opts = {"cartpole": {"episodes": 2, "max_steps": 40, "validation_episodes": 2}, "xor": {}}[task]
    layer = {"task": {"name": task, **opts}, "strategy": {"name": strategy, "population": 12}, "genome": genome or {},
             "run": {"generations": 3, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": name,
                     "seed": seed, "stop_on_solved": False}}
    return run(cfg.resolve(layer), log=None).path


@pytest.mark.parametrize("task,strategy,genome", [("cartpole", "cma", None), ("xor", "neat", None),
                                                  ("cartpole", "openes", {"hidden": [4, 3]})])
def test_show_plot_writes_three_pictures(tmp_path, capsys, task, strategy, genome):
    path = quick_run(tmp_path, "r", task, strategy, genome=genome)
    assert main(["show", str(path), "--plot"]) == 0
    out = capsys.readouterr().out
    assert "status: finished" in out
    for name in ("fitness.png", "topology.png", "raster.png"):
        data = (path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000, name


def test_control_task_records_one_episode_of_spikes():
    import tasks
    from evo.genomes import FixedTopology
    task = tasks.make("cartpole", max_steps=30, sim_steps=4)
    space = FixedTopology(4, 2, hidden=3)
    net = space.compile(np.random.default_rng(0).normal(0, 1, (2, space.dim)))
    spikes = task.record(net, 7)
    steps = task.validate(net.select([0]), 7, episodes=1).metrics["steps"][0]
    assert spikes.shape == (4 * steps, net.n_neurons) and set(np.unique(spikes)) <= {0.0, 1.0}


def test_compare_groups_runs_and_plots(tmp_path, capsys):
    for seed in (0, 1):
        quick_run(tmp_path, f"c{seed}", seed=seed)
    out_png = tmp_path / "cmp.png"
    assert main(["compare", str(tmp_path / "c*"), "--plot", "--output", str(out_png)]) == 0
    out = capsys.readouterr().out
    assert "cma" in out and "runs" in out
    assert out_png.read_bytes()[:4] == b"\x89PNG"
