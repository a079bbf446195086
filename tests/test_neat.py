import json

import numpy as np
import pytest

import tasks
from evo.training import config as cfg
from evo.app.cli import main
from evo.genomes.neat import InnovationRegistry, NeatSpace
from evo.genomes.neat import operators as ops
from evo.genomes.neat.species import assign_species, distance
from evo.results import load_best_genome, load_run
from evo.rundir import read_json, read_npz, write_json, write_npz
from evo.training.api import build, run
from evo.strategies import StrategyError
from evo.strategies import from_state as strategy_from_state
from evo.strategies import make as make_strategy
from evo.strategies.neat import NEAT
from neurons import NetworkBatch, simulate

XOR = tasks.make("xor")
COEF = (1.0, 1.0, 0.4, 0.4)


def evolved(generations=12, seed=3, **opts):
    """A NEAT strategy after some XOR generations: hidden nodes, disabled genes, many species."""
    space = NeatSpace(3, 1)
    es = NEAT(space, seed=seed, population=60, add_node=0.3, add_connection=0.5, **opts)
    for g in range(generations):
        pop = es.ask()
        es.tell(pop, XOR.evaluate(space.compile(pop), g).fitness)
    return es


def genes(pop, i):
    return {int(pop.innov[c]): (float(pop.weight[i, c]), bool(pop.enabled[i, c])) for c in np.flatnonzero(pop.present[i])}


def test_evolved_population_is_valid_and_structurally_diverse():
    es = evolved()
    pop = es.ask()
    pop.check()
    assert pop.hidden_counts().max() >= 1
    assert (pop.present & ~pop.enabled).any()
    assert es.n_species >= 2


def test_add_connection_invariants():
    es = evolved()
    pop, reg = es.ask().copy(), es.registry
    rows = np.arange(len(pop)) % 2 == 0
    before = pop.copy()
    out = ops.add_connection(pop, reg, np.random.default_rng(0), rows, prob=1.0, recurrent=True, init_std=1.0)
    out.check()
    added = out.present.sum(1) - before.present.sum(1)
    assert set(added[rows]) <= {0, 1} and added[rows].sum() > 0
    assert (added[~rows] == 0).all()
    for i in np.flatnonzero(~rows):
        assert genes(out, i) == genes(before, i)
    # every (source, target) has exactly one innovation number
    keys = out.src * 2**32 + out.dst
    assert np.unique(keys).size == keys.size


def test_same_new_structure_gets_the_same_innovation():
    space = NeatSpace(2, 1, initial="none")
    reg = InnovationRegistry(2, 1)
    pop = space.initial(4, np.random.default_rng(0), reg)
    i1 = reg.connections(np.array([0, 1, 0]), np.array([2, 2, 2]))
    assert i1[0] == i1[2] and i1[0] != i1[1]
    assert (reg.connections(np.array([1]), np.array([2])) == i1[1]).all()
    pop = pop.with_connections(i1, np.array([0, 1, 0]), np.array([2, 2, 2]))
    pop.present[:, :] = pop.enabled[:, :] = True
    pop.weight[:] = 1.0
    # all four genomes split their only connection 0->2 (disable 1->2 so it cannot be chosen)
    pop.enabled[:, pop.conn_columns(i1[1:2])] = False
    out = ops.add_node(pop, reg, np.random.default_rng(1), np.ones(4, bool), prob=1.0, defaults=(1.0, 0.9, 0.0),
                       in_weight=1.5)
    out.check()
    assert out.node.tolist() == [2, 3]  # one new node id for the same split
    assert (out.hidden_counts() == 1).all()
    assert out.innov.size == 4  # 0->2, 1->2, 0->3, 3->2
    assert (out.present.sum(1) == 4).all() and (out.enabled.sum(1) == 2).all()


def test_add_node_splits_an_enabled_connection():
    es = evolved()
    pop, reg = es.ask().copy(), es.registry
    rows = np.ones(len(pop), bool)
    before = pop.copy()
    out = ops.add_node(pop, reg, np.random.default_rng(4), rows, prob=1.0, defaults=(1.0, 0.9, 0.0), in_weight=1.5)
    out.check()
    grew = out.hidden_counts() - before.hidden_counts()
    assert set(grew) <= {0, 1} and grew.sum() > 0
    g = grew == 1
    assert (out.present.sum(1)[g] - before.present.sum(1)[g] == 2).all()
    assert (out.enabled.sum(1)[g] - before.enabled.sum(1)[g] == 1).all()  # -1 split, +2 new


