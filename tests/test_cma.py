import json

import numpy as np
import pytest

from evo.rundir import read_json, read_npz, write_json, write_npz
from evo.strategies import StrategyError
from evo.strategies import from_state as strategy_from_state
from evo.strategies import make as make_strategy


def sphere(X):
    return -np.sum((X - 1.0) ** 2, axis=1)


def drive(es, gens, f=sphere):
    history = []
    for _ in range(gens):
        X = es.ask()
        es.tell(X, f(X))
        history.append(X)
    return history


@pytest.mark.parametrize("diagonal", [False, True])
def test_cma_maximizes(diagonal):
    es = make_strategy("cma", 6, seed=1, diagonal=diagonal, sigma0=0.5)
    first = sphere(es.ask()).max()
    drive(es, 60)
    assert sphere(es.mean[None])[0] > -1e-3 > first


def test_same_seed_same_search_and_global_rng_does_not_interfere():
    a = make_strategy("cma", 5, seed=3)
    b = make_strategy("cma", 5, seed=3)
    for _ in range(5):
        xa = a.ask()
        np.random.seed(999)  # someone else touching numpy's global RNG
        np.random.rand(10)
        xb = b.ask()
        np.testing.assert_array_equal(xa, xb)
        a.tell(xa, sphere(xa)); b.tell(xb, sphere(xb))
    assert not np.array_equal(make_strategy("cma", 5, seed=4).ask(), a.ask())


def test_state_round_trip_through_files_continues_exactly(tmp_path):
    straight = make_strategy("cma", 8, seed=7, population=10)
    ref = drive(straight, 12)

    es = make_strategy("cma", 8, seed=7, population=10)
    drive(es, 5)
    meta, arrays = es.state()
    write_json(tmp_path / "s.json", meta)
    write_npz(tmp_path / "s.npz", arrays)
    json.dumps(meta)  # plain JSON
    restored = strategy_from_state(read_json(tmp_path / "s.json"), read_npz(tmp_path / "s.npz"))
    rest = drive(restored, 7)
    for x, y in zip(ref[5:], rest):
        np.testing.assert_array_equal(x, y)


def test_tampered_state_is_detected():
    es = make_strategy("cma", 4, seed=1)
    drive(es, 3)
    meta, arrays = es.state()
    arrays["told"] = arrays["told"].reshape(3, -1)[:, ::-1].ravel().copy()  # CMA is rank-based: change the ranks
    with pytest.raises(StrategyError, match="did not reproduce"):
        strategy_from_state(meta, arrays)


def test_misuse_is_a_clear_error():
    es = make_strategy("cma", 4, seed=1)
    with pytest.raises(StrategyError, match="before ask"):
        es.tell(np.zeros((es.population_size, 4)), np.zeros(es.population_size))
    X = es.ask()
    with pytest.raises(StrategyError, match=r"generation 0: the values of network 0 \(nan\) are not finite"):
        es.tell(X, np.full(es.population_size, np.nan))
    with pytest.raises(StrategyError, match="unknown option 'sigma'"):
        make_strategy("cma", 4, seed=1, sigma=1.0)
    with pytest.raises(StrategyError, match=r"unknown strategy 'nes' \(did you mean 'snes'\?\); valid strategies: cma, ga, neat, nsga2, openes, pgpe, snes"):
        make_strategy("nes", 4, seed=1)
    with pytest.raises(StrategyError, match="needs a NEAT genome space"):
        make_strategy("neat", 4, seed=1)
    with pytest.raises(StrategyError, match="population: 1"):
        make_strategy("cma", 4, seed=1, population=1)


def flat(X):
    return np.zeros(len(X))


def test_restarts_double_the_population_on_a_flat_landscape():
    es = make_strategy("cma", 4, seed=3, population=6, restarts=2, incpopsize=2.0)
    sizes = [len(X) for X in drive(es, 60, flat)]
    assert sizes[0] == 6 and 12 in sizes and sizes[-1] == 24  # two restarts, then no more
    assert len(es.restart_generations) == 2
    first, second = es.restart_generations
    assert sizes[first - 1] == 6 and sizes[first] == 12 and sizes[second] == 24
    # the default: one search for the whole budget, whatever the landscape
    plain = make_strategy("cma", 4, seed=3, population=6)
    assert {len(X) for X in drive(plain, 60, flat)} == {6} and plain.restart_generations == []


def test_restarts_leave_a_converging_search_alone():
    es = make_strategy("cma", 6, seed=1, sigma0=0.5, restarts=3)
    drive(es, 60)
    assert es.restart_generations == [] and sphere(es.mean[None])[0] > -1e-3


