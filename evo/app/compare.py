"""Runs compared fairly: curves on a common x axis, final values and rank tests per group.

A run's metric is a step function of x (generation, evaluations or seconds): each value
holds from its row's x until the next row, and after the run's last row for the rest of
its group's x range (a run that stopped early keeps its final value). For a best-so-far
metric (``best_ever``) the values are a running maximum, so every quantile across runs,
and the plotted median, never falls.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..rundir.results import run_labels, run_names, run_status

__all__ = ["X_AXES", "GROUPS", "BEST_SO_FAR", "check_by", "run_series", "group_curves", "final_values", "compare_table",
           "rank_tests", "mixed_settings", "left_out"]

X_AXES = ("evaluations", "generation", "seconds")
GROUPS = ("strategy", "task", "seed", "run")
BEST_SO_FAR = ("best_ever", "best_so_far")  # metric names (or name parts) of running maxima
KEYS = ("run", "task", "strategy", "seed", "status", "generation")


def is_best_so_far(metric: str) -> bool:
    """Whether ``metric`` is a best-so-far column (its curve is a running maximum)."""
    return any(name in metric for name in BEST_SO_FAR)


def check_metric(df: pd.DataFrame, metric: str) -> None:
    """A ConfigError naming ``metric`` (--metric) unless it is a numeric metrics column."""
    numeric = [c for c in df.columns if c not in KEYS and pd.api.types.is_numeric_dtype(df[c])]
    if metric not in numeric:
        raise ConfigError(f"metric {metric!r} (--metric): not a numeric metrics column; valid: {', '.join(numeric)}")


def check_by(by: str) -> None:
    """A ConfigError naming ``by`` (--by) unless it is one of GROUPS."""
    if by not in GROUPS:
        raise ConfigError(f"by {by!r} (--by); expected one of {', '.join(GROUPS)}")


def check_x(x: str) -> None:
    """A ConfigError naming ``x`` (--x) unless it is one of X_AXES."""
    if x not in X_AXES:
        raise ConfigError(f"x {x!r} (--x); expected one of {', '.join(X_AXES)}")


def run_series(metrics: pd.DataFrame, metric: str, x: str = "evaluations") -> pd.Series:
    """One run's ``metric`` against ``x`` (sorted, finite values only, the last value held
    where a later row has none); a running maximum for a best-so-far metric. ``seconds``
    is the cumulative ``gen_seconds``."""
    check_x(x)
    m = metrics.sort_values("generation")
    xs = m["gen_seconds"].fillna(0).cumsum() if x == "seconds" else m[x]
    values = pd.Series(m[metric].to_numpy(np.float64), index=xs.to_numpy(np.float64)).ffill().dropna()
    values = values[~values.index.duplicated(keep="last")]
    return values.cummax() if is_best_so_far(metric) else values


def _steps_on(series: pd.Series, grid: np.ndarray) -> np.ndarray:
    """The step function ``series`` at ``grid``: the value of the last x <= each grid point
    (NaN before its first x)."""
    i = np.searchsorted(series.index.to_numpy(), grid, side="right") - 1
    return np.where(i >= 0, series.to_numpy()[np.clip(i, 0, None)], np.nan)


def group_curves(df: pd.DataFrame, by: str = "strategy", metric: str = "best_ever",
                 x: str = "evaluations") -> pd.DataFrame:
    """The quartiles of ``metric`` across each group's runs on the group's common grid.

    ``df`` is :func:`evo.results.load_runs`' table. Every run is read as a step function
    (:func:`run_series`) and evaluated on the union of its group's x values, up to the last
    x of any run. A best-so-far metric starts at the first x at which every run has a
    value, so that each quantile is over the same runs and never falls; another metric
    starts at its first value in any run, its quantiles over the runs that have one.
    Columns: ``by``, ``x``, ``q25``, ``median``, ``q75``, ``runs`` (runs with a value at x)."""
    check_by(by)
    check_x(x)
    check_metric(df, metric)
    out = []
    for name, group in df.groupby(by, sort=True):
        series = [s for s in (run_series(m, metric, x) for _, m in group.groupby("run")) if len(s)]
        if not series:
            continue
        firsts = [s.index[0] for s in series]
        start = max(firsts) if is_best_so_far(metric) else min(firsts)
        grid = np.unique(np.concatenate([s.index.to_numpy() for s in series]))
        grid = grid[grid >= start]
        values = np.stack([_steps_on(s, grid) for s in series])  # (runs, len(grid))
        q = np.nanquantile(values, [0.25, 0.5, 0.75], axis=0)
        out.append(pd.DataFrame({by: name, "x": grid, "q25": q[0], "median": q[1], "q75": q[2],
                                 "runs": np.isfinite(values).sum(axis=0)}))
    columns = [by, "x", "q25", "median", "q75", "runs"]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=columns)


def final_values(df: pd.DataFrame, by: str = "strategy", metric: str = "best_ever") -> pd.DataFrame:
    """Each run's final ``metric`` (its last value, held from its last row that has one;
    the maximum for a best-so-far metric) with its group, evaluations and generations.
    Columns: ``run``, ``by``, ``value``, ``evaluations``, ``generations``."""
    check_by(by)
    check_metric(df, metric)
    rows = []
    for run, m in df.groupby("run", sort=True):
        s = run_series(m, metric, "generation")
        rows.append({"run": run, by: m[by].iloc[0], "value": float(s.iloc[-1]) if len(s) else np.nan,
                     "evaluations": float(m["evaluations"].max()), "generations": int(m["generation"].max()) + 1})
    return pd.DataFrame(rows, columns=list(dict.fromkeys(["run", by, "value", "evaluations", "generations"])))


def compare_table(df: pd.DataFrame, by: str = "strategy", metric: str = "best_ever") -> pd.DataFrame:
    """Per group: runs (those with a value of ``metric``; :func:`left_out` names the
    others), the final ``metric``'s median, quartiles and interquartile range across them,
    and the median evaluations and generations, indexed by group."""
    final = final_values(df, by, metric)
    g = final.groupby(by, sort=True)
    table = pd.DataFrame({"runs": g["value"].count(), "median": g["value"].median(),
                          "q25": g["value"].quantile(0.25), "q75": g["value"].quantile(0.75)})
    table["iqr"] = table["q75"] - table["q25"]
    table["evaluations"] = g["evaluations"].median()
    table["generations"] = g["generations"].median()
    return table


def rank_tests(df: pd.DataFrame, by: str = "strategy", metric: str = "best_ever") -> pd.DataFrame:
    """A two-sided Mann-Whitney U test of the final ``metric`` between each pair of groups
    (scipy.stats.mannwhitneyu). Columns: ``a``, ``b``, ``n_a``, ``n_b``, ``U`` (a's statistic),
    ``p``; no rows with fewer than two groups."""
    from scipy.stats import mannwhitneyu

    final = final_values(df, by, metric).dropna(subset=["value"])
    groups = {name: g["value"].to_numpy() for name, g in final.groupby(by, sort=True)}
    rows = []
    for a, b in combinations(groups, 2):
        res = mannwhitneyu(groups[a], groups[b], alternative="two-sided")
        rows.append({"a": a, "b": b, "n_a": len(groups[a]), "n_b": len(groups[b]),
                     "U": float(res.statistic), "p": float(res.pvalue)})
    return pd.DataFrame(rows, columns=["a", "b", "n_a", "n_b", "U", "p"])


def left_out(df: pd.DataFrame, metric: str = "best_ever") -> list[str]:
    """A line for each run that has no value of ``metric`` (a comparison leaves it out)."""
    final = final_values(df, "strategy", metric)
    return [f"run {run!r} has no value of {metric}: it is left out" for run in final.loc[final["value"].isna(), "run"]]


# run settings that do not change what a run computes (or that vary by design: the seed)
HOW_RUN = {"seed", "name", "out", "quiet", "backend", "workers", "address", "eval_timeout", "trackers",
           "tracking_uri", "ray_after", "checkpoint_every", "kernel"}


def _flat(config: dict) -> dict[str, str]:
    """A run's config as {"section.key": value as text}, without [meta] and HOW_RUN."""
    return {f"{section}.{key}": repr(value) for section, table in config.items() if section != "meta"
            for key, value in table.items() if not (section == "run" and key in HOW_RUN)}


def mixed_settings(runs, by: str = "strategy") -> list[str]:
    """What a comparison of loaded runs by ``by`` should say about them: each run without a
    finished generation (it adds nothing), each run that did not finish (its values are
    those of its last recorded generation), runs of different tasks compared by anything
    but the task (values on different scales), and one line per group whose configs differ
    in more than the seed and how they ran (backend, workers, ...): the settings that
    differ and their values, names first; a comparison of such a group mixes unlike runs."""
    names = dict(zip((r.path for r in runs), run_names([r.path for r in runs])))
    lines = [f"run {str(r.path)!r} has no finished generation: it is left out" for r in runs if r.metrics.empty]
    runs = [r for r in runs if not r.metrics.empty]
    for r in runs:
        status = run_status(r.path, r.summary)
        if status not in ("finished",):
            planned = r.config.get("run", {}).get("generations")
            lines.append(f"run {names[r.path]!r} is {status}: its values are from {len(r.metrics)} of {planned} "
                         f"generations")
    tasks = sorted({str(run_labels(r)["task"]) for r in runs})
    if by != "task" and len(tasks) > 1:
        lines.append(f"the runs are of different tasks ({', '.join(tasks)}): their {by} groups compare values on "
                     f"different scales (--by task separates them)")
    groups: dict[str, list[dict[str, str]]] = {}
    for r in runs:
        groups.setdefault(str(names[r.path] if by == "run" else run_labels(r)[by]), []).append(_flat(r.config))
    for group, configs in groups.items():
        keys = sorted({k for c in configs for k in c})
        differ = [k for k in keys if len({c.get(k, "(unset)") for c in configs}) > 1]
        differ.sort(key=lambda k: (not k.endswith(".name"), any(k not in c for c in configs), k))
        if differ:
            shown = "; ".join(f"{k} ({', '.join(sorted({c.get(k, '(unset)') for c in configs}))})"
                              for k in differ[:4])
            more = f"; and {len(differ) - 4} more" if len(differ) > 4 else ""
            lines.append(f"group {group!r} mixes runs whose settings differ: {shown}{more}")
    return lines
