"""Experiment trackers: callbacks that mirror a run into a tracking service (``[run] trackers``).

:class:`MlflowTracker` logs the resolved config as parameters, every metrics column per
generation (step = generation), and at the end ``best.json``, ``summary.json``,
``config.toml`` and the files ``artifacts(path)`` makes (the command line passes the plots
and the report). By default the store is a SQLite database in the run directory
(``mlflow.db``, artifacts in ``mlartifacts/``); ``run.tracking_uri`` or
``$MLFLOW_TRACKING_URI`` selects another. Nothing leaves the machine unless one of those
names a server: MLflow's telemetry is switched off before it is imported. ``mlflow.json``
in the run directory names the MLflow run, so that a resume continues it.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from neurons.extras import install_hint

from ..errors import ConfigError
from ..rundir.files import read_json, write_json
from ..rundir.layout import BEST, CONFIG, SUMMARY
from .trainer import Callback, GenerationResult, Trainer

__all__ = ["TRACKERS", "MLFLOW_JSON", "MlflowTracker", "check_trackers", "make_trackers", "require", "tracking_uri",
           "flatten_config"]

TRACKERS = ("mlflow",)
MLFLOW_JSON = "mlflow.json"  # the MLflow run of this run directory: tracking URI, experiment and run ids
EXPERIMENT = "evospike"      # the experiment's name unless $MLFLOW_EXPERIMENT_NAME names another
MAX_PARAM = 6000             # MLflow's longest parameter value
MLFLOW_STATUS = {"finished": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}
MISSING = f"run.trackers: 'mlflow' needs MLflow: {install_hint('mlflow')}"


def _warn(message: str) -> None:
    print(f"evospike: warning: {message}", file=sys.stderr)


def check_trackers(names: Any) -> list[str]:
    """``run.trackers`` checked: a list of known tracker names."""
    for name in names:
        if not isinstance(name, str) or name not in TRACKERS:
            close = [t for t in TRACKERS if isinstance(name, str) and t == name.lower()]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"run.trackers (--track): unknown tracker {name!r}{hint}; valid trackers: "
                              f"{', '.join(TRACKERS)}")
    return list(dict.fromkeys(names))


def _mlflow():
    """The mlflow module, imported with its telemetry off (unless the user set it explicitly)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError(MISSING)
    import mlflow

    for name in ("mlflow.store.db.utils", "alembic"):  # "creating tables" lines of a new local store
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow


