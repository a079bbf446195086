"""`evospike compare`: curves carried forward on a common x axis, final values and rank tests."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from evo.app.cli import main
from evo.app.compare import compare_table, group_curves, rank_tests, run_series
from evo.results import load_run, load_runs
from evo.training import config as cfg
from evo.training.api import run


def xor_run(tmp_path, name, strategy, generations, seed, population):
    layer = {"task": {"name": "xor"}, "strategy": {"name": strategy, "population": population},
             "run": {"generations": generations, "quiet": True, "backend": "serial", "out": str(tmp_path),
                     "name": name, "seed": seed, "stop_on_solved": False, "validate_every": 2}}
    return run(cfg.resolve(layer, preset=False), log=None).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Five CMA-ES and three NEAT runs on XOR that stop at different generations."""
    root = tmp_path_factory.mktemp("runs")
    for seed, gens in enumerate((2, 5, 9, 3, 7)):
        xor_run(root, f"cma-{seed}", "cma", gens, seed, 10)
    for seed, gens in enumerate((2, 6, 4)):
        xor_run(root, f"neat-{seed}", "neat", gens, seed, 20)
    return root


def final_best(root, prefix):
    return [float(load_run(p).metrics["best_ever"].max()) for p in sorted(root.glob(f"{prefix}-*"))]


@pytest.mark.parametrize("x", ["evaluations", "generation", "seconds"])
def test_best_so_far_curve_never_falls_and_carries_stopped_runs(runs, x):
    df = load_runs(runs)
    curves = group_curves(df, "strategy", "best_ever", x)
    assert set(curves["strategy"]) == {"cma", "neat"}
    for name, c in curves.groupby("strategy"):
        assert c["x"].is_monotonic_increasing and c["x"].is_unique
        for q in ("q25", "median", "q75"):
            assert (np.diff(c[q].to_numpy()) >= 0).all(), (name, q)
        # the group's curve runs to its longest run and ends at the median of every run's final best
        assert (c["runs"] == df.loc[df["strategy"] == name, "run"].nunique()).all()  # every run at every x
        assert c["median"].iloc[-1] == pytest.approx(np.median(final_best(runs, name)))
    if x == "generation":
        cma = curves[curves["strategy"] == "cma"]
        assert cma["x"].tolist() == list(range(9))  # 0 .. 8: carried to the longest run's last generation


def test_evaluations_grid_is_the_union_of_the_runs_steps(runs):
    df = load_runs(runs)
    neat = group_curves(df, "strategy", "best_ever", "evaluations").query("strategy == 'neat'")
    expected = sorted(set(df.loc[df["strategy"] == "neat", "evaluations"]))
    assert neat["x"].tolist() == expected


def test_carry_forward_on_a_constructed_group_where_the_old_median_fell():
    """Two runs that stop early with high values, one that goes on low: the median taken per
    generation over the runs still going falls; the carried-forward median does not."""
    rows = []
    for run_name, values in (("a", [1, 5, 9]), ("b", [2, 6, 8]), ("c", [0, 0, 1, 1, 2, 2])):
        for g, v in enumerate(values):
            rows.append({"run": run_name, "strategy": "s", "generation": g, "evaluations": 10 * (g + 1),
                         "best_ever": float(v), "validation": np.nan, "gen_seconds": 0.5})
    df = pd.DataFrame(rows)
    old = df.groupby("generation")["best_ever"].median()
    assert (np.diff(old.to_numpy()) < 0).any()
    c = group_curves(df, "strategy", "best_ever", "evaluations")
    assert c["x"].tolist() == [10, 20, 30, 40, 50, 60]
    assert c["median"].tolist() == [1, 5, 8, 8, 8, 8]
    assert c["q75"].tolist() == [1.5, 5.5, 8.5, 8.5, 8.5, 8.5]
    s = run_series(df[df["run"] == "c"], "best_ever", "seconds")
    assert s.index.tolist() == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_other_metrics_hold_their_last_value():
    df = pd.DataFrame({"run": ["a"] * 4 + ["b"] * 2, "strategy": "s", "generation": [0, 1, 2, 3, 0, 1],
                       "evaluations": [5, 10, 15, 20, 5, 10], "gen_seconds": 1.0,
                       "validation": [np.nan, 3.0, np.nan, 1.0, 2.0, np.nan]})
    c = group_curves(df, "strategy", "validation", "evaluations")
    # b = 2 from x = 5 on; a has none before x = 10, then 3, 3, 1
    assert c["x"].tolist() == [5, 10, 15, 20]
    assert c["median"].tolist() == [2.0, 2.5, 2.5, 1.5]
    assert c["runs"].tolist() == [1, 2, 2, 2]
    table = compare_table(df, "strategy", "validation")
    assert table.loc["s", "median"] == 1.5 and table.loc["s", "runs"] == 2