def test_delete_and_toggle_keep_graphs_valid():
    es = evolved()
    rows = np.ones(len(es.ask()), bool)
    rng = np.random.default_rng(5)
    pop = es.ask().copy()
    before = pop.copy()
    out = ops.delete_node(pop, rng, rows, prob=1.0)
    out.check()
    lost = before.hidden_counts() - out.hidden_counts()
    assert set(lost) <= {0, 1} and lost.sum() > 0
    assert (out.node_present[:, ~out.is_hidden]).all()  # outputs never go
    out = ops.delete_connection(out, rng, rows, prob=1.0)
    out.check()
    pop = es.ask().copy()
    out = ops.toggle_connections(pop, rng, rows, enable_rate=0.5, disable_rate=0.5)
    out.check()
    assert np.array_equal(out.present, es.ask().present)
    assert not np.array_equal(out.enabled, es.ask().enabled)


def test_weight_and_neuron_mutation_stay_in_range():
    es = evolved()
    pop = es.ask().copy()
    rows = np.arange(len(pop)) < 10
    rng = np.random.default_rng(6)
    out = ops.mutate_weights(pop, rng, rows, rate=1.0, power=50.0, replace_rate=0.0, init_std=1.0, limit=8.0)
    out = ops.mutate_neurons(out, rng, rows, rate=1.0, threshold_power=10.0, beta_power=30.0, bias_power=1.0)
    out.check()
    assert np.abs(out.weight).max() <= 8.0
    assert (out.threshold > 0).all() and ((out.beta > 0) & (out.beta < 1)).all()
    ref = es.ask()
    assert np.array_equal(out.weight[~rows], ref.weight[~rows])
    assert not np.array_equal(out.weight[rows], ref.weight[rows])


def test_crossover_children_take_their_genes_from_their_parents():
    es = evolved()
    pop = es.ask()
    fitness = XOR.evaluate(es.space.compile(pop), 0).fitness
    rng = np.random.default_rng(7)
    a = rng.integers(0, len(pop), 40)
    b = rng.integers(0, len(pop), 40)
    child = ops.crossover(pop, a, b, fitness, rng)
    child.check()
    for k in range(40):
        fit, oth = (a[k], b[k]) if fitness[a[k]] >= fitness[b[k]] else (b[k], a[k])
        g_child, g_fit, g_oth = genes(child, k), genes(pop, fit), genes(pop, oth)
        assert set(g_child) == set(g_fit)  # excess and disjoint genes from the fitter parent
        for innov, (w, _) in g_child.items():
            assert w == g_fit[innov][0] or (innov in g_oth and w == g_oth[innov][0])
        if a[k] == b[k]:
            assert g_child == g_fit


def test_distance_counts_excess_disjoint_and_weight_difference():
    space = NeatSpace(4, 1, initial="none")
    reg = InnovationRegistry(4, 1)
    pop = space.initial(2, np.random.default_rng(0), reg)
    innov = reg.connections(np.arange(4), np.full(4, 4))
    pop = pop.with_connections(innov, np.arange(4), np.full(4, 4))
    # genome 0 has genes 0, 1, 2; genome 1 has genes 0, 3; weights differ by 2 on gene 0
    pop.present[0, :3] = True
    pop.present[1, [0, 3]] = True
    pop.enabled[:] = pop.present
    pop.weight[0, 0], pop.weight[1, 0] = 1.0, -1.0
    d = distance(pop, pop, (1.0, 10.0, 100.0, 0.0), space.defaults)
    assert d[0, 0] == d[1, 1] == 0.0
    # excess: gene 3 (beyond genome 0's last); disjoint: genes 1, 2; N = 1 for small genomes
    assert d[0, 1] == pytest.approx(1 * 1 + 10 * 2 + 100 * 2.0)
    assert d[1, 0] == pytest.approx(d[0, 1])


def test_speciation_separates_distinct_genomes_and_keeps_species_ids():
    es = evolved(generations=1)
    pop = es.ask()
    species, reps, ids, nxt = assign_species(pop, pop.take([]), np.zeros(0, np.int64), 0, 1e9, COEF,
                                             es.space.defaults)
    assert (species == 0).all() and len(reps) == 1 and nxt == 1
    species, reps, ids, nxt = assign_species(pop, pop.take([]), np.zeros(0, np.int64), 0, 1e-9, COEF,
                                             es.space.defaults)
    # a tiny threshold: only identical genomes share a species
    d = distance(pop, pop, COEF, es.space.defaults)
    same = species[:, None] == species[None, :]
    assert (d[same] == 0).all() and (d[~same] > 0).all()
    # existing species keep their ids through the next assignment
    again, _, ids2, _ = assign_species(pop, reps, ids, nxt, 1e-9, COEF, es.space.defaults)
    assert np.array_equal(again, species)


