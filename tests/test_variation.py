"""DEAP's variation on a population array: the compiled loop draws what DEAP's operators draw
from Python's random, so both give the same genomes and leave random in the same state."""
import random

import numpy as np
import pytest

from evo.strategies import make as make_strategy
from evo.strategies import variation

pytest.importorskip("numba")


def options(**more):
    return {"crossover": "sbx", "eta": 15.0, "alpha": 0.5, "crossover_rate": 0.9, "mutation_rate": 0.9,
            "mutation_sigma": 0.1, "mutation_indpb": 0.1, **more}


@pytest.mark.parametrize("crossover,shape,seed,cached", [
    ("sbx", (7, 301), 0, False), ("sbx", (6, 1000), 1, True), ("blend", (9, 257), 2, True),
    ("blend", (4, 700), 3, False), ("sbx", (1, 50), 4, True)])
def test_the_compiled_loop_gives_deaps_genomes_and_random_state(crossover, shape, seed, cached):
    kernel = variation._checked_kernel()
    assert kernel is not None
    outer = random.getstate()
    try:
        random.seed(seed)
        for _ in range(seed * 97):  # start at a varied position among the 624 words
            random.random()
        if cached:
            random.gauss(0.0, 1.0)
        start = random.getstate()
        o = options(crossover=crossover, mutation_indpb=0.3 + 0.1 * seed)
        x = np.random.default_rng(seed).normal(size=shape)
        deap, compiled = x.copy(), x.copy()
        variation._vary_deap(deap, o)
        after = random.getstate()
        random.setstate(start)
        variation._vary_compiled(compiled, o, kernel)
        assert np.array_equal(deap.view(np.uint64), compiled.view(np.uint64))
        assert not np.array_equal(deap, x)
        assert random.getstate() == after
    finally:
        random.setstate(outer)


@pytest.mark.parametrize("name,extra", [("ga", {"crossover": "blend", "elitism": 3}), ("ga", {}), ("nsga2", {})])
def test_a_strategy_evolves_the_same_with_the_compiled_loop_or_deaps(monkeypatch, name, extra):
    monkeypatch.setattr(variation, "current_kernel", lambda: "auto")

    def evolve(compiled_from):
        monkeypatch.setattr(variation, "COMPILED_FROM", compiled_from)
        es = make_strategy(name, 40, seed=3, population=12, **extra)
        for _ in range(4):
            X = es.ask()
            f = -np.sum(X ** 2, axis=1)
            es.tell(X, np.stack([f, np.abs(X).sum(axis=1)], axis=1) if name == "nsga2" else f)
        return es.ask()
    assert np.array_equal(evolve(0), evolve(10 ** 12))


def test_deaps_operators_run_where_the_compiled_loop_differs(monkeypatch):
    monkeypatch.setattr(variation, "_kernel", None)
    monkeypatch.setattr(variation, "_same_as_deap", lambda kernel: False)
    assert variation._checked_kernel() is None
    called = []
    monkeypatch.setattr(variation, "_vary_deap", lambda x, o: called.append(x.shape))
    variation.vary(np.zeros((4, 10 ** 5)), options())
    assert called == [(4, 10 ** 5)]


def test_the_numpy_kernel_setting_keeps_numba_out(monkeypatch):
    monkeypatch.setattr(variation, "COMPILED_FROM", 0)
    monkeypatch.setattr(variation, "current_kernel", lambda: "numpy")
    monkeypatch.setattr(variation, "_checked_kernel", lambda: pytest.fail("numba was asked for"))
    x = np.zeros((4, 30))
    outer = random.getstate()
    try:
        random.seed(0)
        variation.vary(x, options(mutation_indpb=1.0, mutation_rate=1.0))
    finally:
        random.setstate(outer)
    assert np.count_nonzero(x) == x.size
