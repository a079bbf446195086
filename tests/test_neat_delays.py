"""NEAT connection genes with evolvable synaptic delays (genome.max_delay >= 1)."""
import json

import numpy as np
import pytest

import tasks
from evo.app.cli import main
from evo.errors import GenomeError
from evo.genomes.neat import InnovationRegistry, NeatPopulation, NeatSpace
from evo.genomes.neat import operators as ops
from evo.genomes.neat.species import distance
from evo.results import load_best_genome, load_run
from evo.rundir.layout import TIMING_COLUMNS
from evo.strategies import StrategyError
from evo.strategies.neat import NEAT
from evo.training import config as cfg
from evo.training.api import run
from neurons import simulate

XOR = tasks.make("xor")
D = 4


def evolve(space, generations, seed=3, **opts):
    es = NEAT(space, seed=seed, population=60, add_node=0.3, add_connection=0.5, **opts)
    for g in range(generations):
        pop = es.ask()
        es.tell(pop, XOR.evaluate(space.compile(pop), g).fitness)
    return es


@pytest.fixture(scope="module")
def evolved():
    """A NEAT strategy with delays after some XOR generations: hidden nodes, varied delays."""
    return evolve(NeatSpace(3, 1, max_delay=D), 8, delay_rate=0.5)


def in_range(pop: NeatPopulation, max_delay: int = D) -> bool:
    low = np.broadcast_to(pop.default_delays(), pop.delay.shape)
    ok = (pop.delay >= low) & (pop.delay <= max_delay)
    return bool(ok[pop.present].all()) and bool((pop.delay[~pop.present] == low[~pop.present]).all())


def genes(pop, i):
    return {int(pop.innov[c]): (float(pop.weight[i, c]), int(pop.delay[i, c]))
            for c in np.flatnonzero(pop.present[i])}


def test_evolved_delays_vary_and_stay_in_range(evolved):
    pop = evolved.ask()
    pop.check()
    assert in_range(pop)
    d = pop.delay[pop.present]
    assert d.min() == 0 and d.max() >= 2


def test_every_operator_keeps_delays_in_range(evolved):
    pop, reg = evolved.ask().copy(), evolved.registry
    rows = np.ones(len(pop), bool)
    rng = np.random.default_rng(0)
    fitness = rng.random(len(pop))
    pop = ops.crossover(pop, rng.integers(0, len(pop), len(pop)), rng.integers(0, len(pop), len(pop)), fitness, rng)
    pop = ops.add_node(pop, reg, rng, rows, prob=1.0, defaults=(1.0, 0.9, 0.0), in_weight=1.5)
    pop = ops.add_connection(pop, reg, rng, rows, prob=1.0, recurrent=True, init_std=1.0)
    for _ in range(6):
        pop = ops.mutate_delays(pop, rng, rows, rate=1.0, max_delay=D)
        assert in_range(pop)
    pop = ops.delete_node(pop, rng, rows, prob=1.0)
    pop = ops.delete_connection(pop, rng, rows, prob=1.0)
    pop.check()
    assert in_range(pop)


def test_crossover_keeps_each_delay_with_its_gene(evolved):
    pop = evolved.ask()
    assert len({d for i in range(len(pop)) for _, d in genes(pop, i).values()}) >= 3
    fitness = XOR.evaluate(evolved.space.compile(pop), 0).fitness
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, len(pop), 60), rng.integers(0, len(pop), 60)
    child = ops.crossover(pop, a, b, fitness, rng)
    child.check()
    for k in range(60):
        fit, oth = (a[k], b[k]) if fitness[a[k]] >= fitness[b[k]] else (b[k], a[k])
        g_fit, g_oth = genes(pop, fit), genes(pop, oth)
        for innov, gene in genes(child, k).items():
            assert gene == g_fit[innov] or gene == g_oth.get(innov)  # weight and delay from one parent


