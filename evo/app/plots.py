"""Pictures of runs (matplotlib, the ``plot`` extra): fitness curves, NEAT species, Pareto
fronts, a spike raster, a network drawing, and curves across runs. Each function writes a
PNG and returns its path; :func:`run_plots` writes all that apply to one run."""
from __future__ import annotations

import inspect
import io
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from neurons import NetworkBatch, dense
from neurons.extras import install_hint
from tasks import TaskError

from ..errors import ConfigError
from ..rundir.files import atomic_write_bytes, read_json, read_parquet
from ..rundir.layout import PARETO, PARETO_JSON
from ..rundir.results import Run
from .compare import group_curves

__all__ = ["pareto_fronts", "fitness_curves", "species_areas", "spike_raster", "topology", "compare_curves",
           "run_plots"]

PICTURE_SUFFIXES = (".png", ".svg", ".pdf")  # what a picture named by the user may be (PNG otherwise)
MAX_INCHES = 16.0        # a figure's longest side (1600 px at dpi 100)
MAX_INPUT_NODES = 20     # more inputs are drawn as a weight image, not as nodes
MAX_GRAPH_NEURONS = 60   # more neurons are drawn as weight images, not as a graph
MAX_GRAPH_EDGES = 60     # more synapses between neurons: their weights as an image beside the graph too
MAX_COLUMN_NODES = 24    # a layer with more nodes, or
MAX_DRAWN_EDGES = 300    # more edges to draw: no graph, weight images only
MAX_TILE_PIXELS = 250_000  # W_in tiles (one input image per neuron) shown at most
NODE_R = 0.2             # node radius in the graph's data units (columns are 1.6 apart)
COLUMN_GAP = 1.6
INCH_PER_UNIT = 0.8      # graph size: inches per data unit (neighbours in a column are 1 apart)
WEIGHT_CMAP = "RdBu"     # red inhibitory, blue excitatory, as the graph's edges


def require_matplotlib() -> None:
    """A ConfigError saying how to install matplotlib where it is missing (before any work)."""
    _plt()


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(f"plots need matplotlib: {install_hint('plot')}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(plt, fig, path: Path) -> Path:
    """Write the figure atomically (a symbolic link at ``path`` is replaced, not followed), as
    SVG or PDF where ``path`` ends so, otherwise as PNG (:data:`PICTURE_SUFFIXES`)."""
    fig.tight_layout()
    buf = io.BytesIO()
    kind = Path(path).suffix.lower().lstrip(".")
    fig.savefig(buf, format=kind if kind in ("svg", "pdf") else "png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return path


def _inches(width: float, height: float) -> tuple[float, float]:
    """(width, height) scaled down, keeping the ratio, so neither side exceeds MAX_INCHES."""
    k = min(1.0, MAX_INCHES / max(width, height))
    return width * k, height * k


# ---- fitness, species, Pareto fronts ------------------------------------------------------

def fitness_curves(metrics: pd.DataFrame, path: Path, title: str = "") -> Path:
    """Training fitness (best and mean of each generation, best so far) above, validation
    below, on separate y axes sharing the evaluations axis."""
    plt = _plt()
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 5.5), gridspec_kw={"height_ratios": [3, 2]})
    x = metrics["evaluations"]
    top.plot(x, metrics["best"], label="best of generation")
    top.plot(x, metrics["mean"], label="mean of generation")
    top.plot(x, metrics["best_ever"], label="best so far", linestyle="--")
    top.set_ylabel("training fitness")
    top.legend(loc="lower right")
    top.set_title(title)
    val = metrics.dropna(subset=["validation"])
    if len(val):
        bottom.plot(val["evaluations"], val["validation"], "o-", color="tab:green")
    else:
        bottom.text(0.5, 0.5, "no validation", ha="center", va="center", transform=bottom.transAxes)
    bottom.set_ylabel("validation score")
    bottom.set_xlabel("evaluations")
    return _save(plt, fig, path)


def species_sizes(individuals: pd.DataFrame) -> pd.DataFrame:
    """Members per species (columns, by id) in each generation (rows), from the
    individuals' ``species`` column."""
    return individuals.groupby(["generation", "species"]).size().unstack(fill_value=0).sort_index()


