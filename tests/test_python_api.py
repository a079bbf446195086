"""The Python API as a notebook uses it: config dicts built in Python, numpy values from a
sweep, the process's settings around runs and readers."""
import numpy as np
import pandas as pd
import pytest

import neurons
from evo.app.compare import compare_table
from evo.errors import ConfigError
from evo.results import best_network, load_run, load_runs
from evo.training import config as cfg
from evo.training.api import resume, run

TIMING = ["eval_seconds", "gen_seconds"]


def xor(tmp_path, **run_options):
    return {"task": {"name": "xor"}, "strategy": {"name": "openes", "population": 8},
            "run": {"generations": 2, "backend": "serial", "out": str(tmp_path), **run_options}}


@pytest.mark.parametrize("layer,message", [
    ({"task": {"name": "xor"}, "strategie": {"name": "ga"}},
     "config: unknown table 'strategie' (did you mean 'strategy'?); valid tables: run, task, genome, strategy"),
    ({"task": {"name": "xor"}, "Runs": {"generations": 1}},
     "config: unknown table 'Runs' (did you mean 'run'?); valid tables: run, task, genome, strategy"),
])
def test_an_unknown_table_in_a_python_config_is_refused_before_a_run(tmp_path, layer, message):
    with pytest.raises(ConfigError) as exc:
        run({**layer, "run": {**layer.get("run", {}), "out": str(tmp_path)}}, log=None)
    assert str(exc.value) == message
    assert not list(tmp_path.iterdir())
    assert cfg.resolve({"task": {"name": "xor"}, "meta": {"created": "x"}})["task"]["name"] == "xor"  # a run's own


def test_numpy_values_from_a_sweep_are_the_python_values_they_hold(tmp_path):
    layer = {"task": {"name": "xor", "steps": np.int64(10)},
             "strategy": {"name": "cma", "population": np.int64(8), "sigma0": np.float32(0.5)},
             "genome": {"hidden": np.int64(3)},
             "run": {"generations": np.int64(2), "seed": np.int32(3), "quiet": np.bool_(True), "backend": "serial",
                     "out": tmp_path, "name": "np"}}  # a pathlib.Path for run.out too
    a = run(layer, log=None)
    b = run({"task": {"name": "xor", "steps": 10}, "strategy": {"name": "cma", "population": 8, "sigma0": 0.5},
             "genome": {"hidden": 3}, "run": {"generations": 2, "seed": 3, "quiet": True, "backend": "serial",
                                             "out": str(tmp_path), "name": "py"}}, log=None)
    pd.testing.assert_frame_equal(load_run(a.path).metrics.drop(columns=TIMING),
                                  load_run(b.path).metrics.drop(columns=TIMING))
    configs = [load_run(r.path).config for r in (a, b)]
    for c in configs:
        c["run"].pop("name"), c.pop("meta")
    assert configs[0] == configs[1]  # config.toml holds plain values
    resume(a.path, generations=np.int64(3), log=None)
    assert len(load_run(a.path).metrics) == 3


def test_a_run_and_a_reader_leave_the_callers_kernel_setting_alone(tmp_path):
    before = neurons.current_kernel()
    try:
        neurons.use_kernel("auto")
        r = run(xor(tmp_path, kernel="numpy", name="k"), log=None)
        assert neurons.current_kernel() == "auto" and load_run(r.path).config["run"]["kernel"] == "numpy"
        resume(r.path, generations=3, log=None)
        assert neurons.current_kernel() == "auto"
        best_network(r.path)
        assert neurons.current_kernel() == "auto"
    finally:
        neurons.use_kernel(before)


def test_log_must_be_a_function_or_none(tmp_path):
    for log in (False, "x"):
        with pytest.raises(ConfigError, match=r"^log: .*; expected a function that takes one line of text \(print, "
                                              r"the default\), or None for no lines$"):
            run(xor(tmp_path), log=log)
    assert not list(tmp_path.iterdir())


def test_best_network_takes_the_center_of_a_gaussian_strategys_run(tmp_path):
    from evo.training.api import build
    r = run(xor(tmp_path, name="c"), log=None)
    loaded = load_run(r.path)
    task, _ = build(loaded.config)
    from evo.seeding import validation_seed
    score = task.validate(best_network(r.path, which="center"), validation_seed(int(loaded.config["run"]["seed"])))
    assert score.fitness[0] == loaded.summary["validation"]


def test_compare_table_names_a_bad_grouping(tmp_path):
    run(xor(tmp_path, name="a"), log=None)
    with pytest.raises(ConfigError, match=r"^by 'strategyy' \(--by\); expected one of strategy, task, seed, run$"):
        compare_table(load_runs(str(tmp_path)), by="strategyy")


