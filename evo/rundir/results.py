"""Read run directories back as pandas objects."""
from __future__ import annotations

import glob as globmod
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import GenomeError, RunDirError
from .files import check_folder, read_bytes, read_json, read_parquet
from .lock import is_locked
from .layout import BEST, CENTER, CONFIG, INDIVIDUALS, METRIC_COLUMNS, METRICS, SUMMARY, individuals_part

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_UNREAD = object()  # Run.individuals before its first use

__all__ = ["Run", "load_run", "load_runs", "load_all", "stack_runs", "run_labels", "run_names", "run_status", "require_folder", "find_runs", "find_unstarted", "load_best_genome", "load_network_doc", "decode_network", "read_config",
           "read_individuals"]


@dataclass
class Run:
    """One run directory: ``config`` (dict), ``metrics`` (DataFrame), ``best`` and ``summary``
    (dicts), and ``individuals`` (DataFrame, or None without the folder), read at first use:
    the metrics alone do not need them."""

    path: Path
    config: dict[str, Any]
    metrics: pd.DataFrame
    best: dict[str, Any] | None
    summary: dict[str, Any]
    _individuals: Any = field(default=_UNREAD, repr=False, compare=False)

    @property
    def individuals(self) -> pd.DataFrame | None:
        if self._individuals is _UNREAD:
            path = self.path / INDIVIDUALS
            self._individuals = read_individuals(path, self.summary.get("generations")) if _exists(path) else None
        return self._individuals


def _read(path: Path, what: str, reader):
    try:
        return reader(path)
    except RunDirError:
        raise
    except FileNotFoundError:
        raise RunDirError(f"{str(path.parent)!r} is not a run directory: {path.name} is missing") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{str(path)!r}: corrupt {what} ({exc})") from None
    except Exception as exc:  # pyarrow raises several types for a damaged parquet file
        raise RunDirError(f"{str(path)!r}: cannot read {what} ({type(exc).__name__}: {exc})") from None


def _toml(path: Path) -> dict:
    return tomllib.loads(read_bytes(path).decode())


SUMMARY_NUMBERS = ("seed", "generations", "evaluations", "best", "best_generation", "validation",
                   "solved_generation", "wall_seconds")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_config(config: Any, where: str) -> dict:
    """A run's config.toml as read: the tables and keys that readers rely on, or a RunDirError."""
    if not isinstance(config, dict):
        raise RunDirError(f"{where}: expected TOML tables")
    for section in ("run", "task", "genome", "strategy"):
        if not isinstance(config.get(section), dict):
            raise RunDirError(f"{where}: the [{section}] table is missing")
    seed = config["run"].get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise RunDirError(f"{where}: run.seed: {seed!r}; expected an integer >= 0")
    for section in ("task", "strategy"):
        if not isinstance(config[section].get("name"), str):
            raise RunDirError(f"{where}: {section}.name: {config[section].get('name')!r}; expected a name")
    return config


def check_summary(summary: Any, where: str) -> dict:
    """A run's summary.json as read, or a RunDirError naming the bad field."""
    if not isinstance(summary, dict):
        raise RunDirError(f"{where}: expected a JSON object, got {type(summary).__name__}")
    if not isinstance(summary.get("status"), str):
        raise RunDirError(f"{where}: status: {summary.get('status')!r}; expected a string")
    for key in SUMMARY_NUMBERS:
        value = summary.get(key)
        if value is not None and not _is_number(value):
            raise RunDirError(f"{where}: {key}: {value!r}; expected a number or null")
    return summary


_INT_COLUMNS = ("generation", "evaluations", "n_species")


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def require_folder(path: str | Path, what: str) -> Path:
    """``path`` as a Path, or a RunDirError saying that ``what`` does not exist or is not a folder."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{what} {str(path)!r} " + ("is not a folder" if _exists(path) else "does not exist"))
    return path


def read_config(path: str | Path) -> dict:
    """A run directory's ``config.toml``, checked as :func:`load_run` checks it."""
    path = Path(path)
    return check_config(_read(path / CONFIG, "config", _toml), str(path / CONFIG))