def test_mutate_delays_rate_zero_and_rate_one(evolved):
    pop = evolved.ask()
    rows = np.arange(len(pop)) % 3 != 0
    out = ops.mutate_delays(pop.copy(), np.random.default_rng(1), rows, rate=0.0, max_delay=D)
    assert np.array_equal(out.delay, pop.delay)
    out = ops.mutate_delays(pop.copy(), np.random.default_rng(1), rows, rate=1.0, max_delay=D)
    step = out.delay.astype(int) - pop.delay
    low = np.broadcast_to(pop.default_delays(), pop.delay.shape)
    hit = pop.present & rows[:, None]
    at_bound = (pop.delay == low) | (pop.delay == D)
    assert (np.abs(step[hit]) == 1).sum() > 0
    assert ((np.abs(step) == 1) | (at_bound & (step == 0)))[hit].all()
    assert not step[~hit].any()
    # away from the bounds every delay moves, up or down with equal odds
    mid = pop.copy()
    mid.delay[mid.present] = 2
    out = ops.mutate_delays(mid, np.random.default_rng(2), np.ones(len(pop), bool), rate=1.0, max_delay=D)
    moved = out.delay[mid.present].astype(int) - 2
    assert set(moved.tolist()) == {-1, 1}
    assert abs(moved.mean()) < 0.15


def test_add_node_and_add_connection_delays():
    space = NeatSpace(2, 1, initial="none", max_delay=D)
    reg = InnovationRegistry(2, 1)
    pop = space.initial(3, np.random.default_rng(0), reg)
    innov = reg.connections(np.array([0]), np.array([2]))
    pop = pop.with_connections(innov, np.array([0]), np.array([2]))
    pop.present[:] = pop.enabled[:] = True
    pop.weight[:] = 1.0
    pop.delay[:, 0] = [3, 0, 4]
    out = ops.add_node(pop, reg, np.random.default_rng(1), np.ones(3, bool), prob=1.0,
                       defaults=(1.0, 0.9, 0.0), in_weight=1.5)
    out.check()
    c_in = out.conn_columns(reg.connections(np.array([0]), np.array([3])))[0]
    c_out = out.conn_columns(reg.connections(np.array([3]), np.array([2])))[0]
    assert out.delay[:, c_in].tolist() == [0, 0, 0]   # the in-connection: the default
    assert out.delay[:, c_out].tolist() == [3, 1, 4]  # the out-connection: the old delay, at least 1
    assert out.delay[:, 0].tolist() == [3, 0, 4]      # the split gene keeps its delay
    # new connections start at the default: 0 from an input, 1 from a neuron
    out = ops.add_connection(out, reg, np.random.default_rng(2), np.ones(3, bool), prob=1.0, recurrent=True,
                             init_std=1.0)
    new = out.present & ~np.isin(out.innov, [0, reg.connections(np.array([0]), np.array([3]))[0],
                                             reg.connections(np.array([3]), np.array([2]))[0]])[None, :]
    assert new.any()
    assert np.array_equal(out.delay[new], np.broadcast_to(out.default_delays(), out.delay.shape)[new])


def test_distance_counts_delay_differences():
    space = NeatSpace(3, 1, initial="full", max_delay=D)
    pop = space.initial(4, np.random.default_rng(0), InnovationRegistry(3, 1))
    pop.weight[:] = 0.5
    pop.delay[1, 0] = 2             # one gene of three differs by 2
    pop.delay[2, :] = [4, 4, 4]     # every gene differs by 4
    pop.delay[3, :] = [1, 2, 3]
    coef = (1.0, 1.0, 0.4, 0.4, 0.5)
    d = distance(pop, pop, coef, space.defaults)
    assert np.allclose(np.diag(d), 0.0)
    assert d[0, 1] == pytest.approx(0.5 * 2 / 3)
    assert d[0, 2] == pytest.approx(0.5 * 4)
    assert d[0, 3] == pytest.approx(0.5 * 2)
    assert d[0, 1] < d[0, 3] < d[0, 2] and np.allclose(d, d.T)
    assert not distance(pop, pop, coef[:4], space.defaults).any()  # without c_delay, as before
    assert not distance(pop, pop, coef[:4] + (0.0,), space.defaults).any()


HAND = {"n_in": 3, "n_out": 1,
        "nodes": [{"id": 3, "kind": "output", "threshold": 1.0, "beta": 0.0, "bias": 0.0},
                  {"id": 9, "kind": "hidden", "threshold": 1.0, "beta": 0.0, "bias": 0.0}],
        "connections": [
            {"innovation": 0, "source": 0, "target": 3, "weight": 1.5, "enabled": True, "delay": 2},
            {"innovation": 1, "source": 1, "target": 3, "weight": 1.5, "enabled": True, "delay": 0},
            {"innovation": 2, "source": 2, "target": 3, "weight": 5.0, "enabled": False, "delay": 3},
            {"innovation": 5, "source": 0, "target": 9, "weight": 0.6, "enabled": True, "delay": 3},
            {"innovation": 7, "source": 9, "target": 3, "weight": -3.0, "enabled": True, "delay": 4},
            {"innovation": 8, "source": 9, "target": 9, "weight": 0.25, "enabled": True, "delay": 1},
            {"innovation": 9, "source": 3, "target": 9, "weight": 0.5, "enabled": True, "delay": 2}]}


