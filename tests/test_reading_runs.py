"""Reading finished runs back: runs told apart, files that disagree with summary.json refused
in one line, and reports and comparisons that say what they leave out."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from evo.app.cli import main
from evo.errors import RunDirError
from evo.results import load_run, load_runs
from evo.rundir.files import read_parquet, write_parquet
from evo.training import config as cfg
from evo.training.api import run


def xor_run(out, name, strategy="cma", seed=0, generations=3, validate_every=10):
    layer = {"task": {"name": "xor"}, "genome": {"hidden": 2}, "strategy": {"name": strategy, "population": 8},
             "run": {"generations": generations, "quiet": True, "backend": "serial", "out": str(out), "name": name,
                     "seed": seed, "stop_on_solved": False, "validate_every": validate_every}}
    return run(cfg.resolve(layer, preset=False), log=None).path


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory):
    """exp1: cma runs s0, s1; exp2: ga runs s0, s1 (the same folder names)."""
    root = tmp_path_factory.mktemp("folders")
    for seed in (0, 1):
        xor_run(root / "exp1", f"s{seed}", "cma", seed)
        xor_run(root / "exp2", f"s{seed}", "ga", seed)
    return root


def test_runs_that_share_a_folder_name_stay_apart(two_folders, capsys):
    df = load_runs([two_folders / "exp1", two_folders / "exp2"])
    assert sorted(df["run"].unique()) == ["exp1/s0", "exp1/s1", "exp2/s0", "exp2/s1"]
    assert df.groupby("run").size().tolist() == [3, 3, 3, 3]
    assert set(df["status"]) == {"finished"}
    # a folder named twice (itself, and through a glob) counts once
    again = load_runs([two_folders / "exp1", str(two_folders / "exp1" / "s*")])
    assert len(again) == 6 and sorted(again["run"].unique()) == ["s0", "s1"]
    assert main(["compare", str(two_folders / "exp1"), str(two_folders / "exp2")]) == 0
    table = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in table.splitlines()[3:5]}
    assert set(lines) == {"cma", "ga"} and lines["cma"][1] == lines["ga"][1] == "2"


def copy(run_dir, tmp_path, name):
    shutil.copytree(run_dir, tmp_path / name)
    return tmp_path / name


def test_a_config_whose_seed_task_or_strategy_was_edited_is_refused(two_folders, tmp_path, capsys):
    edited = copy(two_folders / "exp1" / "s1", tmp_path, "edited")
    text = (edited / "config.toml").read_text()
    (edited / "config.toml").write_text(text.replace("seed = 1\n", "seed = 9\n", 1))
    message = (f"{str(edited / 'config.toml')!r}: run.seed is 9, but summary.json records 1; the run was made with 1 "
               f"(was config.toml edited?)")
    with pytest.raises(RunDirError) as caught:
        load_run(edited)
    assert str(caught.value) == message
    for argv in (["replay", str(edited)], ["resume", str(edited), "--generations", "5"], ["show", str(edited)]):
        assert main(argv) == 2
        assert capsys.readouterr().err.strip() == f"evospike: error: {message}"
    (edited / "config.toml").write_text(text.replace('name = "cma"', 'name = "ga"', 1))
    with pytest.raises(RunDirError, match=r"strategy.name is \"ga\", but summary.json records \"cma\""):
        load_run(edited)


def test_tables_that_disagree_with_the_summary_are_refused(two_folders, tmp_path):
    source = two_folders / "exp1" / "s0"
    short = copy(source, tmp_path, "short")
    metrics = read_parquet(short / "metrics.parquet")
    write_parquet(short / "metrics.parquet", metrics.iloc[:2])
    with pytest.raises(RunDirError, match=r"metrics.parquet': holds 2 generations, but summary.json records 3 "
                                          r"finished; rows are missing$"):
        load_run(short)
    twice = copy(source, tmp_path, "twice")
    write_parquet(twice / "metrics.parquet", pd.concat([metrics.iloc[:2], metrics.iloc[1:]], ignore_index=True))
    with pytest.raises(RunDirError, match=r"generation 1 appears 2 times; expected one row per generation 0, 1, "):
        load_run(twice)
    gap = copy(source, tmp_path, "gap")
    write_parquet(gap / "metrics.parquet", metrics.iloc[[0, 2]])
    with pytest.raises(RunDirError, match=r"generation 1 is missing; expected one row per generation"):
        load_run(gap)


def test_individuals_are_read_when_asked_and_a_bad_file_is_named(two_folders, tmp_path, capsys):
    lost = copy(two_folders / "exp1" / "s0", tmp_path, "lost")
    (lost / "individuals.parquet" / "gen-000002.parquet").unlink()
    r = load_run(lost)  # the metrics alone need no individuals
    assert len(r.metrics) == 3
    with pytest.raises(RunDirError, match=r"gen-000002.parquet' is missing, but summary.json records 3 finished"):
        r.individuals
    damaged = copy(two_folders / "exp1" / "s0", tmp_path, "damaged")
    with open(damaged / "individuals.parquet" / "gen-000001.parquet", "r+b") as f:
        f.truncate(100)
    with pytest.raises(RunDirError, match=r"gen-000001.parquet': cannot read individuals \(ArrowInvalid"):
        load_run(damaged).individuals
    assert main(["compare", str(damaged), str(lost)]) == 0  # a comparison reads the metrics only
    assert "cma" in capsys.readouterr().out


def test_ls_and_show_name_a_run_killed_during_its_first_generation(two_folders, tmp_path, capsys):
    young = copy(two_folders / "exp1" / "s0", tmp_path, "young")
    summary = json.loads((young / "summary.json").read_text())
    summary.update(status="running", generations=0, evaluations=0, best=None, best_generation=-1)
    (young / "summary.json").write_text(json.dumps(summary))
    (young / "metrics.parquet").unlink()
    shutil.rmtree(young / "individuals.parquet")
    assert main(["ls", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "killed at start" in out.splitlines()[1] and "`evospike resume RUN_DIR` starts it over" in out
    assert main(["show", str(young)]) == 0
    out = capsys.readouterr().out
    assert "best_generation" not in out and "status: killed at start" in out


def test_compare_counts_the_runs_with_a_value_and_says_which_are_left_out(tmp_path, capsys):
    xor_run(tmp_path, "checked", validate_every=1)
    unchecked = xor_run(tmp_path, "unchecked", seed=1, generations=1)
    metrics = read_parquet(unchecked / "metrics.parquet")
    write_parquet(unchecked / "metrics.parquet", metrics.assign(validation=float("nan")))  # as a run killed early
    summary = json.loads((unchecked / "summary.json").read_text())
    assert main(["compare", str(tmp_path), "--metric", "validation"]) == 0
    out = capsys.readouterr().out
    row = out.splitlines()[3].split()
    assert row[:2] == ["cma", "1"]
    assert "note: run 'unchecked' has no value of validation: it is left out" in out
    # a run that has not finished says so
    summary["status"] = "failed"
    (unchecked / "summary.json").write_text(json.dumps(summary))
    assert main(["compare", str(tmp_path)]) == 0
    assert "note: run 'unchecked' is failed: its values are from 1 of 1 generations" in capsys.readouterr().out


def test_compare_output_asks_for_the_picture(two_folders, tmp_path, capsys):
    out = tmp_path / "curves.svg"
    assert main(["compare", str(two_folders / "exp1"), "--output", str(out)]) == 0
    assert out.read_bytes().lstrip().startswith(b"<?xml") and f"wrote {out}" in capsys.readouterr().out


def test_a_report_shows_only_pictures_it_drew(two_folders, tmp_path, capsys):
    stale = copy(two_folders / "exp1" / "s0", tmp_path, "stale")
    assert main(["show", str(stale), "--plot"]) == 0
    assert (stale / "topology.png").is_file()
    capsys.readouterr()
    text = (stale / "config.toml").read_text()
    (stale / "config.toml").write_text(text.replace("hidden = 2\n", "hidden = 3\n", 1))  # best.json cannot decode
    assert main(["report", str(stale)]) == 0
    page = (stale / "report.html").read_text()
    assert 'alt="fitness.png"' in page and 'alt="topology.png"' not in page and 'alt="raster.png"' not in page
    assert "no pictures of the best network: " in page and "genome_config.hidden is 2" in page
    assert "evospike: report: stale: no pictures of the best network" in capsys.readouterr().err


def test_write_columns_reads_back_as_the_frame_pandas_would_write(tmp_path):
    from evo.rundir.files import write_columns
    cases = [
        {"generation": [0, 1, 2], "best": [np.float32(1.5), 2.5, float("nan")], "count": [np.int32(3), 4, 5],
         "flag": [True, False, True], "note": ["a", "b", "c"]},
        {"generation": 7, "individual": np.arange(4), "fitness": np.linspace(0, 1, 4),
         "accuracy": np.ones(4, np.float32), "neurons": np.arange(4, dtype=np.int32)},
    ]
    for columns in cases:
        write_columns(tmp_path / "new.parquet", columns)
        write_parquet(tmp_path / "old.parquet", pd.DataFrame(columns))
        pd.testing.assert_frame_equal(read_parquet(tmp_path / "new.parquet"), read_parquet(tmp_path / "old.parquet"))
    assert read_parquet(tmp_path / "new.parquet")["generation"].tolist() == [7] * 4