def load_run(path: str | Path) -> Run:
    """Load a run directory written by ``evospike run``; a missing, damaged or malformed file
    is a RunDirError naming it."""
    path = require_folder(path, "run directory")
    config = read_config(path)
    summary = check_summary(_read(path / SUMMARY, "summary", read_json), str(path / SUMMARY))
    _check_recorded(config, summary, path)
    if _exists(path / METRICS):
        metrics = _read(path / METRICS, "metrics", read_parquet)
        missing = [c for c in METRIC_COLUMNS if c not in metrics.columns]
        if missing:
            raise RunDirError(f"{str(path / METRICS)!r}: columns {', '.join(missing)} are missing")
        for c in METRIC_COLUMNS:
            if not pd.api.types.is_numeric_dtype(metrics[c]):
                raise RunDirError(f"{str(path / METRICS)!r}: column {c} holds {metrics[c].dtype} values; "
                                  f"expected numbers")
        _check_generations(metrics["generation"], summary, str(path / METRICS))
    elif summary.get("generations"):  # the summary counts generations whose rows are gone
        raise RunDirError(f"{str(path)!r}: {METRICS} is missing, but {SUMMARY} records {summary['generations']:g} "
                          f"finished generations")
    else:  # no generation finished: no rows, the columns' types as a run writes them
        metrics = pd.DataFrame({c: pd.Series(dtype="int64" if c in _INT_COLUMNS else "float64")
                                for c in METRIC_COLUMNS})
    best = _read(path / BEST, "best genome", read_json) if _exists(path / BEST) else None
    if best is not None and not isinstance(best, dict):
        raise RunDirError(f"{str(path / BEST)!r}: expected a JSON object")
    if best is not None:
        if not _is_number(best.get("fitness")):
            raise RunDirError(f"{str(path / BEST)!r}: fitness: {best.get('fitness')!r}; expected a number")
        generation = best.get("generation")
        if not (isinstance(generation, int) and not isinstance(generation, bool) and generation >= 0):
            raise RunDirError(f"{str(path / BEST)!r}: generation: {generation!r}; expected an integer >= 0")
    return Run(path, config, metrics, best, summary)


def _check_recorded(config: dict, summary: dict, path: Path) -> None:
    """A RunDirError where config.toml's seed, task or strategy is not the one summary.json
    records: the run was made with the recorded one, and reading, replaying or resuming it
    with another would mix two runs."""
    for key, value in (("seed", config["run"]["seed"]), ("task", config["task"]["name"]),
                       ("strategy", config["strategy"]["name"])):
        recorded = summary.get(key)
        if recorded is not None and recorded != value:
            field_name = "run.seed" if key == "seed" else f"{key}.name"
            raise RunDirError(f"{str(path / CONFIG)!r}: {field_name} is {json.dumps(value)}, but {SUMMARY} records "
                              f"{json.dumps(recorded)}; the run was made with {json.dumps(recorded)} (was "
                              f"{CONFIG} edited?)")


def _check_generations(generations: pd.Series, summary: dict, where: str) -> None:
    """The rows of metrics.parquet: generations 0, 1, ... once each, at least as many as
    summary.json records (a run killed between its writes may hold one more)."""
    got = generations.to_numpy()
    if len(got) and not np.array_equal(got, np.arange(len(got))):
        seen, counts = np.unique(got, return_counts=True)
        twice = seen[counts > 1]
        gaps = np.setdiff1d(np.arange(int(got.max()) + 1), seen) if got.min() >= 0 else seen[seen < 0]
        what = (f"generation {int(twice[0])} appears {int(counts[counts > 1][0])} times" if len(twice) else
                f"generation {int(gaps[0])} is missing" if len(gaps) else "the generations are out of order")
        raise RunDirError(f"{where!r}: {what}; expected one row per generation 0, 1, ... in order")
    recorded = summary.get("generations")
    if _is_number(recorded) and len(got) < recorded:
        raise RunDirError(f"{where!r}: holds {len(got)} generation{'s' * (len(got) != 1)}, but {SUMMARY} records "
                          f"{recorded:g} finished; rows are missing")