def test_compile_puts_each_delay_at_its_synapse():
    space = NeatSpace(3, 1, max_delay=D)
    nets = space.compile(space.decode_genome(HAND), pad_to=3)  # neuron 0: node 3, 1: node 9, 2: padding
    want_in = np.zeros((1, 3, 3), np.int32)
    want_in[0, 0, 0], want_in[0, 0, 1] = 2, 3  # 1 -> 3 has delay 0; 2 -> 3 is disabled: default 0
    want_rec = np.ones((1, 3, 3), np.int32)
    want_rec[0, 1, 0], want_rec[0, 0, 1] = 4, 2
    assert np.array_equal(nets.delay_in, want_in)
    assert np.array_equal(nets.delay_rec, want_rec)
    assert nets.w_in[0, 2, 0] == 0 and nets.w_rec[0, 1, 1] == np.float32(0.25)
    # without delays, the same genes compile to today's network (no delay arrays)
    plain = NeatSpace(3, 1).compile(NeatSpace(3, 1).decode_genome(
        {**HAND, "connections": [{k: v for k, v in c.items() if k != "delay"} for c in HAND["connections"]]}))
    assert plain.delay_in is None and plain.delay_rec is None


@pytest.mark.parametrize("delay", [0, 1, 3])
def test_an_input_delay_shifts_the_output_spike(delay):
    space = NeatSpace(1, 1, max_delay=D)
    genome = {"n_in": 1, "n_out": 1, "nodes": [{"id": 1, "kind": "output", "threshold": 1.0, "beta": 0.0, "bias": 0.0}],
              "connections": [{"innovation": 0, "source": 0, "target": 1, "weight": 2.0, "enabled": True,
                               "delay": delay}]}
    x = np.zeros((8, 1, 1), np.float32)
    x[0] = 1.0
    spikes = simulate(space.compile(space.decode_genome(genome)), x)
    assert np.flatnonzero(spikes[:, 0, 0, 0]).tolist() == [delay]


def test_default_delays_simulate_like_no_delays():
    es = evolve(NeatSpace(3, 1), 6)
    pop = es.ask()
    assert (pop.delay == pop.default_delays()[None]).all()
    x = XOR.inputs(0)
    with_d = NeatSpace(3, 1, max_delay=D).compile(pop)
    assert with_d.delay_rec is not None
    assert np.array_equal(simulate(with_d, x), simulate(es.space.compile(pop), x))


def test_genome_json_round_trips_and_old_genomes_load(evolved):
    space, pop = evolved.space, evolved.ask()
    for i in range(0, len(pop), 5):
        g = json.loads(json.dumps(space.genome(pop, i)))
        assert all("delay" in c for c in g["connections"])
        back = space.decode_genome(g)
        assert space.genome(back, 0) == g
        assert genes(back, 0) == genes(pop, i)
    # a genome saved without delays loads with the defaults
    old = {**HAND, "connections": [{k: v for k, v in c.items() if k != "delay"} for c in HAND["connections"]]}
    back = space.decode_genome(old)
    assert back.delay[0].tolist() == [0, 0, 0, 0, 1, 1, 1]
    # a space without delays writes none
    assert all("delay" not in c for c in NeatSpace(3, 1).genome(back, 0)["connections"])


@pytest.mark.parametrize("source, delay, match", [(0, -1, "delay -1; expected 0..4"), (9, 0, "delay 0; expected 1..4"),
                                                  (0, 5, "delay 5; expected 0..4"), (0, 1.5, "malformed"),
                                                  (0, "2", "malformed"), (0, True, "malformed")])
def test_bad_delays_in_a_genome_are_clear_errors(source, delay, match):
    g = json.loads(json.dumps(HAND))
    c = next(c for c in g["connections"] if c["source"] == source)
    c["delay"] = delay
    with pytest.raises(GenomeError, match=match):
        NeatSpace(3, 1, max_delay=D).decode_genome(g)


def test_a_space_without_delays_refuses_a_genome_with_delays():
    with pytest.raises(GenomeError, match=r"connection 0 has delay 2; expected 0..0 \(genome.max_delay = 0\)"):
        NeatSpace(3, 1).decode_genome(HAND)


