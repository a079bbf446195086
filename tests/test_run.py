import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tasks

from evo.training import config as cfg
from evo.app.cli import main
from evo.results import load_run
from evo.rundir.layout import METRIC_COLUMNS, TIMING_COLUMNS
from evo.training.api import build, run
from evo.seeding import derive_seed

QUICK = {"task": {"name": "cartpole", "episodes": 3, "max_steps": 60, "validation_episodes": 5},
         "genome": {"hidden": 4}, "run": {"generations": 4, "quiet": True, "validate_every": 2, "backend": "serial"}}


def quick(tmp_path, name, **run_over):
    layer = {**QUICK, "run": {**QUICK["run"], "out": str(tmp_path), "name": name, **run_over}}
    return run(cfg.resolve(layer), log=None)


def test_run_directory_and_pandas_api(tmp_path):
    res = quick(tmp_path, "a")
    r = load_run(res.path)
    assert isinstance(r.metrics, pd.DataFrame)
    assert list(r.metrics.columns) == METRIC_COLUMNS
    assert r.metrics["generation"].tolist() == [0, 1, 2, 3]
    assert r.metrics["evaluations"].is_monotonic_increasing
    assert (r.metrics["best_ever"].cummax() == r.metrics["best_ever"]).all()
    assert r.metrics["validation"].notna().tolist() == [False, True, False, True]
    assert r.summary["status"] == "finished" and r.summary["generations"] == 4
    assert r.config["task"]["episodes"] == 3 and r.config["run"]["seed"] == 0
    assert "numpy" in r.config["meta"]["versions"]
    P = r.config["meta"]["population"]
    assert len(r.individuals) == 4 * P
    assert set(r.individuals.columns) >= {"generation", "individual", "fitness", "steps", "spikes"}
    assert r.best["fitness"] == r.metrics["best_ever"].iloc[-1]
    loop = json.loads((res.path / "checkpoints" / "loop.json").read_text())
    assert loop["generation"] == 4 and (res.path / "checkpoints" / loop["strategy_npz"]).exists()
    assert sorted(p.name for p in (res.path / "checkpoints").iterdir()) == [
        "loop.json", "strategy-000004.json", "strategy-000004.npz"]


def test_best_genome_reproduces_its_fitness(tmp_path):
    r = load_run(quick(tmp_path, "b").path)
    task, space = build(r.config)
    gen = r.best["generation"]
    ev = task.evaluate(space.compile(np.array(r.best["genome"])), derive_seed(0, gen, "evaluate"))
    assert ev.fitness[0] == r.best["fitness"]


def test_same_config_and_seed_give_identical_metrics(tmp_path):
    a = load_run(quick(tmp_path, "a").path).metrics.drop(columns=TIMING_COLUMNS)
    b = load_run(quick(tmp_path, "b").path).metrics.drop(columns=TIMING_COLUMNS)
    c = load_run(quick(tmp_path, "c", seed=1).path).metrics.drop(columns=TIMING_COLUMNS)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_existing_run_directory_is_never_overwritten(tmp_path):
    quick(tmp_path, "a")
    before = (tmp_path / "a" / "metrics.parquet").read_bytes()
    with pytest.raises(ValueError, match="already exists"):
        quick(tmp_path, "a")
    assert (tmp_path / "a" / "metrics.parquet").read_bytes() == before


def test_default_cartpole_run_is_solved_and_replays(tmp_path, capsys):
    """The README's main job: defaults, then `evospike replay` on 100 unseen episodes."""
    assert main(["run", "cartpole", "--out", str(tmp_path), "--name", "main", "--quiet"]) == 0
    r = load_run(tmp_path / "main")
    assert r.summary["status"] == "finished"
    assert r.metrics["best"].iloc[-1] >= 500
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "main"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "cartpole" and out["episodes"] == 100
    assert out["score"] >= 475
    assert out["score"] == pytest.approx(r.summary["validation"])


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "evo", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