def read_individuals(path: Path, generations: Any = None) -> pd.DataFrame:
    """``individuals.parquet``: a folder of one file per generation (or, in runs written before
    that layout, one file), as one table in generation order. ``generations``: the count that
    summary.json records, whose files must all be there. A damaged or missing file is a
    RunDirError naming it."""
    if check_folder(path, file_ok=True).is_dir():
        parts = sorted(path.glob("gen-*.parquet"))
        names = {p.name for p in parts}
        missing = [individuals_part(g) for g in range(int(generations or 0)) if individuals_part(g) not in names]
        if missing:
            raise RunDirError(f"{str(path / missing[0])!r} is missing, but {SUMMARY} records {generations:g} finished "
                              f"generations")
        if not parts:
            return pd.DataFrame()
        return pd.concat([_read(p, "individuals", read_parquet) for p in parts], ignore_index=True)
    return _read(path, "individuals", read_parquet)


def load_best_genome(run: Run, space, which: str = "best"):
    """The best genome of a run (``which="center"``: its search center, see
    :func:`load_network_doc`) as a population of one for its genome space ``space``: a
    (1, D) float64 matrix (fixed topology) or a NeatPopulation."""
    return decode_network(run, space, *load_network_doc(run, which))


def decode_network(run: Run, space, which: str, doc: dict[str, Any]):
    """The genome in ``doc``, the document :func:`load_network_doc` gave for ``which``, as a
    population of one for ``space``; a missing or malformed genome is a RunDirError."""
    where = str(run.path / (BEST if which == "best" else CENTER))
    if "genome" not in doc:
        raise RunDirError(f"{where!r}: no 'genome' field")
    _check_agrees(doc, where, "genome_space", space.kind, "the genome space of config.toml")
    _check_agrees(doc, where, "genome_config", json.loads(json.dumps(space.config())), "config.toml's [genome]")
    _check_agrees(doc, where, "task", run.config.get("task", {}), "config.toml's [task]")
    try:
        return space.decode_genome(doc["genome"], where=where)
    except GenomeError as exc:
        raise RunDirError(str(exc)) from None


def _check_agrees(doc: dict[str, Any], where: str, field: str, expected: Any, source: str) -> None:
    """A RunDirError where a network's document records a setting (``field``; for a table,
    each key that both hold) other than the run's config gives: the network was made for
    another config, and decoding it with this one would give another network, or none."""
    if field not in doc:
        return
    got = doc[field]
    if isinstance(expected, dict) and isinstance(got, dict):
        pairs = [(f"{field}.{k}", got[k], expected[k]) for k in got if k in expected]
    else:
        pairs = [(field, got, expected)]
    for name, value, want in pairs:
        if value != want:
            raise RunDirError(f"{where!r}: {name} is {json.dumps(value)}, but {source} gives {json.dumps(want)}; "
                              f"the file was not written for this run's config")


def load_network_doc(run: Run, which: str | None = None) -> tuple[str, dict[str, Any]]:
    """(``which``, its JSON document) for a network of a run: "best" (best.json, the best
    network sampled) or "center" (center.json: the search center of openes, pgpe and snes,
    the network such runs validate). ``which=None``: the one the run validated, the center
    where the run has one. Each document holds ``genome`` and ``generation``."""
    if which is None:
        which = "center" if _exists(run.path / CENTER) else "best"
    if which == "best":
        if run.best is None:
            raise RunDirError(f"{str(run.path)!r} has no best.json yet: no generation finished")
        return which, run.best
    if which != "center":
        raise ValueError(f"which: {which!r}; expected 'best', 'center' or None")
    path = run.path / CENTER
    if not _exists(path):
        raise RunDirError(f"{str(path)!r} does not exist: only openes, pgpe and snes runs have a search center "
                          f"(it is written at the first validation)")
    doc = _read(path, "search center", read_json)
    generation = doc.get("generation") if isinstance(doc, dict) else None
    if not (isinstance(generation, int) and not isinstance(generation, bool) and generation >= 0):
        raise RunDirError(f"{str(path)!r}: generation: {generation!r}; expected an integer >= 0")
    return which, doc


def _given_paths(paths_or_glob) -> list[Path]:
    """The paths a glob pattern, a path, or a list of these name (patterns expanded, sorted)."""
    items = [paths_or_glob] if isinstance(paths_or_glob, (str, Path)) else list(paths_or_glob)
    found: list[Path] = []
    for item in map(str, items):
        found += map(Path, sorted(globmod.glob(item)) if any(c in item for c in "*?[") else [item])
    return found


