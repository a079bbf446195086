"""Evaluation on Ray: actors that build their task once and evaluate chunks of a population.

Local clusters. Without an address (``--address`` or ``RAY_ADDRESS``) the first use starts
a Ray instance for this process and :func:`shutdown` stops it, also where the machine runs a
cluster that ``ray start`` began (plain ``ray.init()`` would join that one, and fail there
for its ``num_cpus``): runs side by side each have their own. It listens on 127.0.0.1
only, with the dashboard and usage reporting off. ``ray.init(_node_ip_address="127.0.0.1")``
alone is not enough: Ray replaces a loopback node address with the host's outward address
unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, which makes it keep the loopback address, and
then every Ray server binds to 127.0.0.1. Check with ``ss -ltnp``.

Workers. Each actor runs with one BLAS/OpenMP thread (parallelism comes from processes)
and uses one CPU. A local instance starts its workers at normal priority: Ray's default
niceness of 15 let every other process on the machine (Ray's own servers included) preempt
them, which cost 10-20% of their speed on a busy 2-core machine (clusters started with
``ray start`` take ``RAY_worker_niceness=0`` from the environment of that command). The
default number of actors is the cluster's CPU count. Each generation the population goes
to the object store once (``ray.put``) and actors receive only a
reference plus the indices of their chunk (start, stop, step). Chunks are interleaved
(genome i goes to chunk i mod n), which balances their cost, and they are sized by the
measured cost of the last generation (not the evaluator's first, whose compute includes
the actors' start): its compute and the overhead of one call decide
how many chunks per worker (at most ``MAX_CHUNKS_PER_WORKER``, each with at least
``COST_PER_CALL`` times a call's overhead in compute); with more chunks than workers they
are dispatched as actors free up, so a chunk holding the few long-lived networks of an
early closed-loop population does not hold up the rest. A chunk's fitness depends only on
the generation seed and its genomes, never on which actor or how many ran it, so the
chunking never changes results.

The wire. A population that its chunks divide, a (P, D) float64 matrix (CMA-ES, the GA)
or NEAT's node and connection genes, travels inside the calls when each chunk's genomes
fit Ray's limit for arguments sent with a call (``INLINE_BYTES``, 1 MiB, on the local
instance that evospike starts; Ray's default 100 KiB on other clusters): each call carries
its own chunk's genomes and the seed, and nothing goes to the object store. That saves the
store's write and each actor's read of it, 1-2 ms per generation here. Otherwise the
population goes to the object store once (``ray.put``) and each call carries a
reference, its chunk's row indices and the seed; so does the Gaussian strategies'
(openes, pgpe, snes) SeededPopulation, which every chunk shares: the float32 center (4D
bytes), the float32 deviation (4D for pgpe and snes, one number for openes) and 8 bytes
per noise vector, from which each actor makes its chunk's genomes (evo.genomes.seeded).
Each reply carries the chunk's fitness, metrics and network sizes. With ``measure_wire``,
``last_wire`` holds the bytes of the last generation as Ray serializes them: ``put_bytes``,
``arg_bytes``, ``return_bytes`` (``evospike bench scale``). (On a multi-node cluster each
node that runs an actor also fetches one copy of a put object.)

Start. The evaluator waits for every actor to start before the first generation: an actor
whose task fails to build, or one still waiting for a CPU after ``START_TIMEOUT`` seconds
(other Ray jobs holding the cluster's CPUs), is a ClusterError, not a run that waits forever.

Faults. An actor whose process dies (or whose node leaves the cluster) is restarted, at most
``MAX_RESTARTS`` times, and the call it was running is retried on the restarted actor;
evaluation is pure, so a retry gives the same result and nothing is recorded twice. A
further death fails the evaluation with a ClusterError, and the run with status failed; its finished generations stay
resumable. An error raised by the task inside a worker reaches the driver as the task's own
exception, with its one-line message, not Ray's remote traceback.

Addresses. ``auto`` or ``HOST:PORT`` (a cluster's GCS); anything else is a ClusterError, and
so is a HOST:PORT that does not accept a TCP connection within ``CONNECT_TIMEOUT`` seconds.
More workers than the cluster has CPUs are capped at its CPUs, with a warning.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import signal
import socket
import sys
import threading
import time
from typing import Any, Callable, Iterable

import numpy as np

from neurons import current_kernel, kernels
from tasks import Evaluation, TaskError
from tasks.registry import everywhere

from ..errors import ClusterError, EvaluationTimeout, Terminated
from ..genomes.neat.population import ROW_FIELDS, NeatPopulation
from ..seeding import derive_seed
from .base import EvaluatorBase, Notice, Sizes, evaluate_chunks, stderr_notice, take_rows
from .problem import Problem

__all__ = ["RayEvaluator", "ray_map", "init_ray", "shutdown", "loopback_only", "THREAD_ENV"]

THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1"}
_LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # keep 127.0.0.1 as the node address
              "RAY_USAGE_STATS_ENABLED": "0",            # no usage reports leave the machine
              "RAY_worker_niceness": "0"}                # workers at normal priority (Ray's default is 15)


def _ray():
    for key, value in _LOCAL_ENV.items():
        os.environ.setdefault(key, value)
    import ray
    return ray


def loopback_only() -> None:
    """Make Ray nodes started from this process keep 127.0.0.1 as their address (and so bind
    there), with usage reporting off; also for ``ray.cluster_utils.Cluster`` in tests."""
    _ray()
    from ray._private import ray_constants
    ray_constants.ENABLE_RAY_CLUSTER = False  # in case ray was imported before the variable was set


MAX_RESTARTS = 3        # restarts of an actor whose process died; the next death fails the run
COST_PER_CALL = 20      # a chunk's compute is at least this many times one call's measured overhead
MAX_CHUNKS_PER_WORKER = 4
INLINE_BYTES = 1 << 20   # the local instance sends call arguments up to this size with the call
RAY_INLINE_BYTES = 100 * 1024  # Ray's default limit (max_direct_call_object_size), on other clusters
_inline_limit = RAY_INLINE_BYTES  # call arguments sent with the call, on the instance init_ray last joined or started
CONNECT_TIMEOUT = 10.0   # seconds to reach a cluster's address
PROBE_TIMEOUT = 3.0      # seconds for its head to answer as a Ray cluster (Ray's client adds its own ~10 s)
START_TIMEOUT = 300.0    # seconds for every actor to start (a CPU to free up, its task to build)
WAIT_NOTICE = 10.0       # seconds after which a wait for actors to start is announced


ADDRESS_FORM = "auto or HOST:PORT of a cluster's head (e.g. 127.0.0.1:6379; ray:// client addresses are not supported)"


def address_has_form(address: str) -> bool:
    """Whether ``address`` is "auto" or HOST:PORT (nothing is contacted)."""
    host, sep, port = address.rpartition(":")
    return address == "auto" or ("://" not in address and bool(sep and host) and port.isdigit()
                                 and 0 < int(port) < 65536)


def check_address(address: str, source: str = "") -> None:
    """A ClusterError unless ``address`` is "auto" or a HOST:PORT that accepts a connection and
    answers as a Ray cluster's head (GCS) that this process may join; ``source`` names where
    the address came from, for the message."""
    if address == "auto":
        return
    where = f" ({source})" if source else ""
    if not address_has_form(address):
        raise ClusterError(f"Ray address {address!r}{where}; expected {ADDRESS_FORM}")
    host, _, port = address.rpartition(":")
    fix = ("use --address to name another, or --backend serial" if source != "RAY_ADDRESS"
           else "unset RAY_ADDRESS, or set it to another")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach a Ray cluster at {address!r}{where} within {CONNECT_TIMEOUT:g} s "
                           f"({exc.strerror or exc}); start one there with `ray start --head`, or {fix}") from None
    _probe_head(address, where, fix)


def _probe_head(address: str, where: str, fix: str) -> None:
    """Ask the head at ``address`` for its cluster ID (Ray's own client, at most about 15 s),
    before ``ray.init``, which would retry for minutes with a warning per second where
    something else listens or where the cluster wants a token this process does not send.
    Ray's log lines of the attempt are kept off the terminal: the error says what failed."""
    try:
        from ray._raylet import InnerGcsClient
        from ray.exceptions import AuthenticationError
        probe = InnerGcsClient.standalone
    except (ImportError, AttributeError):  # a Ray version without them: ray.init alone judges
        return
    with _quiet_stderr():
        try:
            probe(address, None, int(PROBE_TIMEOUT * 1000))
            return
        except AuthenticationError:
            mode = os.environ.get("RAY_AUTH_MODE", "")
            why = ("its token is not this process's (RAY_AUTH_TOKEN, or the file ~/.ray/auth_token)"
                   if mode.lower() == "token" else
                   "set RAY_AUTH_MODE=token, with the cluster's token in RAY_AUTH_TOKEN or the file ~/.ray/auth_token "
                   "(`ray get-auth-token` prints it on the head)")
            raise ClusterError(f"the Ray cluster at {address!r}{where} requires token authentication: {why}") from None
        except Exception as exc:  # TimedOut: not a Ray head, or one that does not answer
            why = _last_line(exc).rstrip(".")
            raise ClusterError(f"nothing at {address!r}{where} answers as a Ray cluster's head ({why}); {fix}") from None


class _quiet_stderr:
    """Sends file descriptor 2 (where Ray's C++ logs go) to nowhere within the block."""

    def __enter__(self) -> None:
        sys.stderr.flush()
        self._saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc: Any) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)


