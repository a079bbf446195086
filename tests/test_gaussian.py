"""The Gaussian strategies (openes, pgpe, snes) and their seed-described populations."""
import json
import re

import numpy as np
import pytest

from evo import strategies
from evo.errors import StrategyError
from evo.genomes.neat import NeatSpace
from evo.genomes.seeded import NoiseTable, SeededPopulation, noise_table, weighted_noise_sum, weighted_noise_sums
from evo.strategies.gaussian import centered_ranks
from evo.strategies.snes import snes_utilities

GAUSSIAN = ("openes", "pgpe", "snes")


def sphere(X):
    return (X ** 2).sum(axis=1)


def rosenbrock(X):
    return (100 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1 - X[:, :-1]) ** 2).sum(axis=1)


def minimize(es, f, generations):
    for _ in range(generations):
        pop = es.ask()
        es.tell(pop, -f(pop.take(np.arange(len(pop)))))
    return float(f(es.center[None])[0])


# (function, x0, strategy options, generations, target): the documented targets at D = 100
TARGETS = [
    ("sphere", 1.0, "openes", {}, 300, 1e-2),            # f(x0) = 100
    ("sphere", 1.0, "pgpe", {}, 200, 2.0),               # ClipUp's fixed speed ends near the optimum
    ("sphere", 1.0, "snes", {}, 1500, 1e-5),
    ("rosenbrock", 0.0, "openes", {}, 1000, 85.0),       # f(x0) = 99
    ("rosenbrock", 0.0, "pgpe", {"center_learning_rate": 0.05, "max_speed": 0.1}, 2000, 85.0),
    ("rosenbrock", 0.0, "snes", {}, 3000, 92.0),
]


@pytest.mark.parametrize("fname,x0,name,options,generations,target", TARGETS,
                         ids=[f"{t[0]}-{t[2]}" for t in TARGETS])
def test_each_strategy_reaches_its_documented_target_at_d100(fname, x0, name, options, generations, target):
    f = {"sphere": sphere, "rosenbrock": rosenbrock}[fname]
    es = strategies.make(name, 100, seed=0, x0=x0, **options)
    start = float(f(es.center[None])[0])
    final = minimize(es, f, generations)
    assert final < target < start, (start, final)


