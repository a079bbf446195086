"""Benchmarks: ``evospike bench NAME``. Each returns a JSON-ready dict and prints a table."""
from __future__ import annotations

import difflib
import os
import platform
import statistics
import tempfile
import time
from typing import Any, Callable

import numpy as np

import tasks

from .. import __version__
from ..errors import ConfigError
from ..evaluation import make_evaluator
from ..evaluation.ray import RayEvaluator, init_ray, shutdown
from ..rundir.results import load_run
from ..training import config as cfg
from ..training.api import problem_of, run, serial_trainer
from ..training.callbacks import StopRules

__all__ = ["neat_xor", "scaling", "task_suite", "SUITE"]


def _evolve(config: dict, max_generations: int) -> dict[str, Any]:
    """The training loop without a run directory: evolve until a network solves the task."""
    seed = int(config["run"]["seed"])
    trainer = serial_trainer(config, max_generations)
    space = trainer.space
    t0 = time.perf_counter()
    eval_seconds, result = 0.0, None
    stop = StopRules(stop_on_solved=True)
    while not trainer.done:
        result = trainer.step()
        eval_seconds += result.timings["evaluate"]
        if stop.on_generation(trainer, result) is False:
            i = result.first_solved
            genome = space.genome(result.population, i)
            return {"seed": seed, "solved": True, "evaluations": result.evaluations, "generations": result.generation + 1,
                    "hidden_nodes": sum(n["kind"] == "hidden" for n in genome["nodes"]),
                    "enabled_connections": sum(c["enabled"] for c in genome["connections"]),
                    "fitness": float(result.fitness[i]), "seconds": time.perf_counter() - t0,
                    "eval_seconds": eval_seconds,
                    "evaluations_per_second": result.evaluations / max(eval_seconds, 1e-9)}
    return {"seed": seed, "solved": False, "evaluations": result.evaluations, "generations": max_generations,
            "hidden_nodes": None, "enabled_connections": None, "fitness": float(result.fitness.max()),
            "seconds": time.perf_counter() - t0, "eval_seconds": eval_seconds,
            "evaluations_per_second": result.evaluations / max(eval_seconds, 1e-9)}


def neat_xor(seeds: int = 30, max_generations: int = 300, first_seed: int = 0,
             progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Spiking XOR with the default NEAT config, one independent run per seed, after one
    untimed evaluation that loads (or compiles) the kernels. Per run ``evaluations_per_second``
    is evaluations over evaluation time; the summary's is the same over all runs."""
    rows = []
    for s in range(first_seed, first_seed + int(seeds)):
        config = cfg.resolve({"task": {"name": "xor"}, "strategy": {"name": "neat"}, "run": {"seed": s}},
                             preset=False)
        if not rows:  # warm-up: the process's first evaluation loads the kernels
            warm = serial_trainer(config, 1)
            warm.task.evaluate(warm.space.compile(warm.strategy.ask()), 0)
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
        "evaluations_per_second": sum(r["evaluations"] for r in rows) / max(sum(r["eval_seconds"] for r in rows), 1e-9),
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
          f"{s['evaluations_per_second']:.0f} evaluations/s of evaluation time; {s['total_seconds']:.1f} s in all")


def scaling_population(population: int = 256, stage: str = "late") -> tuple[dict, np.ndarray]:
    """The benchmark's fixed CartPole population (default config, seed 0).

    ``early``: CMA-ES's first generation, enlarged to ``population`` (random networks: most
    episodes end within a few dozen steps). ``late``: the default CMA-ES run is evolved until
    a network balances for 500 steps, then ``population`` genomes are drawn from its search
    distribution (most balance for long: the expensive generations of a run).
    """
    config = cfg.resolve({"task": {"name": "cartpole"}, "strategy": {"name": "cma"}, "run": {"backend": "serial"}},
                         preset=False)
    if stage == "early":
        big = {**config, "strategy": {**config["strategy"], "population": population}}
        return config, serial_trainer(big, 1).strategy.ask()
    trainer = serial_trainer(config, 200)
    while not trainer.done and trainer.step().fitness.max() < trainer.task.target:
        pass
    return config, trainer.strategy.sample(population)


