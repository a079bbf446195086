"""Speed benchmarks: ``evospike bench sim`` and ``evospike bench eval``.

``sim`` times the simulator against a plain numpy reference in the same process. Each case
is a shape (P networks, N neurons, B samples, n_in input channels, input spike rate) and a
firing rate. The networks are dense and random; their bias is tuned so that about the
requested fraction of neurons fires per step. Weights, thresholds and biases are multiples
of 2**-8, so every sum of them is exact in float32 and the reference and the simulator must
give identical spikes whatever order they add in. Inputs are shared Bernoulli spike trains:
8 channels at rate 0.2, and the wide inputs of real data, 784 channels at 0.1 (rate-coded
MNIST) and 700 at 0.05 (SHD-like), at B = 16, 64 and 256.

The reference (:func:`reference_lif`) is the straightforward best numpy form: the input
projection of all T steps hoisted out of the time loop, one batched matmul (per network a
(T B, n_in) x (n_in, N) product: few large products rather than one per step) or, where
that is faster (the wide inputs, mostly zeros), the input as a scipy CSR matrix times each
network's weights (``reference_projection`` says which), then in-place updates into
preallocated buffers.

Figures: neuron-updates/s (T * P * B * N per second) and synaptic events/s (each spike
reaches its N recurrent synapses), the median of alternating timed rounds, and the ratio
of the simulator's rate to the reference's. Both record every spike, (T, P, B, N); the
simulator is also timed keeping only what tasks use (``simulate_outputs``: output counts,
first spikes, final voltages), reported as ``outputs_updates_per_s``.
"""
from __future__ import annotations

import platform
import statistics
import time
from typing import Any, Callable

import numpy as np

from threadpoolctl import threadpool_limits

from neurons import (LayeredBatch, NetworkBatch, current_kernel, kept_kernel, kernel_for, simulate, simulate_layered,
                     simulate_outputs, use_kernel)
from neurons import kernels as compiled
from tasks.closed_loop import timing

import tasks

from .. import __version__
from ..errors import ConfigError
from ..evaluation import RayEvaluator, SerialEvaluator
from ..evaluation.ray import init_ray, shutdown
from ..training import config as cfg
from ..training.api import serial_trainer

__all__ = ["SHAPES", "RATES", "PORTS", "reference_lif", "bench_network", "tuned", "sim", "events", "evaluation",
           "models", "model_networks", "MODEL_VARIANTS"]

# (P, N, B, n_in, input rate); P * B is kept near 4,096 rows for the wide inputs
SHAPES = ((256, 64, 1, 8, 0.2), (256, 64, 16, 8, 0.2), (64, 256, 1, 8, 0.2), (1024, 16, 1, 8, 0.2),
          (256, 128, 16, 784, 0.1), (64, 128, 64, 784, 0.1), (16, 128, 256, 784, 0.1),
          (256, 128, 16, 700, 0.05), (64, 128, 64, 700, 0.05), (16, 128, 256, 700, 0.05))
RATES = (0.02, 0.15, 0.40)
N_IN = 8
STEPS = 100


