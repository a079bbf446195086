"""The top layer: the ``evospike`` command line, benchmarks, plots and export."""
