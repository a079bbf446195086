"""``evospike bench scale``: the Gaussian strategies at D = 10^4, 10^5 and 10^6 genes.

Each (D, strategy) case runs in a fresh Python process, so that its peak memory is its own.
The genome is a layered network 64 -> h -> h -> 10 (weights only, h chosen so that D is
close to the target) on ``digits`` with minibatches of 32 samples and 5 steps. A case
reports:

- ``ask_tell_ms``: the driver's median time per generation in ``ask`` + ``tell`` (random
  fitness; the first generation, which makes the noise table, is reported apart as
  ``table_seconds``);
- ``peak_rss_mb``: the process's peak resident memory after the ask/tell rounds (the driver
  of a Ray run), and ``peak_rss_after_serial_mb`` after the serial backend also evaluated a
  generation in the same process;
- per backend (serial, Ray with 2 workers, a 3-node ``ray.cluster_utils.Cluster`` on
  loopback with one worker per node): ``eval_seconds``, the median of ``rounds`` timed
  evaluations of one generation (``eval_rounds_seconds``: each, after an untimed warm-up),
  ``ms_per_network``, and for Ray the bytes of that generation as Ray serializes
  them (``put_bytes``, ``arg_bytes``, ``return_bytes``) against the bound
  ``(workers + 2) * 4D + 1 KB * P``; every backend's fitness must equal the serial one's;
- ``regen_ns_per_number`` vs ``table_ns_per_number``: drawing a genome's noise again with a
  counter-based generator (Philox) against copying it from the noise table, per number.
"""
from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np

from .. import __version__, strategies
from ..errors import RunError
from ..evaluation import Problem, make_evaluator
from ..evaluation.ray import RayEvaluator, init_ray, loopback_only, shutdown
from ..genomes import FixedTopology
from ..genomes.seeded import noise_table

__all__ = ["scale", "print_scale_row", "DIMS", "STRATEGIES"]

DIMS = (10 ** 4, 10 ** 5, 10 ** 6)
STRATEGIES = ("openes", "pgpe", "snes")
BACKENDS = ("serial", "ray", "cluster")
TASK = {"name": "digits", "batch_size": 32, "steps": 5}


def hidden_for(dim: int) -> int:
    """h with 64 h + h^2 + 10 h closest to ``dim`` (two hidden layers of h)."""
    return max(1, round((-74 + math.sqrt(74 ** 2 + 4 * dim)) / 2))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _noise_costs(dim: int, table) -> tuple[float, float]:
    rng = np.random.Generator(np.random.Philox(7))
    t0 = time.perf_counter()
    for _ in range(3):
        rng.standard_normal(dim, dtype=np.float32)
    regen = (time.perf_counter() - t0) / (3 * dim)
    win = table.windows(dim)
    t0 = time.perf_counter()
    for k in range(3):
        np.array(win[k * 1000])
    copy = (time.perf_counter() - t0) / (3 * dim)
    return 1e9 * regen, 1e9 * copy


def run_case(dim: int, strategy: str, population: int, generations: int, backends: tuple[str, ...],
             rounds: int = 3) -> dict:
    """One (D, strategy) case in this process (see the module docstring)."""
    h = hidden_for(dim)
    genome = {"hidden": [h, h], "recurrent": False, "evolve": ["weights"]}
    space = FixedTopology(64, 10, **genome)
    D = space.dim
    es = strategies.make(strategy, D, seed=0, population=population)
    rng = np.random.default_rng(0)
    times = []
    for g in range(generations + 1):
        a = time.perf_counter()
        pop = es.ask()
        es.tell(pop, rng.normal(size=len(pop)))
        times.append(time.perf_counter() - a)
    row: dict[str, Any] = {"dim": D, "hidden": [h, h], "strategy": strategy, "population": len(pop),
                           "ask_tell_ms": 1000 * float(np.median(times[1:])), "table_seconds": times[0],
                           "ask_tell_rounds": generations, "peak_rss_mb": _rss_mb(),
                           "description_bytes": pop.nbytes(), "bytes_per_network": space.bytes_per_network()}
    row["regen_ns_per_number"], row["table_ns_per_number"] = _noise_costs(D, noise_table(pop.table_seed,
                                                                                        pop.table_size))
    problem = Problem(dict(TASK), "fixed", genome)
    pop = es.ask()
    P = len(pop)
    fits, results = {}, {}
    for backend in backends:
        res: dict[str, Any] = {}
        if backend == "serial":
            with make_evaluator(problem, 0) as ev:
                ev.evaluate(pop.take([0, 1]), 0)  # warm-up: compiled kernels load
                e = _timed(lambda: ev.evaluate(pop, 1)[0], rounds, res)
            row["peak_rss_after_serial_mb"] = _rss_mb()
        else:
            cluster = None
            if backend == "cluster":
                from ray.cluster_utils import Cluster
                loopback_only()
                cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
                for _ in range(2):
                    cluster.add_node(num_cpus=1)
                cluster.wait_for_nodes()
                init_ray(address=cluster.address)
                workers = 3
            else:
                init_ray(num_cpus=2)
                workers = 2
            try:
                ev = RayEvaluator(problem, 0, workers=workers, measure_wire=True)
                ev.evaluate(pop, 0)  # warm-up: actors start, build the task and make the noise table
                e = _timed(lambda: ev.evaluate(pop, 1)[0], rounds, res)
                res.update(ev.last_wire, workers=workers)
                wire = ev.last_wire["put_bytes"] + ev.last_wire["arg_bytes"] + ev.last_wire["return_bytes"]
                bound = (workers + 2) * 4 * D + 1024 * P
                res.update(wire_bytes=wire, wire_bound_bytes=bound, within_bound=bool(wire <= bound))
                ev.close()
            finally:
                shutdown()
                if cluster is not None:
                    cluster.shutdown()
        res["ms_per_network"] = 1000 * res["eval_seconds"] / P
        fits[backend] = e.fitness
        results[backend] = res
    first = next(iter(fits.values()), None)
    for backend, res in results.items():
        res["identical_fitness"] = bool(np.array_equal(fits[backend], first))
    row["backends"] = results
    return row