def species_areas(individuals: pd.DataFrame, path: Path, title: str = "") -> Path:
    """NEAT species sizes over generations as a stacked area, species in order of birth
    (oldest at the bottom), each large enough band labelled with its id."""
    plt = _plt()
    sizes = species_sizes(individuals)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    cmap = plt.get_cmap("tab20")
    colors = [cmap(int(s) % 20) for s in sizes.columns]
    gens = sizes.index.to_numpy()
    ax.stackplot(gens, sizes.T.to_numpy(), colors=colors, edgecolor="white", linewidth=0.3)
    total = sizes.sum(axis=1).max()
    below = sizes.cumsum(axis=1) - sizes
    for s in sizes.columns:
        g = sizes[s].idxmax()
        if sizes.at[g, s] >= 0.06 * total:
            ha = "left" if g == gens.min() else "right" if g == gens.max() else "center"
            ax.text(g, below.at[g, s] + sizes.at[g, s] / 2, str(s), ha=ha, va="center", fontsize=7)
    ax.set_xlim(gens.min(), max(gens.max(), gens.min() + 1))
    ax.set_ylim(0, total)
    ax.set_xlabel("generation")
    ax.set_ylabel("members per species")
    ax.set_title(title or f"{sizes.shape[1]} species over {len(gens)} generations")
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


# ---- spike raster ---------------------------------------------------------------------------

def _raster_panel(ax, bar, values: np.ndarray, labels: list[str], name: str, color: str, spikes: bool,
                  inches: float) -> None:
    """One group of rows, ``inches`` tall: spikes as ticks (or input currents as an image)
    over time on ``ax``, each row's firing rate (or mean input) as a bar on ``bar``."""
    T, n = values.shape
    if spikes:
        t, j = np.nonzero(values)
        tick = min(12.0, max(1.5, 0.7 * 72 * inches / max(n, 1)))  # points: most of a row's height
        ax.scatter(t, j, s=tick ** 2, marker="|", c=color, linewidths=0.8)
        rate = values.mean(axis=0)
        bar.barh(np.arange(n), rate, color=color, height=0.8)
        bar.set_xlim(0, max(1.0, float(rate.max(initial=0))))
        bar.set_xlabel("spikes / step", fontsize=8)
    else:
        lim = max(float(np.abs(values).max(initial=0)), 1e-9)
        ax.imshow(values.T, aspect="auto", origin="lower", cmap=WEIGHT_CMAP, vmin=-lim, vmax=lim,
                  extent=(-0.5, T - 0.5, -0.5, n - 0.5), interpolation="nearest")
        mean = values.mean(axis=0)
        bar.barh(np.arange(n), mean, color=np.where(mean >= 0, "tab:blue", "tab:red"), height=0.8)
        bar.axvline(0, color="black", lw=0.5)
        bar.set_xlabel("mean input", fontsize=8)
    ax.set_xlim(-0.5, T - 0.5)
    ax.set_ylim(-0.5, n - 0.5)
    bar.set_ylim(-0.5, n - 0.5)
    ax.set_ylabel(name)
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if n <= 24:
        ax.set_yticks(np.arange(n), labels, fontsize=7)
    else:  # automatic ticks, labelled with the rows' names
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: labels[int(v)] if 0 <= v < n else ""))
        ax.tick_params(axis="y", labelsize=7)
    bar.set_yticks([])
    bar.tick_params(labelsize=7)