@contextlib.contextmanager
def _fail_fast():
    """While the MLflow run starts, one HTTP retry and a 10 s timeout (unless the user set
    them), so that an unreachable server is an error within seconds, not MLflow's minutes."""
    added = {k: v for k, v in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"), ("MLFLOW_HTTP_REQUEST_TIMEOUT", "10"))
             if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def tracking_uri(run: dict, path: Path) -> str:
    """Where a run's MLflow records go: ``run.tracking_uri``, else ``$MLFLOW_TRACKING_URI``,
    else a SQLite store in the run directory."""
    return run.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI") or _local_uri(path)


def _local_uri(path: Path) -> str:
    return f"sqlite:///{(Path(path) / 'mlflow.db').resolve()}"


def flatten_config(config: dict) -> dict[str, str]:
    """``{"strategy.population": "0", ...}``: the config's sections flattened, values as text."""
    out = {}
    for section, table in config.items():
        if section == "meta" or not isinstance(table, dict):
            continue
        for key, value in table.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            out[f"{section}.{key}"] = text[:MAX_PARAM]
    return out


class MlflowTracker(Callback):
    """Mirrors the run into MLflow (see the module's docstring). ``rows``: the metrics rows
    of the generations before a resume, logged at the start where the MLflow run lacks them;
    ``artifacts(path)``: makes more files to log at the end of a finished run (a failure is
    one warning, never the run's)."""

    def __init__(self, path: Path, config: dict, rows: Iterable[dict] | None = None,
                 artifacts: Callable[[Path], list[Path]] | None = None) -> None:
        self.path, self.config, self.rows, self.artifacts = Path(path), config, list(rows or []), artifacts
        self.uri = tracking_uri(config["run"], self.path)
        self.client: Any = None
        self.run_id = ""
        self.logged = -1  # the last generation the MLflow run holds
        self.started = self.warned = False

    def _experiment(self) -> str:
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        where = (self.path / "mlartifacts").resolve().as_uri() if self.uri == _local_uri(self.path) else None
        return self.client.create_experiment(name, artifact_location=where)

    def _existing_run(self) -> str:
        """The MLflow run ``mlflow.json`` names, if it is in this store."""
        try:
            info = read_json(self.path / MLFLOW_JSON)
        except (OSError, ValueError):
            return ""
        if not isinstance(info, dict) or info.get("tracking_uri") != self.uri or not info.get("run_id"):
            return ""
        try:
            self.client.get_run(info["run_id"])
        except Exception:
            _warn(f"MLflow run {info['run_id']!r} of {str(self.path / MLFLOW_JSON)!r} is gone; starting a new one")
            return ""
        return str(info["run_id"])

    def _start_run(self, mlflow: Any) -> None:
        """Continue the MLflow run ``mlflow.json`` names, or create one with the config as parameters."""
        from mlflow.entities import Param

        self.client = mlflow.MlflowClient(tracking_uri=self.uri)
        self.run_id = self._existing_run()
        if self.run_id:
            self.client.update_run(self.run_id, status="RUNNING")
            history = self.client.get_metric_history(self.run_id, "best")
            self.logged = max((m.step for m in history), default=-1)
            return
        run = self.client.create_run(self._experiment(), run_name=self.path.name, tags={
            "evospike.run_dir": str(self.path.resolve()), "evospike.task": self.config["task"]["name"],
            "evospike.strategy": self.config["strategy"]["name"]})
        self.run_id = run.info.run_id
        params = [Param(k, v) for k, v in flatten_config(self.config).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 parameters a call
            self.client.log_batch(self.run_id, params=params[i:i + 100])
        write_json(self.path / MLFLOW_JSON, {"tracking_uri": self.uri, "run_id": self.run_id,
                                             "experiment_id": run.info.experiment_id})

    def on_start(self, trainer: Trainer) -> None:
        mlflow = _mlflow()
        try:
            with _fail_fast():
                self._start_run(mlflow)
            self.started = True
        except ImportError as exc:  # e.g. mlflow-skinny without SQLAlchemy for the local store
            raise ConfigError(f"run.tracking_uri {self.uri!r}: MLflow needs {exc.name or exc}: "
                              f"{install_hint('mlflow')}") from None
        except Exception as exc:
            raise ConfigError(f"run.tracking_uri {self.uri!r}: MLflow cannot start a run there "
                              f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]})") from None
        for row in self.rows:  # generations a resumed run finished before MLflow heard of them
            if row["generation"] > self.logged:
                self._log_row(row)

    def _log_row(self, row: dict) -> None:
        from mlflow.entities import Metric

        step, now = int(row["generation"]), int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, step) for k, v in row.items()
                   if k != "generation" and v is not None and math.isfinite(float(v))]
        try:
            self.client.log_batch(self.run_id, metrics=metrics)
            self.logged = step
        except Exception as exc:  # a tracking server that hiccups does not end the run
            if not self.warned:
                _warn(f"MLflow could not log generation {step} ({type(exc).__name__}: {exc}); the run goes on")
                self.warned = True

    def on_generation(self, trainer: Trainer, result: GenerationResult) -> None:
        if result.generation > self.logged:  # a resume repeats generations after its checkpoint
            self._log_row(result.row)

    def on_end(self, trainer: Trainer, status: str, reason: str) -> None:
        if not self.started:
            return
        files = [self.path / name for name in (BEST, SUMMARY, CONFIG)]
        if status == "finished" and self.artifacts is not None:
            try:
                files += list(self.artifacts(self.path))
            except Exception as exc:
                _warn(f"no plots or report for MLflow: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
        try:
            for f in files:
                if Path(f).is_file():
                    self.client.log_artifact(self.run_id, str(f))
            self.client.set_terminated(self.run_id, status=MLFLOW_STATUS.get(status, "FAILED"))
        except Exception as exc:
            _warn(f"MLflow could not log the run's end ({type(exc).__name__}: {exc})")


def make_trackers(config: dict, path: Path, rows: Iterable[dict] | None = None,
                  artifacts: Callable[[Path], list[Path]] | None = None) -> list[Callback]:
    """The tracker callbacks ``run.trackers`` names (none by default)."""
    return [MlflowTracker(path, config, rows, artifacts) for name in config["run"].get("trackers", [])
            if name == "mlflow"]


def require(config: dict) -> None:
    """A ConfigError before any work when a tracker's package is missing."""
    if "mlflow" in config["run"].get("trackers", []) and importlib.util.find_spec("mlflow") is None:
        raise ConfigError(MISSING)
