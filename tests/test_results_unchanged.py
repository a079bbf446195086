"""Fixed configs and seeds of every built-in strategy give the results recorded in
tests/fixtures/results (metrics without timing columns, and every individual's fitness)."""
import json
import math
from pathlib import Path

import pandas as pd
import pytest

import evo
from evo.rundir.layout import TIMING_COLUMNS
from evo.strategies.registry import BUILTIN

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "results").glob("*.json"))


def test_every_strategy_has_fixtures_on_two_tasks():
    cases = {tuple(p.stem.rsplit("-", 1)) for p in FIXTURES}
    assert {s for _, s in cases} == set(BUILTIN)
    assert all(sum(1 for t, s2 in cases if s2 == s) >= 2 for s in BUILTIN)


def _same(a, b) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("fixture", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_results_equal_the_recorded_ones(fixture, tmp_path):
    want = json.loads(fixture.read_text())
    layer = json.loads(json.dumps(want["layer"]))
    layer["run"].update(out=str(tmp_path), name="r")
    evo.run(layer, log=None)
    metrics = pd.read_parquet(tmp_path / "r" / "metrics.parquet").drop(columns=TIMING_COLUMNS)
    got = metrics.to_dict("list")
    assert list(got) == list(want["metrics"])
    for column, values in want["metrics"].items():
        assert all(_same(a, b) for a, b in zip(got[column], values, strict=True)), column
    fitness = evo.load_run(tmp_path / "r").individuals["fitness"].tolist()
    assert fitness == want["fitness"]
