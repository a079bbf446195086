"""The run directory: its layout, atomic writes, and reading runs back as pandas objects."""
from __future__ import annotations

from .files import atomic_write_bytes, read_json, read_npz, write_json, write_npz, write_parquet, write_toml
from .layout import METRIC_COLUMNS, TIMING_COLUMNS
from .results import Run, find_runs, load_best_genome, load_run, load_runs, read_individuals

__all__ = ["atomic_write_bytes", "read_json", "read_npz", "write_json", "write_npz", "write_parquet", "write_toml",
           "METRIC_COLUMNS", "TIMING_COLUMNS", "Run", "find_runs", "load_best_genome", "load_run", "load_runs",
           "read_individuals"]
