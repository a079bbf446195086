"""Benchmarks: ``evospike bench NAME``. Each returns a JSON-ready dict and prints a table."""
from __future__ import annotations

import platform
import statistics
import time
from typing import Any, Callable

import numpy as np

from . import __version__
from . import config as cfg
from .seeding import derive_seed
from .strategies import make_strategy

__all__ = ["BENCHMARKS", "neat_xor"]


def _evolve(config: dict, max_generations: int) -> dict[str, Any]:
    """The run loop without a run directory: evolve until a network solves the task."""
    from .run import build
    seed = int(config["run"]["seed"])
    task, space = build(config)
    opts = {k: v for k, v in config["strategy"].items() if k != "name"}
    strategy = make_strategy(config["strategy"]["name"], space, derive_seed(seed, 0, "strategy"), **opts)
    t0 = time.perf_counter()
    evaluations, eval_seconds = 0, 0.0
    for gen in range(max_generations):
        pop = strategy.ask()
        t1 = time.perf_counter()
        ev = task.evaluate(space.compile(pop), derive_seed(seed, gen, "evaluate"))
        eval_seconds += time.perf_counter() - t1
        evaluations += len(ev)
        solved = np.flatnonzero(task.solved(ev))
        if solved.size:
            i = int(solved[np.argmax(ev.fitness[solved])])
            genome = space.genome(pop, i)
            hidden = sum(n["kind"] == "hidden" for n in genome["nodes"])
            enabled = sum(c["enabled"] for c in genome["connections"])
            return {"seed": seed, "solved": True, "evaluations": evaluations, "generations": gen + 1,
                    "hidden_nodes": hidden, "enabled_connections": enabled,
                    "fitness": float(ev.fitness[i]), "seconds": time.perf_counter() - t0,
                    "evaluations_per_second": evaluations / max(eval_seconds, 1e-9)}
        strategy.tell(pop, ev.fitness)
    return {"seed": seed, "solved": False, "evaluations": evaluations, "generations": max_generations,
            "hidden_nodes": None, "enabled_connections": None, "fitness": float(ev.fitness.max()),
            "seconds": time.perf_counter() - t0, "evaluations_per_second": evaluations / max(eval_seconds, 1e-9)}


def neat_xor(seeds: int = 30, max_generations: int = 300, first_seed: int = 0,
             progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Spiking XOR with the default NEAT config, one independent run per seed."""
    rows = []
    for s in range(first_seed, first_seed + int(seeds)):
        config = cfg.resolve({"task": {"name": "xor"}, "strategy": {"name": "neat"}, "run": {"seed": s}})
        row = _evolve(config, max_generations)
        rows.append(row)
        if progress:
            progress(row)
    solved = [r for r in rows if r["solved"]]
    evals = [r["evaluations"] for r in solved]
    summary = {
        "seeds": len(rows), "solved": len(solved),
        "median_evaluations": statistics.median(evals) if evals else None,
        "mean_evaluations": statistics.mean(evals) if evals else None,
        "max_evaluations": max(evals) if evals else None,
        "median_generations": statistics.median([r["generations"] for r in solved]) if solved else None,
        "median_hidden_nodes": statistics.median([r["hidden_nodes"] for r in solved]) if solved else None,
        "median_enabled_connections": statistics.median([r["enabled_connections"] for r in solved]) if solved else None,
        "total_seconds": sum(r["seconds"] for r in rows),
        "evaluations_per_second": sum(r["evaluations"] for r in rows) / max(sum(r["seconds"] for r in rows), 1e-9),
        "population": rows and config["strategy"]["population"],
        "max_generations": max_generations,
    }
    return {"benchmark": "neat-xor", "evospike": __version__, "python": platform.python_version(),
            "runs": rows, "summary": summary}


def print_neat_xor_row(r: dict) -> None:
    if r["solved"]:
        print(f"seed {r['seed']:3d}  solved  evaluations {r['evaluations']:6d}  generations {r['generations']:4d}  "
              f"hidden {r['hidden_nodes']:2d}  enabled connections {r['enabled_connections']:3d}  "
              f"{r['seconds']:6.2f} s", flush=True)
    else:
        print(f"seed {r['seed']:3d}  NOT solved after {r['evaluations']} evaluations  "
              f"best fitness {r['fitness']:.3f}  {r['seconds']:6.2f} s", flush=True)


def print_neat_xor_summary(s: dict) -> None:
    print(f"solved {s['solved']}/{s['seeds']}; evaluations to solve: median {s['median_evaluations']}, "
          f"mean {s['mean_evaluations'] and round(s['mean_evaluations'])}, max {s['max_evaluations']}; "
          f"median generations {s['median_generations']}, hidden nodes {s['median_hidden_nodes']}, "
          f"enabled connections {s['median_enabled_connections']}; population {s['population']}; "
          f"{s['evaluations_per_second']:.0f} evaluations/s overall; {s['total_seconds']:.1f} s in all")


BENCHMARKS = {"neat-xor": neat_xor}
