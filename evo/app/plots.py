"""Pictures of runs (matplotlib, the ``plot`` extra): fitness curves, a spike raster, a
network drawing, and curves across runs. Each function writes a PNG and returns its path."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from neurons import NetworkBatch, dense

from ..errors import ConfigError
from ..rundir.files import atomic_write_bytes

__all__ = ["pareto_fronts", "fitness_curves", "spike_raster", "topology", "compare_curves"]


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'evospike[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(plt, fig, path: Path) -> Path:
    """Write the figure as PNG atomically (a symbolic link at ``path`` is replaced, not followed)."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return path


def fitness_curves(metrics: pd.DataFrame, path: Path, title: str = "") -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    x = metrics["evaluations"]
    ax.plot(x, metrics["best"], label="best of generation")
    ax.plot(x, metrics["mean"], label="mean of generation")
    ax.plot(x, metrics["best_ever"], label="best so far", linestyle="--")
    val = metrics.dropna(subset=["validation"])
    if len(val):
        ax.plot(val["evaluations"], val["validation"], "o", label="validation")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("fitness")
    ax.set_title(title)
    ax.legend()
    return _save(plt, fig, path)


def pareto_fronts(front: pd.DataFrame, objectives: list[str], path: Path, title: str = "") -> Path:
    """Every generation's first front (``pareto.parquet``), coloured by generation, the last
    one joined by a line: the maximized objective against the minimized one."""
    plt = _plt()
    up, down = objectives[0], objectives[1]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    gens = front["generation"].to_numpy()
    points = ax.scatter(front[down], front[up], c=gens, cmap="viridis", s=12, alpha=0.6)
    last = front[front["generation"] == gens.max()].sort_values(down)
    ax.plot(last[down], last[up], "-o", color="crimson", markersize=4, label=f"generation {int(gens.max())}")
    fig.colorbar(points, ax=ax, label="generation")
    ax.set_xlabel(f"{down} per sample (minimized)" if down in ("spikes", "synaptic_events") else f"{down} (minimized)")
    ax.set_ylabel(f"{up} (maximized)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return _save(plt, fig, path)


def spike_raster(spikes: np.ndarray, n_out: int, path: Path, title: str = "") -> Path:
    """spikes (T, N): outputs are neurons 0..n_out-1 (drawn in red), hidden ones follow."""
    plt = _plt()
    T, N = spikes.shape
    fig, ax = plt.subplots(figsize=(8, max(2.0, 0.25 * N + 1)))
    t, j = np.nonzero(spikes)
    ax.scatter(t, j, s=6, marker="|", c=np.where(j < n_out, "tab:red", "tab:blue"))
    ax.set_xlim(-0.5, T - 0.5)
    ax.set_ylim(-0.5, N - 0.5)
    ax.set_xlabel("LIF step")
    ax.set_ylabel("neuron (outputs in red)")
    ax.set_title(title or f"{int(spikes.sum())} spikes in {T} steps")
    return _save(plt, fig, path)


def topology(net: NetworkBatch, path: Path, title: str = "") -> Path:
    """Network 0 of ``net``: inputs left, hidden neurons middle, outputs right; blue
    excitatory, red inhibitory, width by |weight|; self-loops as rings."""
    plt = _plt()
    net = dense(net)  # a LayeredBatch in its dense form
    n_in, N, O = net.n_in, net.n_neurons, net.n_out
    real = np.flatnonzero(np.isfinite(net.threshold[0]))
    hidden = [j for j in real if j >= O]
    pos = {("i", i): (0.0, i - (n_in - 1) / 2) for i in range(n_in)}
    pos.update({("n", j): (2.0, j - (O - 1) / 2) for j in range(O)})
    pos.update({("n", j): (1.0, k - (len(hidden) - 1) / 2) for k, j in enumerate(hidden)})
    fig, ax = plt.subplots(figsize=(6, max(3.0, 0.5 * max(n_in, len(hidden), O) + 1)))
    wmax = max(float(np.abs(net.w_in[0]).max(initial=0)), float(np.abs(net.w_rec[0]).max(initial=0)), 1e-9)
    edges = [(("i", i), ("n", j), net.w_in[0, i, j]) for i, j in zip(*np.nonzero(net.w_in[0]))]
    edges += [(("n", i), ("n", j), net.w_rec[0, i, j]) for i, j in zip(*np.nonzero(net.w_rec[0]))]
    for a, b, w in edges:
        color, width = ("tab:blue" if w > 0 else "tab:red"), 0.3 + 2.5 * abs(w) / wmax
        (x0, y0), (x1, y1) = pos[a], pos[b]
        if a == b:
            ax.add_patch(plt.Circle((x0 + 0.12, y0), 0.12, fill=False, color=color, lw=width))
        else:
            ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="->", color=color, lw=width, alpha=0.7))
    for key, (x, y) in pos.items():
        ax.scatter([x], [y], s=200, c="white", edgecolors="black", zorder=3)
        ax.text(x, y, f"{key[0]}{key[1]}", ha="center", va="center", fontsize=7, zorder=4)
    ax.set_xlim(-0.5, 2.5)
    ax.axis("off")
    ax.set_title(title or f"{len(real)} neurons, {len(edges)} synapses (inputs, hidden, outputs)")
    return _save(plt, fig, path)


def compare_curves(df: pd.DataFrame, by: str, path: Path, value: str = "best_ever") -> Path:
    """Median and interquartile band of ``value`` per generation for each group ``by``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, group in df.groupby(by):
        q = group.groupby("generation")[value].quantile([0.25, 0.5, 0.75]).unstack()
        ax.plot(q.index, q[0.5], label=f"{name} (n={group['run'].nunique()})")
        ax.fill_between(q.index, q[0.25], q[0.75], alpha=0.25)
    ax.set_xlabel("generation")
    ax.set_ylabel(f"{value} (median, interquartile band)")
    ax.legend()
    return _save(plt, fig, path)