def test_threshold_moves_toward_target_species():
    lo = evolved(generations=6, target_species=1, compatibility_threshold=0.5, threshold_step=0.5)
    hi = evolved(generations=6, target_species=40, compatibility_threshold=8.0, threshold_step=0.5)
    assert lo.threshold > 0.5 and hi.threshold < 8.0


def test_best_genome_survives_every_generation():
    space = NeatSpace(3, 1)
    es = NEAT(space, seed=11, population=40, stagnation=2)
    for g in range(15):
        pop = es.ask()
        fitness = XOR.evaluate(space.compile(pop), g).fitness
        best = space.genome(pop, int(np.argmax(fitness)))
        es.tell(pop, fitness)
        nxt = es.ask()
        assert any(space.genome(nxt, i) == best for i in range(len(nxt)))


def test_feed_forward_option_keeps_graphs_acyclic():
    space = NeatSpace(3, 1, recurrent=False)
    es = NEAT(space, seed=2, population=40, add_connection=1.0, add_node=0.5)
    for g in range(10):
        pop = es.ask()
        es.tell(pop, XOR.evaluate(space.compile(pop), g).fitness)
    nets = space.compile(es.ask())
    adj = (nets.w_rec != 0).astype(np.float64)
    reach = adj.copy()
    for _ in range(nets.n_neurons):
        reach = np.minimum(1, reach + reach @ adj)
    assert np.trace(reach, axis1=1, axis2=2).max() == 0


def test_compiled_genome_simulates_like_the_network_built_by_hand():
    """A hand-designed XOR solver as genes: AND detector h inhibits the output one step later."""
    space = NeatSpace(3, 1)
    genome = {"n_in": 3, "n_out": 1,
              "nodes": [{"id": 3, "kind": "output", "threshold": 1.0, "beta": 0.0, "bias": 0.0},
                        {"id": 9, "kind": "hidden", "threshold": 1.0, "beta": 0.0, "bias": 0.0}],
              "connections": [
                  {"innovation": 0, "source": 0, "target": 3, "weight": 1.5, "enabled": True},
                  {"innovation": 1, "source": 1, "target": 3, "weight": 1.5, "enabled": True},
                  {"innovation": 2, "source": 2, "target": 3, "weight": 5.0, "enabled": False},
                  {"innovation": 5, "source": 0, "target": 9, "weight": 0.6, "enabled": True},
                  {"innovation": 6, "source": 1, "target": 9, "weight": 0.6, "enabled": True},
                  {"innovation": 7, "source": 9, "target": 3, "weight": -3.0, "enabled": True},
                  {"innovation": 8, "source": 9, "target": 9, "weight": 0.25, "enabled": True}]}
    nets = space.compile(space.decode_genome(genome))
    w_in = np.zeros((1, 3, 2), np.float32)
    w_in[0, 0, 0] = w_in[0, 1, 0] = 1.5
    w_in[0, 0, 1] = w_in[0, 1, 1] = 0.6
    w_rec = np.zeros((1, 2, 2), np.float32)
    w_rec[0, 1, 0], w_rec[0, 1, 1] = -3.0, 0.25
    hand = NetworkBatch(w_in, w_rec, np.ones((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)), 1)
    for f in ("w_in", "w_rec", "threshold", "beta", "bias"):
        assert np.array_equal(getattr(nets, f), getattr(hand, f)), f
    x = XOR.inputs(0)
    assert np.array_equal(simulate(nets, x), simulate(hand, x))
    ev = XOR.evaluate(nets, 0)
    assert XOR.solved(ev)[0] and ev.metrics["correct"][0] == 4
    assert ev.fitness[0] == pytest.approx(4 - 0.1 ** 2)
    assert space.genome(space.decode_genome(genome), 0)["connections"] == genome["connections"]


def test_padding_in_a_batch_changes_nothing():
    es = evolved()
    pop = es.ask()
    nets = es.space.compile(pop)
    x = XOR.inputs(0)
    batched = simulate(nets, x)
    for i in range(0, len(pop), 7):
        alone = simulate(es.space.compile(pop.take([i])), x)
        n = alone.shape[-1]
        assert np.array_equal(batched[:, i, :, :n], alone[:, 0])
        assert not batched[:, i, :, n:].any()


