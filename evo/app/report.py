"""``evospike report``: one self-contained HTML page for a run or a comparison of runs.

The page has no script and no external reference: the pictures are PNG data URIs and the
style sheet is inline, so it opens offline and can be mailed as one file. Sections (each a
``<section id=...>``): ``summary`` (``evospike show``'s table, one row per run when there
are several), ``compare`` (several runs: ``evospike compare``'s tables and curves),
``plots`` (``evospike show --plot``'s pictures of each run) and ``config`` (each run's
config.toml as written).
"""
from __future__ import annotations

import base64
import html
import numbers
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from .. import __version__
from ..errors import RunDirError, one_line
from ..rundir.files import atomic_write_bytes, read_bytes
from ..rundir.layout import CONFIG
from ..rundir.results import Run, find_runs, load_run, run_names, run_status, stack_runs
from . import plots
from .compare import compare_table, left_out, mixed_settings, rank_tests

__all__ = ["SECTIONS", "SHOW_KEYS", "PLOT_FILES", "run_status", "summary_rows", "render", "write_report"]

SECTIONS = ("summary", "compare", "plots", "config")  # "compare" only for several runs
SHOW_KEYS = ("status", "reason", "task", "strategy", "seed", "generations", "evaluations", "best",
             "best_generation", "validation", "wall_seconds")
PLOT_FILES = ("fitness.png", "species.png", "pareto.png", "topology.png", "raster.png")  # in the page's order

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 16px 24px;
       color: #1d1d1f; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 2px; } h2 { font-size: 18px; margin: 0 0 10px; }