def _token_auth_enabled_notice(record: logging.LogRecord) -> bool:
    """A logging filter: False for Ray's notice that token authentication is on (it stays on)."""
    return not record.getMessage().startswith("Token authentication is enabled")


def init_ray(address: str | None = None, num_cpus: int | None = None,
             notice: Notice | None = stderr_notice) -> bool:
    """Connect to the cluster at ``address`` (or ``RAY_ADDRESS``), or start a local one bound
    to 127.0.0.1, saying so to ``notice`` (None: silently). Does nothing if Ray is already
    initialized. Returns True if this call started or connected Ray (the caller then owns it
    and shuts it down)."""
    global _inline_limit
    ray = _ray()
    if ray.is_initialized():
        return False
    source = "--address" if address else "RAY_ADDRESS"
    address = address or os.environ.get("RAY_ADDRESS") or None
    runtime_env = {"env_vars": dict(THREAD_ENV)}
    _raylet_notes()
    # ray.init replaces the SIGTERM handler with its own (which exits): keep ours, and Ctrl-C's
    main = threading.current_thread() is threading.main_thread()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)} if main else {}
    try:
        if address:
            check_address(address, source)
            _inline_limit = RAY_INLINE_BYTES
            try:
                ray.init(address=address, runtime_env=runtime_env, logging_level="WARNING", log_to_driver=False)
            except Exception as exc:
                raise ClusterError(f"cannot join the Ray cluster at {address!r}: "
                                   f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
                                   ) from None
            return True
        loopback_only()
        if notice:
            notice("starting a local Ray instance on 127.0.0.1 (a few seconds)")
        # address "local": an instance of our own, not the cluster that `ray start` recorded. Ray
        # turns its token authentication on for it and says so at every start: not a warning here
        notices = logging.getLogger("ray._private.authentication.authentication_token_setup")
        notices.addFilter(_token_auth_enabled_notice)
        try:
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                     _node_ip_address="127.0.0.1", runtime_env=runtime_env, logging_level="WARNING",
                     log_to_driver=False, _system_config={"max_direct_call_object_size": INLINE_BYTES})
        finally:
            notices.removeFilter(_token_auth_enabled_notice)
        _inline_limit = INLINE_BYTES
        return True
    except SystemExit as exc:  # SIGTERM while ray.init's handler was in place: ours would have raised Terminated
        if exc.code != signal.SIGTERM:
            raise
        if ray.is_initialized():
            ray.shutdown()
        raise Terminated from None
    finally:
        for sig, handler in handlers.items():
            if callable(handler):
                signal.signal(sig, handler)