@pytest.mark.parametrize("args,message", [
    (["run", "cartpol"], "unknown task 'cartpol' (did you mean 'cartpole'?); valid tasks: acrobot, "),
    (["run", "cartpole", "--strategy", "nes"], "unknown strategy 'nes' (did you mean 'snes'?); valid strategies: cma, ga, neat, nsga2, openes, pgpe, snes"),
    (["run", "cartpole", "--generations", "0"], "run.generations: 0"),
    (["run", "xor", "--population", "abc"], "argument --population: invalid int value: 'abc' (see `evospike run --help`)"),
    (["frob"], "argument COMMAND: invalid choice: 'frob' (choose from 'run', "),
    (["run", "xor", "--address", "garbage", "--backend", "serial"], "run.address: 'garbage'; expected auto or HOST:PORT"),
    (["run", "cartpole", "--population", "1"], "strategy.population: 1"),
    (["run"], "no task given"),
    (["replay", "does/not/exist"], "run directory 'does/not/exist' does not exist"),
    (["replay", __file__], f"run directory {__file__!r} is not a folder"),
    (["ls", "does/not/exist"], "folder 'does/not/exist' does not exist"),
    (["ls", __file__], f"folder {__file__!r} is not a folder"),
])
def test_bad_input_gets_one_line_and_exit_2(tmp_path, args, message):
    p = cli(*args, "--out", str(tmp_path)) if args[0] == "run" else cli(*args)
    assert p.returncode == 2
    assert message in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


@pytest.mark.parametrize("task, key, networks", [("cartpole", "episodes", 4), ("pendulum", "validation_episodes", 1),
                                                 ("gym:CartPole-v1", "episodes", 4)])
def test_episode_counts_the_machine_cannot_hold_are_refused_before_the_run(task, key, networks):
    from evo.training.config import memory_limit
    layer = {"task": {"name": task}, "strategy": {"name": "cma", "population": 4}}
    per = tasks.make(task).episode_bytes
    too_many = memory_limit() // (networks * per) + 1
    layer["task"][key] = too_many
    with pytest.raises(cfg.ConfigError, match=rf"^task\.{key} = {too_many} for {networks} networks? \(about {per} "
                                              rf"bytes per episode\) need about [\d.]+ GiB; this machine has"):
        cfg.resolve(layer)
    layer["task"][key] = too_many // 4
    cfg.resolve(layer)


def test_no_output_replaces_a_file_of_a_run(tmp_path, capsys):
    path = quick(tmp_path, "a").path
    before = {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    for args, own in ((["export", str(path), str(path / "best.json")], "best.json"),
                      (["export", str(path), str(path / "checkpoints" / "loop.json")], "checkpoints"),
                      (["compare", str(path), "--plot", "--output", str(path / "metrics.parquet")], "metrics.parquet"),
                      (["report", str(path), "-o", str(path / "config.toml")], "config.toml"),
                      (["report", str(path), "-o", str(path / "." / "summary.json")], "summary.json")):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("evospike: error: ") and err.endswith(
            f"is part of the run directory {str(path.resolve())!r} ({own}); choose another file (nothing was "
            f"written)") and "\n" not in err
    link = tmp_path / "elsewhere.nir"  # a link outside the run that leads to one of its files
    link.symlink_to(path / "summary.json")
    assert main(["export", str(path), str(link)]) == 2
    assert "(summary.json); choose another file (nothing was written)" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()} == before
    assert main(["report", str(path), "-o", str(path / "report.html")]) == 0  # its own pictures and report: yes


