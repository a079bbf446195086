"""Ray backend: loopback-only local cluster, determinism across workers, fault tolerance.

Everything here runs on 127.0.0.1 and sends no traffic elsewhere.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evo.training import config as cfg
from evo.evaluation import ray as distributed
from evo.results import load_run
from evo.rundir.layout import TIMING_COLUMNS
from evo.training.api import run

ray = pytest.importorskip("ray")

QUICK = {"task": {"name": "cartpole", "episodes": 4, "max_steps": 80, "validation_episodes": 4},
         "genome": {"hidden": 4}, "run": {"generations": 3, "quiet": True, "validate_every": 0}}
SLOW = {"task": {"name": "cartpole", "episodes": 1500, "max_steps": 200, "validation_episodes": 4},
        "genome": {"hidden": 4}, "run": {"generations": 5, "quiet": True, "validate_every": 0}}


def test_the_files_that_start_ray_share_one_pytest_xdist_group(request):
    """tests/conftest.py's groups are in effect: this test runs in the process of the "ray" group."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not in a pytest-xdist process of --dist loadgroup (pytest -n 0)")
    assert request.node.nodeid.endswith("@ray"), request.node.nodeid


def config(tmp_path, name, base=QUICK, **run_over):
    layer = {**base, "run": {**base["run"], "out": str(tmp_path), "name": name, **run_over}}
    return cfg.resolve(layer)


def metrics(path):
    return load_run(path).metrics.drop(columns=TIMING_COLUMNS)


def worker_pids() -> set[int]:
    pids = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith("ray::_Worker"):
                pids.add(int(d.name))
    return pids


@pytest.fixture(scope="module")
def local_ray():
    if ray.is_initialized():
        ray.shutdown()
    distributed.init_ray(num_cpus=3)
    yield ray
    ray.shutdown()


def test_local_instance_listens_on_loopback_only(local_ray):
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is not installed")
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    mine = [line for line in out.splitlines() if any(k in line for k in ("raylet", "gcs_server", "ray::", f"pid={os.getpid()},"))]
    assert mine, out
    for line in mine:
        local = line.split()[3]
        assert local.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:", "[::1]:")), line
    assert ray.util.get_node_ip_address() == "127.0.0.1"


HOLD_CLUSTER = """
import sys
from evo.evaluation.ray import loopback_only
loopback_only()
from ray.cluster_utils import Cluster
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})  # recorded as the machine's latest
print(cluster.address, flush=True)
sys.stdin.read()  # until the test closes stdin
cluster.shutdown()
"""
OWN_INSTANCE = """
import ray
from evo.evaluation.ray import init_ray
init_ray(num_cpus=2)
print(ray.get_runtime_context().gcs_address, int(ray.cluster_resources()["CPU"]))
"""