def spike_raster(spikes: np.ndarray, n_out: int, path: Path, title: str = "", *, inputs: np.ndarray | None = None,
                 neurons: np.ndarray | None = None) -> Path:
    """spikes (T, N) of one sample or episode (outputs are neurons 0..n_out-1), in labelled
    panels (inputs, hidden, outputs), each row with its firing rate beside it. ``inputs``
    (T, n_in): the network's input, drawn as spikes when it is 0/1 and as an image of
    currents otherwise; ``neurons``: the neurons to draw (default all; e.g. not padding)."""
    plt = _plt()
    T, N = spikes.shape
    real = np.arange(N) if neurons is None else np.asarray(neurons, np.int64)
    out_idx, hid_idx = real[real < n_out], real[real >= n_out]
    panels = []
    if inputs is not None:
        x = np.asarray(inputs, np.float64).reshape(T, -1)
        is_spikes = bool(np.isin(x, (0.0, 1.0)).all())
        panels.append((x, [f"i{i}" for i in range(x.shape[1])], "input" + (" spikes" if is_spikes else " current"),
                       "tab:gray", is_spikes))
    if hid_idx.size:
        panels.append((spikes[:, hid_idx], [f"n{j}" for j in hid_idx], "hidden", "tab:blue", True))
    panels.append((spikes[:, out_idx], [f"n{j}" for j in out_idx], "output", "tab:red", True))
    heights = [min(4.5, max(0.9, 0.16 * p[0].shape[1] + 0.5)) for p in panels]
    fig, axes = plt.subplots(len(panels), 2, figsize=_inches(9, sum(heights) + 1.2), squeeze=False,
                             gridspec_kw={"height_ratios": heights, "width_ratios": [6, 1]})
    for k, ((values, labels, name, color, is_spikes), (ax, bar)) in enumerate(zip(panels, axes)):
        _raster_panel(ax, bar, values, labels, name, color, is_spikes, heights[k])
        if k < len(panels) - 1:
            ax.tick_params(labelbottom=False)
    axes[-1, 0].set_xlabel("LIF step")
    axes[0, 0].set_title(title or f"{int(spikes[:, real].sum())} spikes of {real.size} neurons in {T} steps")
    return _save(plt, fig, path)


# ---- topology -------------------------------------------------------------------------------

def _depths(w_rec: np.ndarray, hidden: list[int]) -> dict[int, int]:
    """Column of each hidden neuron: 1 + the longest path to it from neurons fed by
    nothing else hidden, where neurons on a common cycle (a strongly connected component)
    share a column, so a recurrent group is one layer, not a chain."""
    n = len(hidden)
    if not n:
        return {}
    a = w_rec[np.ix_(hidden, hidden)] != 0
    np.fill_diagonal(a, False)
    reach = a | np.eye(n, dtype=bool)
    for k in range(n):  # transitive closure (Floyd-Warshall)
        reach |= reach[:, k:k + 1] & reach[k:k + 1, :]
    same = reach & reach.T
    comp = same.argmax(axis=1)  # each neuron's component, by its first member
    depth = np.ones(n, np.int64)
    # a component's ancestors are a strict subset of those of any component it reaches
    for c in sorted(set(comp.tolist()), key=lambda c: (int(reach[:, c].sum()), c)):
        members = comp == c
        preds = a[:, members].any(axis=1) & ~members
        depth[members] = depth[preds].max() + 1 if preds.any() else 1
    return {j: int(d) for j, d in zip(hidden, depth)}


def _layout(net: NetworkBatch, real: np.ndarray, draw_inputs: bool) -> tuple[dict, list[list]]:
    """Positions of the nodes (("i", k) inputs, ("i", "all") one box for them all, ("n", j)
    neurons) and the columns as lists of nodes: inputs, hidden layers by depth, outputs."""
    O = net.n_out
    hidden = [int(j) for j in real if j >= O]
    depth = _depths(net.w_rec[0], hidden)
    n_cols = max(depth.values(), default=0) + 2
    columns: list[list] = [[] for _ in range(n_cols)]
    columns[0] = [("i", k) for k in range(net.n_in)] if draw_inputs else [("i", "all")]
    for j in hidden:
        columns[depth[j]].append(("n", j))
    columns[-1] = [("n", j) for j in range(O)]
    pos = {}
    for c, nodes in enumerate(columns):
        for k, node in enumerate(nodes):
            pos[node] = (c * COLUMN_GAP, (len(nodes) - 1) / 2 - k)
    return pos, columns


