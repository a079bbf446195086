"""The files of a run directory and the columns of its tables (docs/design.md, "Run directory").

runs/NAME/
  config.toml          the fully resolved config, with versions and the host ([meta])
  metrics.parquet      one row per generation (METRIC_COLUMNS)
  individuals.parquet/ one file per generation, gen-NNNNNN.parquet, with a row per individual;
                       ``pandas.read_parquet`` reads the folder as one table
  best.json            the best genome so far, its fitness and generation
  solved.json          the first network that solved the task (tasks that define solving), if any
  center.json          the search center at its last validation (openes, pgpe, snes)
  pareto.parquet       the Pareto front of every generation (multi-objective strategies)
  pareto.json          the last generation's front, with genomes
  checkpoints/         strategy state (JSON + npz) and the loop's state (loop.json)
  summary.json         status, best, validation, evaluations, wall time, solved_generation
  .lock                the advisory lock of the process writing the run (its pid inside)
Every file is written to a temporary file and renamed into place, so a reader (or a resume
after a kill) sees each file either complete or as it was.
"""
from __future__ import annotations

__all__ = ["METRIC_COLUMNS", "TIMING_COLUMNS", "CONFIG", "METRICS", "INDIVIDUALS", "BEST", "SOLVED", "CENTER", "PARETO",
           "PARETO_JSON", "CHECKPOINTS", "LOOP", "SUMMARY", "LOCK", "RUN_FILES", "individuals_part"]

METRIC_COLUMNS = ["generation", "evaluations", "best", "mean", "median", "std", "best_ever", "validation",
                  "n_species", "mean_neurons", "mean_synapses", "mean_spikes", "eval_seconds", "gen_seconds"]
TIMING_COLUMNS = ["eval_seconds", "gen_seconds"]

CONFIG = "config.toml"
METRICS = "metrics.parquet"
INDIVIDUALS = "individuals.parquet"
BEST = "best.json"
SOLVED = "solved.json"
CENTER = "center.json"
PARETO = "pareto.parquet"
PARETO_JSON = "pareto.json"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"
LOOP = "loop.json"
SUMMARY = "summary.json"
# what a run's own code writes and reads back (the MLflow tracker's link and local store too):
# no output of another command may replace one (pictures and report.html are made again)
RUN_FILES = (CONFIG, METRICS, INDIVIDUALS, BEST, SOLVED, CENTER, PARETO, PARETO_JSON, CHECKPOINTS, LOCK, SUMMARY,
             "mlflow.json", "mlflow.db", "mlartifacts")


def individuals_part(generation: int) -> str:
    """The file of generation ``generation``'s individuals inside ``individuals.parquet/``."""
    return f"gen-{int(generation):06d}.parquet"