def reference_lif(net: NetworkBatch, x: np.ndarray, out: np.ndarray | None = None,
                  buffers: dict[str, np.ndarray] | None = None, projection: str = "dense") -> np.ndarray:
    """The straightforward best numpy LIF with subtract reset (docs/design.md, "Networks"):
    the input projection of all steps in one matmul per network, then in-place updates.

    x: (T, B, n_in) shared by all networks. Returns spikes (T, P, B, N) float32, written
    into ``out`` when given; ``buffers`` (a dict, filled on the first call) keeps the work
    arrays between calls, as the simulator keeps its own. ``projection``: ``"dense"``, one
    batched BLAS matmul, or ``"sparse"``, the input as a scipy CSR matrix times each
    network's weights (faster where most inputs are 0: spike trains of many channels).
    """
    T, B = x.shape[0], x.shape[1]
    P, N = net.n_networks, net.n_neurons
    bias, beta, threshold = net.bias[:, None, :], net.beta[:, None, :], net.threshold[:, None, :]
    work = {} if buffers is None else buffers
    if not work:
        work.update(projection=np.empty((P, T * B, N), np.float32), v=np.empty((P, B, N), np.float32),
                    s=np.empty((P, B, N), np.float32), current=np.empty((P, B, N), np.float32),
                    tmp=np.empty((P, B, N), np.float32), spiked=np.empty((P, B, N), bool))
    # hoisted out of the loop: per network, one (T * B, n_in) x (n_in, N) matmul for all steps
    if projection == "sparse":
        import scipy.sparse
        xs = scipy.sparse.csr_array(x.reshape(T * B, x.shape[2]))
        for p in range(P):
            work["projection"][p] = xs @ net.w_in[p]
    else:
        np.matmul(x.reshape(1, T * B, x.shape[2]), net.w_in, out=work["projection"])
    projection = work["projection"].reshape(P, T, B, N)
    v, s, current, tmp, spiked = (work[k] for k in ("v", "s", "current", "tmp", "spiked"))
    v.fill(0.0)
    s.fill(0.0)
    out = np.empty((T, P, B, N), np.float32) if out is None else out
    for t in range(T):
        np.matmul(s, net.w_rec, out=current)                # s[t-1] @ W_rec
        current += projection[:, t]
        current += bias
        v *= beta
        v += current
        np.greater(v, threshold, out=spiked)
        s[...] = spiked
        np.multiply(threshold, s, out=tmp)
        v -= tmp
        out[t] = s
    return out


def _dyadic(a: np.ndarray) -> np.ndarray:
    return (np.round(np.asarray(a) * 256) / 256).astype(np.float32)


def bench_network(P: int, N: int, B: int, rate: float, seed: int = 0, n_in: int = N_IN,
                  input_rate: float = 0.2) -> tuple[NetworkBatch, np.ndarray]:
    """Dense random networks and input spikes (``n_in`` channels, each firing with
    probability ``input_rate`` per step) with about ``rate`` of neurons firing per step."""
    rng = np.random.default_rng(seed)
    # input weights scaled so that the input's drive is that of 8 channels at rate 0.2
    w_in = _dyadic(rng.normal(0.0, 0.5 * np.sqrt(8 * 0.2 / (n_in * input_rate)), (P, n_in, N)))
    w_rec = _dyadic(rng.normal(0.0, 1.0 / np.sqrt(N), (P, N, N)))
    threshold = np.ones((P, N), np.float32)
    beta = rng.uniform(0.8, 0.95, (P, N)).astype(np.float32)
    noise = _dyadic(rng.normal(0.0, 0.1, (P, N)))
    x = (rng.random((STEPS, B, n_in)) < input_rate).astype(np.float32)

    def make(offset: float) -> NetworkBatch:
        return NetworkBatch(w_in, w_rec, threshold, beta, noise + _dyadic(offset), 1)

    return tuned(make, x, rate), x


def tuned(make: Callable[[float], NetworkBatch], x: np.ndarray, rate: float) -> NetworkBatch:
    """``make(offset)`` at the bias offset in [-2, 2] that makes about ``rate`` of its neurons
    fire per step on ``x`` (bisected on the first 64 networks and 50 steps)."""
    lo, hi = -2.0, 2.0
    for _ in range(16):
        mid = (lo + hi) / 2
        net = make(mid)
        r = simulate(net.select(slice(0, min(net.n_networks, 64))), x[:50]).mean()
        lo, hi = (mid, hi) if r < rate else (lo, mid)
    return make((lo + hi) / 2)


def _rate(fn: Callable[[], Any], min_seconds: float) -> tuple[float, int]:
    """Seconds per call of fn, timing enough calls to last ``min_seconds``."""
    n, t = 0, 0.0
    t0 = time.perf_counter()
    while t < min_seconds or n == 0:
        fn()
        n += 1
        t = time.perf_counter() - t0
    return t / n, n


