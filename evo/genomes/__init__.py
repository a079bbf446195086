"""Genome spaces: how a genome becomes a batch of spiking networks.

``fixed``: a (P, D) float64 matrix of a fixed topology (:class:`FixedTopology`); ``neat``:
node and connection genes of growing topologies (:class:`NeatSpace`). A strategy names the
kind it evolves (``Strategy.genome_space``); :func:`space_class` maps a kind to its class.
"""
from __future__ import annotations

from ..errors import GenomeError
from .fixed import EVOLVABLE, FixedTopology
from .neat import NeatPopulation, NeatSpace

__all__ = ["FixedTopology", "NeatSpace", "NeatPopulation", "EVOLVABLE", "GenomeError", "SPACES", "space_class"]

SPACES: dict[str, type] = {"fixed": FixedTopology, "neat": NeatSpace}


def space_class(kind: str) -> type:
    """The genome space class of kind ``kind`` ("fixed" or "neat")."""
    if kind not in SPACES:
        raise GenomeError(f"genome space {kind!r}; expected one of {', '.join(SPACES)}")
    return SPACES[kind]
