"""The ``intervals`` task: classes that differ only in the intervals between input spikes."""
import numpy as np
import pytest

import tasks
from evo.app.cli import main
from evo.results import load_run
from neurons import NetworkBatch
from tasks.intervals import interval_bins


def test_bins_split_the_range_evenly():
    assert interval_bins(5, 40, 4).tolist() == [5, 14, 23, 32, 41]
    edges = interval_bins(5, 40, 5)
    assert edges[0] == 5 and edges[-1] == 41 and set(np.diff(edges)) <= {7, 8}
    assert tasks.make("intervals").steps == 20 + 40 + 1 + 10


def test_same_seed_same_data_and_float32():
    task = tasks.make("intervals")
    x, y = task.sample(8, seed=3)
    assert x.dtype == np.float32 and x.shape == (task.steps, 32, 1)
    x2, y2 = task.sample(8, seed=3)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert not np.array_equal(task.sample(8, seed=4)[0], x)


def test_classes_are_balanced_and_intervals_lie_in_their_bin():
    task = tasks.make("intervals", pulses=3)
    times, y = task.spike_times(50, seed=0)
    assert np.bincount(y).tolist() == [50] * 4
    gaps = np.diff(times, axis=1)
    assert (gaps >= task.bins[y][:, None]).all() and (gaps < task.bins[y + 1][:, None]).all()
    assert times.max() < task.steps - task.options["readout"]
    for c in range(4):  # every interval of the bin occurs
        assert set(np.unique(gaps[y == c])) == set(range(task.bins[c], task.bins[c + 1]))


def test_only_the_intervals_tell_the_classes_apart():
    task = tasks.make("intervals", channels=3)
    x, y = task.sample(2000, seed=1)
    counts = x.sum(axis=0)                     # (B, channels)
    assert (counts == 2).all()                 # the same spike count on every channel, every sample
    assert (x == x[..., :1]).all()             # every channel carries the same train
    onset = x[..., 0].argmax(axis=0)
    hist = np.stack([np.bincount(onset[y == c], minlength=21) for c in range(4)])
    assert hist.shape == (4, 21) and (hist > 0).all()   # every onset in [0, jitter] occurs in every class
    assert np.abs(hist / 2000 - 1 / 21).max() < 0.03    # and uniformly so
    last = task.steps - 1 - x[::-1, :, 0].argmax(axis=0)
    means = [np.mean(last[y == c] - onset[y == c]) for c in range(4)]
    assert np.allclose(means, [9, 18, 27, 36], atol=0.5)  # the interval: bin centers


def test_noise_adds_spikes_alike_in_every_class():
    quiet, noisy = tasks.make("intervals"), tasks.make("intervals", noise=0.05)
    xq, y = quiet.sample(500, seed=2)
    xn, _ = noisy.sample(500, seed=2)
    assert (xn >= xq).all()                    # the train is kept; distractors only add spikes
    extra = (xn - xq).sum(axis=(0, 2))
    assert extra.mean() > 2
    per_class = [extra[y == c].mean() for c in range(4)]
    assert max(per_class) - min(per_class) < 0.5


@pytest.mark.parametrize("option, value, match", [
    ("classes", 1, "task option classes: 1; expected an integer >= 2"),
    ("pulses", 1, "task option pulses: 1; expected an integer >= 2"),
    ("min_interval", 0, "task option min_interval: 0"),
    ("max_interval", 6, r"task option max_interval: 6; expected an integer >= min_interval \+ classes - 1 \(8\)"),
    ("jitter", -1, "task option jitter: -1"),
    ("readout", 2.5, "task option readout: 2.5"),
    ("noise", 1.0, r"task option noise: 1.0; expected a probability in \[0, 1\)"),
    ("temperature", 0, "task option temperature: 0"),
    ("fitness", "mse", "task option fitness: 'mse'"),
    ("reset", "none", "task option reset: 'none'"),
])
def test_bad_options_are_one_line_errors(option, value, match):
    with pytest.raises(tasks.TaskError, match=match) as err:
        tasks.make("intervals", **{option: value})
    assert "\n" not in str(err.value)


def _detectors(task: tasks.Task, big: float = 5.0) -> NetworkBatch:
    """A hand-built LIF network: hidden k fires at the second spike iff the interval is below
    bin k + 1; output k = hidden k minus hidden k - 1; the last output fires on every input."""
    O, H, beta = 4, 3, 0.9
    N = O + H
    w_in, w_rec = np.zeros((1, 1, N), np.float32), np.zeros((1, N, N), np.float32)
    th = np.ones((1, N), np.float32)
    w_in[0, 0, 3] = 1.0
    for k, edge in enumerate(task.bins[1:-1]):
        w_in[0, 0, O + k] = 1.0
        th[0, O + k] = 1 + beta ** (edge - 0.5)
        w_rec[0, O + k, k] += big
        if k:
            w_rec[0, O + k - 1, k] -= big
    return NetworkBatch(w_in, w_rec, th, np.full((1, N), beta, np.float32), np.zeros((1, N), np.float32), O)


def test_scores_a_hand_built_network_and_records():
    task = tasks.make("intervals")
    nets = _detectors(task)
    ev = task.validate(nets, seed=0)
    assert ev.fitness[0] == ev.metrics["accuracy"][0] == 1.0
    assert {"accuracy", "spikes", "synaptic_events"} <= set(ev.metrics)
    silent = _detectors(task, big=0.0)         # detectors cut off: only the last output answers
    assert task.validate(silent, seed=0).metrics["accuracy"][0] == 0.25
    train = task.evaluate(nets, seed=5)
    assert 0.8 < train.fitness[0] < 1 and train.fitness[0] > task.evaluate(silent, seed=5).fitness[0]
    assert task.record(nets, seed=0).shape == (task.steps, 7)


def test_training_and_validation_samples_differ_by_seed():
    task = tasks.make("intervals", samples=4, validation_samples=4)
    nets = _detectors(task, big=0.5)
    a = task.evaluate(nets, 1)
    np.testing.assert_array_equal(task.evaluate(nets, 1).fitness, a.fitness)
    assert not np.array_equal(task.sample(4, 1)[0], task.sample(4, 2**31 + 1)[0])


def test_preset_run_through_the_cli(tmp_path, capsys):
    assert main(["run", "intervals", "--generations", "2", "--population", "6", "--seed", "1", "--backend", "serial",
                 "--out", str(tmp_path), "--name", "r", "--quiet"]) == 0
    r = load_run(tmp_path / "r")
    assert r.summary["status"] == "finished" and len(r.metrics) == 2
    assert r.config["genome"]["hidden"] == 16 and r.config["genome"]["evolve"] == ["weights"]
    assert r.config["task"]["temperature"] == 100.0 and 0 <= r.summary["validation"] <= 1
