"""Runs survive SIGKILL and SIGTERM: resuming gives the undisturbed run's metrics."""
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import tasks

from evo.training import config as cfg
from evo.app.cli import main
from evo.results import load_run
from evo.rundir.files import read_parquet
from evo.rundir.layout import TIMING_COLUMNS
from evo.training.api import run

CASES = {
    "cma": {"task": {"name": "cartpole", "episodes": 30, "max_steps": 300, "validation_episodes": 5},
            "genome": {"hidden": 4}, "strategy": {"name": "cma", "population": 24},
            "run": {"generations": 10, "validate_every": 3, "stop_fitness": 1e9}},
    "neat": {"task": {"name": "cartpole", "episodes": 30, "max_steps": 300, "validation_episodes": 5},
             "strategy": {"name": "neat", "population": 60},
             "run": {"generations": 10, "validate_every": 3, "stop_fitness": 1e9}},
    **{name: {"task": {"name": "cartpole", "episodes": 30, "max_steps": 300, "validation_episodes": 5},
              "genome": {"hidden": 4}, "strategy": {"name": name, "population": 20, "sigma0": 0.5},
              "run": {"generations": 10, "validate_every": 3, "stop_fitness": 1e9}}
       for name in ("openes", "pgpe", "snes")},
}


def write_config(tmp_path, case):
    lines = []
    for section, table in CASES[case].items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path = tmp_path / f"{case}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def files_of(path, lock: bool = True):
    """Every file under ``path`` with its bytes (``lock=False``: the lock file aside)."""
    return {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file() and (lock or p.name != ".lock")}


def metrics(path):
    return load_run(path).metrics.drop(columns=TIMING_COLUMNS)


def undisturbed(tmp_path, case, generations=None):
    layer = {**CASES[case], "run": {**CASES[case]["run"], "backend": "serial", "quiet": True,
                                    "out": str(tmp_path), "name": f"calm-{case}-{generations}"}}
    if generations:
        layer["run"]["generations"] = generations
    return run(cfg.resolve(layer), log=None).path


def start(tmp_path, case, name):
    args = [sys.executable, "-m", "evo", "run", "--config", str(write_config(tmp_path, case)), "--backend", "serial",
            "--quiet", "--out", str(tmp_path), "--name", name]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for_generation(path, k, proc, timeout=120):
    deadline = time.time() + timeout
    loop = path / "checkpoints" / "loop.json"
    while time.time() < deadline:
        if loop.exists():
            try:
                if json.loads(loop.read_text())["generation"] >= k:
                    return
            except (json.JSONDecodeError, KeyError):
                pass
        assert proc.poll() is None, f"the run ended early: {proc.stderr.read()}"
        time.sleep(0.01)
    raise AssertionError("the run did not reach the generation in time")