def _raylet_notes() -> None:
    """Ray's driver prints the errors its raylets publish (a worker that died, a task it
    retries) to standard output, prefixed with colour codes, where the run's lines go. Say
    instead, on stderr, in one line each, what is news: a worker that died (its call is
    retried, MAX_RESTARTS times per actor at most); leave out the retries of our own calls
    and the tasks that ``ray.kill`` ended at shutdown."""
    try:
        from ray._private import worker as ray_worker
    except ImportError:
        return
    original = getattr(ray_worker, "print_to_stdstream", None)
    if original is None or getattr(original, "evospike", False):
        return

    def show(data: dict, ignore_prefix: bool) -> None:
        if data.get("pid") != "raylet":
            original(data, ignore_prefix)
            return
        for message in data.get("lines", ()):
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(message)).strip()
            if not text or "retries remaining" in text or "ray.kill" in text:
                continue
            first = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0]
            detail = re.search(r"Worker exit type: (\w+) Worker exit detail: ([^.]*)", text)
            if detail:
                first = (f"{first.rstrip('.')} ({detail[1]}: {detail[2]}); its call is retried, with at most "
                         f"{MAX_RESTARTS} restarts per worker")
            print(f"evospike: note: Ray: {first[:400]}", file=sys.stderr, flush=True)

    show.evospike = True
    ray_worker.print_to_stdstream = show