def scaling(population: int = 256, generations: int = 5, workers: tuple[int, ...] = (1, 2),
            stages: tuple[str, ...] = ("late", "early"),
            progress: Callable[[dict], None] | None = None,
            notice: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate one fixed CartPole population serially and on Ray with 1, 2, ... workers.

    For each population of :func:`scaling_population`, the backends take turns: each round
    every backend evaluates the population once with that round's seed, after one untimed
    warm-up call each; a backend's figure is its median over ``generations`` rounds, so
    drifts in machine load hit every backend alike. Ray's fitness must equal the serial
    backend's exactly. Overhead per generation: wall time minus the actors' evaluation time
    divided by the number of workers (the time Ray adds, including waiting on the slowest chunk).
    ``notice`` is told what each stage does before its rows are measured.
    """
    rounds = list(range(generations))  # generation g of run seed 0: the evaluation seeds of a run
    rows: list[dict] = []
    owns = init_ray(num_cpus=max(2, sum(workers)))
    try:
        for stage in stages:
            if notice:
                notice(f"{stage} population: " + ("CMA-ES evolving CartPole until a network balances for 500 steps, "
                                                  "then " if stage == "late" else "")
                       + f"{generations} timed round{'s' if generations != 1 else ''} per backend (serial; Ray with {', '.join(map(str, workers))} "
                       f"worker{'s' if workers != (1,) else ''})")
            config, X = scaling_population(population, stage)
            problem = problem_of(config)
            backends = [("serial", 1, make_evaluator(problem, 0))]
            backends += [("ray", n, RayEvaluator(problem, 0, workers=n)) for n in workers]
            walls = {k: [] for k in range(len(backends))}
            overheads = {k: [] for k in range(len(backends))}
            fits = {k: [] for k in range(len(backends))}
            for k, (_, _, e) in enumerate(backends):
                e.evaluate(X, rounds[0])  # warm-up: actor start, imports, caches
            for g in rounds:
                for k, (name, n, e) in enumerate(backends):
                    t0 = time.perf_counter()
                    ev, _ = e.evaluate(X, g)
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
          f"(median {_seconds(r['median_seconds'])} per generation of {r['population']}){extra}", flush=True)


def _seconds(s: float) -> str:
    """A duration with the digits that show: milliseconds below a second."""
    return f"{s:.2f} s" if s >= 1 else f"{1000 * s:.1f} ms"


# The tasks of ``bench tasks``: every built-in task with a preset except LunarLander (Box2D),
# mnist (about 15 minutes a run: ``--tasks mnist``) and shd and nmnist (files you download)
SUITE = ("cartpole", "acrobot", "mountaincar", "mountaincar-continuous", "pendulum", "double-pole", "double-pole-nv",
         "xor", "iris", "wine", "breast-cancer", "digits", "temporal-patterns", "intervals")


# Tasks run once per variant: (label, genome options over the preset's, genes evolved
# besides the preset's[, other sections over the preset's]). intervals: one per neuron
# model, the same network size and budget; its delays reach its longest interval, and its
# alif neurons start with b = 2, so that the threshold's recovery tells steps apart near
# the longest intervals. double-pole-nv: the preset (spiking ALIF outputs) and the
# non-spiking controller it replaced (membrane readout, thresholds out of reach).
VARIANTS: dict[str, tuple[tuple, ...]] = {
    "intervals": (("lif", {}, ()), ("alif", {"neuron": "alif", "b": 2.0}, ("rhos", "adaptations")),
                  ("cuba", {"neuron": "cuba"}, ("alphas",)), ("lif+delays", {"max_delay": 40}, ("delays",))),
    "double-pole-nv": (("alif", {}, ()),
                       ("membrane", {"neuron": "lif", "threshold": 100.0, "beta": 0.3, "bias": 0.0,
                                     "evolve": ["weights", "betas"]}, (),
                        {"task": {"decoding": "membrane", "sim_steps": 1},
                         "strategy": {"sigma0": 2.0, "population": 20, "restarts": 0, "stall": 0},
                         "run": {"generations": 500}}))}


def variant_genome(preset, options: dict, genes: tuple[str, ...]) -> dict:
    """A variant's genome layer: its options, and when the preset lists the genes it evolves,
    that list with the variant's genes added."""
    evolve = (preset.genome or {}).get("evolve") if preset is not None else None
    return {**options, **({"evolve": list(evolve) + list(genes)} if evolve is not None and genes else {})}


def task_suite(names: list[str] | None = None, seeds: int = 5, first_seed: int = 0,
               progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Each task with its preset (``Task.preset``: strategy, genome, options, budget), as
    ``evospike run TASK --seed S`` runs it, over ``seeds`` seeds from ``first_seed`` (serial
    backend, run directories in a temporary folder): median validation, evaluations used,
    wall time, and for tasks that define solving, how many seeds solved it and the
    evaluations up to the generation that did. Tasks in ``VARIANTS`` run once per variant
    (a row each, ``variant`` naming it): the preset with the variant's options over it."""
    names = names or list(SUITE)
    unknown = [n for n in names if n not in tasks.names() or tasks.spec(n).preset is None]
    if unknown:
        with_preset = [n for n in tasks.names() if tasks.spec(n).preset]
        close = difflib.get_close_matches(unknown[0], with_preset, n=1)
        why = "has no preset" if unknown[0] in tasks.names() else "is not a task"
        raise ConfigError(f"bench tasks: {unknown[0]!r} {why}{f' (did you mean {close[0]!r}?)' if close else ''}; "
                          f"choose from {', '.join(with_preset)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (variant, options, genes, *others) in ((n, v) for n in names
                                                          for v in VARIANTS.get(n, ((None, {}, ()),))):
            preset = tasks.spec(name).preset
            genome = variant_genome(preset, options, genes)
            others = others[0] if others else {}
            defines_solved = tasks.spec(name).factory.solved is not tasks.Task.solved
            per_seed = []
            for seed in range(first_seed, first_seed + seeds):
                t0 = time.perf_counter()  # resolving builds the task (loads its data): part of a run's time
                folder = f"{name}-{variant or 'preset'}-{seed}"
                layer = {"task": {"name": name},
                         "run": {"seed": seed, "backend": "serial", "quiet": True, "out": tmp, "name": folder}}
                variant_layer = {**({"genome": genome} if genome else {}), **others}
                sources = [("bench", layer)] + ([("variant", variant_layer)] if variant_layer else [])
                run(cfg.resolve_sources(sources), log=None)
                r = load_run(f"{tmp}/{folder}")
                solved_gen = r.summary.get("solved_generation")
                per_seed.append({"seed": seed, "validation": r.summary["validation"],
                                 "evaluations": r.summary["evaluations"], "best": r.summary["best"],
                                 "solved": solved_gen is not None if defines_solved else None,
                                 "evaluations_to_solve": (int(r.metrics["evaluations"].iloc[solved_gen])
                                                          if solved_gen is not None else None),
                                 "seconds": time.perf_counter() - t0})
            row = {"task": name, "variant": variant, "genome": r.config["genome"], "task_options": r.config["task"],
                   "strategy": r.config["strategy"]["name"], "generations": r.config["run"]["generations"],
                   "seeds": seeds,
                   "median_validation": statistics.median(x["validation"] for x in per_seed),
                   "median_evaluations": statistics.median(x["evaluations"] for x in per_seed),
                   "median_seconds": statistics.median(x["seconds"] for x in per_seed),
                   "solved": sum(bool(x["solved"]) for x in per_seed) if defines_solved else None, "runs": per_seed}
            rows.append(row)
            if progress:
                progress(row)
    return {"benchmark": "tasks", "evospike": __version__, "python": platform.python_version(), "rows": rows}


def print_task_row(r: dict) -> None:
    vals = " ".join(f"{x['validation']:.3g}" for x in r["runs"])
    task = r["task"] + (f" ({r['variant']})" if r.get("variant") else "")
    print(f"{task:<24} {r['strategy']:<6} median validation {r['median_validation']:10.4g}  "
          f"median evaluations {r['median_evaluations']:8.0f}  "
          f"solved {'-' if r['solved'] is None else r['solved']}/{r['seeds']}  "
          f"median {r['median_seconds']:.1f} s per run  (per seed: {vals})", flush=True)

