"""Export a network to NIR (the Neuromorphic Intermediate Representation) and back.

The graph holds the first network of a batch, its padding neurons (infinite thresholds)
dropped, N neurons::

    input (n_in) -> w_in (Affine: W_in^T of the delay-0 input synapses, bias) -> lif
    lif -> w_rec (Affine: W_rec^T of the delay-1 synapses, zero bias) -> lif
    lif -> output
    and with delays, one branch per other delay d that a non-zero weight has:
    input -> delay_in_d (Delay: d on every channel) -> w_in_d (Affine: W_in^T of the
             input synapses of delay d, zero elsewhere; zero bias) -> lif
    lif -> delay_rec_d (Delay: d - 1 on every neuron) -> w_rec_d (Affine, zero bias) -> lif

NIR sums the edges into a node. A recurrent edge (a cycle through ``lif``) acts one step
later (docs/design.md, "Networks"), so a synapse between neurons of delay d is a Delay of
d - 1 steps plus the cycle's step, and an input synapse of delay d a Delay of d steps;
Delay values are times with dt = 1. Without delays the graph is the first three lines.

Neurons, as snnTorch exports ``Leaky`` and ``Synaptic``, with time step dt = 1 and a time
constant ``dt / (1 - decay)`` (``2**30 dt`` for a decay of 1, no leak: finite, so that every
parameter a tool computes from it is, and ``1 - dt / tau`` rounds to 1 in float32):

- ``lif`` -> NIR ``LIF``: ``tau = dt / (1 - beta)``, ``r = tau / dt`` (the input enters
  with weight 1 per step), ``v_leak = 0``, ``v_threshold = threshold``, ``v_reset = 0``.
- ``cuba`` -> NIR ``CubaLIF``: ``tau_syn = dt / (1 - alpha)``, ``tau_mem = dt / (1 - beta)``,
  ``r = tau_mem / dt``, ``w_in = tau_syn / dt``, ``v_leak = 0``, ``v_threshold``,
  ``v_reset = 0``. Forward Euler of NIR's equations with step dt, the current first, then
  gives ``i[t] = alpha i[t-1] + I[t]`` and ``v[t] = beta v[t-1] + i[t]`` (neurons.models).
- ``alif`` (adaptive threshold) has no NIR node: export refuses it.

NIR's neurons reset to ``v_reset``; our default reset subtracts the threshold, so the
graph's metadata records ``reset`` ("subtract" or "zero"), ``n_out`` (neurons 0..n_out-1
are the outputs) and ``dt``. Reading a graph written here rebuilds the same float32
weights, thresholds, biases and delays, and the same decays (``1 - dt / tau``, exact for
0 and every float32 decay from 2**-29 to 1), so the round trip gives identical spikes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurons import NetworkBatch, dense
from neurons.extras import install_hint
from neurons.lif import check_reset

from ..errors import ConfigError, RunDirError, one_line

__all__ = ["to_nir", "from_nir", "write_nir", "read_nir"]

DT = 1.0


def _nir():
    try:
        import nir
    except ImportError:
        raise ConfigError(f"NIR export needs the nir package: {install_hint('nir')}") from None
    return nir


NO_LEAK_TAU = 2.0**30 * DT  # the time constant written for a decay of 1 (larger than any decay < 1 gives)


def _tau(decay: np.ndarray) -> np.ndarray:
    """The time constant ``dt / (1 - decay)`` of per-step decays (NO_LEAK_TAU for 1), float64."""
    decay = decay.astype(np.float64)
    with np.errstate(divide="ignore"):
        return np.where(decay < 1.0, DT / (1.0 - decay), NO_LEAK_TAU)


def _decay(tau) -> np.ndarray:
    """The per-step decay ``1 - dt / tau`` of time constants (1 for NO_LEAK_TAU and for inf,
    which files written before NO_LEAK_TAU hold), float32."""
    tau = np.asarray(tau, np.float64)
    with np.errstate(divide="ignore"):
        return np.where(np.isinf(tau), 1.0, 1.0 - DT / tau).astype(np.float32)


def _by_delay(w: np.ndarray, delay: np.ndarray | None, default: int) -> list[tuple[int, np.ndarray]]:
    """``w`` split by the delays of its non-zero weights: (delay, weights of that delay, zero
    elsewhere), ascending, always with the default delay first."""
    if delay is None:
        return [(default, w)]
    used = sorted({default} | {int(d) for d in np.unique(delay[w != 0])})
    return [(d, np.where(delay == d, w, np.float32(0.0)).astype(np.float32)) for d in used]


def to_nir(net: NetworkBatch, reset: str = "subtract"):
    """The first network of ``net`` (padding neurons dropped) as a ``nir.NIRGraph``. A
    padding neuron has an infinite threshold, no synapse in or out and no bias; a neuron
    that never spikes but has them (a membrane read out, an output) is kept."""
    nir = _nir()
    net = dense(net)  # a LayeredBatch in its dense form
    reset = check_reset(reset)
    if net.model == "alif":
        raise ConfigError("export: the alif neuron model (adaptive threshold) has no NIR node; "
                          "NIR can hold lif and cuba networks")
    w0 = net.w_rec[0]
    used = (np.isfinite(net.threshold[0]) | (net.bias[0] != 0) | (net.w_in[0] != 0).any(axis=0)
            | (w0 != 0).any(axis=0) | (w0 != 0).any(axis=1))
    used[:net.n_out] = True  # outputs stay neurons 0 .. n_out - 1
    real = np.flatnonzero(used)
    n = real.size
    w_in = net.w_in[0][:, real]
    w_rec = net.w_rec[0][np.ix_(real, real)]
    d_in = None if net.delay_in is None else net.delay_in[0][:, real]
    d_rec = None if net.delay_rec is None else net.delay_rec[0][np.ix_(real, real)]
    tau = _tau(net.beta[0, real])
    threshold = net.threshold[0, real].astype(np.float64)
    if net.model == "cuba":
        tau_syn = _tau(net.alpha[0, real])
        neuron = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau, r=tau / DT, v_leak=np.zeros(n), v_threshold=threshold,
                             v_reset=np.zeros(n), w_in=tau_syn / DT)
    else:
        neuron = nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(n), v_threshold=threshold, v_reset=np.zeros(n))
    zero = np.zeros(n, np.float32)
    ins, recs = _by_delay(w_in, d_in, 0), _by_delay(w_rec, d_rec, 1)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([net.n_in])}),
        "w_in": nir.Affine(weight=ins[0][1].T.copy(), bias=net.bias[0, real].astype(np.float32)),
        "lif": neuron,
        "w_rec": nir.Affine(weight=recs[0][1].T.copy(), bias=zero),
        "output": nir.Output(output_type={"output": np.array([n])}),
    }
    edges = [("input", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")]
    for kind, source, groups, shift, width in (("in", "input", ins, 0, net.n_in), ("rec", "lif", recs, 1, n)):
        for d, w in groups[1:]:
            nodes[f"delay_{kind}_{d}"] = nir.Delay(delay=np.full(width, (d - shift) * DT))
            nodes[f"w_{kind}_{d}"] = nir.Affine(weight=w.T.copy(), bias=zero)
            edges += [(source, f"delay_{kind}_{d}"), (f"delay_{kind}_{d}", f"w_{kind}_{d}"), (f"w_{kind}_{d}", "lif")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"producer": "evospike", "reset": reset,
                                                             "n_out": int(net.n_out), "dt": DT})


def _branches(graph, nir) -> list[tuple[str, int, object]]:
    """The Affine nodes feeding ``lif``, each as (``input`` or ``lif``: its source, delay in
    steps under this module's convention, the node)."""
    into: dict[str, list[str]] = {}
    for a, b in graph.edges:
        into.setdefault(b, []).append(a)
    out = []
    for name in into["lif"]:
        node = graph.nodes[name]
        if not isinstance(node, nir.Affine) or len(into.get(name, ())) != 1:
            raise ValueError(f"node {name!r} feeding lif is not an Affine with one source")
        src = into[name][0]
        steps = 0.0
        if isinstance(graph.nodes[src], nir.Delay):
            delay = np.asarray(graph.nodes[src].delay, np.float64) / DT
            if len(into.get(src, ())) != 1 or delay.size == 0 or (delay != delay.flat[0]).any() \
                    or delay.flat[0] != np.round(delay.flat[0]) or delay.flat[0] < 0:
                raise ValueError(f"Delay {src!r}: expected one source and one whole number of steps")
            steps, src = float(delay.flat[0]), into[src][0]
        if src not in ("input", "lif"):
            raise ValueError(f"node {name!r} is fed by {src!r}, not by input or lif")
        out.append((src, int(steps) + (1 if src == "lif" else 0), node))  # the cycle: one step
    return out


def _merge(shape: tuple[int, int], groups: list[tuple[int, np.ndarray]], default: int):
    """Weights (float32) and delays (int32, or None when all are ``default``) of disjoint
    per-delay weight matrices."""
    w = np.zeros(shape, np.float32)
    delay = np.full(shape, default, np.int32)
    for d, g in sorted(groups, key=lambda dg: dg[0]):
        mask = g != 0
        if (mask & (w != 0)).any():
            raise ValueError(f"a synapse has non-zero weights in two branches (delay {d})")
        w[mask] = g[mask]
        delay[mask] = d
    return w, (None if (delay == default).all() else delay)


def _check_scale(name: str, value, tau) -> None:
    """Refuse a neuron whose ``name`` is not ``tau / dt``, the scaling this module writes."""
    if not np.allclose(np.asarray(value, np.float64), np.asarray(tau, np.float64) / DT, rtol=1e-6, atol=0):
        raise ValueError(f"lif.{name} is not tau / dt with dt = {DT:g}, the convention of this module")


def from_nir(graph) -> tuple[NetworkBatch, str]:
    """A NetworkBatch of one network (and its reset mode) from a graph written by :func:`to_nir`."""
    nir = _nir()
    try:
        lif, meta = graph.nodes["lif"], graph.metadata
        n = np.asarray(lif.v_threshold).size
        n_in = int(np.asarray(graph.nodes["input"].input_type["input"]).prod())
        ins, recs, bias = [], [], np.zeros(n, np.float32)
        for src, d, node in _branches(graph, nir):
            weight = np.asarray(node.weight, np.float32).T
            (ins if src == "input" else recs).append((d, weight))
            bias = bias + np.asarray(node.bias, np.float32)
        w_in, delay_in = _merge((n_in, n), ins, 0)
        w_rec, delay_rec = _merge((n, n), recs, 1)
        if isinstance(lif, nir.CubaLIF):
            tau, extra = lif.tau_mem, {"alpha": _decay(lif.tau_syn)[None]}
            _check_scale("w_in", lif.w_in, lif.tau_syn)
        elif isinstance(lif, nir.LIF):
            tau, extra = lif.tau, {}
        else:
            raise ValueError(f"lif is a {type(lif).__name__}; expected LIF or CubaLIF")
        _check_scale("r", lif.r, tau)
        beta = _decay(tau)
        if delay_in is not None:
            extra["delay_in"] = delay_in[None]
        if delay_rec is not None:
            extra["delay_rec"] = delay_rec[None]
        net = NetworkBatch(w_in[None], w_rec[None], np.asarray(lif.v_threshold, np.float32)[None], beta[None],
                           bias[None], int(meta.get("n_out", 1)), **extra)
        return net, check_reset(str(meta.get("reset", "subtract")))
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise RunDirError(f"NIR graph: not a network written by evospike ({type(exc).__name__}: {exc})") from None


def write_nir(net: NetworkBatch, path: str | Path, reset: str = "subtract") -> Path:
    """Write the first network of ``net`` to ``path`` as NIR (:func:`to_nir`)."""
    path = Path(path)
    _nir().write(path, to_nir(net, reset))
    return path


def read_nir(path: str | Path) -> tuple[NetworkBatch, str]:
    """The network (and its reset mode) of a NIR file written by :func:`write_nir`."""
    nir = _nir()
    try:
        graph = nir.read(path)
    except FileNotFoundError:
        raise RunDirError(f"NIR file {str(path)!r} does not exist") from None
    except Exception as exc:  # h5py raises several types for a damaged file
        raise RunDirError(f"{str(path)!r}: cannot read NIR ({type(exc).__name__}: {one_line(exc)})") from None
    return from_nir(graph)
