"""Export a network to NIR (the Neuromorphic Intermediate Representation) and back.

The graph: ``input`` (n_in) -> ``w_in`` (Affine: weight = W_in^T, bias = the neurons' bias)
-> ``lif`` (N neurons) -> ``output``; and ``lif`` -> ``w_rec`` (Affine: weight = W_rec^T, no
bias) -> ``lif``, the recurrent edge, which acts one step later (docs/design.md, "Networks").

Parameters, as in snnTorch's NIR export of a discrete-time LIF with time step dt = 1:
``tau = dt / (1 - beta)`` (inf for beta = 1), ``r = tau / dt`` (so the input enters with
weight 1 per step), ``v_leak = 0``, ``v_threshold = threshold``, ``v_reset = 0``. NIR's LIF
resets to ``v_reset``; our default reset subtracts the threshold instead, so the graph's
metadata records ``reset`` ("subtract" or "zero"), ``n_out`` (neurons 0..n_out-1 are the
outputs) and ``dt``. Reading a graph written here rebuilds the same float32 parameters, so
the round trip gives identical spikes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurons import NetworkBatch, dense

from ..errors import ConfigError, RunDirError

__all__ = ["to_nir", "from_nir", "write_nir", "read_nir"]

DT = 1.0


def _nir():
    try:
        import nir
    except ImportError:
        raise ConfigError("NIR export needs the nir package: pip install 'evospike[nir]'") from None
    return nir


def to_nir(net: NetworkBatch, reset: str = "subtract"):
    """The first network of ``net`` (padding neurons dropped) as a ``nir.NIRGraph``."""
    nir = _nir()
    net = dense(net)  # a LayeredBatch in its dense form
    real = np.flatnonzero(np.isfinite(net.threshold[0]))
    beta = net.beta[0, real].astype(np.float64)
    with np.errstate(divide="ignore"):
        tau = np.where(beta < 1.0, DT / (1.0 - beta), np.inf)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([net.n_in])}),
        "w_in": nir.Affine(weight=net.w_in[0][:, real].T.astype(np.float32), bias=net.bias[0, real].astype(np.float32)),
        "lif": nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(real.size), v_threshold=net.threshold[0, real].astype(np.float64),
                       v_reset=np.zeros(real.size)),
        "w_rec": nir.Affine(weight=net.w_rec[0][np.ix_(real, real)].T.astype(np.float32), bias=np.zeros(real.size, np.float32)),
        "output": nir.Output(output_type={"output": np.array([real.size])}),
    }
    edges = [("input", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"producer": "evospike", "reset": reset,
                                                             "n_out": int(net.n_out), "dt": DT})


def from_nir(graph) -> tuple[NetworkBatch, str]:
    """A NetworkBatch of one network (and its reset mode) from a graph written by :func:`to_nir`."""
    try:
        n = graph.nodes
        w_in, lif, w_rec = n["w_in"], n["lif"], n["w_rec"]
        meta = graph.metadata
        tau = np.asarray(lif.tau, np.float64)
        with np.errstate(divide="ignore"):
            beta = np.where(np.isinf(tau), 1.0, 1.0 - DT / tau).astype(np.float32)
        net = NetworkBatch(np.asarray(w_in.weight, np.float32).T[None], np.asarray(w_rec.weight, np.float32).T[None],
                           np.asarray(lif.v_threshold, np.float32)[None], beta[None],
                           np.asarray(w_in.bias, np.float32)[None], int(meta.get("n_out", 1)))
        return net, str(meta.get("reset", "subtract"))
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise RunDirError(f"NIR graph: not a network written by evospike ({type(exc).__name__}: {exc})") from None


def write_nir(net: NetworkBatch, path: str | Path, reset: str = "subtract") -> Path:
    path = Path(path)
    _nir().write(path, to_nir(net, reset))
    return path


def read_nir(path: str | Path) -> tuple[NetworkBatch, str]:
    nir = _nir()
    try:
        graph = nir.read(path)
    except FileNotFoundError:
        raise RunDirError(f"NIR file {str(path)!r} does not exist") from None
    except Exception as exc:  # h5py raises several types for a damaged file
        raise RunDirError(f"{str(path)!r}: cannot read NIR ({type(exc).__name__}: {exc})") from None
    return from_nir(graph)