def shutdown() -> None:
    """Disconnect from Ray (and stop a local instance this process started)."""
    import ray
    global _inline_limit
    _inline_limit = RAY_INLINE_BYTES
    ray.shutdown()


def _chunk_bytes(population: Any, n_chunks: int) -> float:
    """Bytes of one chunk's genomes of a population that chunks divide (a matrix, NEAT's
    genes); infinite for others (a SeededPopulation: every chunk needs its whole description)."""
    if isinstance(population, np.ndarray):
        return population.nbytes / n_chunks
    if isinstance(population, NeatPopulation):  # a share of the gene rows, and the whole column layout
        arrays = {k: v for k, v in vars(population).items() if isinstance(v, np.ndarray)}
        rows = sum(arrays[k].nbytes for k in ROW_FIELDS)
        return rows / n_chunks + sum(v.nbytes for v in arrays.values()) - rows
    return math.inf


def _chunk_of(population: Any, rows: tuple[int, int, int]) -> Any:
    """The genomes of an interleaved chunk (start, stop, step), as a population of their own."""
    return take_rows(population, np.arange(*rows))


class _Worker:
    """Body of the evaluation actor: builds the task and genome space once."""

    def __init__(self, problem: Problem) -> None:
        if problem.kernel in ("auto", "numba") and not kernels.AVAILABLE:
            raise RuntimeError(f"run.kernel {problem.kernel!r}: the driver has numba but this Ray "
                               f"worker does not; install numba on every node or run with --kernel numpy")
        self.task, self.space = problem.build()

    def evaluate(self, population: Any, rows: np.ndarray | tuple, seed: int, pad_to: int | None,
                 task_state: Any = None) -> tuple:
        """``rows``: the chunk's genome indices, (start, stop, step) of an interleaved chunk, or
        None: all of ``population`` (a chunk sent with the call); ``task_state``: the task's
        state for this generation (Task.set_state), or None."""
        t0 = time.perf_counter()
        if isinstance(rows, tuple):
            rows = np.arange(*rows)
        if task_state is not None:
            self.task.set_state(task_state)
        ev, neurons, synapses, _ = evaluate_chunks(self.space, self.task, population, rows, seed, pad_to)
        return ev.fitness, ev.metrics, neurons, synapses, time.perf_counter() - t0, os.getpid(), ev.extras


