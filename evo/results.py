"""Read run directories back as pandas objects."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import RunDirError
from .rundir import read_json

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Run", "load_run", "load_runs", "find_runs", "load_best_genome"]


@dataclass
class Run:
    """One run directory: ``config`` (dict), ``metrics`` and ``individuals`` (DataFrames),
    ``best`` and ``summary`` (dicts)."""

    path: Path
    config: dict[str, Any]
    metrics: pd.DataFrame
    individuals: pd.DataFrame | None
    best: dict[str, Any] | None
    summary: dict[str, Any]


def _read(path: Path, what: str, reader):
    try:
        return reader(path)
    except FileNotFoundError:
        raise RunDirError(f"{str(path.parent)!r} is not a run directory: {path.name} is missing") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{str(path)!r}: corrupt {what} ({exc})") from None
    except Exception as exc:  # pyarrow raises several types for a damaged parquet file
        raise RunDirError(f"{str(path)!r}: cannot read {what} ({type(exc).__name__}: {exc})") from None


def _toml(path: Path) -> dict:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def load_run(path: str | Path) -> Run:
    """Load a run directory written by ``evospike run``."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"run directory {str(path)!r} does not exist")
    config = _read(path / "config.toml", "config", _toml)
    summary = _read(path / "summary.json", "summary", read_json)
    if (path / "metrics.parquet").exists():
        metrics = _read(path / "metrics.parquet", "metrics", pd.read_parquet)
    else:
        from .run import METRIC_COLUMNS
        metrics = pd.DataFrame(columns=METRIC_COLUMNS)
    individuals = (_read(path / "individuals.parquet", "individuals", pd.read_parquet)
                   if (path / "individuals.parquet").exists() else None)
    best = _read(path / "best.json", "best genome", read_json) if (path / "best.json").exists() else None
    return Run(path, config, metrics, individuals, best, summary)


def load_best_genome(run: Run, space=None):
    """The best genome of a run as a population of one for its genome space: a (1, D) float64
    matrix (fixed topology) or a NeatPopulation. ``space`` defaults to the run's own."""
    if run.best is None:
        raise RunDirError(f"{str(run.path)!r} has no best.json yet: no generation finished")
    if space is None:
        from .run import build
        _, space = build(run.config)
    from .genome import GenomeError
    if "genome" not in run.best:
        raise RunDirError(f"{str(run.path / 'best.json')!r}: no 'genome' field")
    try:
        return space.decode_genome(run.best["genome"], where=str(run.path / "best.json"))
    except GenomeError as exc:
        raise RunDirError(str(exc)) from None


def find_runs(paths_or_glob) -> list[Path]:
    """Run directories from a glob pattern, a folder of runs, a run directory, or a list of these."""
    import glob as globmod
    items = [paths_or_glob] if isinstance(paths_or_glob, (str, Path)) else list(paths_or_glob)
    found: list[Path] = []
    for item in items:
        item = str(item)
        matches = sorted(globmod.glob(item)) if any(c in item for c in "*?[") else [item]
        for m in matches:
            p = Path(m)
            if (p / "summary.json").exists():
                found.append(p)
            elif p.is_dir():
                found += sorted(q.parent for q in p.glob("*/summary.json"))
    return found


def load_runs(paths_or_glob) -> pd.DataFrame:
    """The metrics of many runs stacked, with columns ``run``, ``task``, ``strategy`` and
    ``seed`` added first, ready for ``groupby``. Accepts what :func:`find_runs` accepts."""
    frames = []
    for path in find_runs(paths_or_glob):
        r = load_run(path)
        m = r.metrics.copy()
        m.insert(0, "seed", r.config.get("run", {}).get("seed"))
        m.insert(0, "strategy", r.config.get("strategy", {}).get("name"))
        m.insert(0, "task", r.config.get("task", {}).get("name"))
        m.insert(0, "run", path.name)
        frames.append(m)
    if not frames:
        raise RunDirError(f"no run directories found in {paths_or_glob!r}")
    return pd.concat(frames, ignore_index=True)
