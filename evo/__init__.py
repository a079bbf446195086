"""evospike's evolution layer: genomes, strategies, evaluators, the run loop, results and the CLI."""
__version__ = "0.1.0"