def _bezier(p0, c, p1, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(c) + t ** 2 * np.asarray(p1)


def _control(p0, p1, rad: float) -> np.ndarray:
    """The control point of a quadratic curve from p0 to p1 bent by ``rad`` (as matplotlib's arc3)."""
    (x0, y0), (x1, y1) = p0, p1
    return np.array([(x0 + x1) / 2 + rad * (y1 - y0), (y0 + y1) / 2 - rad * (x1 - x0)])


def _bend(p0, p1, others: np.ndarray, least: float = 0.0) -> np.ndarray:
    """A control point for the edge p0 -> p1 whose curve passes no other node: straight
    where it can be (``least`` 0), else bent a little more each try, either way."""
    rads = [r for r in (0.0, 0.15, 0.25, 0.35, 0.5, 0.7, 0.9, 1.2) if r >= least]
    for rad in rads:
        for sign in (1, -1):
            c = _control(p0, p1, sign * rad)
            if not len(others):
                return c
            pts = _bezier(p0, c, p1)[2:-2]
            d = np.sqrt(((pts[:, None, :] - others[None, :, :]) ** 2).sum(-1)).min()
            if d > 1.4 * NODE_R:
                return c
    return _control(p0, p1, rads[-1])


def _edge_path(p0, p1, others: np.ndarray, recurrent: bool) -> np.ndarray:
    """Three points (start, control, end) of the curve from node p0 to node p1, cut at the
    nodes' rims; a recurrent edge is always bent (an arc)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    c = _bend(p0, p1, others, least=0.3 if recurrent else 0.0)
    a = p0 + NODE_R * (c - p0) / max(np.linalg.norm(c - p0), 1e-9)
    b = p1 + NODE_R * (c - p1) / max(np.linalg.norm(c - p1), 1e-9)
    if np.allclose(c, (p0 + p1) / 2):
        c = (a + b) / 2
    return np.stack([a, c, b])


def _loop_path(p) -> np.ndarray:
    """Points of a ring above the node, leaving it on the right and coming back on the left."""
    r = 0.55 * NODE_R
    center = np.array([p[0], p[1] + NODE_R + 0.6 * r])
    angles = np.radians(np.linspace(-40, 220, 30))
    return center + r * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _geometry(net: NetworkBatch, real: np.ndarray, draw_inputs: bool) -> dict[str, Any]:
    """Everything the graph draws: node positions, columns, and each edge as (kind, points,
    colour, width, dashed) with kind "curve" (start, control, end) or "loop" (a polyline)."""
    pos, columns = _layout(net, real, draw_inputs)
    w_in, w_rec = net.w_in[0], net.w_rec[0]
    wmax = max(float(np.abs(w_in).max(initial=0)), float(np.abs(w_rec).max(initial=0)), 1e-9)
    col_of = {node: c for c, nodes in enumerate(columns) for node in nodes}
    if draw_inputs:
        pairs = [(("i", int(i)), ("n", int(j)), float(w_in[i, j])) for i, j in zip(*np.nonzero(w_in))]
    else:  # one grey arrow per neuron the inputs feed
        pairs = [(("i", "all"), ("n", int(j)), None) for j in np.flatnonzero((w_in != 0).any(axis=0))]
    pairs += [(("n", int(i)), ("n", int(j)), float(w_rec[i, j])) for i, j in zip(*np.nonzero(w_rec))]
    nodes = [n for n in pos if n != ("i", "all")]
    xy = np.array([pos[n] for n in nodes])
    edges = []
    for a, b, w in pairs:
        color = "tab:gray" if w is None else ("tab:blue" if w > 0 else "tab:red")
        width = 1.0 if w is None else 0.4 + 2.2 * abs(w) / wmax
        if a == b:
            edges.append(("loop", _loop_path(pos[a]), color, width, False))
            continue
        recurrent = col_of[b] <= col_of[a]
        others = xy[[n not in (a, b) for n in nodes]]
        edges.append(("curve", _edge_path(pos[a], pos[b], others, recurrent), color, width, recurrent))
    pts = [np.array(list(pos.values()))] + [_bezier(*e[1]) if e[0] == "curve" else e[1] for e in edges]
    pts = np.concatenate(pts)
    tall = max(len(c) for c in columns)
    box = (-0.6, (len(columns) - 1) * COLUMN_GAP + 0.6,
           min(pts[:, 1].min(), -(tall - 1) / 2) - 0.5, max(pts[:, 1].max(), (tall - 1) / 2) + 0.8)
    return {"pos": pos, "columns": columns, "edges": edges, "box": box}


def _graph(ax, net: NetworkBatch, geo: dict[str, Any]) -> None:
    """The layered drawing of network 0 (:func:`_geometry`) on ``ax``."""
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as MPath

    for kind, pts, color, width, dashed in geo["edges"]:
        path = MPath(pts, [MPath.MOVETO, MPath.CURVE3, MPath.CURVE3]) if kind == "curve" else MPath(pts)
        head = "-|>,head_length=0.5,head_width=0.25" if kind == "curve" else "-|>,head_length=0.4,head_width=0.2"
        ax.add_patch(FancyArrowPatch(path=path, arrowstyle=head, mutation_scale=12, color=color, lw=width,
                                     alpha=0.75, linestyle="--" if dashed else "-", zorder=2))
    columns, (x0, x1, y0, y1) = geo["columns"], geo["box"]
    for node, (x, y) in geo["pos"].items():
        if node == ("i", "all"):
            h = max(1.0, max(len(c) for c in columns[1:]) - 1.0)
            ax.add_patch(FancyBboxPatch((x - 0.3, -h / 2), 0.6, h, boxstyle="round,pad=0.05", fc="whitesmoke",
                                        ec="black", zorder=3))
            ax.text(x, 0, f"{net.n_in}\ninputs\n(W_in\nimage)", ha="center", va="center", fontsize=7, zorder=4)
            continue
        face = "lightgray" if node[0] == "i" else ("mistyrose" if node[1] < net.n_out else "white")
        ax.add_patch(Circle((x, y), NODE_R, fc=face, ec="black", zorder=3))
        ax.text(x, y, f"{node[0]}{node[1]}", ha="center", va="center", fontsize=7, zorder=4)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    names = ["inputs"] + [f"hidden {c}" for c in range(1, len(columns) - 1)] + ["outputs"]
    for c, name in enumerate(names):
        ax.text(c * COLUMN_GAP, y1 - 0.05, name, ha="center", va="top", fontsize=8, color="dimgray")


def _w_in_image(w_in: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, str, list]:
    """W_in as an image: per target neuron a tile of its input weights (square input
    counts, tiles in a grid, NaN between them), else inputs x neurons. With the title and
    the tiles' labels as (column, row, text) in image coordinates."""
    n_in = w_in.shape[0]
    side = math.isqrt(n_in)
    if side * side != n_in:
        return w_in[:, targets], f"W_in: inputs x neurons ({n_in} x {len(targets)})", []
    shown = targets[:max(1, MAX_TILE_PIXELS // n_in)]
    named = len(shown) <= 36  # few tiles: each labelled with its neuron, in a wider gap
    step = side + max(1, side // 3 if named else side // 8)
    cols = math.ceil(math.sqrt(len(shown)))
    rows = math.ceil(len(shown) / cols)
    img = np.full((rows * step - (step - side), cols * step - (step - side)), np.nan)
    for k, j in enumerate(shown):
        r, c = divmod(k, cols)
        img[r * step:r * step + side, c * step:c * step + side] = w_in[:, j].reshape(side, side)
    more = f", the first {len(shown)} of {len(targets)}" if len(shown) < len(targets) else ""
    labels = [((k % cols) * step + (side - 1) / 2, (k // cols) * step - 0.5, f"n{j}")
              for k, j in enumerate(shown)] if named else []
    return img, f"W_in: {side}x{side} input weights per neuron, one tile each{more}", labels


def _heat(fig, ax, img: np.ndarray, title: str, tiles: bool = False, pad: float = 6.0) -> Any:
    """A weight image on ``ax``: zero white, red negative, blue positive, NaN light grey;
    ``tiles``: square pixels and no ticks."""
    import matplotlib

    lim = max(float(np.nanpercentile(np.abs(img), 99)) if np.isfinite(img).any() else 1.0, 1e-9)
    cmap = matplotlib.colormaps[WEIGHT_CMAP].with_extremes(bad="lightgray")
    im = ax.imshow(img, cmap=cmap, vmin=-lim, vmax=lim, aspect="equal" if tiles else "auto", interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8, label="weight")
    ax.set_title(title, fontsize=9, pad=pad)
    if tiles:
        ax.set_xticks([])
        ax.set_yticks([])
    return im


def _ticks(ax, axis: str, ids: np.ndarray, prefix: str) -> None:
    """Label an image axis with neuron or input ids where there are few of them."""
    if len(ids) <= 24:
        getattr(ax, f"set_{axis}ticks")(np.arange(len(ids)), [f"{prefix}{j}" for j in ids], fontsize=7)


def _w_in_panel(fig, ax, w_in: np.ndarray, targets: np.ndarray) -> None:
    img, what, labels = _w_in_image(w_in, targets)
    tiles = not what.startswith("W_in: inputs x")
    _heat(fig, ax, img, what, tiles, pad=14.0 if labels else 6.0)
    for x, y, text in labels:
        ax.text(x, y, text, ha="center", va="bottom", fontsize=7)
    if not tiles:
        ax.set_xlabel("neuron")
        ax.set_ylabel("input")
        _ticks(ax, "x", targets, "n")
        _ticks(ax, "y", np.arange(w_in.shape[0]), "i")


def _w_rec_panel(fig, ax, w_rec: np.ndarray) -> None:
    """Neuron-to-neuron weights, targets x sources, without neurons that have none."""
    rows, cols = np.flatnonzero((w_rec != 0).any(axis=1)), np.flatnonzero((w_rec != 0).any(axis=0))
    sub = w_rec[np.ix_(rows, cols)] if rows.size and cols.size else np.zeros((1, 1))
    _heat(fig, ax, sub.T, f"neuron to neuron weights ({cols.size} targets x {rows.size} sources)")
    ax.set_xlabel("source neuron (those with synapses, in order)")
    ax.set_ylabel("target neuron")
    _ticks(ax, "x", rows, "n")
    _ticks(ax, "y", cols, "n")
    if max(rows.size, cols.size) <= 24:
        ax.set_aspect("equal")


def topology(net: NetworkBatch, path: Path, title: str = "") -> Path:
    """Network 0 of ``net``, laid out in layers: inputs left, hidden neurons by depth,
    outputs right; arrows blue excitatory, red inhibitory, width by |weight|; recurrent
    edges (to the same or an earlier layer) dashed arcs, self-loops rings; edges bend
    around nodes. More than MAX_INPUT_NODES inputs: W_in as an image beside the graph;
    more than MAX_GRAPH_EDGES synapses between neurons: their weights as an image beside
    it too; more than MAX_GRAPH_NEURONS neurons, MAX_COLUMN_NODES in a layer or
    MAX_DRAWN_EDGES edges: no graph, only the weight images. No side longer than
    MAX_INCHES."""
    plt = _plt()
    net = dense(net)  # a LayeredBatch in its dense form
    real = np.flatnonzero(np.isfinite(net.threshold[0]))
    w_in, w_rec = net.w_in[0], net.w_rec[0]
    n_syn = int((w_in != 0).sum() + (w_rec != 0).sum())
    wide = net.n_in > MAX_INPUT_NODES
    geo = _geometry(net, real, not wide) if real.size <= MAX_GRAPH_NEURONS else None
    if geo is not None and (max(map(len, geo["columns"])) > MAX_COLUMN_NODES or len(geo["edges"]) > MAX_DRAWN_EDGES):
        geo = None  # too many nodes in a layer, or too many edges, to tell apart
    graph = geo is not None
    busy = int((w_rec != 0).sum()) > MAX_GRAPH_EDGES
    panels = (["graph"] if graph else []) + (["w_in"] if wide or not graph else []) + \
        (["w_rec"] if busy or not graph else [])
    if geo is not None:
        x0, x1, y0, y1 = geo["box"]
        gw, gh = INCH_PER_UNIT * (x1 - x0), INCH_PER_UNIT * (y1 - y0) + 0.5
    else:
        gw, gh = 0.0, 5.0
    width = gw + 6.0 * (len(panels) - (1 if graph else 0))
    fig, axes = plt.subplots(1, len(panels), figsize=_inches(max(width, 5.0), max(gh, 4.0)), squeeze=False,
                             gridspec_kw={"width_ratios": [gw if p == "graph" else 6.0 for p in panels]})
    for name, ax in zip(panels, axes[0]):
        if name == "graph":
            _graph(ax, net, geo)
        elif name == "w_in":
            targets = np.flatnonzero((w_in != 0).any(axis=0))
            _w_in_panel(fig, ax, w_in, targets if targets.size else real)
        else:
            _w_rec_panel(fig, ax, w_rec)
    hidden = real.size - net.n_out
    counts = (f"{net.n_in} inputs, {hidden} hidden, {net.n_out} output{'s' * (net.n_out != 1)}, "
              f"{n_syn} synapses")
    fig.suptitle(f"{title}: {counts}" if title else counts, fontsize=10)
    return _save(plt, fig, path)


# ---- across runs ----------------------------------------------------------------------------

def compare_curves(df: pd.DataFrame, by: str, path: Path, metric: str = "best_ever", x: str = "evaluations",
                   title: str = "") -> Path:
    """Median and interquartile band of ``metric`` against ``x`` for each group ``by``
    (:func:`evo.app.compare.group_curves`: each run carried forward after it stops)."""
    plt = _plt()
    curves = group_curves(df, by, metric, x)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for name, c in curves.groupby(by, sort=True):
        line, = ax.step(c["x"], c["median"], where="post", label=f"{name} (n={int(c['runs'].max())})")
        ax.fill_between(c["x"], c["q25"], c["q75"], step="post", alpha=0.25, color=line.get_color())
        ax.plot(c["x"].iloc[-1:], c["median"].iloc[-1:], "o", color=line.get_color(), markersize=4)
    ax.set_xlabel({"seconds": "seconds (ask, evaluate, tell)"}.get(x, x))
    ax.set_ylabel(f"{metric} (median, interquartile band)")
    ax.set_title(title)
    ax.legend()
    return _save(plt, fig, path)


# ---- one run --------------------------------------------------------------------------------

def run_plots(run: Run, task: Any = None, net: NetworkBatch | None = None, seed: int = 0,
              say: Callable[[str], None] | None = None) -> list[Path]:
    """The pictures of one run, written into its directory: fitness.png, species.png (NEAT,
    or any strategy that records species), pareto.png (multi-objective strategies) and,
    given the best network ``net`` and its ``task``, topology.png and raster.png (the
    task's ``record`` on ``seed``, with the input where its ``record`` takes ``inputs``;
    where ``record`` fails, ``say`` hears why and there is no raster)."""
    path = Path(run.path)
    title = f"{run.summary.get('task')} / {run.summary.get('strategy')}"
    written = [fitness_curves(run.metrics, path / "fitness.png", title)]
    ind = run.individuals
    neat = run.config.get("strategy", {}).get("name") == "neat"
    if ind is not None and "species" in ind and len(ind) and (neat or ind["species"].nunique() > 1):
        written.append(species_areas(ind, path / "species.png", f"{title}: species"))
    if (path / PARETO).is_file() and (path / PARETO_JSON).is_file():
        objectives = read_json(path / PARETO_JSON)["objectives"]
        written.append(pareto_fronts(read_parquet(path / PARETO), objectives, path / "pareto.png",
                                     f"{title}: Pareto fronts"))
    if net is not None:
        written.append(topology(net, path / "topology.png", title))
        if task is not None and task.can_record:
            try:
                if "inputs" in inspect.signature(task.record).parameters:
                    spikes, inputs = task.record(net, seed, inputs=True)
                else:  # a task written before record gave its input
                    spikes, inputs = task.record(net, seed), None
                spikes = np.asarray(spikes, dtype=np.float64)
                if spikes.ndim != 2 or (inputs is not None and np.ndim(inputs) != 2):
                    raise TaskError(f"it gave spikes of shape {spikes.shape}"
                                    f"{'' if inputs is None else f' and inputs of shape {np.shape(inputs)}'}; "
                                    f"expected (T, N) and (T, n_inputs)")
            except Exception as exc:  # the task's own code: the other pictures stand
                if say is not None:
                    why = exc if isinstance(exc, TaskError) else f"{type(exc).__name__}: {exc}"
                    say(f"(no raster: task {task.task_name!r}'s record failed: {why})")
                return written
            real = np.flatnonzero(np.isfinite(dense(net).threshold[0]))
            written.append(spike_raster(spikes, net.n_out, path / "raster.png", inputs=inputs, neurons=real))
    return written
