import numpy as np
import pytest

import tasks
from evo.training import config as cfg
from evo.genomes import FixedTopology
from evo.results import load_run
from evo.training.api import run
from neurons import NetworkBatch
from tasks.classification import load_dataset, stratified_split

pytest.importorskip("sklearn")


@pytest.mark.parametrize("name,n_in,n_out", [("iris", 4, 3), ("wine", 13, 3), ("breast-cancer", 30, 2),
                                              ("digits", 64, 10)])
def test_datasets_have_the_documented_interface(name, n_in, n_out):
    task = tasks.make(name)
    assert (task.n_inputs, task.n_outputs) == (n_in, n_out)
    pop = tasks.make(name, encoding="population", fields=3)
    assert pop.n_inputs == 3 * n_in


def test_split_is_stratified_fixed_and_disjoint():
    _, y = load_dataset("iris")
    train, test = stratified_split(y, 0.3, 0)
    assert not set(train) & set(test) and len(train) + len(test) == len(y)
    assert np.bincount(y[test]).tolist() == [15, 15, 15]
    again = stratified_split(y, 0.3, 0)
    assert np.array_equal(again[0], train) and not np.array_equal(stratified_split(y, 0.3, 1)[1], test)


def test_fitness_is_smooth_and_validation_is_test_accuracy():
    """A network that answers 'class 0' on every sample: accuracy 1/3 on balanced iris."""
    task = tasks.make("iris", steps=10)
    N = 3
    w_in = np.zeros((1, 4, N), np.float32)
    bias = np.array([[2.0, 0.0, 0.0]], np.float32)  # output 0 fires every step, the others never
    net = NetworkBatch(w_in, np.zeros((1, N, N), np.float32), np.ones((1, N)), np.zeros((1, N)), bias, 3)
    val = task.validate(net, 0)
    assert val.fitness[0] == pytest.approx(1 / 3) and val.metrics["accuracy"][0] == pytest.approx(1 / 3)
    ev = task.evaluate(net, 0)
    p0 = np.exp(2.0) / (np.exp(2.0) + 2)  # softmax(temperature * counts / steps) = softmax([2, 0, 0])
    assert ev.fitness[0] == pytest.approx(p0 / 3 + 0 * 2 / 3 + (1 / (np.exp(2.0) + 2)) * 2 / 3)


def test_minibatches_are_shared_by_all_networks_and_vary_by_generation():
    task = tasks.make("digits", batch_size=50)
    space = FixedTopology(task.n_inputs, task.n_outputs, hidden=4)
    X = np.random.default_rng(0).normal(0, 1, (3, space.dim))
    nets = space.compile(X)
    a = task.evaluate(nets, 1)
    twins = task.evaluate(space.compile(X[[0, 0]]), 1)
    assert twins.fitness[0] == twins.fitness[1] == a.fitness[0]
    assert not np.array_equal(task.evaluate(nets, 2).fitness, a.fitness)
    np.testing.assert_array_equal(task.evaluate(nets, 1).fitness, a.fitness)


def test_temporal_patterns_have_equal_rates_and_differ_in_timing():
    task = tasks.make("temporal-patterns", channels=6, classes=3, jitter=0, spikes_per_channel=3)
    x, y = task.sample(5, seed=0)
    counts = x.sum(axis=0)  # (B, channels)
    assert (counts == 3).all()  # same rate on every channel for every class
    means = np.stack([x[:, y == c].mean(axis=1) for c in range(3)])
    assert not np.array_equal(means[0], means[1])  # but different timing
    x2, _ = task.sample(5, seed=0)
    assert np.array_equal(x, x2)
    with pytest.raises(tasks.TaskError, match="spikes_per_channel"):
        tasks.make("temporal-patterns", steps=3, spikes_per_channel=4)


def test_breast_cancer_learns_with_cma(tmp_path):
    layer = {"task": {"name": "breast-cancer"}, "genome": {"hidden": 4},
             "run": {"generations": 40, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": "b"}}
    run(cfg.resolve(layer), log=None)
    r = load_run(tmp_path / "b")
    assert r.summary["validation"] >= 0.9
    assert {"accuracy", "spikes"} <= set(r.individuals.columns)
