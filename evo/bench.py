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


def scaling_population(population: int = 256, stage: str = "late") -> tuple[dict, np.ndarray]:
    """The benchmark's fixed CartPole population (default config, seed 0).

    ``early``: CMA-ES's first generation, enlarged to ``population`` (random networks: most
    episodes end within a few dozen steps). ``late``: the default CMA-ES run is evolved until
    a network balances for 500 steps, then ``population`` genomes are drawn from its search
    distribution (most balance for long: the expensive generations of a run).
    """
    from .run import build
    config = cfg.resolve({"task": {"name": "cartpole"}, "run": {"backend": "serial"}})
    task, space = build(config)
    if stage == "early":
        es = make_strategy("cma", space, derive_seed(0, 0, "strategy"), population=population)
        return config, es.ask()
    es = make_strategy("cma", space, derive_seed(0, 0, "strategy"))
    for gen in range(200):
        X = es.ask()
        ev = task.evaluate(space.compile(X), derive_seed(0, gen, "evaluate"))
        es.tell(X, ev.fitness)
        if ev.fitness.max() >= task.target:
            break
    return config, es.sample(population)


def scaling(population: int = 256, generations: int = 5, workers: tuple[int, ...] = (1, 2),
            stages: tuple[str, ...] = ("late", "early"),
            progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Evaluate one fixed CartPole population serially and on Ray with 1, 2, ... workers.

    For each population of :func:`scaling_population`, the backends take turns: each round
    every backend evaluates the population once with that round's seed, after one untimed
    warm-up call each; a backend's figure is its median over ``generations`` rounds, so
    drifts in machine load hit every backend alike. Ray's fitness must equal the serial
    backend's exactly. Overhead per generation: wall time minus the actors' evaluation time
    divided by the number of workers (the time Ray adds, including waiting on the slowest chunk).
    """
    from .distributed import RayEvaluator, init_ray, shutdown
    from .run import make_evaluator
    seeds = [derive_seed(0, g, "evaluate") for g in range(generations)]
    rows: list[dict] = []
    owns = init_ray(num_cpus=max(2, sum(workers)))
    try:
        for stage in stages:
            config, X = scaling_population(population, stage)
            backends = [("serial", 1, make_evaluator(config))]
            backends += [("ray", n, RayEvaluator(config, workers=n)) for n in workers]
            walls = {k: [] for k in range(len(backends))}
            overheads = {k: [] for k in range(len(backends))}
            fits = {k: [] for k in range(len(backends))}
            for k, (_, _, e) in enumerate(backends):
                e.evaluate(X, seeds[0])  # warm-up: actor start, imports, caches
            for s in seeds:
                for k, (name, n, e) in enumerate(backends):
                    t0 = time.perf_counter()
                    ev, _ = e.evaluate(X, s)
                    wall = time.perf_counter() - t0
                    walls[k].append(wall)
                    compute = sum(getattr(e, "last_compute_seconds", []) or [])
                    overheads[k].append(wall - compute / n if compute else 0.0)
                    fits[k].append(ev.fitness)
            base = len(X) / statistics.median(walls[0])
            for k, (name, n, e) in enumerate(backends):
                f = np.concatenate(fits[k])
                rate = len(X) / statistics.median(walls[k])
                row = {"population_stage": stage, "backend": name, "workers": n, "population": len(X),
                       "rounds": generations, "mean_return": float(f.mean()),
                       "median_seconds": statistics.median(walls[k]), "evaluations_per_second": rate,
                       "speedup": rate / base, "overhead_per_generation_s": statistics.median(overheads[k]),
                       "identical_fitness": bool(np.array_equal(f, np.concatenate(fits[0])))}
                rows.append(row)
                if progress:
                    progress(row)
                e.close()
    finally:
        if owns:
            shutdown()
    return {"benchmark": "scaling", "evospike": __version__, "python": platform.python_version(),
            "cpus": os.cpu_count(), "task": "cartpole", "rows": rows}


def print_scaling_row(r: dict) -> None:
    extra = "" if r["backend"] == "serial" else (f"  overhead {1000 * r['overhead_per_generation_s']:.1f} ms/generation"
                                                  f"  identical fitness: {r['identical_fitness']}")
    print(f"{r['population_stage']:>5} population (mean return {r['mean_return']:6.1f})  {r['backend']:>6} "
          f"workers {r['workers']}  {r['evaluations_per_second']:8.1f} evaluations/s  {r['speedup']:.2f}x serial  "
          f"(median {r['median_seconds']:.2f} s per generation of {r['population']}){extra}", flush=True)


# task: (strategy, config layer, generations) -- each task's recommended setting
RECOMMENDED: dict[str, tuple[str, dict, int]] = {
    "cartpole": ("cma", {}, 100),
    "acrobot": ("cma", {"run": {"stop_fitness": -80.0}}, 60),
    "mountaincar": ("cma", {}, 60),
    "mountaincar-continuous": ("cma", {}, 60),
    "pendulum": ("cma", {}, 100),
    "double-pole": ("neat", {}, 60),
    # without velocities: two output neurons as leaky filters of the three positions (one fast,
    # one slow: a lead compensator), one network step per 0.02 s, thresholds above reach
    "double-pole-nv": ("cma", {"task": {"name": "double-pole", "velocities": False, "sim_steps": 1},
                               "genome": {"hidden": 0, "threshold": 100.0, "beta": 0.3,
                                          "evolve": ["weights", "betas"]},
                               "strategy": {"sigma0": 2.0, "population": 20}}, 500),
    "xor": ("neat", {}, 300),
    "iris": ("cma", {}, 200),
    "wine": ("cma", {}, 200),
    "breast-cancer": ("cma", {}, 100),
    # a spiking linear layer (no hidden neurons), full training batch, a sharp softmax
    "digits": ("cma", {"task": {"temperature": 10.0}, "genome": {"hidden": 0},
                       "strategy": {"diagonal": True, "population": 64}}, 400),
    "temporal-patterns": ("cma", {}, 300),
}


def task_suite(names: list[str] | None = None, seeds: int = 5, first_seed: int = 0,
               progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Each entry of :data:`RECOMMENDED` with its strategy and budget over ``seeds`` seeds from
    ``first_seed`` (serial backend, run directories in a temporary folder): median validation,
    evaluations used, and for tasks that define solving, how many seeds solved it and the
    median evaluations up to the generation that did."""
    import tempfile

    from .results import load_run
    from .run import run
    names = names or list(RECOMMENDED)
    unknown = [n for n in names if n not in RECOMMENDED]
    if unknown:
        from .errors import ConfigError
        raise ConfigError(f"bench tasks: no recommended setting for {unknown[0]!r}; choose from "
                          f"{', '.join(RECOMMENDED)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            strategy, layer, generations = RECOMMENDED[name]
            per_seed = []
            for seed in range(first_seed, first_seed + seeds):
                config = cfg.resolve({**layer, "task": {"name": name, **layer.get("task", {})},
                                      "strategy": {"name": strategy, **layer.get("strategy", {})},
                                      "run": {**layer.get("run", {}), "seed": seed, "generations": generations,
                                          "backend": "serial",
                                              "quiet": True, "out": tmp, "name": f"{name}-{seed}",
                                              "validate_every": 0}})
                t0 = time.perf_counter()
                run(config, log=None)
                r = load_run(f"{tmp}/{name}-{seed}")
                solved_gen = r.summary.get("solved_generation")
                per_seed.append({"seed": seed, "validation": r.summary["validation"],
                                 "evaluations": r.summary["evaluations"], "best": r.summary["best"],
                                 "solved": solved_gen is not None,
                                 "evaluations_to_solve": (int(r.metrics["evaluations"].iloc[solved_gen])
                                                          if solved_gen is not None else None),
                                 "seconds": time.perf_counter() - t0})
            row = {"task": name, "strategy": strategy, "generations": generations, "seeds": seeds,
                   "median_validation": statistics.median(x["validation"] for x in per_seed),
                   "median_evaluations": statistics.median(x["evaluations"] for x in per_seed),
                   "solved": (sum(x["solved"] for x in per_seed) if hasattr(cfg_build(config)[0], "solved")
                              else None), "runs": per_seed}
            rows.append(row)
            if progress:
                progress(row)
    return {"benchmark": "tasks", "evospike": __version__, "python": platform.python_version(), "rows": rows}


def print_task_row(r: dict) -> None:
    vals = " ".join(f"{x['validation']:.3g}" for x in r["runs"])
    print(f"{r['task']:<24} {r['strategy']:<6} median validation {r['median_validation']:10.4g}  "
          f"median evaluations {r['median_evaluations']:8.0f}  "
          f"solved {'-' if r['solved'] is None else r['solved']}/{r['seeds']}  "
          f"(per seed: {vals})", flush=True)


BENCHMARKS = {"neat-xor": neat_xor, "scaling": scaling, "tasks": task_suite}