def test_an_output_name_must_end_as_what_is_written_there(tmp_path, capsys):
    path = quick(tmp_path, "a").path
    for args, flag, ends in ((["compare", str(path), "--plot", "--output"], "--output", ".png, .svg or .pdf"),
                             (["report", str(path), "-o"], "--output", ".html or .htm"),
                             (["export", str(path)], "OUT.nir", ".nir, .h5 or .hdf5"),
                             (["bench", "eval", "--output"], "--output", ".json")):
        wrong = tmp_path / "out.txt"
        assert main(args + [str(wrong)]) == 2
        assert capsys.readouterr().err == (f"evospike: error: {flag} {str(wrong)!r}: expected a file name ending in "
                                           f"{ends} (the kind of file written there)\n")
        assert not wrong.exists()
    pytest.importorskip("matplotlib")
    for name, head in (("c.svg", b"<?xml"), ("c.pdf", b"%PDF"), ("c.PNG", b"\x89PNG")):
        assert main(["compare", str(path), "--plot", "--output", str(tmp_path / name)]) == 0
        assert (tmp_path / name).read_bytes().startswith(head)


def test_bad_config_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[run]\ngenerashuns = 3\n')
    p = cli("run", "cartpole", "--config", str(bad))
    assert p.returncode == 2 and p.stderr.startswith(f"evospike: error: {bad}: [run] unknown key 'generashuns' "
                                                     f"(did you mean 'generations'?)")
    bad.write_text('[task]\nname = "cartpole"\nepisodes = "ten"\n')
    p = cli("run", "--config", str(bad))
    assert p.returncode == 2 and f"{bad}: task.episodes: 'ten' is str; expected an integer" in p.stderr
    bad.write_text('[task]\nname = "pendulum"\ndecoding = "membrane"\n')  # another task's file, on cartpole
    p = cli("run", "cartpole", "--config", str(bad))
    assert p.returncode == 2 and p.stderr.endswith(
        "(its [task] options are for task 'pendulum'; the command line names 'cartpole')\n"), p.stderr
    bad.write_text('[run]\ngenerations = 0\n')  # a flag's value is the flag's, not the file's
    p = cli("run", "cartpole", "--config", str(bad), "--generations", "-1")
    assert p.returncode == 2 and p.stderr == "evospike: error: run.generations: -1; expected an integer >= 1\n"
    bad.write_text('[strategy]\nname = "neat"\nweight_limit = inf\n')
    p = cli("run", "xor", "--config", str(bad))
    assert p.returncode == 2 and "strategy.weight_limit: inf; expected a finite number\n" in p.stderr
    bad.write_text('[run\n')
    p = cli("run", "cartpole", "--config", str(bad))
    assert p.returncode == 2 and "is not valid TOML" in p.stderr


def test_run_files_get_the_mode_a_plain_open_gives(tmp_path):
    import os
    import stat
    from evo.rundir import files
    umask = os.umask(0o022)
    os.umask(umask)
    assert files.FILE_MODE == 0o666 & ~umask  # e.g. 0o644: others in a lab can read the runs
    path = quick(tmp_path, "a").path
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.rglob("*") if p.is_file() and p.name != ".lock"}
    assert {"summary.json", "best.json", "loop.json"} <= set(modes) and set(modes.values()) == {files.FILE_MODE}