h3 { font-size: 15px; margin: 12px 0 6px; }
.meta, .note { color: #666; } nav a { margin-right: 14px; }
section { border-top: 1px solid #ddd; padding: 14px 0; }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f6; } td.num { text-align: right; }
figure { display: inline-block; margin: 6px 12px 12px 0; vertical-align: top; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #666; font-size: 12px; }
pre { background: #f7f7f9; border: 1px solid #e4e4e8; padding: 8px; overflow-x: auto; font-size: 12px; }
details { margin: 4px 0 10px; } summary { cursor: pointer; font-weight: 600; }
"""


def summary_rows(run: Run, every: bool = False) -> list[tuple[str, Any]]:
    """``evospike show``'s table: (key, value) of summary.json's main fields that are set, the
    status as :func:`run_status` says; ``every``: also the other fields, after them."""
    s = {**run.summary, "status": run_status(run.path, run.summary)}
    if s.get("best_generation") == -1:  # no generation finished: no best yet
        s["best_generation"] = None
    keys = list(SHOW_KEYS) + ([k for k in s if k not in SHOW_KEYS] if every else [])
    return [(k, s[k]) for k in keys if s.get(k) not in (None, "")]


# ---- HTML pieces ------------------------------------------------------------------------------

def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if _number(value) and not isinstance(value, numbers.Integral):
        return f"{float(value):.6g}"
    return str(value)


def _table(head: Sequence[str] | None, rows: Iterable[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return ('<td class="num">' if _number(v) else "<td>") + html.escape(_text(v)) + "</td>"

    body = "".join(f"<tr>{''.join(cell(v) for v in row)}</tr>" for row in rows)
    top = "" if head is None else f"<tr>{''.join(f'<th>{html.escape(h)}</th>' for h in head)}</tr>"
    return f"<table>{top}{body}</table>"


def _frame(df: pd.DataFrame, index: bool = True) -> str:
    frame = df.reset_index() if index else df
    return _table([str(c) for c in frame.columns], frame.itertuples(index=False, name=None))


def _figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    alt = html.escape(caption)
    return f'<figure><img src="data:image/png;base64,{data}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


def _section(name: str, title: str, body: str) -> str:
    return f'<section id="{name}"><h2>{html.escape(title)}</h2>\n{body}\n</section>\n'


def _page(title: str, sections: list[tuple[str, str, str]]) -> str:
    nav = " ".join(f'<a href="#{name}">{html.escape(t)}</a>' for name, t, _ in sections)
    when = datetime.now().astimezone().isoformat(timespec="seconds")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
            f"<h1>{html.escape(title)}</h1><p class=\"meta\">evospike {html.escape(__version__)}, {when}</p>\n"
            f"<nav>{nav}</nav>\n" + "".join(_section(*s) for s in sections) + "</body></html>\n")


# ---- the page -----------------------------------------------------------------------------

def _plots_html(run: Run, plot: Callable[..., list[Path]] | None, notes: list[str], name: str) -> str:
    """The pictures of one run. With ``plot``: ``plot(run_dir, say=...)`` writes them, and
    the page shows those it wrote (never an older picture that it could not redraw), with
    each reason it gave for leaving one out. Without: every picture of PLOT_FILES in the run
    directory, in that order."""
    said: list[str] = []
    if plot is not None:
        try:
            written = {Path(p).name for p in plot(run.path, say=said.append)}
        except Exception as exc:  # the page is still worth having without pictures
            said.append(f"no new plots: {type(exc).__name__}: {one_line(exc)}")
            written = set()
        names = [n for n in PLOT_FILES if n in written]
        notes += [f"{name}: {line.strip('()')}" for line in said]
    else:
        names = [n for n in PLOT_FILES if (run.path / n).is_file()]
    figures = [_figure(read_bytes(run.path / n), n) for n in names]
    if not figures and not said:
        said.append("no plots in the run directory (evospike show --plot writes them)")
    return "".join(f'<p class="note">{html.escape(line.strip("()"))}</p>' for line in said) + "".join(figures)


def _config_html(run: Run) -> str:
    try:
        text = read_bytes(run.path / CONFIG).decode("utf-8", "replace")
    except OSError as exc:
        text = f"({CONFIG} cannot be read: {exc})"
    return f"<pre>{html.escape(text)}</pre>"


def _compare_html(runs: Sequence[Run], by: str, metric: str, x: str) -> str:
    df = stack_runs(runs)
    out = [f"<h3>Final {html.escape(metric)} per {html.escape(by)}: median, quartiles and interquartile "
           f"range across runs</h3>", _frame(compare_table(df, by, metric))]
    out += [f'<p class="note">{html.escape(line)}</p>' for line in left_out(df, metric) + mixed_settings(runs, by)]
    tests = rank_tests(df, by, metric)
    if len(tests):
        out += [f"<h3>Mann-Whitney U test (two-sided) of the final {html.escape(metric)} between groups</h3>",
                _frame(tests, index=False)]
    else:
        out.append(f'<p class="note">one group of runs by {html.escape(by)}: no rank test</p>')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            png = plots.compare_curves(df, by, Path(tmp) / "compare.png", metric, x)
            out.append(_figure(Path(png).read_bytes(), f"{metric} against {x}: median and interquartile band "
                                                        f"per {by}"))
    except Exception as exc:
        out.append(f'<p class="note">no curves: {html.escape(type(exc).__name__)}: {html.escape(str(exc))}</p>')
    return "\n".join(out)


def render(dirs: Sequence[str | Path], plot: Callable[..., list[Path]] | None = None, by: str = "strategy",
           metric: str = "best_ever", x: str = "evaluations", notes: list[str] | None = None) -> str:
    """The HTML page of the runs in ``dirs`` (run directories, folders of runs or globs).

    ``plot(run_dir, say=...)``, when given, writes a run's pictures and returns their paths
    (the command line passes ``evospike show --plot``'s); the page embeds those, and ``say``
    hears why one is left out. Without it the page embeds the pictures already in the run
    directories. ``by``, ``metric`` and ``x`` shape the
    comparison of several runs as ``evospike compare``'s options do. Problems that leave a
    part out are appended to ``notes``."""
    notes = [] if notes is None else notes
    runs = [load_run(p) for p in find_runs(list(map(str, dirs)))]
    if not runs:
        raise RunDirError(f"no run directories found in {' '.join(map(str, dirs))!r}")
    if len(runs) == 1:
        r = runs[0]
        title = f"evospike report: {r.path.name}"
        sections = [("summary", "Summary", _table(None, summary_rows(r, every=True))),
                    ("plots", "Plots", _plots_html(r, plot, notes, r.path.name)),
                    ("config", "Config", _config_html(r))]
        return _page(title, sections)
    names = run_names([r.path for r in runs])
    shown = [dict(summary_rows(r)) for r in runs]
    keys = [k for k in SHOW_KEYS if any(k in s for s in shown)]  # no column that every run leaves empty
    rows = [[n, *(s.get(k, "") for k in keys)] for n, s in zip(names, shown)]
    per_run = lambda part: "\n".join(  # noqa: E731
        f"<details><summary>{html.escape(n)}</summary>{part(r, n)}</details>" for r, n in zip(runs, names))
    sections = [("summary", "Summary", _table(["run", *keys], rows)),
                ("compare", "Compare", _compare_html(runs, by, metric, x)),
                ("plots", "Plots", per_run(lambda r, n: _plots_html(r, plot, notes, n))),
                ("config", "Config", per_run(lambda r, n: _config_html(r)))]
    return _page(f"evospike report: {len(runs)} runs ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})",
                 sections)


def write_report(dirs: Sequence[str | Path], out: str | Path, plot: Callable[..., list[Path]] | None = None,
                 **options: Any) -> Path:
    """:func:`render`'s page written to ``out`` (atomically); notes go to stderr, one line each."""
    notes: list[str] = []
    page = render(dirs, plot, notes=notes, **options)
    for note in notes:
        print(f"evospike: report: {note}", file=sys.stderr)
    atomic_write_bytes(Path(out), page.encode("utf-8"))
    return Path(out)