def test_a_run_without_an_address_starts_its_own_instance_beside_another_cluster():
    """ray.init() without an address joins the cluster that ``ray start`` (or a test's
    Cluster) started last on the machine, and fails there for its num_cpus; evospike's
    local instance is its own. Both processes keep Ray's files in a directory of their own."""
    tmp = tempfile.mkdtemp(prefix="r", dir="/tmp")  # short: Ray's socket paths live under it
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"RAY_TMPDIR": tmp}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    try:
        held = holder.stdout.readline().strip()
        assert held.startswith("127.0.0.1:"), holder.stderr.read() if holder.poll() is not None else held
        assert (Path(tmp) / "ray" / "ray_current_cluster").read_text().strip() == held
        own = subprocess.run([sys.executable, "-c", OWN_INSTANCE], capture_output=True, text=True, env=env,
                             timeout=120)
        assert own.returncode == 0, own.stderr
        assert "Token authentication" not in own.stderr  # Ray's notice that it is on: it stays on, unsaid
        address, cpus = own.stdout.split()
        assert address.startswith("127.0.0.1:") and address != held and int(cpus) == 2
    finally:
        holder.communicate(input="", timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def test_sigterm_while_ray_starts_interrupts_the_run(monkeypatch):
    """ray.init puts in a SIGTERM handler of its own, which calls sys.exit(15), until init_ray
    restores ours: a SIGTERM then must still end the run as interrupted, not as a task that
    called sys.exit."""
    from evo.errors import Terminated

    def init(**kwargs):
        raise SystemExit(signal.SIGTERM)  # what Ray's handler does on SIGTERM
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        distributed.init_ray(num_cpus=1)
    assert signal.getsignal(signal.SIGTERM) is before
    monkeypatch.setattr(ray, "init", lambda **kwargs: (_ for _ in ()).throw(SystemExit(3)))
    with pytest.raises(SystemExit):  # any other exit is not a signal
        distributed.init_ray(num_cpus=1)


def test_joining_a_cluster_that_wants_a_token_says_how_in_one_line(tmp_path):
    """A head started with token authentication (Ray's default for a new local cluster)
    refuses a client without the token; Ray's own client retries for about 20 s with a
    warning per second. evospike asks the head first: one line saying what to set. With
    the token the run joins."""
    tmp = tempfile.mkdtemp(prefix="r", dir="/tmp")
    token = "0123456789abcdef" * 4
    base = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    base["RAY_TMPDIR"] = tmp
    holder = subprocess.Popen([sys.executable, "-c", HOLD_CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env=base | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
    try:
        address = holder.stdout.readline().strip()
        assert address.startswith("127.0.0.1:"), holder.stderr.read() if holder.poll() is not None else address
        argv = [sys.executable, "-m", "evo", "run", "xor", "--no-preset", "--generations", "2", "--quiet",
                "--address", address, "--out", str(tmp_path)]
        for env, says in ((base, "set RAY_AUTH_MODE=token, with the cluster's token in RAY_AUTH_TOKEN"),
                          (base | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "f" * 64}, "its token is not this")):
            t0 = time.time()
            out = subprocess.run(argv + ["--name", "refused"], capture_output=True, text=True, env=env, timeout=120)
            assert out.returncode == 2 and time.time() - t0 < 15, out.stderr
            assert out.stderr.startswith(f"evospike: error: the Ray cluster at '{address}' (--address) requires token "
                                         f"authentication: {says}") and out.stderr.count("\n") == 1, out.stderr
        assert not (tmp_path / "refused").exists()
        out = subprocess.run(argv + ["--name", "joined"], capture_output=True, text=True, timeout=180,
                             env=base | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
        assert out.returncode == 0, out.stderr
        assert load_run(tmp_path / "joined").summary["status"] == "finished"
    finally:
        holder.communicate(input="", timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def test_metrics_identical_for_serial_and_ray_with_1_2_3_workers(local_ray, tmp_path):
    run(config(tmp_path, "serial", backend="serial"), log=None)
    ref = metrics(tmp_path / "serial")
    for n in (1, 2, 3):
        run(config(tmp_path, f"ray{n}", backend="ray", workers=n), log=None)
        pd.testing.assert_frame_equal(metrics(tmp_path / f"ray{n}"), ref)
    assert ray.is_initialized()  # a run does not stop an instance it did not start


def test_auto_backend_moves_to_ray_after_a_long_generation_and_changes_no_result(local_ray, tmp_path, capsys):
    from evo.evaluation import AutoEvaluator
    from evo.training.api import problem_of
    run(config(tmp_path, "serial", backend="serial"), log=None)
    run(config(tmp_path, "auto", backend="auto", ray_after=0.0), log=lambda _line: None)
    pd.testing.assert_frame_equal(metrics(tmp_path / "auto"), metrics(tmp_path / "serial"))
    assert "generation 0 took" in capsys.readouterr().err
    run(config(tmp_path, "quiet", backend="auto", ray_after=0.0), log=None)  # the same move, not told
    pd.testing.assert_frame_equal(metrics(tmp_path / "quiet"), metrics(tmp_path / "serial"))
    assert capsys.readouterr().err == ""
    conf = config(tmp_path, "x")
    problem = problem_of(conf)
    pop = np.random.default_rng(0).normal(size=(6, problem.build()[1].dim))
    with AutoEvaluator(problem, 0, ray_after=3600.0) as ev:
        ev.evaluate(pop, 0)
        assert ev.backend == "serial" and "task" in ev.last_seconds  # short generations stay serial
    with AutoEvaluator(problem, 0, ray_after=0.0, cpus=1) as ev:
        ev.evaluate(pop, 0)
        assert ev.backend == "serial"  # one CPU: Ray would only add its overhead
    with AutoEvaluator(problem, 0, workers=1, ray_after=3600.0) as ev:
        assert ev.backend == "ray"  # workers asked for: Ray at once
    with AutoEvaluator(problem, 0, ray_after=0.0) as ev:
        a, _ = ev.evaluate(pop, 0)
        assert ev.backend == "ray"
        b, _ = ev.evaluate(pop, 0)
    np.testing.assert_array_equal(a.fitness, b.fitness)


def test_auto_backend_does_not_judge_the_processs_first_evaluation(local_ray, tmp_path, capsys):
    """The first evaluation also loads or compiles the kernels (up to 15 s on a fresh install):
    a default run must not move to Ray for that one-off cost."""
    from evo.evaluation import AutoEvaluator
    from evo.training.api import problem_of
    problem = problem_of(config(tmp_path, "x"))
    pop = np.random.default_rng(0).normal(size=(6, problem.build()[1].dim))
    with AutoEvaluator(problem, 0, ray_after=1e-9) as ev:
        ev.evaluate(pop, 0)
        assert ev.backend == "serial"
        ev.evaluate(pop, 1)
        assert ev.backend == "ray"
    err = capsys.readouterr().err
    assert "generation 1 took" in err and "generation 0 took" not in err


def test_chunks_follow_the_measured_cost(local_ray):
    from evo.training.api import problem_of
    ev = distributed.RayEvaluator(problem_of(config(Path("/tmp"), "x")), 0, workers=2)
    try:
        assert ev._chunks_per_worker() == 1  # nothing measured yet
        ev._cost = (2.0, 0.002)             # 2 s of compute, 2 ms per call: 4 chunks per worker pay
        assert ev._chunks_per_worker() == distributed.MAX_CHUNKS_PER_WORKER
        ev._cost = (0.02, 0.005)            # 20 ms of compute, 5 ms per call: one chunk per worker
        assert ev._chunks_per_worker() == 1
        assert ev._chunks(10) == [(0, 10, 2), (1, 10, 2)]
        pop = np.random.default_rng(0).normal(size=(12, ev.problem.build()[1].dim))
        ev._cost = None
        ev.evaluate(pop, 0)
        assert ev._cost is None and ev._chunks_per_worker() == 1  # the first generation pays the actors' start
        ev.evaluate(pop, 1)
        compute, per_call = ev._cost
        assert compute > 0 and per_call >= 0
    finally:
        ev.close()


def test_small_chunks_travel_inside_the_calls_and_large_ones_through_the_object_store(local_ray, monkeypatch):
    from evo.evaluation import SerialEvaluator
    from evo.training.api import problem_of
    problem = problem_of(config(Path("/tmp"), "x"))
    pop = np.random.default_rng(0).normal(size=(40, problem.build()[1].dim))
    serial = SerialEvaluator(problem, 0).evaluate(pop, 3)[0].fitness
    ev = distributed.RayEvaluator(problem, 0, workers=2, measure_wire=True)
    try:
        assert distributed._inline_limit == distributed.INLINE_BYTES  # the instance evospike started
        np.testing.assert_array_equal(ev.evaluate(pop, 3)[0].fitness, serial)
        wire = ev.last_wire
        assert wire["put_bytes"] == 0 and wire["calls"] == 2
        assert pop.nbytes < wire["arg_bytes"] < pop.nbytes + 4096  # each call its own 20 genomes
        monkeypatch.setattr(distributed, "_inline_limit", pop.nbytes // 2 - 1)  # half the population: too big
        np.testing.assert_array_equal(ev.evaluate(pop, 3)[0].fitness, serial)
        wire = ev.last_wire
        assert pop.nbytes < wire["put_bytes"] < pop.nbytes + 1024 and wire["arg_bytes"] < 4096
    finally:
        ev.close()


def test_a_chunks_bytes_are_those_of_the_genomes_it_carries():
    from evo.genomes.neat import NeatSpace
    from evo.strategies.neat import NEAT
    es = NEAT(NeatSpace(3, 1), seed=0, population=60, add_node=0.5, add_connection=0.5)
    for g in range(4):
        pop = es.ask()
        es.tell(pop, np.random.default_rng(g).random(len(pop)))
    pop = es.ask()
    for n in (1, 3, 4):
        part = distributed._chunk_of(pop, (0, len(pop), n))
        carried = sum(v.nbytes for v in vars(part).values() if isinstance(v, np.ndarray))
        assert distributed._chunk_bytes(pop, n) == carried
    matrix = np.zeros((40, 7))
    assert distributed._chunk_bytes(matrix, 4) == distributed._chunk_of(matrix, (1, 40, 4)).nbytes == 10 * 7 * 8
    from evo.genomes.seeded import SeededPopulation
    assert distributed._chunk_bytes(SeededPopulation.__new__(SeededPopulation), 2) == float("inf")


def test_a_worker_whose_task_fails_to_build_is_a_one_line_error(local_ray):
    from evo.errors import ClusterError
    from evo.evaluation import Problem
    problem = Problem({"name": "xor", "no_such_option": 1}, "fixed", {"hidden": 2})
    with pytest.raises(ClusterError, match="a Ray worker failed to start: .*no_such_option"):
        distributed.RayEvaluator(problem, 0, workers=2)


def test_workers_that_cannot_get_a_cpu_are_an_error_not_a_hang(local_ray, monkeypatch, capsys):
    from evo.errors import ClusterError
    from evo.training.api import problem_of

    @ray.remote(num_cpus=2)
    class Hog:
        def ping(self):
            return 1

    hog = Hog.remote()
    ray.get(hog.ping.remote())  # two of the three CPUs are held
    monkeypatch.setattr(distributed, "START_TIMEOUT", 8.0)  # time for the one worker with a CPU, on a busy machine
    monkeypatch.setattr(distributed, "WAIT_NOTICE", 0.5)
    try:
        with pytest.raises(ClusterError, match=r"2 of 3 Ray workers did not start within 8 s \(the cluster has 0 of 3 CPUs free\)"):
            distributed.RayEvaluator(problem_of(config(Path("/tmp"), "x")), 0, workers=3)
        assert "evospike: waiting for " in capsys.readouterr().err  # said while it waited
    finally:
        ray.kill(hog)
    deadline = time.time() + 30
    while ray.available_resources().get("CPU", 0) < 3 and time.time() < deadline:
        time.sleep(0.1)  # the next test gets every CPU back


GAUSSIAN = {**QUICK, "genome": {"hidden": 4}, "run": {**QUICK["run"], "generations": 4}}


@pytest.mark.parametrize("strategy", ["openes", "pgpe", "snes"])
def test_gaussian_strategies_identical_for_serial_and_ray_with_1_and_2_workers(local_ray, tmp_path, strategy):
    base = {**GAUSSIAN, "strategy": {"name": strategy, "population": 16, "sigma0": 0.5}}
    run(config(tmp_path, "serial", base=base, backend="serial"), log=None)
    ref = metrics(tmp_path / "serial")
    for n in (1, 2):
        run(config(tmp_path, f"ray{n}", base=base, backend="ray", workers=n), log=None)
        pd.testing.assert_frame_equal(metrics(tmp_path / f"ray{n}"), ref)
    assert load_run(tmp_path / "ray2").best == load_run(tmp_path / "serial").best


def test_a_seed_described_population_travels_without_a_p_by_d_term(local_ray):
    from evo import strategies
    from evo.evaluation import Problem, SerialEvaluator
    problem = Problem({"name": "digits", "batch_size": 16, "steps": 3}, "fixed",
                      {"hidden": [64, 64], "recurrent": False, "evolve": ["weights"]})
    ev = distributed.RayEvaluator(problem, 0, workers=2, measure_wire=True)
    try:
        walls = {}
        for P in (16, 64):
            es = strategies.make("pgpe", 64 * 64 + 64 * 64 + 64 * 10, seed=0, population=P)
            D = es.dim
            pop = es.ask()
            fit, _ = ev.evaluate(pop, 0)
            walls[P] = dict(ev.last_wire)
            serial_fitness = SerialEvaluator(problem, 0).evaluate(pop, 0)[0].fitness
            np.testing.assert_array_equal(fit.fitness, serial_fitness)
            # center and sigma (float32) plus 8 bytes per noise vector, and a little framing
            assert 8 * D < walls[P]["put_bytes"] < 8 * D + 8 * P + 2048
            assert walls[P]["arg_bytes"] + walls[P]["return_bytes"] < 1024 * P
            assert walls[P]["put_bytes"] + walls[P]["arg_bytes"] + walls[P]["return_bytes"] <= 4 * 4 * D + 1024 * P
        # four times the population adds only its offsets (8 bytes per noise vector), not P x D numbers
        assert abs(walls[64]["put_bytes"] - walls[16]["put_bytes"] - 8 * (32 - 8)) <= 16
    finally:
        ev.close()


def test_neat_chunks_pad_like_the_whole_population(local_ray, tmp_path):
    neat = {"task": {"name": "xor"}, "strategy": {"name": "neat", "population": 60},
            "run": {"generations": 6, "quiet": True, "stop_on_solved": False}}
    run(config(tmp_path, "serial", base=neat, backend="serial"), log=None)
    run(config(tmp_path, "ray", base=neat, backend="ray", workers=3), log=None)
    pd.testing.assert_frame_equal(metrics(tmp_path / "ray"), metrics(tmp_path / "serial"))


def test_ray_map_works_as_deap_map(local_ray):
    from deap import base
    toolbox = base.Toolbox()
    toolbox.register("map", distributed.ray_map)
    assert toolbox.map(lambda a, b: a * b, range(50), range(50)) == [i * i for i in range(50)]
    assert toolbox.map(abs, []) == []


def _run_and_disturb(cfg_, disturb) -> None:
    """Run in a thread; once the second generation has started, call ``disturb()``."""
    errors = []

    def target():
        try:
            run(cfg_, log=None)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    metrics_file = Path(cfg_["run"]["out"]) / cfg_["run"]["name"] / "metrics.parquet"
    deadline = time.time() + 120
    while not metrics_file.exists() and time.time() < deadline and t.is_alive():
        time.sleep(0.02)
    assert t.is_alive(), f"the run ended before it could be disturbed: {errors}"
    disturb()
    t.join(300)
    assert not t.is_alive() and not errors, errors


def test_killed_worker_is_restarted_and_its_chunk_retried(local_ray, tmp_path):
    run(config(tmp_path, "calm", SLOW, backend="serial"), log=None)
    killed = []

    def kill_one():
        pids = sorted(worker_pids())
        assert pids
        os.kill(pids[0], signal.SIGKILL)
        killed.append(pids[0])

    _run_and_disturb(config(tmp_path, "killed", SLOW, backend="ray", workers=2), kill_one)
    assert killed and killed[0] not in worker_pids()
    pd.testing.assert_frame_equal(metrics(tmp_path / "killed"), metrics(tmp_path / "calm"))
    assert load_run(tmp_path / "killed").summary["status"] == "finished"


def test_gaussian_strategy_on_a_three_node_loopback_cluster_equals_serial(tmp_path):
    from ray.cluster_utils import Cluster
    if ray.is_initialized():
        ray.shutdown()
    base = {**GAUSSIAN, "strategy": {"name": "openes", "population": 12, "sigma0": 0.5}}
    run(config(tmp_path, "serial", base=base, backend="serial"), log=None)
    distributed.loopback_only()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        distributed.init_ray(address=cluster.address)
        run(config(tmp_path, "cluster", base=base, backend="ray", workers=3), log=None)
        pd.testing.assert_frame_equal(metrics(tmp_path / "cluster"), metrics(tmp_path / "serial"))
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_node_removed_mid_run_on_a_three_node_cluster(tmp_path):
    from ray.cluster_utils import Cluster
    if ray.is_initialized():
        ray.shutdown()
    run(config(tmp_path, "calm", SLOW, backend="serial"), log=None)
    distributed.loopback_only()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
        cluster.wait_for_nodes()
        distributed.init_ray(address=cluster.address)
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}

        def remove_node():
            cluster.remove_node(nodes[0], allow_graceful=False)

        _run_and_disturb(config(tmp_path, "cut", SLOW, backend="ray", workers=2), remove_node)
        pd.testing.assert_frame_equal(metrics(tmp_path / "cut"), metrics(tmp_path / "calm"))
        assert nodes[0] not in cluster.worker_nodes
        deadline = time.time() + 60  # the cluster notices the lost node after its heartbeat timeout
        while sum(n["Alive"] for n in ray.nodes()) != 2 and time.time() < deadline:
            time.sleep(0.5)
        assert sum(n["Alive"] for n in ray.nodes()) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_auto_backend_moves_when_ray_would_save_enough_of_the_generations_left(tmp_path):
    from evo.evaluation import AutoEvaluator
    from evo.evaluation.auto import RAY_PAYOFF, WORTH_RAY
    from evo.training.api import problem_of
    problem = problem_of(config(tmp_path, "x"))
    with AutoEvaluator(problem, 0, cpus=2, generations=320) as ev:  # the digits preset: 0.5 s a generation
        assert ev.backend == "serial"
        assert ev._worth_ray(0.5, 1)                      # 318 left x 0.5 s x 1/2 = 79.5 s saved
        assert not ev._worth_ray(0.5, 300)                # 19 left: 4.75 s, not worth Ray's start
        assert not ev._worth_ray(WORTH_RAY / 2, 1)        # generations this short: Ray's calls would cost
        assert ev._worth_ray(1.0, 318)                    # ray_after (1 s) still moves
    with AutoEvaluator(problem, 0, cpus=4, generations=41, ray_after=10.0) as ev:
        assert ev._worth_ray(RAY_PAYOFF / 30, 0)          # 40 left x 1 s x 3/4 = 30 s
        assert not ev._worth_ray(RAY_PAYOFF / 30 * 0.99, 0)
    with AutoEvaluator(problem, 0, cpus=2) as ev:         # a run's length unknown: ray_after alone
        assert not ev._worth_ray(0.5, 1) and ev._worth_ray(1.0, 1)
