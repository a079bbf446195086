import json

import numpy as np
import pytest

import tasks
from evo.app.cli import main


def test_bench_neat_xor_writes_json(tmp_path, capsys):
    out = tmp_path / "x.json"
    assert main(["bench", "neat-xor", "--seeds", "2", "--json", "--output", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    s = printed["summary"]
    assert s["seeds"] == 2 and s["solved"] == 2 and s["population"] == 150
    for r in printed["runs"]:
        assert r["solved"] and r["evaluations"] == 150 * r["generations"]
        assert isinstance(r["hidden_nodes"], int)
        assert r["enabled_connections"] >= 2  # a network that solves XOR reads both inputs


def test_bench_tasks_reports_medians(capsys):
    assert main(["bench", "tasks", "--tasks", "xor", "--seeds", "2", "--first-seed", "3", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert row["task"] == "xor" and row["strategy"] == "neat" and len(row["runs"]) == 2
    assert [r["seed"] for r in row["runs"]] == [3, 4]
    assert row["median_validation"] > 3.0
    # XOR within its budget: each run stops at the generation that solved it (150 per generation)
    assert row["solved"] == 2
    assert all(r["solved"] and r["evaluations_to_solve"] == r["evaluations"] for r in row["runs"])
    assert main(["bench", "tasks", "--tasks", "nosuch"]) == 2


def test_bench_scaling_gives_ray_the_serial_fitness():
    from evo.app import bench
    notices = []
    result = bench.scaling(population=16, generations=1, workers=(1,), stages=("early",), notice=notices.append)
    assert notices == ["early population: 1 timed round per backend (serial; Ray with 1 worker)"]
    rows = result["rows"]
    assert [(r["backend"], r["workers"]) for r in rows] == [("serial", 1), ("ray", 1)]
    assert all(r["identical_fitness"] and r["population"] == 16 for r in rows)


def test_bench_scale_reports_time_memory_and_wire_and_ray_matches_serial(capsys):
    assert main(["bench", "scale", "--dims", "3000", "--strategies", "pgpe", "--backends", "serial,ray",
                 "--population", "16", "--generations", "2", "--rounds", "2", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    for b in row["backends"].values():  # the median of the timed rounds
        assert len(b["eval_rounds_seconds"]) == 2 and b["eval_seconds"] == np.median(b["eval_rounds_seconds"])
    D = row["dim"]
    assert abs(D - 3000) < 200 and row["strategy"] == "pgpe" and row["population"] == 16
    assert row["ask_tell_ms"] > 0 and row["peak_rss_mb"] > 0
    assert row["description_bytes"] == 8 * D + 8 * 8          # center, sigma, 8 offsets
    ray_row = row["backends"]["ray"]
    assert all(b["identical_fitness"] for b in row["backends"].values())
    assert ray_row["within_bound"] and ray_row["put_bytes"] < 8 * D + 2048
    assert main(["bench", "scale", "--backends", "gpu"]) == 2


def test_bench_tasks_runs_a_row_per_neuron_model_variant(monkeypatch):
    from evo.app import bench
    from tasks.preset import Preset
    import tasks.classification as cls
    # temporal-patterns with a short budget stands in for a task with model variants
    monkeypatch.setattr(cls.TemporalPatterns, "preset", Preset("openes", 2, genome={"hidden": 4, "evolve": ["weights"]},
                                                               strategy_options={"population": 8}))
    monkeypatch.setitem(bench.VARIANTS, "temporal-patterns", bench.VARIANTS["intervals"])
    rows = bench.task_suite(["temporal-patterns"], seeds=1)["rows"]
    assert [r["variant"] for r in rows] == ["lif", "alif", "cuba", "lif+delays"]
    assert all(len(r["runs"]) == 1 and 0 <= r["median_validation"] <= 1 for r in rows)
    assert [(r["genome"]["neuron"], r["genome"]["max_delay"], r["genome"]["b"]) for r in rows] == \
        [("lif", 0, 0.5), ("alif", 0, 2.0), ("cuba", 0, 0.5), ("lif", 40, 0.5)]
    assert rows[1]["genome"]["evolve"] == ["weights", "rhos", "adaptations"]
    assert bench.variant_genome(cls.TemporalPatterns.preset, {"neuron": "alif", "b": 2.0}, ("rhos", "adaptations")) == \
        {"neuron": "alif", "b": 2.0, "evolve": ["weights", "rhos", "adaptations"]}
    assert bench.variant_genome(Preset("cma", 5), {"max_delay": 40}, ("delays",)) == {"max_delay": 40}
    # a variant may also set other sections over the preset's (double-pole-nv's membrane variant)
    monkeypatch.setitem(bench.VARIANTS, "temporal-patterns",
                        (("plain", {}, ()), ("short", {"hidden": 2}, (), {"task": {"steps": 12}, "run": {"generations": 1},
                                                                         "strategy": {"population": 4}})))
    rows = bench.task_suite(["temporal-patterns"], seeds=1)["rows"]
    assert [(r["variant"], r["generations"], r["task_options"]["steps"], r["genome"]["hidden"]) for r in rows] == \
        [("plain", 2, 30, 4), ("short", 1, 12, 2)]
    assert [r["runs"][0]["evaluations"] for r in rows] == [16, 4]
    assert [(r["solved"], r["runs"][0]["solved"]) for r in rows] == [(None, None)] * 2  # it defines no "solved"
    assert "membrane" in [v[0] for v in bench.VARIANTS["double-pole-nv"]]


def test_bench_name_options_without_a_name_or_with_an_unsupported_one_are_refused(capsys, monkeypatch):
    from evo.app import bench, bench_scale, bench_speed
    started = []
    for module, name in ((bench, "task_suite"), (bench_scale, "scale"), (bench_speed, "evaluation")):
        monkeypatch.setattr(module, name, lambda *a, _n=name, **k: started.append(_n))
    cases = [(["tasks", "--tasks", ","], "--tasks: ','; expected comma-separated names"),
             (["eval", "--task", " , "], "--task: ' , '; expected comma-separated names"),
             (["scale", "--strategies", ","], "--strategies: ','; expected comma-separated names"),
             (["scale", "--strategies", "cma"], "--strategies: 'cma'; expected some of openes, pgpe, snes"),
             (["scale", "--backends", "serial,gpu"], "--backends: 'gpu'; expected some of serial, ray, cluster"),
             (["eval", "--population", "0"], "--population: 0; expected an integer >= 1"),
             (["events", "--workers", "-1"], "--workers: -1; expected an integer >= 1"),
             (["neat-xor", "--first-seed", "-5"], "--first-seed: -5; expected an integer in [0, 2**63)"),
             (["neat-xor", "--dims", "5"], "--dims does not apply to `bench neat-xor`; it is an option of bench scale"),
             (["models", "--population", "256"], "--population does not apply to `bench models`; it is an option of "
                                                 "bench scaling, events, eval and scale"),
             (["eval", "--seeds", "3"], "--seeds does not apply to `bench eval`; it is an option of bench neat-xor "
                                        "and tasks"),
             (["neat-xor", "--kernel", "numpy"], "--kernel does not apply to `bench neat-xor`; it is an option of "
                                                 "bench sim, models and eval"),
             (["tasks", "--first-seed", str(2**63 - 1), "--seeds", "2"],
              f"--first-seed {2**63 - 1} with 2 seeds: the last seed, {2**63}, is over 2**63 - 1; expected seeds "
              f"in [0, 2**63)"),
             (["tasks", "--first-seed", str(2**63 - 4)],  # 5 seeds by default: one too many
              f"--first-seed {2**63 - 4} with 5 seeds: the last seed, {2**63}, is over 2**63 - 1; expected seeds "
              f"in [0, 2**63)"),
             (["eval", "--task", "ports,cartpol"], "--task: unknown task 'cartpol' (did you mean 'cartpole'?); "
                                                   "valid tasks: " + ", ".join(tasks.names()) + ", or gym:<EnvId> "
                                                   "for a Gymnasium environment; or 'ports': the six built-in ports")]
    for args, message in cases:
        assert main(["bench", *args]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [f"evospike: error: {message}"]
    assert started == []


def test_bench_tasks_names_a_typo_and_a_task_without_a_preset():
    from evo.app.bench import task_suite
    from evo.errors import ConfigError
    with pytest.raises(ConfigError, match=r"^bench tasks: 'cartpol' is not a task \(did you mean 'cartpole'\?\); "
                                          r"choose from .*cartpole"):
        task_suite(["cartpol"])


def test_bench_eval_refuses_a_task_without_episodes_before_timing_any(monkeypatch):
    from evo.app import bench_speed
    from evo.errors import ConfigError
    timed = []
    monkeypatch.setattr(bench_speed, "_early", lambda *a, **k: timed.append(a))
    with pytest.raises(ConfigError, match=r"^bench eval: task 'xor' plays no episodes \(no environment steps to "
                                          r"time\); bench eval times closed-loop tasks: the ports \(cartpole, "):
        bench_speed.evaluation(("cartpole", "xor"), population=8, generations=1, late=0)
    assert timed == []
