"""A careless or hostile user's findings (issue 15), one test each (test_fNN_...), and a sweep:
SIGTERM and SIGINT at seeded moments, serial and Ray, then resume, equals the undisturbed run.

Misbehaving tasks come from tests/fixtures/plugins/hostile_tasks.py, installed as a plugin
through an entry point in a test-made dist-info, so that Ray workers find them too.
"""
import errno
import fcntl
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evo.app.cli import main
from evo.results import load_run
from evo.rundir import files
from evo.rundir.layout import TIMING_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "tests" / "fixtures" / "plugins"
HOSTILE = {"extra": "Extra", "sleepy": "Sleepy", "dies": "Dies", "nanspikes": "NanSpikes"}


def plugin_env(where: Path, broken: bool = False) -> dict:
    info = where / "site" / "hostile_tasks-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile-tasks\nVersion: 0.1\n")
    lines = [f"{name} = hostile_tasks:{cls}" for name, cls in HOSTILE.items()]
    if broken:
        lines.append("broken = hostile_missing_module:Nothing")
    (info / "entry_points.txt").write_text("[evospike.tasks]\n" + "\n".join(lines) + "\n")
    path = os.pathsep.join([str(where / "site"), str(PLUGINS), str(ROOT)])
    return {**os.environ, "PYTHONPATH": path}