def test_an_interrupted_run_says_how_to_go_on_in_its_exception(tmp_path):
    from evo.training.trainer import Callback

    class CtrlC(Callback):
        def on_generation(self, trainer, result):
            if result.generation == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as exc:
        run(xor(tmp_path, name="i", generations=4), callbacks=[CtrlC()], log=None)
    assert str(exc.value) == f"run interrupted; evospike resume {tmp_path / 'i'} continues from generation 1"
    assert resume(tmp_path / "i", log=None).generations == 4


def test_a_second_run_into_the_same_name_names_the_setting_in_both_forms(tmp_path):
    run(xor(tmp_path, name="same"), log=None)
    with pytest.raises(ValueError, match=r"already exists; choose another run\.name \(--name\) \(nothing was "
                                         r"overwritten\)$"):
        run(xor(tmp_path, name="same"), log=None)


def test_a_warning_about_the_config_points_at_the_users_call(tmp_path):
    with pytest.warns(UserWarning, match=r"run\.workers = 2 is not used: run\.backend = 'serial'") as caught:
        run(xor(tmp_path, workers=2), log=None)
    assert caught[0].filename == __file__


def test_the_run_directory_returned_is_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run({"task": {"name": "xor"}, "strategy": {"name": "openes", "population": 8},
             "run": {"generations": 1, "backend": "serial"}}, log=None)  # run.out: "runs", relative
    assert r.path.is_absolute() and r.path.parent == tmp_path / "runs"
    monkeypatch.chdir("/")
    assert load_run(r.path).summary["generations"] == 1


def test_reading_a_run_of_a_task_this_process_does_not_know_says_why(tmp_path, monkeypatch):
    from evo.errors import RunDirError
    from evo.results import load_best_genome
    from tasks import registry
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    registry.register("xor-here", "tasks.xor:XOR")
    r = run({"task": {"name": "xor-here"}, "strategy": {"name": "cma", "population": 8},
             "run": {"generations": 1, "backend": "serial", "out": str(tmp_path), "name": "r"}}, log=None)
    del registry._registry["xor-here"]  # as in a fresh process
    for read in (lambda: best_network(r.path), lambda: load_best_genome(load_run(r.path))):
        with pytest.raises(RunDirError, match=r"task 'xor-here' is not registered in this process"):
            read()


def test_a_second_ctrl_c_during_the_clean_up_keeps_the_first_ones_hint(tmp_path, monkeypatch, capsys):
    from evo.app import cli

    def interrupted_twice(*args, **kwargs):
        try:
            first = KeyboardInterrupt()
            first.resume = "evospike resume runs/x continues from generation 3"
            raise first
        finally:
            raise KeyboardInterrupt  # the second Ctrl-C, while the first one's clean-up runs

    monkeypatch.setattr(cli, "run", interrupted_twice)
    assert cli.main(["run", "xor", "--out", str(tmp_path), "--quiet"]) == 130
    assert capsys.readouterr().err == "evospike: interrupted; evospike resume runs/x continues from generation 3\n"


def test_a_signal_while_a_finished_run_ends_changes_nothing(tmp_path, monkeypatch, capsys):
    """SIGINT or SIGTERM while a finished run's writers finish waits and is dropped: every
    writer runs and the run stays finished; one after them makes ``evospike`` exit 0."""
    import os
    import signal

    from evo.app import cli
    from evo.training.api import FINISHED_RUN
    from evo.training.trainer import Callback

    class SignalAtTheEnd(Callback):  # user callbacks end before the writers
        def __init__(self, sig):
            self.sig = sig

        def on_end(self, trainer, status, reason):
            os.kill(os.getpid(), self.sig)

    cli.main(["run", "xor", "--generations", "1", "--quiet", "--out", str(tmp_path), "--name", "setup"])  # handlers
    for sig in (signal.SIGINT, signal.SIGTERM):
        name = f"end-{sig.name}"
        r = run(xor(tmp_path, name=name, generations=3), callbacks=[SignalAtTheEnd(sig)], log=None)
        assert FINISHED_RUN.get() == r.path and r.generations == 3
        loaded = load_run(tmp_path / name)
        assert loaded.summary["status"] == "finished" and len(loaded.metrics) == 3
        assert (tmp_path / name / "best.json").is_file()

    def finished_then_interrupted(*args, **kwargs):
        out = run(*args, **kwargs)
        raise KeyboardInterrupt  # e.g. while Ray stops, after the run is finished

    monkeypatch.setattr(cli, "run", finished_then_interrupted)
    assert cli.main(["run", "xor", "--generations", "2", "--quiet", "--out", str(tmp_path), "--name", "late"]) == 0
    assert capsys.readouterr().err.endswith(f"evospike: the run had finished when the signal came; nothing was "
                                            f"lost ({tmp_path / 'late'})\n")
    assert load_run(tmp_path / "late").summary["status"] == "finished"