class _SimActor:
    """Ray actor: holds its share of the networks and runs the simulator on them."""

    def __init__(self, kernel: str) -> None:
        use_kernel(kernel)

    def load(self, fields: dict, x: np.ndarray) -> None:
        self.net, self.x = NetworkBatch(**fields), x
        simulate(self.net, self.x[:2])  # compile or load the kernel

    def run(self, repeats: int, outputs_only: bool = False) -> float:
        self.spikes = simulate(self.net, self.x)
        t0 = time.perf_counter()
        for _ in range(repeats):
            if outputs_only:
                simulate_outputs(self.net, self.x)
            else:
                simulate(self.net, self.x, out=self.spikes)
        return time.perf_counter() - t0

    def last_spikes(self) -> np.ndarray:
        return self.spikes


def sim(shapes=SHAPES, rates=RATES, rounds: int = 5, min_seconds: float = 0.2, workers: int = 0,
        progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Time the simulator and the reference on every (shape, rate), in this process with one
    BLAS thread; with ``workers`` >= 1 also the simulator split across that many Ray workers
    (the networks divided between them). Each figure is the median over ``rounds`` rounds
    that alternate between the implementations; ``best_*`` figures are the fastest round."""
    setting = current_kernel()
    rows: list[dict] = []
    actors, owns = [], False
    if workers >= 1:
        owns = init_ray(num_cpus=workers)
        import ray
        actor_cls = ray.remote(num_cpus=1)(_SimActor)
        actors = [actor_cls.remote(setting) for _ in range(workers)]
    try:
        for shape in shapes:
            P, N, B, n_in, input_rate = tuple(shape) + (N_IN, 0.2)[len(shape) - 3:]
            for rate in rates:
                net, x = bench_network(P, N, B, rate, n_in=n_in, input_rate=input_rate)
                ref_spikes = reference_lif(net, x)
                our_spikes = simulate(net, x)
                simulate_outputs(net, x)  # compile or load the outputs-only kernel before timing
                identical = bool(np.array_equal(ref_spikes, our_spikes))
                fired = float(our_spikes.mean())
                updates = STEPS * P * B * N
                events = float(our_spikes.sum()) * N
                ref_t, our_t, outputs_t = [], [], []
                buffer = np.empty_like(our_spikes)  # both write into preallocated outputs
                ref_buffer, work = np.empty_like(our_spikes), {}
                with threadpool_limits(1, user_api="blas"):  # as in Ray workers: one thread each
                    # the reference's faster input projection for this case, dense or sparse
                    form = min(("dense", "sparse"), key=lambda f: _rate(
                        lambda: reference_lif(net, x, ref_buffer, work, f), min_seconds / 4)[0])
                    for _ in range(rounds):
                        ref_t.append(_rate(lambda: reference_lif(net, x, ref_buffer, work, form), min_seconds)[0])
                        our_t.append(_rate(lambda: simulate(net, x, out=buffer), min_seconds)[0])
                        outputs_t.append(_rate(lambda: simulate_outputs(net, x), min_seconds)[0])
                ref_s, our_s = statistics.median(ref_t), statistics.median(our_t)
                row = {"P": P, "N": N, "B": B, "T": STEPS, "n_in": n_in, "input_rate": input_rate,
                       "target_rate": rate, "firing_rate": fired, "reference_projection": form,
                       "identical_spikes": identical, "kernel": kernel_for(setting, B),
                       "reference_updates_per_s": updates / ref_s, "updates_per_s": updates / our_s,
                       "synaptic_events_per_s": events / our_s, "ratio": ref_s / our_s,
                       "outputs_updates_per_s": updates / statistics.median(outputs_t),
                       # the fastest round: what the machine gives with the least interference
                       "best_reference_updates_per_s": updates / min(ref_t), "best_updates_per_s": updates / min(our_t)}
                if actors:
                    row.update(_across_workers(actors, net, x, our_spikes, our_s, updates, rounds, min_seconds))
                rows.append(row)
                if progress:
                    progress(row)
    finally:
        if owns:
            shutdown()
    return {"benchmark": "sim", "evospike": __version__, "python": platform.python_version(),
            "kernel_setting": setting, "numpy": np.__version__, "workers": workers, "rows": rows}


def _across_workers(actors, net, x, spikes, seconds, updates, rounds, min_seconds) -> dict:
    import ray
    n = len(actors)
    parts = np.array_split(np.arange(net.n_networks), n)
    ray.get([a.load.remote({f: getattr(net.select(p), f) for f in
                            ("w_in", "w_rec", "threshold", "beta", "bias", "n_out")}, x)
             for a, p in zip(actors, parts)])
    repeats = max(1, int(np.ceil(min_seconds * n / seconds)))  # each call lasts about min_seconds
    walls, outputs_walls = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        ray.get([a.run.remote(repeats) for a in actors])
        walls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ray.get([a.run.remote(repeats, True) for a in actors])
        outputs_walls.append(time.perf_counter() - t0)
    got = ray.get([a.last_spikes.remote() for a in actors])
    same = bool(np.array_equal(np.concatenate(got, axis=1), spikes))
    return {"workers": n, "workers_updates_per_s": updates * repeats / statistics.median(walls),
            "workers_outputs_updates_per_s": updates * repeats / statistics.median(outputs_walls),
            "workers_best_updates_per_s": updates * repeats / min(walls),
            "workers_identical_spikes": same}


MODEL_VARIANTS = ("lif", "alif", "cuba", "lif+delays")


def model_networks(net: NetworkBatch, max_delay: int = 16, seed: int = 1, x: np.ndarray | None = None,
                   rate: float | None = None) -> dict[str, NetworkBatch]:
    """``net`` as each of MODEL_VARIANTS: the same weights, alif with rho 0.9 and b 0.2, cuba
    with alpha 0.5, and lif with every synapse's delay drawn uniformly (inputs 0..max_delay,
    others 1..max_delay): the case where a spike's effects spread over the most steps.
    Given input ``x`` and a firing ``rate``, each variant's bias is shifted (:func:`tuned`)
    so that it fires at about that rate too: a model's cost, not its activity, is compared."""
    rng = np.random.default_rng(seed)
    P, N = net.n_networks, net.n_neurons
    base = dict(w_in=net.w_in, w_rec=net.w_rec, threshold=net.threshold, beta=net.beta, bias=net.bias,
                n_out=net.n_out)
    extras = {"alif": dict(rho=np.full((P, N), 0.9, np.float32), b=np.full((P, N), 0.2, np.float32)),
              "cuba": dict(alpha=np.full((P, N), 0.5, np.float32)),
              "lif+delays": dict(delay_in=rng.integers(0, max_delay + 1, net.w_in.shape),
                                 delay_rec=rng.integers(1, max_delay + 1, net.w_rec.shape))}
    out = {"lif": net}
    for name, more in extras.items():
        def make(offset: float, more: dict = more) -> NetworkBatch:
            return NetworkBatch(**{**base, "bias": net.bias + _dyadic(offset)}, **more)
        out[name] = make(0.0) if x is None or rate is None else tuned(make, x, rate)
    return out