class RayEvaluator(EvaluatorBase):
    """Evaluates a population across Ray actors; same results as :class:`SerialEvaluator`.

    ``workers`` actors (0: one per CPU of the cluster). ``chunks_per_worker`` sets how
    finely a population is split (chunks are at least ``min_chunk`` genomes; 0, the
    default: by measured cost, :meth:`_chunks_per_worker`) and ``in_flight`` how many calls
    each actor has queued. ``measure_wire``: record each generation's bytes as Ray
    serializes them in ``last_wire`` (serializing costs the driver time; off in runs).
    ``notice``: where notes on starting go (None: nowhere; warnings go to stderr anyway).
    """

    def __init__(self, problem: Problem, seed: int, *, workers: int = 0, address: str | None = None,
                 chunks_per_worker: int = 0, min_chunk: int = 8, in_flight: int = 1,
                 timeout: float = 0.0, measure_wire: bool = False, notice: Notice | None = stderr_notice) -> None:
        if not everywhere(problem.task_name):
            raise ClusterError(f"task {problem.task_name!r} is registered only in this process (tasks.register), so "
                               f"Ray's workers cannot make it; make it a plugin (tasks/README.md) or use "
                               f"run.backend = 'serial'")
        self.notice = notice
        self.owns_ray = init_ray(address, notice=notice)
        import ray
        self.ray = ray
        self.seed = int(seed)
        problem.use_kernel()
        self.problem = problem = dataclasses.replace(problem, kernel=current_kernel())  # the driver's choice
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        n = int(workers) or cpus
        if n > cpus:
            print(f"evospike: warning: {n} Ray workers asked for, but the cluster has {cpus} CPUs; using {cpus}",
                  file=sys.stderr)
            n = cpus
        self.workers, self.timeout = n, float(timeout)
        self.chunks_per_worker, self.min_chunk = int(chunks_per_worker), int(min_chunk)
        self.in_flight = max(1, int(in_flight))
        # calls are retried for as long as their actor is restarted, which happens at most MAX_RESTARTS times
        actor = ray.remote(num_cpus=1, max_restarts=MAX_RESTARTS, max_task_retries=-1)(_Worker)
        self.actors = [actor.options(scheduling_strategy="SPREAD").remote(problem) for _ in range(n)]
        self._await_actors(cpus)
        self.last_compute_seconds: list[float] = []
        self.last_wire: dict[str, int] = {}  # bytes of the last generation, as Ray serializes them
        self.measure_wire = bool(measure_wire)
        self._cost: tuple[float, float] | None = None  # last generation: (compute seconds, seconds per call)
        self._generations = 0  # evaluated by this evaluator; the first one's cost is not used (_chunks_per_worker)

    def _await_actors(self, cpus: int) -> None:
        """Wait until every actor has started; a ClusterError (and no actor left) when one failed
        to build its task, or when one is still waiting for a CPU after ``START_TIMEOUT`` s,
        instead of an evaluation that waits forever."""
        ray = self.ray
        ready = {a.__ray_ready__.remote(): k for k, a in enumerate(self.actors)}
        first = min(WAIT_NOTICE, START_TIMEOUT)
        done, pending = ray.wait(list(ready), num_returns=len(ready), timeout=first)
        if pending and START_TIMEOUT > first:  # a busy cluster: say so, then wait the rest of START_TIMEOUT
            free = ray.available_resources().get("CPU", 0.0)
            if self.notice:
                self.notice(f"waiting for {len(pending)} of {len(ready)} Ray workers to start (the cluster has "
                            f"{free:g} of {cpus} CPUs free; at most {START_TIMEOUT:g} s)")
            more, pending = ray.wait(pending, num_returns=len(pending), timeout=START_TIMEOUT - first)
            done = list(done) + list(more)
        try:
            for r in done:
                ray.get(r)
        except ray.exceptions.RayError as exc:
            self.close()
            raise ClusterError(f"a Ray worker failed to start: {_last_line(exc)}") from None
        if pending:
            free = ray.available_resources().get("CPU", 0.0)
            self.close()
            raise ClusterError(f"{len(pending)} of {len(ready)} Ray workers did not start within {START_TIMEOUT:g} s "
                               f"(the cluster has {free:g} of {cpus} CPUs free); ask for fewer with --workers, "
                               f"or free the CPUs that other Ray jobs hold")

    def _chunks_per_worker(self) -> int:
        """Chunks per worker for this generation, from the last one's measured cost: enough
        chunks that the actors freeing up first balance a generation whose cost sits in a few
        networks (early closed-loop populations), but each chunk's compute at least
        ``COST_PER_CALL`` times the measured overhead of one call, at most ``MAX_CHUNKS_PER_WORKER``.
        The first two generations take one chunk per worker: the first has nothing measured,
        and its cost includes each actor's one-off start (imports, compiled kernels loaded),
        which would split a short second generation into more calls than pay for themselves."""
        if self.chunks_per_worker:
            return self.chunks_per_worker
        if self._cost is None:
            return 1
        compute, per_call = self._cost
        affordable = compute / (self.workers * COST_PER_CALL * max(per_call, 1e-4))
        return int(min(MAX_CHUNKS_PER_WORKER, max(1, affordable)))

    def _chunks(self, P: int) -> list[tuple[int, int, int]]:
        """Interleaved chunks (genome i goes to chunk i mod n) as (start, stop, step):
        neighbouring genomes are often alike in cost, so interleaving balances the chunks."""
        n = max(1, min(self.workers * self._chunks_per_worker(), math.ceil(P / self.min_chunk)))
        return [(k, P, n) for k in range(n)]

    def evaluate(self, population: Any, generation: int) -> tuple[Evaluation, Sizes]:
        """The task's evaluation and the networks' sizes, in population order."""
        return self.evaluate_seed(population, derive_seed(self.seed, generation, "evaluate"))

    def evaluate_seed(self, population: Any, seed: int) -> tuple[Evaluation, Sizes]:
        """Evaluate with an explicit evaluation seed."""
        ray = self.ray
        P = len(population)
        pad_to = self.problem.padded_size(population)
        start = time.perf_counter()
        chunks = self._chunks(P)
        inline = _chunk_bytes(population, len(chunks)) <= _inline_limit  # each call carries its chunk
        ref = None if inline else ray.put(population)
        ctx = ray._private.worker.global_worker.get_serialization_context() if self.measure_wire else None
        wire = {"put_bytes": ctx.serialize(population).total_bytes if ctx and not inline else 0, "arg_bytes": 0,
                "return_bytes": 0, "calls": 0}
        todo = list(enumerate(chunks))[::-1]
        running: dict[Any, tuple[int, int]] = {}  # object ref -> (chunk index, actor index)
        results: dict[int, tuple] = {}
        free = list(range(len(self.actors))) * self.in_flight  # queued calls hide the round trip
        deadline = time.monotonic() + self.timeout if self.timeout else None
        while todo or running:
            while todo and free:
                a = free.pop(0)
                k, rows = todo.pop()
                call = ((_chunk_of(population, rows), None) if inline else (ref, rows)) + (
                    seed, pad_to, self.task_state)
                running[self.actors[a].evaluate.remote(*call)] = (k, a)
                wire["arg_bytes"] += ctx.serialize(call).total_bytes if ctx else 0
                wire["calls"] += 1
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, _ = ray.wait(list(running), num_returns=1, timeout=left)
            if not done:
                for r in running:
                    ray.cancel(r)  # the actors are killed when the evaluator closes
                raise EvaluationTimeout(f"the evaluation took longer than run.eval_timeout = {self.timeout:g} s")
            for r in done:
                k, a = running.pop(r)
                results[k] = self._get(r, k)
                wire["return_bytes"] += ctx.serialize(results[k]).total_bytes if ctx else 0
                expected = len(range(*chunks[k]))
                if len(results[k][0]) != expected:
                    raise TaskError(f"task returned {len(results[k][0])} fitness values for {expected} networks")
                free.append(a)
        parts = [results[k] for k in range(len(chunks))]
        self.last_compute_seconds = [p[4] for p in parts]
        self.last_wire = wire if ctx else {}
        busiest = max(sum(p[4] for p in parts if p[5] == pid) for pid in {p[5] for p in parts})
        calls_of_busiest = math.ceil(len(chunks) / self.workers)
        self._generations += 1
        if self._generations > 1:
            self._cost = (sum(self.last_compute_seconds),
                          max(0.0, time.perf_counter() - start - busiest) / max(1, calls_of_busiest))
        order = np.argsort(np.concatenate([np.arange(*c) for c in chunks]), kind="stable")  # population order
        ev = Evaluation.concatenate([Evaluation(p[0], p[1], p[6]) for p in parts]).take(order)
        sizes = {"neurons": np.concatenate([p[2] for p in parts])[order],
                 "synapses": np.concatenate([p[3] for p in parts])[order]}
        return ev, sizes

    def _get(self, ref: Any, k: int) -> tuple:
        """A chunk's result; the task's own exception when it raised one, a ClusterError when the
        worker kept dying."""
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, Exception):
                raise cause.with_traceback(None) from None
            raise ClusterError(f"chunk {k} failed on a Ray worker: {_first_line(exc)}") from None
        except ray.exceptions.RayActorError as exc:
            raise ClusterError(f"a Ray worker died evaluating chunk {k} after {MAX_RESTARTS} restarts "
                               f"(out of memory?): {_first_line(exc)}") from None

    def close(self) -> None:
        for a in self.actors:
            try:
                self.ray.kill(a)
            except Exception:  # an actor that is already gone
                pass
        self.actors = []
        if self.owns_ray:
            self.ray.shutdown()
            self.owns_ray = False