def test_delays_off_uses_no_random_draws_and_no_distance_term():
    with pytest.raises(StrategyError, match=r"^strategy.delay_rate: 0.9 changes nothing without delays"):
        evolve(NeatSpace(3, 1), 5, delay_rate=0.9)
    # a state that records such options (written before they were refused) resumes, and they stay inert
    a = evolve(NeatSpace(3, 1), 3)
    meta, arrays = a.state()
    meta = json.loads(json.dumps(meta))
    meta["options"].update(delay_rate=0.9, c_delay=5.0)
    b = NEAT.from_state(meta, arrays)
    assert b.options["delay_rate"] == 0.9 and b.options["c_delay"] == 5.0
    for g in range(3, 6):
        for es in (a, b):
            pop = es.ask()
            es.tell(pop, XOR.evaluate(es.space.compile(pop), g).fitness)
    sa, sb = a.state(), b.state()
    assert sa[1].keys() == sb[1].keys()
    for k in sa[1]:
        assert np.array_equal(sa[1][k], sb[1][k]), k


def test_state_with_delays_round_trips_and_old_states_load(evolved):
    meta, arrays = evolved.state()
    assert meta["space"]["max_delay"] == D and meta["options"]["delay_rate"] == 0.5
    again = NEAT.from_state(json.loads(json.dumps(meta)), arrays)
    assert np.array_equal(again.ask().delay, evolved.ask().delay)
    # a state written before delays existed: no delay arrays, options or max_delay
    old_meta = json.loads(json.dumps(meta))
    del old_meta["space"]["max_delay"], old_meta["options"]["delay_rate"], old_meta["options"]["c_delay"]
    old = NEAT.from_state(old_meta, {k: v for k, v in arrays.items() if not k.endswith("_delay")})
    assert old.space.max_delay == 0
    with pytest.raises(StrategyError, match="a delay exceeds genome.max_delay = 0"):
        NEAT.from_state(old_meta, arrays)
    pop = old.ask()
    assert (pop.delay == pop.default_delays()[None]).all()


def test_max_delay_option_is_checked():
    with pytest.raises(GenomeError, match=r"genome.max_delay: -1; expected an integer in 0..64"):
        cfg.resolve({"task": {"name": "xor"}, "strategy": {"name": "neat"}, "genome": {"max_delay": -1}})
    with pytest.raises(cfg.ConfigError, match="genome.max_delay: 2.5 is float; expected an integer"):
        cfg.resolve({"task": {"name": "xor"}, "strategy": {"name": "neat"}, "genome": {"max_delay": 2.5}})
    with pytest.raises(Exception, match=r"strategy.delay_rate: 1.5; expected a probability in \[0, 1\]"):
        NEAT(NeatSpace(3, 1, max_delay=D), seed=0, delay_rate=1.5)
    with pytest.raises(Exception, match="strategy.c_delay: -1; expected a value >= 0"):
        NEAT(NeatSpace(3, 1, max_delay=D), seed=0, c_delay=-1)


def _run(tmp_path, name, generations):
    layer = {"task": {"name": "xor"}, "genome": {"max_delay": D},
             "strategy": {"name": "neat", "population": 30, "delay_rate": 0.3},
             "run": {"generations": generations, "seed": 4, "stop_on_solved": False, "stop_fitness": 1e9,
                     "backend": "serial", "quiet": True, "out": str(tmp_path), "name": name}}
    return run(cfg.resolve(layer), log=None).path


def test_a_run_with_delays_is_deterministic_and_resumes_exactly(tmp_path):
    a, b = _run(tmp_path, "a", 5), _run(tmp_path, "b", 5)
    ra, rb = load_run(a), load_run(b)
    assert ra.config["genome"]["max_delay"] == D
    assert ra.metrics.drop(columns=TIMING_COLUMNS).equals(rb.metrics.drop(columns=TIMING_COLUMNS))
    assert ra.individuals["fitness"].tolist() == rb.individuals["fitness"].tolist()
    assert all("delay" in c for c in ra.best["genome"]["connections"])
    load_best_genome(ra).check()
    short = _run(tmp_path, "short", 3)
    assert main(["resume", str(short), "--generations", "5", "--quiet"]) == 0
    rs = load_run(short)
    assert rs.individuals["fitness"].tolist() == ra.individuals["fitness"].tolist()
    assert rs.best["genome"] == ra.best["genome"]