def test_corrupt_run_directory_is_a_clear_error(tmp_path, capsys):
    path = quick(tmp_path, "a").path
    best = json.loads((path / "best.json").read_text())
    best["genome"][3] = float("nan")
    (path / "best.json").write_text(json.dumps(best))
    assert main(["replay", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (f"evospike: error: {str(path / 'best.json')}: gene 3 is nan; "
                                               f"expected a list of {len(best['genome'])} finite numbers")
    (path / "best.json").write_text("{not json")
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert "best.json" in err and "corrupt" in err
    (path / "summary.json").unlink()
    assert main(["replay", str(path)]) == 2
    assert "summary.json is missing" in capsys.readouterr().err


@pytest.mark.parametrize("key,value,message", [
    ("fitness", "abc", "fitness: 'abc'; expected a number"),
    ("fitness", None, "fitness: None; expected a number"),
    ("generation", -1, "generation: -1; expected an integer >= 0"),
])
def test_a_best_json_field_of_the_wrong_type_names_the_file(tmp_path, capsys, key, value, message):
    path = quick(tmp_path, "a").path
    best = json.loads((path / "best.json").read_text())
    (path / "best.json").write_text(json.dumps({**best, key: value}))
    for args in (["replay", str(path)], ["show", str(path)], ["export", str(path), str(tmp_path / "x.nir")]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"evospike: error: {str(path / 'best.json')!r}: {message}"]


def test_replay_of_a_task_with_a_fixed_validation_set(tmp_path, capsys):
    assert main(["run", "xor", "--generations", "2", "--population", "8", "--backend", "serial", "--quiet",
                 "--out", str(tmp_path), "--name", "x"]) == 0
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "x")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("xor: validation score ") and " over its validation set (seed " in out


def test_show_prints_numbers_as_the_report_does(tmp_path, capsys):
    path = quick(tmp_path, "s").path
    capsys.readouterr()
    assert main(["show", str(path)]) == 0
    rows = dict(line.strip().split(": ", 1) for line in capsys.readouterr().out.splitlines())
    wall = load_run(path).summary["wall_seconds"]
    assert rows["wall_seconds"] == f"{wall:.6g}" and rows["generations"] == "4"


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    quick(tmp_path, "a")
    proc = subprocess.Popen([sys.executable, "-m", "evo", "ls", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # as `evospike ls | head -0` would
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and err == ""


def test_a_run_whose_reader_goes_away_stops_resumably_with_its_files_agreeing(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[task]\nname = "cartpole"\nepisodes = 3\nmax_steps = 60\nvalidation_episodes = 3\n'
                      '[run]\nstop_fitness = inf\nbackend = "serial"\n')
    proc = subprocess.Popen([sys.executable, "-m", "evo", "run", "--config", str(config), "--generations", "40",
                             "--out", str(tmp_path), "--name", "p"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    proc.stdout.readline(), proc.stdout.readline()  # `| head -2`
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, err
    r = load_run(tmp_path / "p")
    assert (r.summary["status"], r.summary["reason"]) == ("interrupted", "SIGPIPE")
    assert r.summary["generations"] == len(r.metrics) < 40
    assert err == f"evospike: interrupted; evospike resume {tmp_path / 'p'} continues from generation " \
                  f"{len(r.metrics)}\n"
    assert main(["resume", str(tmp_path / "p"), "--quiet"]) == 0
    assert load_run(tmp_path / "p").summary["generations"] == 40


def test_the_summary_says_why_a_run_stopped_early(tmp_path):
    from evo.training.trainer import Callback

    class Enough(Callback):
        def on_generation(self, trainer, result):
            return False if result.generation == 1 else None

    layer = {**QUICK, "run": {**QUICK["run"], "out": str(tmp_path), "name": "cb"}}
    run(cfg.resolve(layer), callbacks=[Enough()], log=None)
    summary = load_run(tmp_path / "cb").summary
    assert (summary["status"], summary["reason"], summary["generations"]) == ("finished", "Enough stopped the run", 2)
    layer = {**QUICK, "run": {**QUICK["run"], "out": str(tmp_path), "name": "target", "stop_fitness": 1.0,
                              "quiet": False}}
    lines: list[str] = []
    run(cfg.resolve(layer), log=lines.append)
    summary = load_run(tmp_path / "target").summary
    assert (summary["status"], summary["reason"], summary["generations"]) == ("finished", "reached stop_fitness 1", 1)
    gen = next(i for i, line in enumerate(lines) if line.startswith("gen    0 "))  # the rule after its generation
    assert lines[gen + 1] == "stop: generation 0: reached stop_fitness 1"
    assert lines[gen + 2].startswith("finished 1 generation, ")


def test_a_task_registered_in_process_only_is_named_in_the_other_commands(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from evo.training.api import _resume_hint
    from tasks import registry
    monkeypatch.setitem(registry._registry, "xor-here", registry.TaskSpec("xor-here", "tasks.xor:XOR"))
    assert not registry.everywhere("xor-here") and registry.everywhere("xor")
    assert _resume_hint("xor-here", tmp_path / "r") == f"evo.resume({str(tmp_path / 'r')!r}), after registering task 'xor-here',"
    assert _resume_hint("xor", tmp_path / "r") == f"evospike resume {tmp_path / 'r'}"
    layer = {"task": {"name": "xor-here"}, "strategy": {"name": "cma", "population": 8},
             "run": {"generations": 2, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": "r"}}
    run(cfg.resolve(layer), log=None)
    replay = cli("replay", str(tmp_path / "r"))  # another process: it does not know the task
    assert replay.returncode == 2 and "task 'xor-here' is not registered in this process" in replay.stderr
    assert len(replay.stderr.strip().splitlines()) == 1
    show = cli("show", str(tmp_path / "r"), "--plot")  # the curves need only the metrics
    assert show.returncode == 0, show.stderr
    assert (tmp_path / "r" / "fitness.png").is_file()
    assert "(no pictures of the best network: " in show.stdout


def test_best_network_scores_the_runs_validation(tmp_path):
    from evo.results import best_network
    from evo.seeding import validation_seed
    path = quick(tmp_path, "b").path
    r = load_run(path)
    net = best_network(path)
    assert net.n_networks == 1
    task, _ = build(r.config)
    assert task.validate(net, validation_seed(int(r.config["run"]["seed"]))).fitness[0] == r.summary["validation"]


def test_config_file_and_flags_layer(tmp_path, capsys):
    f = tmp_path / "c.toml"
    f.write_text('[task]\nname = "cartpole"\nepisodes = 7\n[run]\nseed = 4\ngenerations = 9\n')
    assert main(["run", "--config", str(f), "--generations", "2", "--dump-config"]) == 0
    import tomllib
    text = capsys.readouterr().out
    dumped = tomllib.loads(text)
    assert "stop_fitness = 500.0  # default: the task's target\n" in text
    assert "episodes = 7  # file\n" in text and "generations = 2  # flag\n" in text
    assert dumped["task"]["episodes"] == 7 and dumped["run"]["seed"] == 4
    assert dumped["run"]["generations"] == 2
    assert dumped["run"]["stop_fitness"] == 500.0
    assert dumped["strategy"]["name"] == "cma"


def test_dump_config_refuses_what_the_run_would_refuse(tmp_path, capsys):
    f = tmp_path / "c.toml"
    f.write_text('[strategy]\nname = "cma"\nsigma0 = -1.0\n')
    assert main(["run", "xor", "--config", str(f), "--dump-config"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "strategy.sigma0: -1.0; expected a number > 0 and at most 1e+30 (genes become float32 values)" in captured.err
    f.write_text('[strategy]\nname = "cma"\nsigma0 = 0.25\n')
    assert main(["run", "xor", "--config", str(f), "--dump-config"]) == 0
    assert "sigma0 = 0.25  # file\n" in capsys.readouterr().out


def test_tasks_lists_cartpole_and_the_gym_presets(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "cartpole" in out and "CartPole" in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "gym:ENV_ID" in lines
    assert "openes (population=128), 300 generations" in lines["gym:HalfCheetah-v5"]
    assert "reward shifted by -1" in lines["gym:Hopper-v5"] and "gym:Walker2d-v5" in lines


def test_package_import_direction():
    code = ("import sys, neurons; assert 'tasks' not in sys.modules and 'evo' not in sys.modules; "
            "import tasks; assert 'evo' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_stop_fitness_takes_a_number_or_task(tmp_path):
    c = cfg.resolve({"task": {"name": "cartpole"}, "run": {"stop_fitness": 120}})
    assert c["run"]["stop_fitness"] == 120.0
    assert cfg.resolve({"task": {"name": "cartpole"}})["run"]["stop_fitness"] == 500.0
    with pytest.raises(ValueError, match="run.stop_fitness"):
        cfg.resolve({"task": {"name": "cartpole"}, "run": {"stop_fitness": "never"}})
    with pytest.raises(ValueError, match="run.stop_fitness"):
        cfg.resolve({"task": {"name": "cartpole"}, "run": {"stop_fitness": True}})


def test_load_runs_stacks_metrics_for_groupby(tmp_path, capsys):
    from evo.results import load_runs
    for seed in (0, 1):
        quick(tmp_path, f"s{seed}", seed=seed)
    df = load_runs(str(tmp_path / "s*"))
    assert list(df.columns[:4]) == ["run", "task", "strategy", "seed"]
    assert sorted(df["run"].unique()) == ["s0", "s1"] and sorted(df["seed"].unique()) == [0, 1]
    assert len(df) == 8
    med = df.groupby(["strategy", "generation"])["best"].median()
    assert len(med) == 4
    assert load_runs(tmp_path).shape == df.shape  # a folder of runs works too
    with pytest.raises(ValueError, match="no run directories"):
        load_runs(str(tmp_path / "nothing*"))
    assert main(["ls", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "task", "strategy", "status", "generations", "best", "validation", "wall"]
    assert out[1].split()[:5] == ["s0", "cartpole", "cma", "finished", "4"]


def _git(*args: str) -> str:
    """git's output for the checkout that holds the evo package, or "" where there is none."""
    import evo
    try:
        return subprocess.run(["git", "-C", str(Path(evo.__file__).parent), *args], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def test_config_records_the_git_revision(tmp_path):
    r = load_run(quick(tmp_path, "g").path)
    rev = r.config["meta"]["git_revision"]
    head = _git("rev-parse", "HEAD")
    if not head:  # an installed copy, not a checkout
        assert rev == ""
        return
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    assert rev == head + ("-dirty" if dirty else "")
    assert len(head) == 40 and all(c in "0123456789abcdef" for c in head)


def test_the_git_revision_is_empty_outside_a_checkout(tmp_path, monkeypatch):
    from evo.training import api
    monkeypatch.setattr(api, "__file__", str(tmp_path / "api.py"))
    assert api._git_revision() == ""


def test_progress_bar_on_request_and_plain_lines_otherwise(tmp_path, capsys):
    layer = {**QUICK, "run": {**QUICK["run"], "out": str(tmp_path), "name": "bar", "quiet": False}}
    run(cfg.resolve(layer), progress=True)
    captured = capsys.readouterr()
    assert "gen/s" in captured.err or "it/s" in captured.err or "4/4" in captured.err
    assert "gen    0" not in captured.out
    layer["run"]["name"] = "lines"
    run(cfg.resolve(layer), progress=False)
    assert "gen    0" in capsys.readouterr().out


def test_solved_network_and_generation_are_recorded(tmp_path):
    """summary.json names the first generation with a network that solved the task, and
    solved.json holds that network, whether or not the run stops there."""
    def xor(name, stop):
        return run(cfg.resolve({"task": {"name": "xor"}, "strategy": {"name": "neat"},
                                "run": {"generations": 120, "quiet": True, "backend": "serial", "seed": 1,
                                        "out": str(tmp_path), "name": name, "stop_on_solved": stop,
                                        "validate_every": 0}}), log=None)
    going = load_run(xor("going", False).path)
    first = going.individuals.loc[going.individuals["correct"] == 4, "generation"].min()
    assert pd.notna(first)  # some network solved XOR within the budget
    assert going.summary["solved_generation"] == first
    assert going.summary["generations"] == 120  # stop_on_solved = false: the run went on
    solved = json.loads((going.path / "solved.json").read_text())
    assert solved["generation"] == first and solved["metrics"]["correct"] == 4
    task, space = build(going.config)
    genome = space.decode_genome(solved["genome"])
    ev = task.evaluate(space.compile(genome), derive_seed(1, first, "evaluate"))
    assert task.solved(ev)[0] and ev.fitness[0] == solved["fitness"]
    stopped = load_run(xor("stopped", True).path)
    assert stopped.summary["solved_generation"] == first
    assert stopped.summary["generations"] == first + 1
    assert json.loads((stopped.path / "solved.json").read_text())["genome"] == solved["genome"]
    no_task_rule = load_run(quick(tmp_path, "c").path)  # cartpole defines no solved(): null, no file
    assert no_task_rule.summary["solved_generation"] is None
    assert not (no_task_rule.path / "solved.json").exists()


def test_ray_settings_with_the_serial_backend_are_named_once(tmp_path, capsys):
    args = ["run", "xor", "--generations", "1", "--quiet", "--out", str(tmp_path), "--backend", "serial"]
    assert main(args + ["--name", "plain"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main(args + ["--name", "w", "--workers", "2"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "evospike: warning: run.workers = 2 is not used: run.backend = 'serial' evaluates in this process "
        "(it applies to the ray and auto backends)"]
    assert main(args + ["--name", "wa", "--workers", "3", "--address", "auto"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "evospike: warning: run.workers = 3 and run.address = 'auto' are not used: run.backend = 'serial' "
        "evaluates in this process (they apply to the ray and auto backends)"]


@pytest.mark.parametrize("field, key, value, name", [
    ("genome_config", "hidden", 3, "genome_config.hidden is 3, but config.toml's [genome] gives 4"),
    ("genome_config", "beta", 0.5, "genome_config.beta is 0.5, but config.toml's [genome] gives 0.9"),
    ("task", "name", "acrobot", "task.name is \"acrobot\", but config.toml's [task] gives \"cartpole\""),
    ("genome_space", None, "neat", "genome_space is \"neat\", but the genome space of config.toml gives \"fixed\""),
])
def test_a_network_file_written_for_another_config_is_refused(tmp_path, capsys, field, key, value, name):
    path = quick(tmp_path, "a").path
    best = json.loads((path / "best.json").read_text())
    assert main(["replay", str(path)]) == 0
    if key is None:
        best[field] = value
    else:
        best[field][key] = value
    (path / "best.json").write_text(json.dumps(best))
    capsys.readouterr()
    for args in (["replay", str(path)], ["export", str(path), str(tmp_path / "x.nir")]):
        assert main(args) == 2
        assert capsys.readouterr().err == (f"evospike: error: {str(path / 'best.json')!r}: {name}; the file was not "
                                           f"written for this run's config\n")


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_after_the_command_ends_exits_with_its_code(tmp_path, signame):
    """As a program, once main has returned, a late signal exits at once with the command's code
    (0 here: `ls` of an empty folder), not a traceback or a death by the signal; after the exit's
    clean-up (the atexit functions) the signals are ignored: Python's last steps would give them
    back to the system's default action, and a signal would kill the process."""
    code = ("import os, signal, sys, time; from evo.app.cli import main; "
            "sys.argv = ['evospike', 'ls', sys.argv[1]]; code = main(); print('code', code, flush=True); "
            f"os.kill(os.getpid(), signal.{signame}); time.sleep(20); print('not reached')")
    # a test run started in the background inherits SIGINT ignored (shells do that); the program is to see it
    def restore():
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60,
                         preexec_fn=restore)
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == "code 0", (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    code = ("import atexit, signal, sys; from evo.app.cli import main; sys.argv = ['evospike', 'ls', sys.argv[1]]; "
            "main(); atexit._run_exitfuncs(); "
            "print([signal.getsignal(s) == signal.SIG_IGN for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)])")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60,
                         preexec_fn=restore)
    assert out.stdout.splitlines()[-1] == "[True, True, True]", (out.stdout, out.stderr)
