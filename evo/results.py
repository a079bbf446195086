"""Read run directories back as pandas objects: ``from evo.results import load_run``.

The readers live in :mod:`evo.rundir.results`; this module keeps the documented import
path and adds the one convenience that needs the training layer: the best genome in the
run's own genome space. Importing it loads no strategy library (pycma, DEAP).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from neurons import kept_kernel

from .rundir import results as _results
from .rundir.results import Run, find_runs, load_run, load_runs, read_individuals
from .training.api import build_recorded

__all__ = ["Run", "load_run", "load_runs", "find_runs", "load_best_genome", "best_network", "read_individuals"]


def load_best_genome(run: Run, space: Any = None, which: str = "best") -> Any:
    """The best genome of a run (``which="center"``: the search center of an openes, pgpe or
    snes run, the network it validated) as a population of one: a (1, D) float64 matrix
    (fixed topology) or a NeatPopulation; ``space`` defaults to the run's own genome space."""
    if space is None:
        space = _space(run)
    return _results.load_best_genome(run, space, which)


def best_network(run: Run | str | Path, which: str = "best") -> Any:
    """The best network of a run (a loaded Run or its directory), compiled in the run's own
    genome space: a batch of one network (``NetworkBatch``, or ``LayeredBatch`` for layered
    genomes), ready for :func:`neurons.simulate`. ``which="center"``: the search center of an
    openes, pgpe or snes run, the network its validation scored."""
    run = run if isinstance(run, Run) else load_run(run)
    space = _space(run)
    return space.compile(_results.load_best_genome(run, space, which))


def _space(run: Run) -> Any:
    """The run's genome space, built without changing this process's kernel setting."""
    with kept_kernel():
        return build_recorded(run.config, run.path)[1]