def test_state_round_trip_through_files_resumes_exactly(tmp_path):
    space = NeatSpace(3, 1)
    straight = NEAT(space, seed=5, population=50)
    resumed = NEAT(space, seed=5, population=50)
    history = []
    for g in range(12):
        pop = straight.ask()
        f = XOR.evaluate(space.compile(pop), g).fitness
        history.append(f)
        straight.tell(pop, f)
        if g < 6:
            resumed.tell(resumed.ask(), f)
    meta, arrays = resumed.state()
    write_json(tmp_path / "s.json", meta)
    write_npz(tmp_path / "s.npz", arrays)
    resumed = strategy_from_state(read_json(tmp_path / "s.json"), read_npz(tmp_path / "s.npz"))
    for g in range(6, 12):
        pop = resumed.ask()
        f = XOR.evaluate(space.compile(pop), g).fitness
        assert np.array_equal(f, history[g])
        resumed.tell(pop, f)
    a, b = straight.state(), resumed.state()
    assert a[0] == b[0]
    assert a[1].keys() == b[1].keys()
    for k in a[1]:
        assert np.array_equal(a[1][k], b[1][k]), k


def test_bad_state_and_misuse_are_clear_errors():
    es = evolved(generations=2)
    meta, arrays = es.state()
    with pytest.raises(StrategyError, match="neat state"):
        NEAT.from_state({k: v for k, v in meta.items() if k != "registry"}, arrays)
    broken = dict(arrays, pop_enabled=~arrays["pop_present"])
    with pytest.raises(StrategyError, match="enabled but not present"):
        NEAT.from_state(meta, broken)
    with pytest.raises(StrategyError, match="population that ask"):
        es.tell(es.ask().copy(), np.zeros(60))
    with pytest.raises(StrategyError, match=r"shape \(3,\); expected shape \(60,\)"):
        es.tell(es.ask(), np.zeros(3))
    with pytest.raises(StrategyError, match="add_node"):
        make_strategy("neat", NeatSpace(3, 1), seed=0, add_node=1.5)


def test_neat_solves_xor_with_the_defaults():
    config = cfg.resolve({"task": {"name": "xor"}, "strategy": {"name": "neat"}, "run": {"seed": 1}})
    task, space = build(config)
    es = make_strategy("neat", space, 123)
    for g in range(150):
        pop = es.ask()
        ev = task.evaluate(space.compile(pop), g)
        if task.solved(ev).any():
            break
        es.tell(pop, ev.fitness)
    assert task.solved(ev).any()
    i = int(np.flatnonzero(task.solved(ev))[0])
    assert ev.metrics["correct"][i] == 4 and ev.fitness[i] > 3.0


@pytest.mark.parametrize("task_name", ["xor", "cartpole"])
def test_run_with_neat_writes_a_replayable_run(tmp_path, capsys, task_name):
    args = ["run", task_name, "--strategy", "neat", "--out", str(tmp_path), "--name", "n", "--quiet",
            "--generations", "3", "--population", "30", "--backend", "serial"]
    if task_name == "cartpole":
        cfg_path = tmp_path / "c.toml"
        cfg_path.write_text('[task]\nepisodes = 3\nmax_steps = 50\nvalidation_episodes = 4\n')
        args += ["--config", str(cfg_path)]
    assert main(args) == 0
    r = load_run(tmp_path / "n")
    assert r.summary["status"] == "finished"
    assert r.best["genome_space"] == "neat"
    assert r.config["strategy"]["name"] == "neat" and r.config["genome"]["initial"] == "full"
    per_gen = r.individuals.groupby("generation")["species"].nunique()
    assert per_gen.tolist() == r.metrics["n_species"].tolist()
    assert (r.metrics["n_species"] >= 1).all()
    pop = load_best_genome(r)
    pop.check()
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "n"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["score"] == pytest.approx(r.summary["validation"])


def test_xor_task_options_and_errors():
    with pytest.raises(tasks.TaskError, match="steps"):
        tasks.make("xor", steps=0)
    with pytest.raises(tasks.TaskError, match="rate"):
        tasks.make("xor", rate=1.5)
    noisy = tasks.make("xor", rate=0.5)
    assert np.array_equal(noisy.inputs(3), noisy.inputs(3))
    assert not np.array_equal(noisy.inputs(3), noisy.inputs(4))
    x = XOR.inputs(0)
    assert x.shape == (10, 4, 3) and x[:, :, 2].all() and not x[:, 0, :2].any()
