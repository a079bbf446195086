"""DEAP's variation on a population array: crossover of consecutive pairs
(``tools.cxSimulatedBinary`` or ``tools.cxBlend``) and Gaussian mutation
(``tools.mutGaussian``), as ``varAnd`` applies them, with the numbers they draw from
Python's ``random``.

DEAP's operators loop over genes in Python: 0.5 s per generation at 100 genomes of 25,000
genes. Where numba is installed, a compiled loop does the same work on the array. It runs
Python's generator itself (MT19937 from the state ``random.getstate()`` gives, the doubles of
``random.random()`` and the Box-Muller pairs of ``random.gauss``, with the C library's
``log``, ``cos``, ``sin`` and ``pow``) and hands the state back, so both paths give the
same bits and leave ``random`` in the same state. A check at first use compares the two
on a small population (both crossovers, a cached Gaussian carried in); where they differ
(another Python or DEAP), numba is missing or the kernel setting is ``numpy``
(``--kernel numpy``: no numba), DEAP's own operators run.
"""
from __future__ import annotations

import random

import numpy as np
from deap import tools

from neurons import current_kernel

__all__ = ["vary", "COMPILED_FROM"]

COMPILED_FROM = 200_000  # genes per generation (population x genome) from which the compiled loop runs:
# DEAP's loops take about 50 ms there; compiling takes about 5 s once per install (loading it 0.2 s)

_kernel = None      # the compiled loop, once checked; False: DEAP's operators
_N = 624            # MT19937 words


def vary(children: np.ndarray, options: dict) -> None:
    """Vary the rows of ``children`` (P, D) float64 in place: each consecutive pair (0, 1),
    (2, 3), ... crossed with probability ``crossover_rate`` (``crossover`` ``"sbx"`` with
    ``eta``, or ``"blend"`` with ``alpha``), then each row mutated with probability
    ``mutation_rate`` (each gene with probability ``mutation_indpb`` gets N(0,
    ``mutation_sigma``)). Draws from Python's ``random``; compiled from ``COMPILED_FROM``
    genes (below, loading the compiled loop costs more than it saves)."""
    kernel = _checked_kernel() if children.size >= COMPILED_FROM and current_kernel() != "numpy" else None
    if kernel is None:
        _vary_deap(children, options)
    else:
        _vary_compiled(children, options, kernel)


def _vary_deap(children: np.ndarray, o: dict) -> None:
    rows = children.tolist()
    for i in range(1, len(rows), 2):
        if random.random() < o["crossover_rate"]:
            if o["crossover"] == "sbx":
                tools.cxSimulatedBinary(rows[i - 1], rows[i], float(o["eta"]))
            else:
                tools.cxBlend(rows[i - 1], rows[i], float(o["alpha"]))
    for row in rows:
        if random.random() < o["mutation_rate"]:
            tools.mutGaussian(row, 0.0, float(o["mutation_sigma"]), float(o["mutation_indpb"]))
    children[:] = rows


def _vary_compiled(children: np.ndarray, o: dict, kernel) -> None:
    version, internal, cached = random.getstate()
    mt = np.array(internal[:_N], np.uint32)
    pos, has_cached, gauss = kernel(children, mt, int(internal[_N]), cached is not None,
                                     0.0 if cached is None else float(cached), o["crossover"] == "sbx",
                                     float(o["eta"]), float(o.get("alpha", 0.5)), float(o["crossover_rate"]),
                                     float(o["mutation_rate"]), float(o["mutation_sigma"]),
                                     float(o["mutation_indpb"]))
    random.setstate((version, tuple(mt.tolist()) + (int(pos),), float(gauss) if has_cached else None))


def _checked_kernel():
    """The compiled loop where numba is installed and it matches DEAP's operators, else None."""
    global _kernel
    if _kernel is None:
        try:
            kernel = _compile()
            _kernel = kernel if _same_as_deap(kernel) else False
        except Exception:  # numba missing (ImportError), or failing: DEAP's operators
            _kernel = False
    return _kernel or None


def _same_as_deap(kernel) -> bool:
    """Both paths from the same states, on populations with odd and even counts."""
    outer = random.getstate()
    try:
        for seed, crossover, shape in ((1, "sbx", (5, 7)), (2, "blend", (4, 9)), (3, "sbx", (6, 3))):
            o = {"crossover": crossover, "eta": 15.0, "alpha": 0.5, "crossover_rate": 0.7, "mutation_rate": 0.8,
                 "mutation_sigma": 0.3, "mutation_indpb": 0.6}
            random.seed(seed)
            random.gauss(0.0, 1.0)  # a cached Gaussian goes in
            start = random.getstate()
            x = np.random.default_rng(seed).normal(size=shape)
            a, b = x.copy(), x.copy()
            _vary_deap(a, o)
            after = random.getstate()
            random.setstate(start)
            _vary_compiled(b, o, kernel)
            if not (np.array_equal(a.view(np.uint64), b.view(np.uint64)) and random.getstate() == after):
                return False
        return True
    finally:
        random.setstate(outer)


def _compile():
    from .compiled_variation import vary_kernel  # loads numba
    return vary_kernel