def models(shape: tuple[int, int, int] = (256, 64, 1), rates=RATES, max_delay: int = 16, rounds: int = 5,
           min_seconds: float = 0.2, progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Time the simulator on each neuron model and with delays (:func:`model_networks`, each
    variant's bias tuned to the same firing rate) against plain LIF on the same networks and
    input, in this process with one BLAS thread;
    each figure is the median of ``rounds`` rounds that alternate between the variants.
    ``cost_vs_lif``: the variant's median time over plain LIF's; ``round_costs``: the same
    within each round (the variants timed back to back, so that a slow spell of the machine
    that spans a round touches both)."""
    setting = current_kernel()
    P, N, B = shape
    rows: list[dict] = []
    for rate in rates:
        net, x = bench_network(P, N, B, rate)
        nets = model_networks(net, max_delay, x=x, rate=rate)
        buffers = {k: simulate(n, x) for k, n in nets.items()}  # compiles, and the firing of each
        times: dict[str, list[float]] = {k: [] for k in nets}
        with threadpool_limits(1, user_api="blas"):
            for _ in range(rounds):
                for k, n in nets.items():
                    times[k].append(_rate(lambda: simulate(n, x, out=buffers[k]), min_seconds)[0])
        plain = statistics.median(times["lif"])
        for k in nets:
            t = statistics.median(times[k])
            row = {"P": P, "N": N, "B": B, "T": STEPS, "target_rate": rate, "variant": k,
                   "max_delay": max_delay if k == "lif+delays" else 0, "firing_rate": float(buffers[k].mean()),
                   "kernel": kernel_for(setting, B), "seconds": t, "updates_per_s": STEPS * P * B * N / t,
                   "cost_vs_lif": t / plain,
                   "round_costs": [a / b for a, b in zip(times[k], times["lif"])]}
            rows.append(row)
            if progress:
                progress(row)
    return {"benchmark": "models", "evospike": __version__, "python": platform.python_version(),
            "kernel_setting": setting, "numpy": np.__version__, "rows": rows}


def print_models_row(r: dict) -> None:
    print(f"P {r['P']:4d} N {r['N']:3d} B {r['B']:3d} target firing {100 * r['target_rate']:4.0f}%  "
          f"{r['variant']:<11s} firing {100 * r['firing_rate']:5.1f}%  {r['kernel']} "
          f"{r['updates_per_s'] / 1e6:7.1f} M/s  {r['cost_vs_lif']:5.2f}x the plain LIF time"
          + (f" (each round: {', '.join(f'{x:.2f}x' for x in r['round_costs'])})"
             if len(r.get("round_costs", ())) > 1 and r["variant"] != "lif" else ""), flush=True)


def print_sim_row(r: dict) -> None:
    extra = ""
    if "workers_updates_per_s" in r:
        extra = (f"  | {r['workers']} Ray workers {r['workers_updates_per_s'] / 1e6:5.0f} M/s "
                 f"(best round {r['workers_best_updates_per_s'] / 1e6:5.0f}), outputs only "
                 f"{r['workers_outputs_updates_per_s'] / 1e6:5.0f} M/s"
                 f"{'' if r['workers_identical_spikes'] else '  SPIKES DIFFER'}")
    print(f"P {r['P']:5d} N {r['N']:4d} B {r['B']:3d} inputs {r['n_in']:3d} at {r['input_rate']:.2f}  firing {100 * r['firing_rate']:5.1f}%  "
          f"reference ({r['reference_projection']}) {r['reference_updates_per_s'] / 1e6:7.0f} M/s  {r['kernel']} {r['updates_per_s'] / 1e6:7.0f} M/s "
          f"(best round {r['best_updates_per_s'] / 1e6:5.0f})  "
          f"({r['synaptic_events_per_s'] / 1e6:5.0f} M events/s)  {r['ratio']:5.2f}x  outputs only "
          f"{r['outputs_updates_per_s'] / 1e6:5.0f} M/s  "
          f"identical spikes: {r['identical_spikes']}{extra}", flush=True)


def events(P: int = 256, hidden: int = 128, B: int = 256, channels: int = 700, steps: int = 100, classes: int = 20,
           events_per_sample: int = 8000, rounds: int = 3, seed: int = 0) -> dict[str, Any]:
    """Throughput on an event-data batch (SHD-shaped by default): P networks of
    ``channels`` -> ``hidden`` -> ``classes`` LIF layers (the ``shd`` preset's genome) on B
    samples of ``events_per_sample`` input events spread uniformly over channels and
    steps (coinciding events merge), in this process with one BLAS thread. Reports
    samples/s (network-samples per second: P * B / seconds) per core for each kernel."""
    rng = np.random.default_rng(seed)
    net = LayeredBatch.random(P=P, sizes=(channels, hidden, classes), seed=seed)
    x = np.zeros((steps, B, channels), np.float32)
    x[rng.integers(0, steps, (B, events_per_sample)), np.arange(B)[:, None],
      rng.integers(0, channels, (B, events_per_sample))] = 1.0
    rows = []
    with kept_kernel(), threadpool_limits(1, user_api="blas"):
        for kernel in ("numpy", "numba"):
            if kernel == "numba" and not compiled.AVAILABLE:
                continue
            use_kernel(kernel)
            simulate_layered(net.select([0]), x[:, :2])  # compile or load the kernels
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                rec = simulate_layered(net, x)
                times.append(time.perf_counter() - t0)
            sec = statistics.median(times)
            rows.append({"kernel": kernel, "seconds": sec, "samples_per_s": P * B / sec,
                         "hidden_spikes_per_sample": float(rec.total_spikes.mean()),
                         "synaptic_events_per_sample": float(rec.synaptic_events.mean())})
    return {"benchmark": "events", "evospike": __version__, "python": platform.python_version(), "rounds": rounds,
            "P": P, "hidden": hidden, "B": B, "channels": channels,
            "steps": steps, "classes": classes, "events_per_sample": events_per_sample,
            "input_spikes_per_sample": float(x.sum() / B), "rows": rows}


def print_events_row(r: dict) -> None:
    print(f"kernel {r['kernel']}: {r['samples_per_s']:,.0f} network-samples/s on one core "
          f"({r['seconds']:.2f} s per batch)", flush=True)


PORTS = ("cartpole", "acrobot", "mountaincar", "mountaincar-continuous", "pendulum", "double-pole")
PATHS = {"numpy": "numpy", "compiled": "numba"}  # closed-loop path: the kernel setting that selects it


def evaluation(tasks: tuple[str, ...] | str = ("cartpole",), population: int = 256, generations: int = 5,
               strategy: str = "cma", paths: tuple[str, ...] = ("numpy", "compiled"), late: int = 20,
               workers: tuple[int, ...] = (), progress: Callable[[dict], None] | None = None,
               rounds: int = 3) -> dict[str, Any]:
    """Per task and closed-loop path (numpy: one Python step for all networks; compiled: whole
    episodes in numba), on one core:

    - ``early``: evolve ``generations`` generations of ``population`` from scratch in this
      process and split the time: the strategy's ask and tell, compiling genomes into
      networks, and inside the closed loop environment, encoding, simulation, decoding and
      bookkeeping (numpy path) or the rollout as a whole (compiled path);
    - ``late`` (when ``late`` > 0): the population of generation ``late`` of one run, whose
      networks balance or swing much longer than early ones, evaluated by each path;
    - ``workers`` (e.g. (1, 2)): the first generation's population evaluated in this process
      (1) and on Ray with each larger number of workers, environment steps per second
      (for environments such as MuJoCo's, whose steps are the cost), the median of
      ``rounds`` evaluations each.

    Tasks without compiled rollouts (``gym:...``) take the numpy path only.

    Rate: network-environment steps per second of evaluation; ``ratio``: the compiled
    path's rate over the numpy path's, on the same populations, and ``round_ratios`` the
    same within each round (the two paths timed back to back: a slow spell of the machine
    that spans a round touches both). ``early`` and ``late`` are
    timed ``rounds`` times, alternating between the paths (the runs are deterministic: each
    round evaluates the same populations); a row is the path's median round, and
    ``rates`` lists every round's rate, so that a slow minute of the machine shows."""
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    rows = []
    with kept_kernel():
        for task in tasks:  # each one, before any is timed
            _check_closed_loop(task, strategy)
        for task in tasks:
            task_paths = tuple(p for p in paths if p == "numpy" or (compiled.AVAILABLE and _has_port(task)))
            early = _median_rounds([[_early(task, population, generations, strategy, path) for path in task_paths]
                                    for _ in range(rounds)])
            for age_rows in (early, _late(task, population, late, strategy, task_paths, rounds) if late > 0 else [],
                             _workers(task, population, strategy, workers, rounds) if workers else []):
                by = {r["path"]: r for r in age_rows}
                if len(by) == 2 and by["numpy"]["env_steps_per_second"] and by["compiled"]["env_steps_per_second"]:
                    by["compiled"]["ratio"] = by["compiled"]["env_steps_per_second"] / by["numpy"]["env_steps_per_second"]
                    by["compiled"]["round_ratios"] = [c / n if n else None for c, n in
                                                      zip(by["compiled"]["rates"], by["numpy"]["rates"])]
                for row in age_rows:
                    rows.append(row)
                    if progress:
                        progress(row)
    return {"benchmark": "eval", "evospike": __version__, "python": platform.python_version(), "rows": rows}


def _check_closed_loop(task: str, strategy: str) -> None:
    """A ConfigError unless ``task`` plays episodes (takes environment steps): two networks of
    its first population, evaluated once."""
    trainer = _trainer(task, 8, 1, strategy, "compiled" if compiled.AVAILABLE else "numpy")
    nets = trainer.space.compile(trainer.strategy.ask())
    with timing() as phases:
        trainer.task.evaluate(nets.select(np.arange(min(2, nets.n_networks))), 0)
    if not phases.env_steps:
        raise ConfigError(f"bench eval: task {task!r} plays no episodes (no environment steps to time); bench eval "
                          f"times closed-loop tasks: the ports ({', '.join(PORTS)}), double-pole-nv, gym:ENV_ID")


def _median_rounds(rounds: list[list[dict]]) -> list[dict]:
    """Per path (a column of ``rounds``), the round of median rate, with every round's rate
    as ``rates``."""
    rows = []
    for column in zip(*rounds):
        rates = [r["env_steps_per_second"] or 0.0 for r in column]
        row = dict(sorted(column, key=lambda r: r["env_steps_per_second"] or 0.0)[len(column) // 2])
        rows.append({**row, "rounds": len(column), "rates": rates})
    return rows


def _has_port(task: str) -> bool:
    """Whether the task's closed loop has a compiled form (a physics port, tasks.rollout)."""
    return getattr(getattr(tasks.make(task), "physics", None), "port", None) is not None


def has_compiled(task: str) -> bool:
    """Whether ``bench eval`` can time the task's compiled path here (numba and a port)."""
    return compiled.AVAILABLE and _has_port(task)


def _workers(task: str, population: int, strategy: str, workers: tuple[int, ...], rounds: int = 1) -> list[dict]:
    """The first generation's population evaluated in-process (1 worker) and on Ray (n > 1),
    ``rounds`` times each (the same seed: the same episodes); a row holds the median round's
    time and every round's rate (``rates``)."""
    trainer = _trainer(task, population, 1, strategy, "compiled" if compiled.AVAILABLE else "numpy")
    pop, problem = trainer.strategy.ask(), trainer.evaluator.problem
    episodes = int(trainer.task.options.get("episodes", 1))
    rows = []
    for n in workers:
        ev = SerialEvaluator(problem, 0) if n == 1 else RayEvaluator(problem, 0, workers=n)
        times = []
        try:
            # warm-up: build, compile; on Ray the whole population, while the new instance settles
            ev.evaluate(pop[:2] if isinstance(pop, np.ndarray) and n == 1 else pop, 0)
            for _ in range(max(1, rounds)):
                start = time.perf_counter()
                out, _ = ev.evaluate(pop, 1)
                times.append(time.perf_counter() - start)
        finally:
            ev.close()
        seconds = statistics.median(times)
        steps = float(out.metrics["steps"].sum() * episodes) if "steps" in out.metrics else 0.0
        rows.append({"task": task, "path": "workers", "kernel": current_kernel(), "population_age": "early",
                     "population": population, "generations": 1, "workers": n, "seconds": seconds,
                     "env_steps": steps, "env_steps_per_second": steps / seconds if steps else None,
                     "rounds": len(times), "rates": [steps / t if steps else 0.0 for t in times],
                     "best": float(out.fitness.max()), "mean_fitness": float(out.fitness.mean())})
    return rows


def _trainer(task: str, population: int, generations: int, strategy: str, path: str):
    config = cfg.resolve({"task": {"name": task}, "strategy": {"name": strategy, "population": population},
                          "run": {"backend": "serial", "kernel": PATHS[path]}}, preset=False)
    return serial_trainer(config, generations)


def _early(task: str, population: int, generations: int, strategy: str, path: str) -> dict:
    trainer = _trainer(task, population, generations, strategy, path)
    task_obj, space, evaluator = trainer.task, trainer.space, trainer.evaluator
    split = {"ask_tell": 0.0, "compile": 0.0, "evaluate": 0.0}
    with threadpool_limits(1, user_api="blas"), timing() as phases:
        task_obj.evaluate(space.compile(trainer.strategy.ask()), 1)  # warm-up: kernel compile or cache load
        phases.seconds = dict.fromkeys(phases.seconds, 0.0)
        phases.env_steps = 0
        while not trainer.done:
            result = trainer.step()
            split["ask_tell"] += result.timings["ask"] + result.timings["tell"]
            split["compile"] += evaluator.last_seconds["compile"]
            split["evaluate"] += evaluator.last_seconds["task"]
    total = sum(split.values())
    shown = ("rollout",) if path == "compiled" else ("environment", "encoding", "simulation", "decoding", "bookkeeping")
    inner = {k: phases.seconds[k] for k in shown}
    row = {"task": task, "path": path, "kernel": PATHS[path], "population_age": "early", "population": population,
           "generations": generations, "seconds": total, "env_steps": phases.env_steps,
           "env_steps_per_second": phases.env_steps / split["evaluate"] if phases.env_steps else None,
           "split_seconds": {**{k: split[k] for k in ("ask_tell", "compile")}, **inner,
                             "evaluate_other": split["evaluate"] - sum(inner.values())},
           "best": float(result.evaluation.fitness.max())}
    row["split_fraction"] = {k: v / total for k, v in row["split_seconds"].items()}
    return row


def _late(task: str, population: int, late: int, strategy: str, paths: tuple[str, ...],
          rounds: int = 1) -> list[dict]:
    """The population of generation ``late`` (evolved on the fastest path available),
    evaluated by each path with the same seed, ``rounds`` times in turn."""
    fastest = "compiled" if compiled.AVAILABLE else "numpy"
    trainer = _trainer(task, population, late + 1, strategy, fastest)
    with threadpool_limits(1, user_api="blas"):
        for _ in range(late):
            trainer.step()
        nets = trainer.space.compile(trainer.strategy.ask())
        for path in paths:  # the caller keeps only the paths this task has
            use_kernel(PATHS[path])
            trainer.task.evaluate(nets.select(np.arange(min(2, nets.n_networks))), 1)  # warm-up
        timed = []
        for _ in range(rounds):
            timed.append([])
            for path in paths:
                use_kernel(PATHS[path])
                with timing() as phases:
                    start = time.perf_counter()
                    ev = trainer.task.evaluate(nets, late)
                    seconds = time.perf_counter() - start
                timed[-1].append({"task": task, "path": path, "kernel": PATHS[path], "population_age": "late",
                                  "population": population, "generations": late, "seconds": seconds,
                                  "env_steps": phases.env_steps,
                                  "env_steps_per_second": phases.env_steps / seconds if phases.env_steps else None,
                                  "best": float(ev.fitness.max()), "mean_fitness": float(ev.fitness.mean())})
    return _median_rounds(timed)


def print_eval_row(r: dict) -> None:
    rate = r["env_steps_per_second"]
    if r["path"] == "workers":
        spread = (f" (median of {len(r['rates'])} rounds: {min(r['rates']):,.0f}-{max(r['rates']):,.0f})"
                  if len(r.get("rates", ())) > 1 else "")
        print(f"{r['task']} population {r['population']} with {r['workers']} worker{'s' * (r['workers'] > 1)}: "
              f"{rate:,.0f} environment steps/s{spread}, {r['seconds']:.2f} s" if rate else
              f"{r['task']}: no closed loop", flush=True)
        return
    age = (f"early ({r['generations']} generation{'s' * (r['generations'] != 1)})" if r["population_age"] == "early"
           else f"late (generation {r['generations']})")
    head = (f"{r['task']} population {r['population']} {age} "
            f"{r['path']} path: {'%.2f M network-environment steps/s' % (rate / 1e6) if rate else 'no closed loop'}"
            + (f" (median of {len(r['rates'])} rounds: {min(r['rates']) / 1e6:.2f}-{max(r['rates']) / 1e6:.2f} M)"
               if rate and len(r.get("rates", ())) > 1 else "")
            + (f", {r['ratio']:.1f}x the numpy path" if "ratio" in r else "")
            + (f" (each round: {', '.join(f'{x:.1f}x' for x in r['round_ratios'] if x)})"
               if len(r.get("round_ratios", ())) > 1 else ""))
    if "split_fraction" in r:
        split = "  ".join(f"{k} {100 * v:4.1f}%" for k, v in r["split_fraction"].items())
        head += f", {r['seconds']:.2f} s\n  {split}"
    else:
        head += f", {r['seconds']:.2f} s, mean fitness {r['mean_fitness']:.1f}"
    print(head, flush=True)