def find_runs(paths_or_glob) -> list[Path]:
    """Run directories from a glob pattern, a folder of runs, a run directory, or a list of these;
    each once, where several of these name it."""
    found: list[Path] = []
    for p in _given_paths(paths_or_glob):
        if (p / SUMMARY).is_file():
            found.append(p)
        elif p.is_dir():
            found += sorted(q.parent for q in p.glob(f"*/{SUMMARY}"))
    return _once(found)


def _once(paths: list[Path]) -> list[Path]:
    """``paths`` without the repeats of a folder (compared resolved), in their order."""
    seen: set[Path] = set()
    out = []
    for p in paths:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def run_names(paths: list[Path]) -> list[str]:
    """A name for each run directory: its folder's name, or where several runs share it, as
    many of its last path parts as tell them apart (``exp1/s0`` and ``exp2/s0``)."""
    parts = [p.resolve().parts for p in paths]
    names = [p.name for p in paths]
    for k in range(2, max((len(q) for q in parts), default=1) + 1):
        counts: dict[str, int] = {}
        for n in names:
            counts[n] = counts.get(n, 0) + 1
        if all(c == 1 for c in counts.values()):
            break
        names = ["/".join(q[-k:]) if counts[n] > 1 else n for q, n in zip(parts, names)]
    return names


def run_status(path: Path, summary: dict) -> str:
    """The run's status: summary.json's, where "running" with no process holding the run's
    lock is "killed" ("killed at start" before its first generation finished)."""
    status = str(summary.get("status", ""))
    if status == "running" and not is_locked(path):
        return "killed" if summary.get("generations") else "killed at start"
    return status


def find_unstarted(paths_or_glob) -> list[Path]:
    """Run directories that :func:`find_runs` leaves out because no summary was written yet:
    ``config.toml`` with the ``[meta] created`` a run records, and no ``summary.json`` (a run
    starting now, or one killed before its first generation finished). Accepts what
    :func:`find_runs` accepts."""
    found: list[Path] = []
    for p in _given_paths(paths_or_glob):
        candidates = [p] if (p / CONFIG).is_file() else sorted(q.parent for q in p.glob(f"*/{CONFIG}"))
        found += [c for c in candidates if not os.path.lexists(c / SUMMARY) and _run_config(c)]
    return found


def _run_config(path: Path) -> bool:
    """Whether ``path``'s config.toml is one that a run wrote (it has ``[meta] created``)."""
    try:
        meta = _toml(path / CONFIG).get("meta")
    except (OSError, ValueError, RunDirError):
        return False
    return isinstance(meta, dict) and "created" in meta


def load_all(paths_or_glob) -> list[Run]:
    """Every run :func:`find_runs` finds, loaded; a RunDirError when it finds none."""
    runs = [load_run(path) for path in find_runs(paths_or_glob)]
    if not runs:
        raise RunDirError(f"no run directories found in {paths_or_glob!r}")
    return runs


def load_runs(paths_or_glob) -> pd.DataFrame:
    """The metrics of many runs stacked, with columns ``run``, ``task``, ``strategy``,
    ``seed`` and ``status`` added first, ready for ``groupby``. Accepts what
    :func:`find_runs` accepts."""
    return stack_runs(load_all(paths_or_glob))


def run_labels(r: Run, name: str | None = None) -> dict[str, Any]:
    """The columns that :func:`stack_runs` adds for a run: run (``name``, by default its
    folder's name), task, strategy, seed and status (:func:`run_status`)."""
    return {"run": r.path.name if name is None else name, "task": r.config.get("task", {}).get("name"),
            "strategy": r.config.get("strategy", {}).get("name"), "seed": r.config.get("run", {}).get("seed"),
            "status": run_status(r.path, r.summary)}


def stack_runs(runs) -> pd.DataFrame:
    """:func:`load_runs`' frame of runs already loaded (a non-empty list of ``Run``); runs
    without a finished generation add no rows. Column ``run`` tells every run apart
    (:func:`run_names`)."""
    frames = []
    for r, name in zip(runs, run_names([r.path for r in runs])):
        if frames and r.metrics.empty:
            continue
        m = r.metrics.copy()
        for k, (column, value) in enumerate(run_labels(r, name).items()):
            m.insert(k, column, value)
        frames.append(m)
    if len(frames) > 1 and frames[0].empty:  # the first run had no rows: the others have their types
        frames = frames[1:]
    return pd.concat(frames, ignore_index=True)
