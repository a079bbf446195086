"""The MLflow tracker (`[run] trackers = ["mlflow"]`, `--track mlflow`): a short run read back
through MLflow's own client, a resume that continues the same MLflow run, and the errors."""
import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

from evo.app.cli import main
from evo.training import trackers

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")  # MLflow's, SQLAlchemy 2.1
HAVE_MLFLOW = importlib.util.find_spec("mlflow") is not None
needs_mlflow = pytest.mark.skipif(not HAVE_MLFLOW, reason="MLflow is not installed (pip install 'evospike[mlflow]')")
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
RUN = ["run", "xor", "--strategy", "ga", "--population", "8", "--backend", "serial", "--quiet", "--seed", "3"]
RUN_FILES = {"config.toml", "metrics.parquet", "individuals.parquet", "best.json", "checkpoints", "summary.json", ".lock"}


def history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def check_metrics(client, run_id: str, metrics: pd.DataFrame) -> None:
    """Every metrics column, per generation, as the MLflow run's history (NaN left out)."""
    logged = set(client.get_run(run_id).data.metrics)
    for column in metrics.columns.drop("generation"):
        want = [(int(g), float(v)) for g, v in zip(metrics["generation"], metrics[column]) if not math.isnan(v)]
        assert history(client, run_id, column) == want, column
        assert (column in logged) == bool(want)


@needs_mlflow
def test_a_tracked_run_reads_back_through_mlflows_client(tmp_path, monkeypatch, capsys):
    from mlflow import MlflowClient

    assert main([*RUN, "--generations", "3", "--out", str(tmp_path), "--name", "r", "--track", "mlflow"]) == 0
    path = tmp_path / "r"
    info = json.loads((path / trackers.MLFLOW_JSON).read_text())
    assert info["tracking_uri"] == f"sqlite:///{(path / 'mlflow.db').resolve()}"
    client = MlflowClient(tracking_uri=info["tracking_uri"])
    runs = client.search_runs([info["experiment_id"]])
    assert [r.info.run_id for r in runs] == [info["run_id"]]
    got = runs[0]
    assert got.info.status == "FINISHED" and got.info.run_name == "r"
    config = trackers.flatten_config(__import__("evo").load_run(path).config)
    assert got.data.params == config
    assert got.data.params["strategy.population"] == "8" and got.data.params["run.trackers"] == "['mlflow']"
    assert got.data.tags["evospike.task"] == "xor" and got.data.tags["evospike.strategy"] == "ga"
    check_metrics(client, info["run_id"], pd.read_parquet(path / "metrics.parquet"))
    artifacts = {a.path for a in client.list_artifacts(info["run_id"])}
    want = {"best.json", "summary.json", "config.toml"}
    if HAVE_MATPLOTLIB:
        want |= {"fitness.png", "topology.png", "raster.png", "report.html"}
    assert artifacts == want
    local = client.download_artifacts(info["run_id"], "best.json", str(tmp_path))
    assert json.loads(open(local).read()) == json.loads((path / "best.json").read_text())

    # a resume continues the same MLflow run: no second run, each generation logged once
    monkeypatch.setattr("evo.app.cli._run_artifacts", lambda path: [])  # plotted above already
    assert main(["resume", str(path), "--generations", "5", "--quiet"]) == 0
    runs = client.search_runs([info["experiment_id"]])
    assert [r.info.run_id for r in runs] == [info["run_id"]] and runs[0].info.status == "FINISHED"
    metrics = pd.read_parquet(path / "metrics.parquet")
    assert metrics["generation"].tolist() == [0, 1, 2, 3, 4]
    check_metrics(client, info["run_id"], metrics)
    assert "mlflow" not in capsys.readouterr().err.lower()  # no warning, no MLflow chatter


@needs_mlflow
def test_the_tracking_uri_selects_another_store_and_untracked_runs_are_unchanged(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.chdir(tmp_path)  # a store the user names keeps MLflow's default artifact root, ./mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "xor-study")
    monkeypatch.setattr("evo.app.cli._run_artifacts", lambda path: [])  # no plots: this test is about the store
    assert main([*RUN, "--generations", "2", "--out", str(tmp_path), "--name", "t", "--track", "mlflow"]) == 0
    path = tmp_path / "t"
    assert not (path / "mlflow.db").exists() and not (path / "mlartifacts").exists()
    info = json.loads((path / trackers.MLFLOW_JSON).read_text())
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("xor-study")
    assert info["tracking_uri"] == uri and exp is not None and exp.experiment_id == info["experiment_id"]
    check_metrics(client, info["run_id"], pd.read_parquet(path / "metrics.parquet"))

    # without trackers a run writes exactly the files it always did
    assert main([*RUN, "--generations", "2", "--out", str(tmp_path), "--name", "plain"]) == 0
    assert {p.name for p in (tmp_path / "plain").iterdir()} == RUN_FILES


def test_unknown_trackers_and_a_missing_mlflow_are_one_line_errors(tmp_path, monkeypatch, capsys):
    assert main([*RUN, "--out", str(tmp_path), "--track", "wandb"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "evospike: error: run.trackers (--track): unknown tracker " \
                                                       "'wandb'; valid trackers: mlflow"
    assert main([*RUN, "--out", str(tmp_path), "--track", "MLflow"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "evospike: error: run.trackers (--track): unknown tracker " \
                                                       "'MLflow' (did you mean 'mlflow'?); valid trackers: mlflow"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    assert main([*RUN, "--out", str(tmp_path), "--track", "mlflow"]) == 2
    from pathlib import Path
    clone = Path(__file__).resolve().parents[1]  # the tests run from a clone: the hint installs into it
    assert capsys.readouterr().err.splitlines()[-1] == "evospike: error: run.trackers: 'mlflow' needs MLflow: " \
                                                       f"pip install -e '{clone}[mlflow]'"
    assert not list(tmp_path.iterdir())  # checked before the run directory is made


@needs_mlflow
def test_mlflow_is_imported_with_its_telemetry_off():
    """Outside CI and pytest (whose variables MLflow itself reads as "no telemetry")."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "PYTEST_CURRENT_TEST", "GITHUB_ACTIONS", "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")}
    code = ("from evo.training import trackers; trackers._mlflow(); "
            "from mlflow.telemetry import get_telemetry_client; print(get_telemetry_client())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.strip() == "None", out.stderr[-2000:]


@needs_mlflow
def test_an_unreachable_tracking_server_is_one_line_error_within_seconds(tmp_path, capsys):
    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "c.toml"
    config.write_text(f'[run]\ntracking_uri = "http://127.0.0.1:{port}"\n')
    t0 = time.perf_counter()
    assert main([*RUN, "--generations", "2", "--out", str(tmp_path), "--name", "u", "--track", "mlflow",
                 "--config", str(config)]) == 2
    assert time.perf_counter() - t0 < 60
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"evospike: error: run.tracking_uri 'http://127.0.0.1:{port}': MLflow cannot start a run")
    summary = json.loads((tmp_path / "u" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["generations"] == 0  # resumable once the server is up