@pytest.mark.parametrize("case", ["cma", "neat", "openes", "pgpe", "snes"])
def test_sigkill_then_resume_equals_an_undisturbed_run(tmp_path, case):
    calm = undisturbed(tmp_path, case)
    proc = start(tmp_path, case, "killed")
    wait_for_generation(tmp_path / "killed", 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    killed = load_run(tmp_path / "killed")
    assert killed.summary["status"] == "running" and len(killed.metrics) < 10  # it really died mid-run
    assert main(["resume", str(tmp_path / "killed"), "--backend", "serial", "--quiet"]) == 0
    pd.testing.assert_frame_equal(metrics(tmp_path / "killed"), metrics(calm))
    after = load_run(tmp_path / "killed")
    assert after.summary["status"] == "finished"
    pd.testing.assert_frame_equal(after.individuals.reset_index(drop=True),
                                  load_run(calm).individuals.reset_index(drop=True))
    assert after.best == load_run(calm).best


def test_sigterm_marks_the_run_interrupted_and_it_resumes(tmp_path):
    calm = undisturbed(tmp_path, "cma")
    proc = start(tmp_path, "cma", "term")
    wait_for_generation(tmp_path / "term", 2, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 130
    summary = load_run(tmp_path / "term").summary
    assert (summary["status"], summary["reason"]) == ("interrupted", "SIGTERM")
    assert main(["resume", str(tmp_path / "term"), "--backend", "serial", "--quiet"]) == 0
    pd.testing.assert_frame_equal(metrics(tmp_path / "term"), metrics(calm))


def test_resume_extends_a_finished_run(tmp_path):
    short = undisturbed(tmp_path, "cma", generations=4)
    longer = undisturbed(tmp_path, "cma", generations=7)
    assert main(["resume", str(short), "--generations", "7", "--quiet"]) == 0
    a, b = metrics(short), metrics(longer)
    # generation 3 ended the first run, so it carries that run's final validation; all else matches
    assert a.loc[3, "validation"] == a.loc[3, "validation"] and pd.isna(b.loc[3, "validation"])
    a.loc[3, "validation"] = float("nan")
    pd.testing.assert_frame_equal(a, b)
    config = load_run(short).config  # the new total, for a later resume, and the one before it
    assert config["run"]["generations"] == 7 and config["meta"]["earlier_generations"] == [4]


def test_a_run_killed_while_extended_resumes_to_the_new_total(tmp_path):
    short = undisturbed(tmp_path, "cma", generations=4)
    longer = undisturbed(tmp_path, "cma", generations=9)
    proc = subprocess.Popen([sys.executable, "-m", "evo", "resume", str(short), "--generations", "9", "--backend",
                             "serial", "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_generation(short, 6, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert len(load_run(short).metrics) < 9  # it really died mid-run
    assert main(["resume", str(short), "--backend", "serial", "--quiet"]) == 0  # no --generations: 9, as recorded
    a, b = metrics(short), metrics(longer)
    a.loc[3, "validation"] = float("nan")  # the first run's last validation, as above
    pd.testing.assert_frame_equal(a, b)
    assert load_run(short).config["meta"]["earlier_generations"] == [4]


@pytest.mark.parametrize("raise_at, why", [(4, "4 generations recorded"), (3, "generation 2 was not validated")])
def test_a_total_that_ends_a_run_at_a_checkpoint_it_went_past_is_refused(tmp_path, capsys, raise_at, why):
    from evo.training.trainer import Callback

    class Raises(Callback):
        def on_generation(self, trainer, result):
            if result.generation == raise_at:
                raise RuntimeError("from a callback")

    layer = {**CASES["cma"], "run": {**CASES["cma"]["run"], "out": str(tmp_path), "name": "r", "quiet": True,
                                     "backend": "serial", "checkpoint_every": 3, "validate_every": 2}}
    with pytest.raises(RuntimeError):
        run(cfg.resolve(layer), callbacks=[Raises()], log=None)
    path = tmp_path / "r"
    before = files_of(path)
    # generation 2 was not the run's last: a run of 3 would have validated it, and cut nothing
    assert main(["resume", str(path), "--generations", "3", "--quiet"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"evospike: error: run.generations: 3 would end {str(path)!r} at its checkpoint, but the run went on past "
        f"it ({why}); give a total above 3, nothing was changed"]
    assert files_of(path) == before
    assert main(["resume", str(path), "--generations", "5", "--backend", "serial", "--quiet"]) == 0
    layer["run"]["name"], layer["run"]["generations"] = "calm", 5
    pd.testing.assert_frame_equal(metrics(path), metrics(run(cfg.resolve(layer), log=None).path))


def test_resume_leaves_a_run_that_a_stop_rule_ended_as_it_is(tmp_path, capsys):
    layer = {**CASES["cma"], "run": {**CASES["cma"]["run"], "out": str(tmp_path), "name": "stopped", "quiet": True,
                                     "backend": "serial", "stop_fitness": 20.0}}
    path = run(cfg.resolve(layer), log=None).path
    summary = load_run(path).summary
    assert summary["status"] == "finished" and summary["reason"] == "reached stop_fitness 20"
    assert summary["generations"] < 10
    before = files_of(path, lock=False)
    capsys.readouterr()
    for _ in range(2):
        assert main(["resume", str(path), "--backend", "serial", "--quiet"]) == 0
        assert capsys.readouterr().out.splitlines()[0] == (
            f"resume {path}: the run is finished (reached stop_fitness 20); nothing to do (a new total of "
            f"generations runs it further)")
    assert files_of(path, lock=False) == before


def test_resume_to_fewer_generations_than_finished_is_refused(tmp_path, capsys):
    path = undisturbed(tmp_path, "cma", generations=3)
    before = files_of(path)
    assert main(["resume", str(path), "--generations", "2", "--quiet"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"evospike: error: run.generations: 2 is fewer than the 3 generations {str(path)!r} has finished; "
        f"give a total of at least 3, nothing was changed"]
    assert files_of(path) == before


KILL_AT_REPLACE = """
import os, signal, sys
k, real, n = int(sys.argv[1]), os.replace, [0]
def replace(src, dst, *a, **kw):
    real(src, dst, *a, **kw)
    n[0] += 1
    if n[0] == k:  # dies right after its k-th file lands in the run directory
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from evo.app.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_a_run_killed_while_it_starts_resumes_to_the_same_files(tmp_path, k, capsys):
    """Killed after its k-th file (config.toml, the generation-0 checkpoint's strategy files
    and loop.json, then summary.json): no generation is recorded, ls lists it as killed at
    start, and resume starts it again."""
    calm = undisturbed(tmp_path, "cma", generations=3)
    args = ["run", "--config", str(write_config(tmp_path, "cma")), "--generations", "3", "--backend", "serial",
            "--quiet", "--out", str(tmp_path), "--name", "killed"]
    proc = subprocess.run([sys.executable, "-c", KILL_AT_REPLACE, str(k), *args], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    path = tmp_path / "killed"
    assert (path / "config.toml").exists() and not (path / "summary.json").exists()
    capsys.readouterr()
    assert main(["ls", str(tmp_path)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[:5] for line in listed[1:3]] == [["calm-cma-3", "cartpole", "cma", "finished", "3"],
                                                          ["killed", "cartpole", "cma", "killed", "at"]]
    assert listed[3].startswith("killed at start: the run was stopped before its first generation finished")
    assert main(["resume", str(path), "--backend", "serial", "--quiet"]) == 0
    pd.testing.assert_frame_equal(metrics(path), metrics(calm))
    assert load_run(path).best == load_run(calm).best and load_run(path).summary["status"] == "finished"
    assert not list(path.rglob("*.tmp"))


def test_a_run_folder_with_no_file_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "bare").mkdir()
    assert main(["resume", str(tmp_path / "bare")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"evospike: error: {str(tmp_path / 'bare')!r} holds no run (no config.toml); a run killed as it began leaves "
        f"such a folder: remove it and start the run again")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")  # not a run folder: not called one killed
    assert main(["resume", str(tmp_path / "other")]) == 2
    assert "is not a run directory: config.toml is missing" in capsys.readouterr().err
    assert main(["run", "xor", "--dump-config"]) == 0  # a config a user keeps in a folder: not a run's
    (tmp_path / "other" / "config.toml").write_text(capsys.readouterr().out)
    assert main(["ls", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"no runs in {tmp_path}\n"
    before = files_of(tmp_path / "other", lock=False)
    assert main(["resume", str(tmp_path / "other")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"evospike: error: {str(tmp_path / 'other')!r} is not a run directory: summary.json is missing, and "
        f"config.toml has no [meta] with the time the run was created")
    assert files_of(tmp_path / "other", lock=False) == before


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
    assert main(["resume", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


class Flaky(tasks.Task):
    """CartPole that returns NaN for network 3 on its third evaluation while ``broken``."""

    broken = True
    calls = 0

    def __init__(self, *, episodes: int = 3):
        import tasks
        self.inner = tasks.make("cartpole", episodes=episodes, max_steps=50, validation_episodes=3)
        self.n_inputs, self.n_outputs, self.options = self.inner.n_inputs, self.inner.n_outputs, {"episodes": episodes}

    def evaluate(self, nets, seed):
        from tasks import Evaluation
        ev = self.inner.evaluate(nets, seed)
        Flaky.calls += 1
        if Flaky.broken and Flaky.calls == 3:
            ev.fitness[3] = float("nan")
            return Evaluation(ev.fitness, ev.metrics)
        return ev

    def validate(self, nets, seed):
        return self.inner.validate(nets, seed)


def test_a_task_returning_nan_fails_the_run_which_then_resumes(tmp_path, monkeypatch, capsys):
    import tasks
    from tasks import registry
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    tasks.register("flaky", Flaky)
    args = ["run", "flaky", "--backend", "serial", "--generations", "5", "--quiet", "--out", str(tmp_path)]
    Flaky.broken, Flaky.calls = False, 0
    assert main(args + ["--name", "calm"]) == 0
    Flaky.broken, Flaky.calls = True, 0
    assert main(args + ["--name", "nan"]) == 2
    err = capsys.readouterr().err
    assert "generation 2" in err and "for networks [3]" in err and "Traceback" not in err
    r = load_run(tmp_path / "nan")
    assert r.summary["status"] == "failed" and "generation 2" in r.summary["reason"]
    assert len(r.metrics) == 2  # the finished generations stay saved
    Flaky.broken = False
    assert main(["resume", str(tmp_path / "nan"), "--quiet"]) == 0
    pd.testing.assert_frame_equal(metrics(tmp_path / "nan"), metrics(tmp_path / "calm"))


@pytest.mark.parametrize("victim", ["loop.json", "npz", "metrics.parquet"])
def test_a_damaged_file_is_a_clear_error_naming_it(tmp_path, capsys, victim):
    path = undisturbed(tmp_path, "cma", generations=3)
    ckpt = path / "checkpoints"
    target = {"loop.json": ckpt / "loop.json", "npz": next(ckpt.glob("*.npz")),
              "metrics.parquet": path / "metrics.parquet"}[victim]
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    before = {p.name: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    assert main(["resume", str(path), "--generations", "5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert target.name in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before  # nothing else touched


def test_a_strategy_state_that_does_not_fit_names_its_json_file(tmp_path, capsys):
    path = undisturbed(tmp_path, "cma", generations=3)
    state = next((path / "checkpoints").glob("strategy-*.json"))
    state.write_text(json.dumps({**json.loads(state.read_text()), "dim": 5}))  # valid JSON, wrong content
    assert main(["resume", str(path), "--generations", "5", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"evospike: error: '{state} with {state.with_suffix('.npz').name}': corrupt checkpoint (")
    assert "\n" not in err


def test_sparse_checkpoints_and_a_checkpoint_on_sigterm(tmp_path):
    calm = undisturbed(tmp_path, "cma")
    cfg_path = write_config(tmp_path, "cma")
    cfg_path.write_text(cfg_path.read_text().replace("[run]\n", "[run]\ncheckpoint_every = 4\n"))
    args = [sys.executable, "-m", "evo", "run", "--config", str(cfg_path), "--backend", "serial", "--quiet",
            "--out", str(tmp_path), "--name", "sparse"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    metrics_file = tmp_path / "sparse" / "metrics.parquet"
    deadline = time.time() + 120
    while time.time() < deadline:
        # read_parquet reads the file's bytes through one descriptor: pyarrow given a path
        # opens it again per page and can mix two generations' files
        if metrics_file.exists() and len(read_parquet(metrics_file)) >= 5:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 130
    loop = json.loads((tmp_path / "sparse" / "checkpoints" / "loop.json").read_text())
    done = len(load_run(tmp_path / "sparse").metrics)
    assert done >= 5 and loop["generation"] == done  # SIGTERM saved every finished generation
    assert main(["resume", str(tmp_path / "sparse"), "--backend", "serial", "--quiet"]) == 0
    pd.testing.assert_frame_equal(metrics(tmp_path / "sparse"), metrics(calm))


def test_nothing_on_disk_is_pickle(tmp_path):
    import numpy as np
    path = undisturbed(tmp_path, "neat", generations=2)
    for f in path.rglob("*"):
        if f.is_file():
            assert not f.read_bytes().startswith(b"\x80"), f  # no pickle protocol header
            if f.suffix == ".npz":
                with np.load(f, allow_pickle=False) as z:
                    [z[k] for k in z.files]  # every array loads without pickle


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_a_callback_raising_mid_generation_leaves_a_run_that_resumes_to_the_same_metrics(tmp_path, error):
    from evo.training.trainer import Callback

    class Raises(Callback):
        def on_generation(self, trainer, result):
            if result.generation == 4:
                raise error("from a callback")

    calm = undisturbed(tmp_path, "cma")
    layer = {**CASES["cma"], "run": {**CASES["cma"]["run"], "out": str(tmp_path), "name": "raised", "quiet": True,
                                     "backend": "serial", "checkpoint_every": 3}}
    with pytest.raises(error) as raised:
        run(cfg.resolve(layer), callbacks=[Raises()], log=None)
    if error is RuntimeError:  # one line naming the generation, the callback and where it raised
        line = str(raised.value)
        assert line.startswith("generation 4: callback ") and ".Raises, at test_resume.py:" in line
        assert line.count("\n") == 0 and ": RuntimeError: from a callback (finished generations are saved" in line
    # generation 4 was told to the strategy but not recorded: no checkpoint may hold it
    loop = json.loads((tmp_path / "raised" / "checkpoints" / "loop.json").read_text())
    assert loop["generation"] == 3 and len(load_run(tmp_path / "raised").metrics) == 4
    # and the summary counts the 4 generations recorded, not the one half recorded
    summary = load_run(tmp_path / "raised").summary
    assert summary["generations"] == 4 and summary["evaluations"] == 4 * CASES["cma"]["strategy"]["population"]
    assert main(["resume", str(tmp_path / "raised"), "--backend", "serial", "--quiet"]) == 0
    pd.testing.assert_frame_equal(metrics(tmp_path / "raised"), metrics(calm))