def test_a_callback_failing_at_the_end_of_a_finished_run_suggests_no_resume(tmp_path):
    from evo.errors import RunError
    from evo.training.trainer import Callback

    class Fails(Callback):
        def on_end(self, trainer, status, reason):
            raise ValueError("at the end")

    with pytest.raises(RunError) as exc:
        run(xor(tmp_path, name="e"), callbacks=[Fails()], log=None)
    line = str(exc.value)
    assert line.startswith("generation 2: callback ") and ".Fails.on_end, at test_python_api.py:" in line
    assert line.endswith(": ValueError: at the end (the run finished; its files are complete)"), line
    assert load_run(tmp_path / "e").summary["status"] == "finished"


def test_ray_notices_follow_the_log(tmp_path, monkeypatch, capsys):
    from evo.evaluation import ray as distributed
    from evo.training import api

    class FakeRay:  # init_ray as far as ray.init, without starting Ray
        def is_initialized(self):
            return False

        def init(self, **kw):
            self.kw = kw

    monkeypatch.setattr(distributed, "_ray", lambda: FakeRay())
    monkeypatch.setattr(distributed, "_raylet_notes", lambda: None)
    monkeypatch.setattr(distributed, "_inline_limit", distributed._inline_limit)  # init_ray sets it
    assert distributed.init_ray(num_cpus=1, notice=None)
    assert capsys.readouterr().err == ""
    assert distributed.init_ray(num_cpus=1)
    assert capsys.readouterr().err == "evospike: starting a local Ray instance on 127.0.0.1 (a few seconds)\n"
    made = []
    real = api.make_evaluator
    monkeypatch.setattr(api, "make_evaluator", lambda *a, **kw: made.append(kw["notice"]) or real(*a, **kw))
    run(xor(tmp_path, name="quiet"), log=None)
    run(xor(tmp_path, name="said"), log=lambda _line: None)
    assert made == [None, distributed.stderr_notice]


def test_genomes_are_written_with_the_checkpoints_and_at_the_end(tmp_path):
    import json

    from evo.training.trainer import Callback

    class Seen(Callback):  # runs before the writers: sees the files of the generations before
        def __init__(self, names):
            self.names, self.seen = names, []

        def on_generation(self, trainer, result):
            docs = [json.loads((path / n).read_text()) if (path / n).is_file() else None for n in self.names]
            self.seen.append((result.generation, *[d and d["generation"] for d in docs]))

    config = {"task": {"name": "xor"}, "genome": {"hidden": 2},
              "strategy": {"name": "nsga2", "population": 8, "minimize": "spikes"},
              "run": {"generations": 7, "backend": "serial", "out": str(tmp_path), "stop_on_solved": False,
                      "checkpoint_every": 3, "name": "every3"}}
    path = tmp_path / "every3"
    seen = Seen(["best.json", "pareto.json"])
    r = run(config, callbacks=[seen], log=None)
    best = load_run(r.path).metrics
    improved = best.index[best["best_ever"].diff().fillna(1.0) > 0].tolist()  # generations that improved
    # before generation g: the files of the last checkpoint (generations 2 and 5), best.json the best up to it
    for g, best_gen, front_gen in seen.seen:
        last = max((c for c in (2, 5) if c < g), default=None)
        assert front_gen == last
        assert best_gen == (None if last is None else max(i for i in improved if i <= last))
    assert json.loads((path / "pareto.json").read_text())["generation"] == 6
    assert json.loads((path / "best.json").read_text())["generation"] == max(improved)
    every1 = run({**config, "run": {**config["run"], "checkpoint_every": 1, "name": "every1"}}, log=None)
    for name in ("best.json", "pareto.json"):
        assert (path / name).read_text() == (every1.path / name).read_text()


def test_an_interrupted_run_writes_the_best_network_it_kept(tmp_path):
    import json

    from evo.training.trainer import Callback

    class CtrlC(Callback):
        def on_generation(self, trainer, result):
            if result.generation == 4:
                raise KeyboardInterrupt

    config = xor(tmp_path, name="i", generations=20, checkpoint_every=50, stop_on_solved=False)
    with pytest.raises(KeyboardInterrupt):
        run(config, callbacks=[CtrlC()], log=None)
    metrics = load_run(tmp_path / "i").metrics
    assert json.loads((tmp_path / "i" / "best.json").read_text())["fitness"] == metrics["best_ever"].iloc[-1]



def test_the_generation_line_shows_slow_evaluation_rates_with_their_digits():
    from types import SimpleNamespace

    from evo.training.callbacks import LineLogger, rate_text

    assert [rate_text(8, s) for s in (22.61, 0.5, 0.08, 1e-4)] == ["0.354", "16", "100", "80000"]
    assert [rate_text(7, 0.1), rate_text(1, 1000.0), rate_text(256, 0.0)] == ["70", "0.001", "256000000000"]
    lines = []
    row = {"best": 452.69, "mean": 19.11, "best_ever": 452.69, "validation": float("nan"), "eval_seconds": 22.61}
    LineLogger(lines.append).on_generation(None, SimpleNamespace(row=row, evaluation=range(8), generation=0,
                                                                 stop_reason=""))
    assert lines == ["gen    0  best    452.69  mean     19.11  best_ever    452.69     0.354 evals/s"]
