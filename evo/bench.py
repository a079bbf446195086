"""Benchmarks: ``evospike bench NAME``. Each returns a JSON-ready dict and prints a table."""
from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any, Callable

import numpy as np

from . import __version__
from . import config as cfg
from .seeding import derive_seed
from .strategies import make_strategy

__all__ = ["BENCHMARKS", "neat_xor", "scaling"]


def cfg_build(config: dict):
    from .run import build
    return build(config)


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


def scaling(population: int = 256, generations: int = 3, workers: tuple[int, ...] = (1, 2),
            progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Evaluate one fixed CartPole population serially and on Ray with 1, 2, ... workers.

    The population is CMA-ES's first generation for the default CartPole genome (seed 0),
    enlarged to ``population``; each backend evaluates it ``generations`` times (the same
    seeds), after one untimed warm-up call. Overhead per generation: wall time minus the
    actors' evaluation time divided by the number of workers.
    """
    from .distributed import RayEvaluator, init_ray, shutdown
    from .run import make_evaluator
    config = cfg.resolve({"task": {"name": "cartpole"}, "strategy": {"name": "cma", "population": population},
                          "run": {"backend": "serial"}})
    _, space = cfg_build(config)
    X = make_strategy("cma", space, derive_seed(0, 0, "strategy"), population=population).ask()
    seeds = [derive_seed(0, g, "evaluate") for g in range(generations)]
    rows, reference = [], None

    def measure(name: str, evaluator, n_workers: int) -> dict:
        evaluator.evaluate(X, seeds[0])  # warm-up: actor start, imports, caches
        compute, t0 = 0.0, time.perf_counter()
        fits = []
        for s in seeds:
            ev, _ = evaluator.evaluate(X, s)
            fits.append(ev.fitness)
            compute += sum(getattr(evaluator, "last_compute_seconds", []) or [0.0])
        wall = time.perf_counter() - t0
        row = {"backend": name, "workers": n_workers, "population": population, "generations": generations,
               "seconds": wall, "evaluations_per_second": population * generations / wall,
               "overhead_per_generation_s": (wall - compute / n_workers) / generations if compute else 0.0}
        return row, np.concatenate(fits)

    serial = make_evaluator(config)
    row, reference = measure("serial", serial, 1)
    rows.append(row)
    if progress:
        progress(row)
    owns = init_ray(num_cpus=max(workers))
    try:
        for n in workers:
            ev = RayEvaluator(config, workers=n)
            row, fits = measure("ray", ev, n)
            ev.close()
            row["identical_fitness"] = bool(np.array_equal(fits, reference))
            rows.append(row)
            if progress:
                progress(row)
    finally:
        if owns:
            shutdown()
    base = rows[0]["evaluations_per_second"]
    for r in rows:
        r["speedup"] = r["evaluations_per_second"] / base
    return {"benchmark": "scaling", "evospike": __version__, "python": platform.python_version(),
            "cpus": os.cpu_count(), "task": "cartpole", "rows": rows}


def print_scaling_row(r: dict) -> None:
    extra = "" if r["backend"] == "serial" else (f"  overhead {1000 * r['overhead_per_generation_s']:.1f} ms/generation"
                                                  f"  identical fitness: {r['identical_fitness']}")
    print(f"{r['backend']:>6} workers {r['workers']}  {r['evaluations_per_second']:8.1f} evaluations/s  "
          f"({r['seconds']:.2f} s for {r['generations']} x {r['population']}){extra}", flush=True)


BENCHMARKS = {"neat-xor": neat_xor, "scaling": scaling}