def test_compare_prints_table_and_rank_test_matching_scipy(runs, capsys, tmp_path):
    png = tmp_path / "cmp.png"
    assert main(["compare", str(runs), "--plot", "--output", str(png), "--x", "generation"]) == 0
    out = capsys.readouterr().out
    cma, neat = final_best(runs, "cma"), final_best(runs, "neat")
    table = compare_table(load_runs(runs), "strategy", "best_ever")
    assert table.loc["cma", "median"] == pytest.approx(np.median(cma))
    q25, q75 = np.quantile(neat, [0.25, 0.75])
    assert table.loc["neat", "iqr"] == pytest.approx(q75 - q25)
    assert table.loc["cma", "runs"] == 5 and table.loc["neat", "runs"] == 3
    expected = mannwhitneyu(cma, neat, alternative="two-sided")
    tests = rank_tests(load_runs(runs), "strategy", "best_ever")
    assert len(tests) == 1 and tests.loc[0, "p"] == pytest.approx(expected.pvalue)
    assert tests.loc[0, "U"] == pytest.approx(expected.statistic)
    assert "Mann-Whitney U" in out and f"{expected.pvalue:.4g}" in out
    assert f"{np.median(cma):.4g}" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_every_pair_of_groups_is_tested(runs):
    df = load_runs(runs)
    tests = rank_tests(df, "run", "best_ever")
    n = df["run"].nunique()
    assert len(tests) == n * (n - 1) // 2