def _plain_lines(exc: BaseException) -> list[str]:
    """The exception's message without terminal colours, its non-blank lines stripped."""
    return [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if line.strip()]


def _first_line(exc: BaseException) -> str:
    lines = _plain_lines(exc)
    return lines[0] if lines else type(exc).__name__


def _last_line(exc: BaseException) -> str:
    """The last line of a remote traceback (``module.Error: message``) as ``Error: message``."""
    lines = _plain_lines(exc)
    if not lines:
        return type(exc).__name__
    name, sep, message = lines[-1].partition(": ")
    return f"{name.rpartition('.')[2]}: {message}" if sep and " " not in name else lines[-1]


def ray_map(func: Callable, *iterables: Iterable, chunksize: int | None = None) -> list:
    """``map(func, *iterables)`` evaluated on Ray, in order; a drop-in for DEAP's
    ``toolbox.register("map", ray_map)``. Items go in chunks (default: 4 per CPU) so the
    per-call overhead stays small; ``func`` must be picklable by cloudpickle."""
    init_ray()
    import ray
    items = list(zip(*iterables))
    if not items:
        return []
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    size = chunksize or max(1, math.ceil(len(items) / (4 * cpus)))
    fn = ray.put(func)
    remote = ray.remote(num_cpus=1)(_apply_chunk)
    refs = [remote.remote(fn, items[i:i + size]) for i in range(0, len(items), size)]
    return [y for part in ray.get(refs) for y in part]


def _apply_chunk(func: Callable, items: list[tuple]) -> list:
    return [func(*args) for args in items]