def test_a_seeded_population_is_center_plus_sigma_times_the_tables_noise():
    es = strategies.make("pgpe", 50, seed=3, population=8, sigma0=0.3)
    es.sigma = np.linspace(0.1, 1.0, 50)
    pop = es.ask()
    assert isinstance(pop, SeededPopulation) and len(pop) == 8 and pop.offsets.size == 4
    table = NoiseTable(pop.table_seed, pop.table_size).values  # made again from its seed: the same numbers
    X = pop.take(np.arange(8))
    for i in range(8):
        noise = table[pop.offsets[i // 2]:pop.offsets[i // 2] + 50]
        sign = 1 if i % 2 == 0 else -1
        want = (es.center.astype(np.float32) + sign * (es.sigma.astype(np.float32) * noise)).astype(np.float64)
        np.testing.assert_allclose(X[i], want, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(pop.take([5, 2]), X[[5, 2]])  # any chunk gives the same genomes
    np.testing.assert_array_equal(pop.row(7), X[7])
    assert pop.nbytes() == 4 * 50 + 4 * 50 + 8 * 4   # the description: no P x D term


def test_noise_sums_equal_the_dense_sums_and_compiled_equals_numpy_bit_for_bit(monkeypatch):
    import evo.genomes.seeded as seeded
    table = noise_table(11, 1 << 16)
    offsets = np.random.default_rng(0).integers(0, (1 << 16) - 9000, 37)
    w, u = np.random.default_rng(1).normal(size=(2, 37))
    dense = np.stack([table.values[o:o + 9000] for o in offsets]).astype(np.float64)
    first, second = weighted_noise_sums(table, offsets, w, 9000, u)  # 9000 genes: more than one block
    np.testing.assert_allclose(first, w @ dense, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(second, u @ dense ** 2, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(weighted_noise_sum(table, offsets, u, 9000, square=True), second)
    if seeded._sums_kernel() is not None:
        monkeypatch.setattr(seeded, "_compiled", False)  # the numpy path
        again = weighted_noise_sums(table, offsets, w, 9000, u)
        np.testing.assert_array_equal(again[0], first)
        np.testing.assert_array_equal(again[1], second)


def test_fitness_shaping():
    np.testing.assert_allclose(centered_ranks(np.array([3.0, 1.0, 2.0])), [0.5, -0.5, 0.0])
    np.testing.assert_allclose(centered_ranks(np.array([1.0, 1.0, 5.0])), [-0.25, -0.25, 0.5])  # ties share
    u = snes_utilities(np.array([0.0, 3.0, 1.0, 2.0]))
    assert abs(u.sum()) < 1e-12 and u[1] == u.max() and u[0] == u.min()


@pytest.mark.parametrize("name", GAUSSIAN)
def test_saved_state_continues_bit_for_bit(name, tmp_path):
    def run(es, gens):
        out = []
        for _ in range(gens):
            pop = es.ask()
            f = -rosenbrock(pop.take(np.arange(len(pop))))
            es.tell(pop, f)
            out.append(f)
        return np.concatenate(out)

    a = strategies.make(name, 30, seed=5, population=10)
    run(a, 4)
    meta, arrays = a.state()
    np.savez(tmp_path / "s.npz", **arrays)
    (tmp_path / "s.json").write_text(json.dumps(meta))
    with np.load(tmp_path / "s.npz", allow_pickle=False) as z:
        b = strategies.from_state(json.loads((tmp_path / "s.json").read_text()), dict(z))
    np.testing.assert_array_equal(run(a, 5), run(b, 5))
    np.testing.assert_array_equal(a.center, b.center)
    np.testing.assert_array_equal(np.asarray(a.sigma), np.asarray(b.sigma))


@pytest.mark.parametrize("name", GAUSSIAN)
def test_tell_checks_the_population(name):
    es = strategies.make(name, 10, seed=0, population=6)
    other = strategies.make(name, 10, seed=1, population=6).ask()
    es.ask()
    with pytest.raises(StrategyError, match="population that ask"):
        es.tell(other, np.zeros(6))
    with pytest.raises(StrategyError, match="not finite"):
        es.tell(es.ask(), np.full(6, np.nan))


def test_options_are_checked_with_one_line_errors():
    with pytest.raises(StrategyError, match="population.*even"):
        strategies.make("openes", 10, seed=0, population=7)
    with pytest.raises(StrategyError, match="strategy.sigma0"):
        strategies.make("pgpe", 10, seed=0, sigma0=-1.0)
    with pytest.raises(StrategyError, match="strategy.optimizer"):
        strategies.make("openes", 10, seed=0, optimizer="lbfgs")
    with pytest.raises(StrategyError, match="strategy.table_size"):
        strategies.make("snes", 1000, seed=0, table_size=10)


@pytest.mark.parametrize("name, option, value", [
    ("openes", "sigma0", 1e31), ("pgpe", "init_std", 1e31), ("snes", "x0", -1e31), ("cma", "sigma0", 1e39),
    ("cma", "x0", 1e31), ("ga", "mutation_sigma", 1e31), ("nsga2", "init_std", 1e31),
    ("neat", "bias_power", 1e31), ("neat", "weight_limit", 1e31)])
def test_scales_and_centres_that_would_overflow_float32_genes_are_refused(name, option, value):
    space = NeatSpace(2, 1) if name == "neat" else 10

    def make(**options):
        return strategies.make(name, space, seed=0, **options)
    with pytest.raises(StrategyError, match=rf"^strategy\.{option}: {re.escape(repr(value))}; expected a number .*1e\+30 "
                                            r"\(genes become float32 values\)$"):
        make(**{option: value})
    make(**{option: 1e30 if value > 0 else -1e30})  # the limit itself is allowed


def center_run(tmp_path):
    return {"task": {"name": "cartpole", "episodes": 4, "max_steps": 100, "validation_episodes": 4},
            "genome": {"hidden": 4}, "strategy": {"name": "pgpe", "population": 10, "sigma0": 0.5},
            "run": {"generations": 6, "validate_every": 3, "backend": "serial", "quiet": True, "out": str(tmp_path),
                    "name": "r", "stop_fitness": float("inf")}}


def test_a_run_validates_the_center_and_writes_it(tmp_path):
    import tasks
    from evo.genomes import FixedTopology
    from evo.results import load_run
    from evo.seeding import validation_seed
    from evo.training.api import run
    from evo.training.config import resolve
    layer = center_run(tmp_path)
    run(resolve(layer), log=None)
    r = load_run(tmp_path / "r")
    center = json.loads((tmp_path / "r" / "center.json").read_text())
    assert center["generation"] == 5 and r.summary["validation"] == center["validation"]
    task = tasks.make("cartpole", **{k: v for k, v in layer["task"].items() if k != "name"})
    space = FixedTopology(4, 2, **center["genome_config"])
    again = task.validate(space.compile(np.array(center["genome"])[None]), validation_seed(0)).fitness[0]
    assert again == center["validation"] == r.metrics.validation.iloc[-1]
    assert r.metrics.validation.notna().sum() == 2


def test_replay_and_export_take_the_network_the_run_validated(tmp_path, capsys):
    import tasks
    from evo.app.cli import main
    from evo.app.export import read_nir
    from evo.genomes import FixedTopology
    from evo.results import load_run
    from evo.seeding import validation_seed
    from evo.training.api import run
    from evo.training.config import resolve
    pytest.importorskip("nir")
    layer = center_run(tmp_path)
    run(resolve(layer), log=None)
    r = load_run(tmp_path / "r")
    center = json.loads((tmp_path / "r" / "center.json").read_text())
    task = tasks.make("cartpole", **{k: v for k, v in layer["task"].items() if k != "name"})
    space = FixedTopology(4, 2, **center["genome_config"])
    networks = {"center": space.compile(np.array(center["genome"])[None]),
                "best": space.compile(np.array(r.best["genome"])[None])}
    scores = {k: task.validate(net, validation_seed(0)).fitness[0] for k, net in networks.items()}
    assert scores["center"] != scores["best"]
    for flag, which in ((None, "center"), ("center", "center"), ("best", "best")):
        extra = [] if flag is None else ["--network", flag]
        assert main(["replay", str(r.path), "--json", *extra]) == 0
        out = json.loads(capsys.readouterr().out)
        assert (out["network"], out["score"]) == (which, scores[which])
        assert out["generation"] == (center if which == "center" else r.best)["generation"]
        assert out["training_fitness"] == (None if which == "center" else r.best["fitness"])
        assert main(["export", str(r.path), str(tmp_path / "n.nir"), *extra]) == 0
        assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'n.nir'}: "
                                                  f"{'search center' if which == 'center' else 'best network'} of")
        back, _ = read_nir(tmp_path / "n.nir")
        np.testing.assert_array_equal(back.w_in, networks[which].w_in)
    assert r.summary["validation"] == scores["center"]
    (tmp_path / "r" / "center.json").unlink()  # a run without a center: the best network, and no --network center
    assert main(["replay", str(r.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["network"] == "best"
    assert main(["replay", str(r.path), "--network", "center"]) == 2
    assert "center.json' does not exist: only openes, pgpe and snes runs have a search center" in capsys.readouterr().err


@pytest.mark.parametrize("name", GAUSSIAN)
def test_cartpole_reaches_500_within_2000_evaluations_median_of_5_seeds(tmp_path, name):
    from evo.training.api import run
    from evo.training.config import resolve
    used = []
    for seed in range(5):
        r = run(resolve({"task": {"name": "cartpole"}, "strategy": {"name": name},   # the preset's alternative
                         "run": {"seed": seed, "backend": "serial", "quiet": True, "out": str(tmp_path),
                                 "name": f"s{seed}", "validate_every": 0}}), log=None)
        used.append(r.evaluations if r.best >= 500 else np.inf)
    assert np.median(used) <= 2000, used


def test_openes_learning_rate_decays_to_its_limit():
    es = strategies.make("openes", 10, seed=0, population=4, learning_rate=0.1, learning_rate_decay=0.5,
                         learning_rate_limit=0.02)
    rates = []
    for _ in range(4):
        rates.append(es.learning_rate)
        pop = es.ask()
        es.tell(pop, -sphere(pop.take(np.arange(4))))
    assert rates == [0.1, 0.05, 0.025, 0.02]
    with pytest.raises(StrategyError, match="learning_rate_decay"):
        strategies.make("openes", 10, seed=0, learning_rate_decay=1.5)