def cli(args: list[str], env: dict | None = None, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evo", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, **kw)


def one_line_error(out: subprocess.CompletedProcess | str) -> str:
    err = out if isinstance(out, str) else out.stderr
    lines = [line for line in err.splitlines() if line.startswith("evospike: error")]
    assert len(lines) == 1 and "Traceback" not in err and "\x1b" not in err, err
    return lines[0]


def quick_run(tmp_path: Path, name: str = "r", task: str = "xor", generations: int = 4, *extra: str) -> Path:
    assert main(["run", task, "--strategy", "cma", "--backend", "serial", "--quiet", "--generations",
                 str(generations), "--out", str(tmp_path), "--name", name, *extra]) == 0
    return tmp_path / name


def frozen(path: Path) -> dict:
    """Every file of a run directory and its bytes."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# ---- the sweep ----------------------------------------------------------------------------
SWEEP_CONFIG = """
[task]
name = "cartpole"
episodes = 3
max_steps = 200
[strategy]
name = "cma"
population = 16
[run]
stop_on_solved = false
stop_fitness = inf
generations = 22
validate_every = 5
"""
SUMMARY_KEYS = ("status", "task", "strategy", "seed", "generations", "evaluations", "best", "best_generation",
                "validation", "solved_generation")


def outcome(path: Path) -> tuple:
    r = load_run(path)
    best = json.loads((path / "best.json").read_text())
    return (r.metrics.drop(columns=TIMING_COLUMNS), r.individuals.reset_index(drop=True), best,
            {k: r.summary.get(k) for k in SUMMARY_KEYS})


def same(a: tuple, b: tuple) -> None:
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert a[2] == b[2] and a[3] == b[3]


@pytest.mark.without_ray
def test_a_test_without_ray_leaves_the_ray_group(request):
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not in a pytest-xdist process of --dist loadgroup (pytest -n 0)")
    assert request.node.nodeid.endswith("@test_hostile.py"), request.node.nodeid


def sweep_moments() -> list[tuple[int, float]]:
    """20 seeded moments: the rows of metrics to wait for, then a delay in seconds."""
    rng = np.random.default_rng(15)
    return [(int(rng.integers(1, 18)), float(rng.uniform(0, 0.04))) for _ in range(20)]


@pytest.mark.parametrize("backend, trials", [
    pytest.param("serial", range(14), marks=pytest.mark.without_ray, id="serial"),
    pytest.param("ray", range(14, 20), id="ray")])
def test_sweep_sigterm_and_sigint_then_resume_equals_the_undisturbed_run(tmp_path, backend, trials):
    """Findings 1 and 14: 20 seeded moments (14 serial, 6 on Ray), SIGTERM and SIGINT alternately.
    The serial moments run outside the group of tests that start Ray (tests/conftest.py)."""
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(SWEEP_CONFIG)
    assert main(["run", "--config", str(cfg), "--backend", "serial", "--quiet", "--out", str(tmp_path),
                 "--name", "calm"]) == 0
    calm = outcome(tmp_path / "calm")
    moments = sweep_moments()
    interrupted = 0
    for k in trials:
        name = f"{backend}-{k}"
        sig = signal.SIGTERM if k % 2 == 0 else signal.SIGINT
        rows, delay = moments[k]
        proc = subprocess.Popen([sys.executable, "-m", "evo", "run", "--config", str(cfg), "--backend", backend,
                                 "--workers", "2", "--quiet", "--out", str(tmp_path), "--name", name],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                # a test run started in the background inherits SIGINT ignored
                                # (shells do that for background jobs); the run is to see it
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        metrics_file, deadline = tmp_path / name / "metrics.parquet", time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                if len(pd.read_parquet(metrics_file)) >= rows:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.005)
        time.sleep(delay)
        proc.send_signal(sig)
        rc = proc.wait(90)
        stderr = proc.stderr.read()
        status = load_run(tmp_path / name).summary["status"]
        assert (rc, status) in ((130, "interrupted"), (0, "finished")), (name, rc, status, stderr)
        interrupted += rc == 130
        assert main(["resume", str(tmp_path / name), "--backend", "serial", "--quiet"]) == 0
        same(outcome(tmp_path / name), calm)
    assert interrupted >= math.ceil(0.75 * len(trials)), interrupted  # 15 of the 20 in all


# ---- data loss and silent corruption --------------------------------------------------------
def test_f02_every_backend_checks_every_chunk(tmp_path):
    env = plugin_env(tmp_path)
    for backend, message in (("serial", "task returned 17 fitness values for 16 networks"),
                             ("ray", "task returned 9 fitness values for 8 networks")):  # two chunks of 8
        out = cli(["run", "extra", "--backend", backend, "--workers", "2", "--population", "16", "--quiet",
                   "--out", str(tmp_path / "runs"), "--name", backend], env=env)
        assert out.returncode == 2 and message in one_line_error(out), out.stderr
        summary = load_run(tmp_path / "runs" / backend).summary
        assert summary["status"] == "failed" and not (tmp_path / "runs" / backend / "best.json").exists()


def test_f03_resume_refuses_files_that_disagree_with_the_checkpoint(tmp_path, capsys):
    path = quick_run(tmp_path)
    (path / "metrics.parquet").unlink()
    before = frozen(path)
    assert main(["resume", str(path), "--generations", "8"]) == 2
    assert one_line_error(capsys.readouterr().err) == (f"evospike: error: {str(path)!r}: metrics.parquet is missing, "
                                                       f"but summary.json records 4 finished generations")
    assert frozen(path) == before


@pytest.mark.parametrize("field, value, message", [
    ("best_genome", [None] * 114, "best_genome"),
    ("best_genome", [1.0, 2.0, 3.0], "best_genome"),
    ("generation", -5, "generation: -5"),
    ("generation", "x", "generation: 'x'"),
    ("evaluations", None, "evaluations"),
    ("validated", [1, "x"], "validated"),
    ("strategy_npz", "../../../etc/passwd", "strategy_npz"),   # finding 9
    ("strategy_json", "/etc/hostname", "strategy_json"),        # finding 9
])
def test_f04_f09_resume_checks_every_field_of_loop_json_first(tmp_path, capsys, field, value, message):
    path = quick_run(tmp_path)
    loop_file = path / "checkpoints" / "loop.json"
    loop = json.loads(loop_file.read_text())
    loop[field] = value
    loop_file.write_text(json.dumps(loop))
    before = frozen(path)
    assert main(["resume", str(path), "--generations", "8"]) == 2
    assert message in one_line_error(capsys.readouterr().err)
    assert frozen(path) == before  # nothing was touched


def test_f05_leftovers_are_cleaned_and_a_run_killed_in_its_first_generation_resumes(tmp_path):
    env = plugin_env(tmp_path)
    out = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "evo", "run", "sleepy", "--backend", "serial", "--generations",
                             "2", "--quiet", "--out", str(out), "--name", "slow"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    loop_file, deadline = out / "slow" / "checkpoints" / "loop.json", time.time() + 60
    while not loop_file.exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait(30)
    assert json.loads(loop_file.read_text())["generation"] == 0  # checkpointed before the first generation
    for leftover in (out / "slow" / ".metrics.parquet.abcd.tmp", out / "slow" / "checkpoints" / ".loop.json.x.tmp"):
        leftover.write_bytes(b"half")
    listed = cli(["ls", str(out)], env=env)
    assert "killed" in listed.stdout  # "running" in summary.json, but no process holds the run
    resumed = cli(["resume", str(out / "slow"), "--quiet"], env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert not list((out / "slow").rglob("*.tmp"))
    assert load_run(out / "slow").summary["status"] == "finished"


# ---- paths ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../escape1", "ABSOLUTE", "a" * 300, "..", "x\0y", " ", "a\nb", "tab\there"])
def test_f06_a_run_name_is_one_folder_name(tmp_path, capsys, name):
    out = tmp_path / "deep" / "runs"
    name = str(tmp_path / "elsewhere" / "abs") if name == "ABSOLUTE" else name
    assert main(["run", "xor", "--backend", "serial", "--out", str(out), "--name", name]) == 2
    assert "run.name" in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "escape1").exists() and not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("key,value,message", [
    ("out", "", "run.out: ''; expected a folder (default: runs)"),
    ("stop_fitness", float("nan"), "run.stop_fitness: nan; expected a number (inf: no such stop) or \"task\""),
])
def test_f06_run_out_and_numbers_that_cannot_work_are_refused(tmp_path, monkeypatch, key, value, message):
    from evo.errors import ConfigError
    from evo.training import config as cfg
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        cfg.resolve({"task": {"name": "xor"}, "run": {key: value}})
    assert str(err.value) == message
    assert not list(tmp_path.iterdir())


def test_f07_plots_replace_a_symlink_instead_of_writing_through_it(tmp_path):
    path = quick_run(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (path / "fitness.png").symlink_to(victim)
    assert main(["show", str(path), "--plot"]) == 0
    assert victim.read_text() == "keep me"
    assert not (path / "fitness.png").is_symlink() and (path / "fitness.png").read_bytes()[:4] == b"\x89PNG"


def test_f08_a_symlinked_checkpoints_folder_is_refused(tmp_path, capsys):
    path = quick_run(tmp_path)
    outside = tmp_path / "outside"
    (path / "checkpoints").rename(outside)
    (outside / "strategy-000777.json").write_text("{}")
    (path / "checkpoints").symlink_to(outside)
    before = frozen(outside)
    assert main(["resume", str(path), "--generations", "8"]) == 2
    assert "symbolic link" in one_line_error(capsys.readouterr().err)
    assert frozen(outside) == before


# ---- hangs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("address", ["127.0.0.1:1", "garbage", "http://127.0.0.1:6379", "ray://127.0.0.1:10001"])
def test_f10_a_bad_ray_address_is_one_line_and_quick(tmp_path, address):
    t0 = time.time()
    out = cli(["run", "xor", "--out", str(tmp_path)], env={**os.environ, "RAY_ADDRESS": address}, timeout=60)
    assert out.returncode == 2 and address in one_line_error(out)
    assert time.time() - t0 < 45
    assert not list(tmp_path.iterdir())  # no run directory for a run that could not start


def test_f10_an_address_where_something_else_listens_is_one_line_without_rays_log(tmp_path):
    import http.server
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{server.server_address[1]}"
    try:
        t0 = time.time()
        out = cli(["run", "xor", "--address", address, "--out", str(tmp_path)], timeout=120)
        assert time.time() - t0 < 45
    finally:
        server.shutdown()
    assert out.returncode == 2
    assert one_line_error(out).startswith(f"evospike: error: nothing at '{address}' (--address) answers as a Ray "
                                          f"cluster's head (")
    assert out.stderr.count("\n") == 1, out.stderr  # none of Ray's retry warnings
    assert not list(tmp_path.iterdir())


def test_f11_more_workers_than_cpus_are_capped_with_a_warning(tmp_path):
    out = cli(["run", "xor", "--strategy", "cma", "--workers", "8", "--generations", "2", "--quiet",
               "--out", str(tmp_path)], timeout=180)
    assert out.returncode == 0, out.stderr
    assert f"8 Ray workers asked for, but the cluster has {os.cpu_count()} CPUs; using {os.cpu_count()}" in out.stderr


def test_f12_a_worker_that_always_dies_fails_the_run_which_stays_resumable(tmp_path):
    env = plugin_env(tmp_path)
    out = cli(["run", "dies", "--workers", "1", "--generations", "2", "--quiet", "--out", str(tmp_path / "runs"),
               "--name", "d"], env=env, timeout=240)
    assert out.returncode == 2 and "died" in one_line_error(out), out.stderr
    assert "(raylet)" not in out.stdout and "\x1b" not in out.stdout, out.stdout  # Ray's notices: not in the run's lines
    notes = [line for line in out.stderr.splitlines() if line.startswith("evospike: note: Ray: ")]
    assert notes and all("retries remaining" not in line for line in notes), out.stderr
    summary = load_run(tmp_path / "runs" / "d").summary
    assert summary["status"] == "failed" and "died" in summary["reason"] and "\n" not in summary["reason"]
    resumed = cli(["resume", str(tmp_path / "runs" / "d"), "--backend", "serial", "--quiet"], env=env)
    assert resumed.returncode == 0, resumed.stderr  # serially the task does not die


@pytest.mark.parametrize("backend", ["serial", "ray"])
def test_f13_eval_timeout_fails_resumably(tmp_path, backend):
    env = plugin_env(tmp_path)
    out = cli(["run", "sleepy", "--backend", backend, "--workers", "1", "--eval-timeout", "1", "--generations", "2",
               "--quiet", "--out", str(tmp_path / "runs"), "--name", "t"], env=env, timeout=240)
    line = one_line_error(out)
    assert out.returncode == 2 and "generation 0" in line and "run.eval_timeout = 1 s" in line
    assert line.startswith("evospike: error: generation 0: evaluation stopped: EvaluationTimeout: ")
    assert line.endswith(f"resume {tmp_path / 'runs' / 't'} --eval-timeout SECONDS (0: none) continues from "
                         f"generation 0)")
    assert load_run(tmp_path / "runs" / "t").summary["status"] == "failed"
    resumed = cli(["resume", str(tmp_path / "runs" / "t"), "--backend", "serial", "--eval-timeout", "0", "--quiet"],
                  env=env, timeout=120)
    assert resumed.returncode == 0, resumed.stderr


def test_f13b_eval_timeout_and_sigterm_stop_a_long_compiled_rollout(tmp_path):
    """A compiled rollout holds no Python bytecode for as long as it runs: it runs beside the
    main thread, which handles the signals and stops it."""
    pytest.importorskip("numba")
    config = tmp_path / "long.toml"
    config.write_text('[task]\nname = "cartpole"\nsim_steps = 100000000\n')  # hours per generation
    args = ["run", "--config", str(config), "--generations", "1", "--population", "4", "--backend", "serial",
            "--kernel", "auto", "--quiet", "--out", str(tmp_path / "runs")]
    began = time.monotonic()
    out = cli([*args, "--name", "t", "--eval-timeout", "2"], timeout=120)
    assert out.returncode == 2 and "run.eval_timeout = 2 s" in one_line_error(out)
    assert time.monotonic() - began < 60
    proc = subprocess.Popen([sys.executable, "-m", "evo", *args, "--name", "s"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "runs" / "s" / "summary.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # inside generation 0's rollout
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 130, proc.stderr.read()
    assert proc.stderr.read().endswith(f"evospike: interrupted; evospike resume {tmp_path / 'runs' / 's'} continues "
                                       f"from generation 0\n")
    assert load_run(tmp_path / "runs" / "s").summary["status"] == "interrupted"
    # a closed terminal (SIGHUP) ends it the same way, with its own reason
    proc = subprocess.Popen([sys.executable, "-m", "evo", *args, "--name", "h"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "runs" / "h" / "summary.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(30) == 130, proc.stderr.read()
    summary = load_run(tmp_path / "runs" / "h").summary
    assert (summary["status"], summary["reason"]) == ("interrupted", "SIGHUP")


def test_f15_ls_does_not_block_on_a_fifo(tmp_path):
    quick_run(tmp_path, "good")
    fifo = quick_run(tmp_path, "fifo")  # a whole run whose summary.json is a FIFO
    (fifo / "summary.json").unlink()
    os.mkfifo(fifo / "summary.json")
    out = cli(["ls", str(tmp_path)], timeout=60)
    assert out.returncode == 0 and "good" in out.stdout
    assert any(line.startswith("fifo") and "unreadable" in line for line in out.stdout.splitlines())


# ---- clear errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["run", "xor", "--strategy", "cma", "--population", "100000000"], "GiB"),
    (["run", "cartpole", "--strategy", "cma", "--config", "HIDDEN"], "GiB"),
    (["run", "xor", "--config", "NESTED"], "nests tables or arrays too deeply"),
])
def test_f16_sizes_are_checked_before_anything_is_allocated(tmp_path, capsys, args, message):
    (tmp_path / "hidden.toml").write_text("[genome]\nhidden = 1000000000\n")
    (tmp_path / "nested.toml").write_text("[run]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n")
    args = [{"HIDDEN": str(tmp_path / "hidden.toml"), "NESTED": str(tmp_path / "nested.toml")}.get(a, a)
            for a in args]
    assert main(args + ["--backend", "serial", "--out", str(tmp_path / "runs")]) == 2
    assert message in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "runs").exists()


def test_f16_replay_episodes_are_checked(tmp_path, capsys):
    path = quick_run(tmp_path, task="cartpole", generations=2)
    assert main(["replay", str(path), "--episodes", "1000000000"]) == 2
    assert "GiB" in one_line_error(capsys.readouterr().err)


def test_f17_a_disk_full_at_the_first_file_leaves_no_run_folder(tmp_path, capsys, monkeypatch):
    real = files.atomic_write_bytes

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(files, "atomic_write_bytes", full)
    args = ["run", "xor", "--strategy", "cma", "--backend", "serial", "--quiet", "--generations", "2",
            "--out", str(tmp_path), "--name", "first"]
    assert main(args) == 2
    assert "No space left on device" in one_line_error(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []  # the name stays free: no folder a run never began in
    monkeypatch.setattr(files, "atomic_write_bytes", real)
    assert main(args) == 0 and load_run(tmp_path / "first").summary["status"] == "finished"


def test_f17_a_full_disk_is_one_line_and_resumes(tmp_path, capsys, monkeypatch):
    calm = quick_run(tmp_path, "calm", "xor", 6)
    real = files.atomic_write_bytes
    writes = {"n": 0}

    def fill(path, data):
        writes["n"] += 1
        if writes["n"] > 40 and Path(path).name != "summary.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(files, "atomic_write_bytes", fill)
    assert main(["run", "xor", "--strategy", "cma", "--backend", "serial", "--quiet", "--generations", "6",
                 "--out", str(tmp_path), "--name", "full"]) == 2
    assert "No space left on device" in one_line_error(capsys.readouterr().err)
    path = tmp_path / "full"
    assert load_run(path).summary["status"] == "interrupted"
    loop = json.loads((path / "checkpoints" / "loop.json").read_text())
    assert {p.name for p in (path / "checkpoints").glob("strategy-*")} == {loop["strategy_json"], loop["strategy_npz"]}
    monkeypatch.setattr(files, "atomic_write_bytes", real)
    assert main(["resume", str(path), "--quiet"]) == 0
    same(outcome(path), outcome(calm))


MALFORMED = {
    "summary list": ("summary.json", "[]"),
    "summary text best": ("summary.json", '{"status": "finished", "best": "x"}'),
    "empty config": ("config.toml", ""),
    "no seed": ("config.toml", '[run]\n[task]\nname = "xor"\n[genome]\n[strategy]\nname = "cma"\n'),
    "text seed": ("config.toml", '[run]\nseed = "x"\n[task]\nname = "xor"\n[genome]\n[strategy]\nname = "cma"\n'),
    "wrong genome key": ("config.toml", None),
    "metrics columns": ("metrics.parquet", None),
    "loop generation": ("checkpoints/loop.json", None),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_f18_malformed_run_directories_give_one_line_errors(tmp_path, capsys, case):
    good = quick_run(tmp_path, "good", "cartpole", 2)
    bad = quick_run(tmp_path, "bad", "cartpole", 2)
    name, text = MALFORMED[case]
    if case == "wrong genome key":
        text = (bad / name).read_text().replace("[genome]\n", "[genome]\nbogus = 1\n")
    elif case == "metrics columns":
        pd.DataFrame({"a": [1]}).to_parquet(bad / name)
    elif case == "loop generation":
        loop = json.loads((bad / name).read_text())
        text = json.dumps({**loop, "generation": "x"})
    if text is not None:
        (bad / name).write_text(text)
    capsys.readouterr()
    assert main(["ls", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert "good" in listed
    commands = [["show", str(bad), "--plot"], ["resume", str(bad), "--generations", "4"], ["replay", str(bad)],
                ["export", str(bad), str(tmp_path / "x.nir")], ["compare", str(bad), str(good)]]
    codes = []
    for args in commands:
        codes.append(main(args))
        err = capsys.readouterr().err
        if codes[-1]:
            one_line_error(err)
    assert 2 in codes  # every command either works around the damage or refuses with one line
    if case != "wrong genome key" and case != "loop generation":
        assert "unreadable" in listed.splitlines()[[line.split()[0] for line in listed.splitlines()].index("bad")]


@pytest.mark.parametrize("args", [
    ["replay", "RUN", "--seed", "-1"],
    ["export", "RUN", "/proc/x.nir"],
    ["export", "RUN", "DIR"],
    ["compare", "RUN", "--plot", "--output", "/proc/nope/x.png"],
    ["bench", "tasks", "--tasks", "cartpole", "--output", "/proc/version"],
])
def test_f19_output_paths_are_checked_before_the_work(tmp_path, capsys, monkeypatch, args):
    from evo.app import bench, cli as cli_module
    path = quick_run(tmp_path, task="cartpole", generations=2)
    args = [{"RUN": str(path), "DIR": str(tmp_path)}.get(a, a) for a in args]
    started = []  # the work of each command: reading the runs, the benchmark

    def work(name):
        def record(*a, **k):
            started.append(name)
            raise RuntimeError(f"{name} ran before the output path was checked")
        return record
    for name in ("load_run", "load_runs"):
        monkeypatch.setattr(cli_module, name, work(name))
    monkeypatch.setattr(bench, "task_suite", work("task_suite"))
    assert main(args) == 2
    one_line_error(capsys.readouterr().err)
    assert started == []


@pytest.mark.parametrize("table, key, value, strategy", [
    ("strategy", "sigma0", "inf", "cma"), ("strategy", "x0", "nan", "cma"), ("genome", "bias", "nan", "cma"),
    ("genome", "bias", "inf", "cma"), ("genome", "weight_std", "inf", "neat"), ("strategy", "mutation_sigma", "inf", "ga"),
    ("genome", "threshold", "inf", "cma"),
])
def test_f20_non_finite_options_are_rejected_in_the_config(tmp_path, capsys, table, key, value, strategy):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[strategy]\nname = "{strategy}"\n[{table}]\n{key} = {value}\n'.replace(
        f'[strategy]\nname = "{strategy}"\n[strategy]\n', f'[strategy]\nname = "{strategy}"\n'))
    assert main(["run", "xor", "--config", str(cfg), "--backend", "serial", "--out", str(tmp_path / "runs")]) == 2
    assert f"{table}.{key}" in one_line_error(capsys.readouterr().err)


def test_f21_errors_from_ray_workers_are_the_serial_one_line(tmp_path):
    env = plugin_env(tmp_path)
    out = cli(["run", "extra", "--workers", "2", "--population", "16", "--quiet", "--out", str(tmp_path)], env=env)
    line = one_line_error(out)
    assert line.endswith("continues from generation 0)") and "fitness values for 8 networks" in line
    summary = load_run(next(tmp_path.glob("extra-*"))).summary
    assert "\n" not in summary["reason"] and "\x1b" not in summary["reason"] and "Traceback" not in summary["reason"]


def test_f22_a_nan_for_a_strategy_names_generation_task_and_network(tmp_path):
    env = plugin_env(tmp_path)
    out = cli(["run", "nanspikes", "--strategy", "nsga2", "--population", "8", "--backend", "serial", "--quiet",
               "--out", str(tmp_path)], env=env)
    line = one_line_error(out)
    assert "generation 0" in line and "'nanspikes'" in line and "network 1" in line


def test_f23_a_broken_plugin_is_one_warning_and_everything_else_works(tmp_path):
    env = plugin_env(tmp_path, broken=True)
    listed = cli(["tasks"], env=env)
    assert listed.returncode == 0 and "xor" in listed.stdout and "sleepy" in listed.stdout
    assert listed.stderr.count("skipped task 'broken'") == 1
    warning = [line for line in listed.stderr.splitlines() if line.strip()]
    assert len(warning) == 1 and warning[0].startswith("evospike: warning: skipped task 'broken'")
    ran = cli(["run", "xor", "--backend", "serial", "--quiet", "--generations", "2", "--out", str(tmp_path)], env=env)
    assert ran.returncode == 0 and ran.stderr.count("skipped task 'broken'") == 1


def test_f24_a_run_in_use_is_refused(tmp_path, capsys):
    path = quick_run(tmp_path)
    with open(path / ".lock", "r+") as fh:  # as another process holding the run would
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.truncate(0)
        fh.write("12345\n")
        fh.flush()
        before = frozen(path)
        assert main(["resume", str(path), "--generations", "8"]) == 2
        assert "in use by another evospike process (pid 12345)" in one_line_error(capsys.readouterr().err)
        assert frozen(path) == before


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_sigterm_ends_a_benchmark_with_the_process_it_started():
    proc = subprocess.Popen([sys.executable, "-m", "evo", "bench", "scale", "--dims", "300000", "--strategies", "pgpe",
                             "--backends", "serial", "--population", "64", "--generations", "200"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, case = time.time() + 60, []
    while not case and time.time() < deadline and proc.poll() is None:
        case = _children(proc.pid)  # the case's own process
        time.sleep(0.05)
    try:
        assert case, "the benchmark's case process did not start"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and "evospike: interrupted" in err
        deadline = time.time() + 15
        while any(_alive(pid) for pid in case) and time.time() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in case)
    finally:
        for pid in [proc.pid, *case]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