@pytest.mark.parametrize("args,message", [
    (["--metric", "nope"], "metric 'nope' (--metric): not a numeric metrics column; valid: evaluations, best"),
    (["--x", "gens"], "x 'gens' (--x); expected one of evaluations, generation, seconds"),
])
def test_bad_metric_or_axis_is_one_line(runs, capsys, args, message):
    assert main(["compare", str(runs), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_compare_other_metric_on_seconds(runs, capsys, tmp_path):
    png = tmp_path / "val.png"
    assert main(["compare", str(runs), "--metric", "validation", "--x", "seconds", "--plot", "--output",
                 str(png)]) == 0
    assert "final validation per strategy" in capsys.readouterr().out
    assert png.stat().st_size > 2000


def test_a_run_without_a_finished_generation_adds_no_rows(runs, tmp_path, capsys):
    import json
    import shutil
    root = tmp_path / "mixed"
    shutil.copytree(runs / "cma-0", root / "cma-0")
    shutil.copytree(runs / "neat-0", root / "neat-0")
    failed = root / "failed"  # a run that failed in its first generation: config and summary only
    failed.mkdir()
    shutil.copy(runs / "cma-1" / "config.toml", failed / "config.toml")
    summary = json.loads((runs / "cma-1" / "summary.json").read_text())
    (failed / "summary.json").write_text(json.dumps({**summary, "status": "failed", "generations": 0}))
    assert load_run(failed).metrics.dtypes.to_dict() == load_run(runs / "cma-1").metrics.dtypes.to_dict()
    df = load_runs(root)
    assert set(df["run"]) == {"cma-0", "neat-0"}
    assert df.dtypes.to_dict() == load_runs([runs / "cma-0", runs / "neat-0"]).dtypes.to_dict()
    assert main(["compare", str(root)]) == 0
    assert "cma" in capsys.readouterr().out


def test_a_metrics_column_of_the_wrong_type_names_the_file(runs, tmp_path, capsys):
    import shutil
    path = tmp_path / "r"
    shutil.copytree(runs / "cma-0", path)
    m = pd.read_parquet(path / "metrics.parquet")
    m["best_ever"] = m["best_ever"].astype(str)
    m.to_parquet(path / "metrics.parquet")
    for args in (["compare", str(path)], ["resume", str(path), "--generations", "4", "--backend", "serial"]):
        before = (path / "metrics.parquet").read_bytes()
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith(f"evospike: error: {str(path / 'metrics.parquet')!r}: column best_ever holds ")
        assert err[-1].endswith(" values; expected numbers")
        assert (path / "metrics.parquet").read_bytes() == before


def test_a_group_of_runs_with_different_settings_is_named(runs, tmp_path, capsys):
    from evo.app.compare import mixed_settings
    # the fixture's runs differ only in seed and budget: cma's in generations, neat's too
    same = [load_run(runs / "cma-0"), load_run(runs / "cma-3")]
    assert [line.split(":")[0] for line in mixed_settings(same)] == ["group 'cma' mixes runs whose settings differ"]
    assert "run.generations (2, 3)" in mixed_settings(same)[0]
    other = xor_run(tmp_path, "cma-x", "cma", 2, 0, 12)  # cma-0 with another population
    pair = [load_run(runs / "cma-0"), load_run(other)]
    assert mixed_settings(pair) == ["group 'cma' mixes runs whose settings differ: strategy.population (10, 12)"]
    assert mixed_settings(pair, by="run") == []  # one run per group
    assert main(["compare", str(runs / "cma-0"), str(other)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "note: group 'cma' mixes runs whose settings differ: strategy.population (10, 12)")


def test_a_comparison_names_the_runs_it_leaves_out_and_a_mix_of_tasks(runs, tmp_path, capsys):
    from evo.app.compare import mixed_settings
    layer = {"task": {"name": "cartpole", "episodes": 2, "max_steps": 20, "validation_episodes": 2},
             "strategy": {"name": "cma", "population": 6},
             "run": {"generations": 1, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": "cp"}}
    cartpole = run(cfg.resolve(layer), log=None).path
    empty = tmp_path / "empty"  # a run whose first generation never finished
    shutil.copytree(cartpole, empty)
    (empty / "metrics.parquet").unlink()
    summary = json.loads((empty / "summary.json").read_text())
    (empty / "summary.json").write_text(json.dumps({**summary, "generations": 0, "status": "killed"}))
    lines = mixed_settings([load_run(runs / "cma-0"), load_run(cartpole), load_run(empty)])
    assert lines[:2] == [f"run {str(empty)!r} has no finished generation: it is left out",
                         "the runs are of different tasks (cartpole, xor): their strategy groups compare values on "
                         "different scales (--by task separates them)"]
    assert len(lines) == 3 and lines[2].startswith("group 'cma' mixes runs whose settings differ: ")
    assert mixed_settings([load_run(runs / "cma-0"), load_run(cartpole)], by="task") == []
    assert main(["compare", str(runs / "cma-0"), str(cartpole), str(empty)]) == 0
    out = capsys.readouterr().out
    assert f"note: run {str(empty)!r} has no finished generation: it is left out" in out
    assert "note: the runs are of different tasks (cartpole, xor)" in out
    (cartpole / "metrics.parquet").unlink()  # rows the summary counts are gone: an error, not a silent drop
    assert main(["compare", str(runs / "cma-0"), str(cartpole)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"evospike: error: {str(cartpole)!r}: metrics.parquet is missing, but summary.json records 1 finished "
        f"generations")