def test_state_with_restarts_round_trips(tmp_path):
    straight = make_strategy("cma", 4, seed=5, population=6, restarts=3)
    ref = drive(straight, 40, flat)
    assert straight.restart_generations  # the log below spans a restart
    es = make_strategy("cma", 4, seed=5, population=6, restarts=3)
    drive(es, 25, flat)
    meta, arrays = es.state()
    write_json(tmp_path / "s.json", meta)
    write_npz(tmp_path / "s.npz", arrays)
    restored = strategy_from_state(read_json(tmp_path / "s.json"), read_npz(tmp_path / "s.npz"))
    assert restored.restart_generations == es.restart_generations
    for x, y in zip(ref[25:], drive(restored, 15, flat)):
        np.testing.assert_array_equal(x, y)
    arrays["told_sizes"] = arrays["told_sizes"][:-1]
    with pytest.raises(StrategyError, match="sizes do not match"):
        strategy_from_state(meta, arrays)


def test_state_saved_before_restarts_existed_still_loads():
    es = make_strategy("cma", 4, seed=2, population=6)
    drive(es, 4)
    meta, arrays = es.state()
    old_meta = {k: v for k, v in meta.items() if k != "restart_generations"}
    old_meta["options"] = {k: v for k, v in meta["options"].items() if k not in ("restarts", "incpopsize")}
    old = {"told": arrays["told"].reshape(4, 6), "mean": arrays["mean"]}  # one row per generation
    restored = strategy_from_state(old_meta, old)
    np.testing.assert_array_equal(restored.ask(), es.ask())


def test_stall_restarts_a_search_whose_best_stopped_rising(tmp_path):
    # a landscape whose best rises for 30 generations, then never again (pycma's own
    # criteria would wait far longer): with stall = 10 the search restarts 10 generations later
    # (the replay below tells the logged fitness, not this function's)
    calls = {"n": 0}
    rng = np.random.default_rng(0)

    def rising_then_flat(X):
        calls["n"] += 1
        level = calls["n"] if calls["n"] <= 30 else 29  # then below the best of generation 30
        return level + 0.5 * rng.random(len(X))

    es = make_strategy("cma", 50, seed=4, population=6, restarts=2, incpopsize=1.0, stall=10)
    drive(es, 45, rising_then_flat)
    assert es.restart_generations == [40]
    assert make_strategy("cma", 50, seed=4, population=6, restarts=2).options["stall"] == 0  # the default: off
    # the replayed log restarts at the same generation
    meta, arrays = es.state()
    write_json(tmp_path / "s.json", meta)
    write_npz(tmp_path / "s.npz", arrays)
    restored = strategy_from_state(read_json(tmp_path / "s.json"), read_npz(tmp_path / "s.npz"))
    assert restored.restart_generations == [40]
    np.testing.assert_array_equal(restored.ask(), es.ask())


@pytest.mark.parametrize("bad,message", [({"restarts": -1}, "strategy.restarts: -1"),
                                         ({"restarts": 1.5}, "strategy.restarts: 1.5"),
                                         ({"incpopsize": 0.5}, "strategy.incpopsize: 0.5"),
                                         ({"stall": -3}, "strategy.stall: -3"),
                                         ({"stall": 2.5}, "strategy.stall: 2.5")])
def test_bad_restart_options(bad, message):
    with pytest.raises(StrategyError, match=message):
        make_strategy("cma", 4, seed=1, **bad)


def test_pycma_runs_with_one_blas_thread(monkeypatch):
    # the covariance's eigendecomposition gives other last bits with other thread counts,
    # so a run would depend on the machine's cores
    from threadpoolctl import threadpool_info
    seen = []
    eigh = np.linalg.eigh

    def recording(a, *args, **kwargs):
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return eigh(a, *args, **kwargs)

    monkeypatch.setattr(np.linalg, "eigh", recording)
    es = make_strategy("cma", 30, seed=0, population=8)
    drive(es, 40)
    assert seen and set(seen) == {1}


def test_pycma_is_imported_without_scipy_stats_or_matplotlib_which_still_import_after():
    import subprocess
    import sys
    code = ("import sys; import evo.strategies.cma as m; "
            "assert 'scipy.stats' not in sys.modules and 'matplotlib' not in sys.modules; "
            "import scipy.stats; assert scipy.stats.kendalltau; "
            "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; assert plt.figure; "
            "es = m.cma.CMAEvolutionStrategy([0.0] * 3, 0.5, {'verbose': -9, 'seed': 1}); print(len(es.ask()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "7"
