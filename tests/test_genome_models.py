"""The fixed genome's neuron models and delay genes: transforms, layout, errors, runs."""
import json
import re

import numpy as np
import pytest

from evo.app.cli import main
from evo.genomes import FixedTopology, GenomeError
from evo.results import load_run
from evo.rundir.layout import TIMING_COLUMNS
from evo.training import config as cfg
from evo.training.api import run


def test_a_zero_genome_gives_the_documented_defaults():
    for neuron, expect in (("cuba", {"alpha": 0.5}), ("alif", {"rho": 0.95, "b": 0.5})):
        space = FixedTopology(3, 2, hidden=4, neuron=neuron, max_delay=16)
        net = space.compile(np.zeros((2, space.dim)))
        assert net.model == neuron
        for name, value in expect.items():
            np.testing.assert_allclose(getattr(net, name), value, rtol=1e-6)
        O = 2
        # g = 0 is the middle of lo..D: input 0 + floor(17 / 2) = 8, others 1 + floor(16 / 2) = 9
        assert (net.delay_in[:, :, O:] == 8).all() and (net.delay_in[:, :, :O] == 0).all()
        assert (net.delay_rec[:, O:, :] == 9).all() and (net.delay_rec[:, :O, :] == 1).all()


def test_every_real_gene_maps_into_the_valid_ranges():
    rng = np.random.default_rng(0)
    for neuron in ("alif", "cuba"):
        space = FixedTopology(3, 2, hidden=5, neuron=neuron, max_delay=6)
        X = rng.normal(0, 1, (64, space.dim)) * rng.choice([1, 1e3, 1e6], (64, space.dim))
        net = space.compile(X)  # NetworkBatch checks every range
        assert net.delay_in.min() >= 0 and net.delay_in.max() <= 6
        assert net.delay_rec[:, 2:, :].min() >= 1 and net.delay_rec.max() <= 6
        assert {0, 6} <= set(np.unique(net.delay_in[:, :, 2:]).tolist())


def test_a_standard_logistic_gene_is_uniform_over_the_delays():
    space = FixedTopology(1, 1, hidden=0, max_delay=3, evolve=["weights", "delays"])
    g = np.random.default_rng(1).logistic(size=(40_000, space.dim))
    counts = np.bincount(space.compile(g).delay_in.ravel(), minlength=4)
    np.testing.assert_allclose(counts / counts.sum(), 0.25, atol=0.01)


def test_delay_genes_follow_the_order_of_the_weights():
    space = FixedTopology(2, 1, hidden=2, max_delay=4, evolve=["weights", "delays"])
    seg = space.segments
    assert [k for k in seg] == ["w_in_hidden", "w_hidden_hidden", "w_hidden_out",
                                "dw_in_hidden", "dw_hidden_hidden", "dw_hidden_out"]
    X = np.zeros((1, space.dim))
    X[0, seg["dw_in_hidden"].start + 1] = 50.0    # input 0 -> hidden 1 (neuron 2): the longest, 4
    X[0, seg["dw_hidden_hidden"].start + 2] = -50  # hidden 1 -> hidden 0 (neuron 1): the shortest, 1
    X[0, seg["dw_hidden_out"].start + 1] = 50      # hidden 1 -> output 0: 4
    net = space.compile(X)
    assert net.delay_in[0, 0, 2] == 4 and net.delay_rec[0, 2, 1] == 1 and net.delay_rec[0, 2, 0] == 4
    assert net.delay_in[0, 1, 1] == 2 and net.delay_rec[0, 1, 2] == 3  # the rest: the middles


def test_genome_options_are_checked():
    bad = [(dict(neuron="izhikevich"), "genome.neuron: 'izhikevich'; expected one of lif, alif, cuba"),
           (dict(max_delay=65), "genome.max_delay: 65; expected an integer in 0..64"),
           (dict(evolve=["weights", "rhos"]), "genome.evolve: 'rhos' belongs to the alif neuron model"),
           (dict(evolve=["weights", "delays"]), "genome.evolve: 'delays' needs genome.max_delay >= 1"),
           (dict(hidden=[4], neuron="cuba"), "the cuba neuron model needs a dense network"),
           (dict(hidden=[4], max_delay=2), "with delays needs a dense network"),
           (dict(rho=1.0, neuron="alif"), "genome.rho: 1.0; expected a value in"),
           (dict(b=0.0, neuron="alif"), "genome.b: 0.0; expected a value > 0 and at most 1e+25")]
    for options, message in bad:
        with pytest.raises(GenomeError, match=re.escape(message)):
            FixedTopology(3, 2, **options)
    plain = FixedTopology(3, 2)
    assert plain.evolve == ("weights", "thresholds", "betas") and plain.compile(np.zeros((1, plain.dim))).plain


QUICK = {"task": {"name": "temporal-patterns", "samples": 4, "validation_samples": 4, "steps": 20},
         "genome": {"hidden": 6, "neuron": "alif", "max_delay": 3},
         "strategy": {"name": "openes", "population": 16},
         "run": {"generations": 3, "quiet": True, "validate_every": 0, "backend": "serial"}}


def test_a_run_with_another_model_and_delays_is_deterministic_and_replays(tmp_path, capsys):
    def go(name):
        layer = {**QUICK, "run": {**QUICK["run"], "out": str(tmp_path), "name": name}}
        return load_run(run(cfg.resolve(layer), log=None).path)
    a, b = go("a"), go("b")
    assert a.config["genome"]["neuron"] == "alif" and a.config["genome"]["max_delay"] == 3
    assert a.metrics.drop(columns=TIMING_COLUMNS).equals(b.metrics.drop(columns=TIMING_COLUMNS))
    best = json.loads((tmp_path / "a" / "best.json").read_text())
    assert best["genome_config"]["neuron"] == "alif"
    scores = []
    for _ in range(2):
        assert main(["replay", str(tmp_path / "a"), "--json"]) == 0
        scores.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["score"])
    assert scores[0] == scores[1] and 0.0 <= scores[0] <= 1.0
