"""README's callback and strategy examples, executed: the callback through evo.run and
`evospike run --callback`, the strategy through `evospike run` as a third-party package
declared by an entry point in a test-made dist-info (no edit to evospike itself)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_callback_stops_a_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(readme_block("Callbacks"), "README.md", "exec"), scope)
    plateau, result = scope["plateau"], scope["result"]
    gens = [g for g, _, _ in plateau.log]
    assert gens == list(range(len(gens))) and result.generations == len(gens) < 200
    best = [b for _, _, b in plateau.log]
    assert max(best[:-3]) >= max(best[-3:])  # stopped after three generations without improvement
    summary = pd.read_json(result.path / "summary.json", typ="series")
    assert summary["status"] == "finished" and summary["generations"] == len(gens)
    assert "finished:" in capsys.readouterr().out


def test_readme_callback_through_the_command_line(tmp_path):
    (tmp_path / "mycallbacks.py").write_text(readme_block("Callbacks").split("\nplateau = ")[0])
    out = subprocess.run([sys.executable, "-m", "evo", "run", "xor", "--strategy", "cma", "--backend", "serial",
                          "--quiet", "--out", str(tmp_path / "runs"), "--name", "cb", "--callback",
                          "mycallbacks:Plateau"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert re.search(r"finished: \d+ generations, best", out.stdout)
    bad = subprocess.run([sys.executable, "-m", "evo", "run", "xor", "--callback", "nope:Nothing"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--callback 'nope:Nothing'" in bad.stderr


def make_plugin(where: Path) -> None:
    (where / "oneplus_plugin.py").write_text(readme_block("Writing a strategy"))
    info = where / "oneplus_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: oneplus-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[evospike.strategies]\noneplus = oneplus_plugin:OnePlusLambda\n")


def test_third_party_strategy_runs_and_resumes_through_the_cli(tmp_path):
    make_plugin(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    base = [sys.executable, "-m", "evo"]
    common = ["--backend", "serial", "--quiet", "--out", str(tmp_path / "runs")]
    calm = subprocess.run(base + ["run", "cartpole", "--strategy", "oneplus", "--generations", "6", "--name", "calm"]
                          + common, env=env, capture_output=True, text=True, timeout=300)
    assert calm.returncode == 0, calm.stderr
    assert "preset names strategy 'cma'; 'oneplus' runs with its own defaults" in calm.stderr
    part = subprocess.run(base + ["run", "cartpole", "--strategy", "oneplus", "--generations", "3", "--name", "part"]
                          + common, env=env, capture_output=True, text=True, timeout=300)
    assert part.returncode == 0, part.stderr
    more = subprocess.run(base + ["resume", str(tmp_path / "runs" / "part"), "--generations", "6", "--backend",
                                  "serial", "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert more.returncode == 0, more.stderr
    a = pd.read_parquet(tmp_path / "runs" / "calm" / "metrics.parquet").drop(columns=["eval_seconds", "gen_seconds"])
    b = pd.read_parquet(tmp_path / "runs" / "part" / "metrics.parquet").drop(columns=["eval_seconds", "gen_seconds"])
    # an extended run validated its old last generation too; everything else is the same
    pd.testing.assert_frame_equal(a.drop(columns="validation"), b.drop(columns="validation"))
    assert a["validation"].iloc[-1] == b["validation"].iloc[-1]
    assert len(a) == 6 and a["best_ever"].is_monotonic_increasing
    listed = subprocess.run(base + ["run", "cartpole", "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert "oneplus" in listed.stdout


def test_a_callback_that_is_not_one_gets_one_line_naming_why(tmp_path, monkeypatch, capsys):
    from evo.app.cli import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cbmod.py").write_text("number = 3\nclass NotOne:\n    pass\n")
    (tmp_path / "exits.py").write_text("raise SystemExit(7)\n")
    for spec, why in ((":Good", "expected MODULE:CLASS, e.g. mycallbacks:Plateau"),
                      ("cbmod:number", "number is of type int, not an evo.Callback subclass"),
                      ("cbmod:NotOne", "NotOne is class NotOne, not an evo.Callback subclass"),
                      ("exits:Anything", "SystemExit: 7")):
        assert main(["run", "xor", "--callback", spec, "--out", str(tmp_path / "runs")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"evospike: error: --callback {spec!r}") and err.endswith(why) and "\n" not in err
    assert not (tmp_path / "runs").exists()