def _timed(evaluate: Callable[[], Any], rounds: int, res: dict) -> Any:
    """``rounds`` timed calls of ``evaluate`` (the same generation each time): their seconds
    into ``res`` (the median as ``eval_seconds``), and the first call's evaluation, which
    every other call must equal."""
    times, first = [], None
    for _ in range(rounds):
        t = time.perf_counter()
        e = evaluate()
        times.append(time.perf_counter() - t)
        if first is None:
            first = e
        elif not np.array_equal(e.fitness, first.fitness):
            raise RunError("bench scale: the same generation evaluated twice gave different fitness")
    res["eval_seconds"], res["eval_rounds_seconds"] = float(np.median(times)), times
    return first


def _run_case_process(args: str) -> subprocess.CompletedProcess:
    """:func:`run_case` in a process of its own; the process is ended (and with it the Ray
    instance it started) when this one is interrupted (Ctrl-C, or SIGTERM from the CLI)."""
    proc = subprocess.Popen([sys.executable, "-m", "evo.app.bench_scale", args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    try:
        stdout, stderr = proc.communicate()
    except BaseException:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def scale(dims: tuple[int, ...] = DIMS, names: tuple[str, ...] = STRATEGIES, population: int = 256,
          generations: int = 5, backends: tuple[str, ...] = BACKENDS, rounds: int = 3,
          progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Every (D, strategy) case, each in its own process; each backend's evaluation timed
    ``rounds`` times."""
    rows = []
    for dim in dims:
        for name in names:
            args = json.dumps([int(dim), name, int(population), int(generations), list(backends), int(rounds)])
            out = _run_case_process(args)
            if out.returncode != 0:
                raise RunError(f"bench scale: case D={dim} {name} failed: "
                                   f"{(out.stderr.strip().splitlines() or ['?'])[-1]}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            if progress:
                progress(row)
    return {"benchmark": "scale", "evospike": __version__, "python": platform.python_version(),
            "cpus": os.cpu_count(), "task": TASK, "rows": rows}


def print_scale_row(r: dict) -> None:
    parts = [f"D={r['dim']:>9,} {r['strategy']:>6} P={r['population']}  ask+tell {r['ask_tell_ms']:7.1f} ms  "
             f"peak RSS {r['peak_rss_mb']:6.0f} MB (with serial evaluation {r.get('peak_rss_after_serial_mb', 0):.0f})"]
    for name, b in r["backends"].items():
        text = f"{name} {b['ms_per_network']:.2f} ms/network" + (
            f" (median of {len(b['eval_rounds_seconds'])})" if len(b.get("eval_rounds_seconds", ())) > 1 else "")
        if "wire_bytes" in b:
            text += (f", {b['wire_bytes'] / 2**20:.2f} MiB/generation (bound {b['wire_bound_bytes'] / 2**20:.2f}, "
                     f"put {b['put_bytes'] / 2**20:.2f})")
        text += "" if b["identical_fitness"] else ", FITNESS DIFFERS"
        parts.append(text)
    print("  ".join(parts[:1]) + "\n      " + "; ".join(parts[1:]), flush=True)


if __name__ == "__main__":
    dim, name, population, generations, backends, rounds = json.loads(sys.argv[1])
    print(json.dumps(run_case(dim, name, population, generations, tuple(backends), rounds)))
