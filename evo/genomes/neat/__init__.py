"""NEAT on arrays: genomes of node and connection genes, stored column-wise for a whole population."""
from .innovations import InnovationRegistry
from .population import NeatPopulation
from .space import NeatSpace

__all__ = ["InnovationRegistry", "NeatPopulation", "NeatSpace"]
