"""The event data sets (SHD, N-MNIST) on small files written here in the real formats."""
import sys

import numpy as np
import pytest

import tasks
from evo.app.cli import main
from evo.genomes import FixedTopology
from evo.results import load_run
from event_files import encode, shd_samples, write_nmnist, write_shd, write_shd_dir
from neurons import NetworkBatch
from tasks.events import (NMNIST_CHANNELS, EventSet, bin_events, load_nmnist, read_nmnist_file,
                          stratified_subset)

h5py = pytest.importorskip("h5py")


@pytest.fixture(scope="module")
def shd_dir(tmp_path_factory):
    return write_shd_dir(tmp_path_factory.mktemp("shd"))


def tiny_nets(task, P=3, hidden=4, seed=0):
    space = FixedTopology(task.n_inputs, task.n_outputs, hidden=hidden)
    return space.compile(np.random.default_rng(seed).normal(0, 1, (P, space.dim)))


def test_nmnist_reader_gives_back_the_written_events(tmp_path):
    x, y, p = [0, 33, 5, 17], [0, 33, 20, 1], [1, 0, 1, 0]
    t = [0, 70_000, 2**22 + 12_345, 2**23 - 1]  # beyond 16 bits, and the largest 23-bit time
    f = tmp_path / "a.bin"
    f.write_bytes(encode(x, y, p, t))
    got = read_nmnist_file(f)
    for a, b in zip(got, (x, y, p, t)):
        np.testing.assert_array_equal(a, b)
    # an overflow marker (y = 240) adds 2**13 us to later events and is no event itself
    f.write_bytes(encode([0, 0, 1], [2, 240, 3], [0, 0, 1], [10, 0, 20]))
    got = read_nmnist_file(f)
    np.testing.assert_array_equal(got[1], [2, 3])
    np.testing.assert_array_equal(got[3], [10, 20 + 2**13])


def test_binning_places_drops_and_merges():
    # sample 0: (t=0.0, ch 3), (0.019, ch 3) -> step 1, (0.01, ch 3) -> step 1 again (merged),
    # (0.03, ch 2) -> step 3 (no rounding down to 2), (0.05, ch 1) -> dropped (steps * dt = 0.05)
    t = np.array([0.0, 0.019, 0.01, 0.03, 0.05, 0.002], np.float32)
    ch = np.array([3, 3, 3, 2, 1, 0])
    codes, counts = bin_events([5, 1], t, ch, dt=0.01, steps=5, n_in=4)
    assert counts.tolist() == [3, 1]
    ev = EventSet(codes, np.concatenate([[0], np.cumsum(counts)]), np.array([0, 1]), 5, 4)
    assert [list(a) for a in ev.spikes(0)] == [[0, 1, 3], [3, 3, 2]]
    x = ev.dense(np.array([1, 0]))
    assert x.shape == (5, 2, 4) and x.dtype == np.float32 and set(np.unique(x)) <= {0.0, 1.0}
    assert x.sum() == 4 and x[0, 1, 3] == x[1, 1, 3] == x[3, 1, 2] == x[0, 0, 0] == 1


def test_shd_task_reads_labels_and_events(shd_dir):
    task = tasks.make("shd", path=str(shd_dir), steps=100, dt=0.01)
    assert (task.n_inputs, task.n_outputs) == (700, 20)
    train, test = task._data["train"], task._data["test"]
    assert np.bincount(train.labels).tolist() == [3] * 20 and np.bincount(test.labels).tolist() == [2] * 20
    t, u, label = shd_samples(3, 0)[4]  # class 1, second sample
    step, channel = train.spikes(4)
    assert train.labels[4] == label == 1
    want = sorted(set(zip((t.astype(np.float32).astype(np.float64) // 0.01).astype(int).tolist(), u.tolist())))
    assert sorted(zip(step.tolist(), channel.tolist())) == want
    assert task.options["path"] == str(shd_dir) and task.options["batch_size"] == 256


def test_limit_is_stratified_and_seeded(shd_dir):
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    a = stratified_subset(y, 10, 0)
    assert np.bincount(y[a]).tolist() == [1, 2, 3, 4] and a.size == 10
    np.testing.assert_array_equal(a, stratified_subset(y, 10, 0))
    assert not np.array_equal(a, stratified_subset(y, 10, 1))
    assert stratified_subset(y, 7, 0).size == 7 and stratified_subset(y, 0, 0).size == 100
    task = tasks.make("shd", path=str(shd_dir), limit=20, validation_limit=20)
    for split in ("train", "test"):
        assert np.bincount(task._data[split].labels).tolist() == [1] * 20
    other = tasks.make("shd", path=str(shd_dir), limit=20, split_seed=1)
    assert len(task._data["train"]) == 20
    assert not np.array_equal(task._data["train"].codes, other._data["train"].codes)


def test_evaluate_and_validate(shd_dir):
    task = tasks.make("shd", path=str(shd_dir), steps=50, batch_size=16)
    nets = tiny_nets(task)
    ev = task.evaluate(nets, 1)
    assert ev.fitness.shape == (3,) and np.isfinite(ev.fitness).all()
    assert all(v.shape == (3,) and np.isfinite(v).all() for v in ev.metrics.values())
    np.testing.assert_array_equal(task.evaluate(nets, 1).fitness, ev.fitness)
    val = task.validate(nets, 0)
    assert ((0 <= val.fitness) & (val.fitness <= 1)).all()
    np.testing.assert_allclose(val.fitness, val.metrics["accuracy"])
    assert task.record(nets, 0).shape[0] == 50


def test_validation_is_exact_across_chunks(shd_dir, monkeypatch):
    """A network whose output 0 fires every step answers class 0: accuracy = share of class 0,
    however the test set is cut into chunks; the metrics are means over all samples."""
    task = tasks.make("shd", path=str(shd_dir), steps=10)
    N = 20
    bias = np.zeros((1, N), np.float32)
    bias[0, 0] = 2.0
    net = NetworkBatch(np.zeros((1, 700, N), np.float32), np.zeros((1, N, N), np.float32), np.ones((1, N)),
                       np.zeros((1, N)), bias, N)
    nets = tiny_nets(task, P=2)
    whole, whole_nets = task.validate(net, 0), task.validate(nets, 0)
    assert whole.fitness[0] == pytest.approx(1 / 20)
    monkeypatch.setattr("tasks.events.CHUNK", 7)  # 40 samples in 6 uneven chunks
    cut, cut_nets = task.validate(net, 0), task.validate(nets, 0)
    assert cut.fitness[0] == pytest.approx(1 / 20)
    for a, b in ((whole, cut), (whole_nets, cut_nets)):
        np.testing.assert_allclose(a.fitness, b.fitness)
        for k in a.metrics:
            np.testing.assert_allclose(a.metrics[k], b.metrics[k])


def test_nmnist_task(tmp_path):
    write_nmnist(tmp_path, 2, 0)
    task = tasks.make("nmnist", path=str(tmp_path), limit=10, batch_size=4)
    assert (task.n_inputs, task.n_outputs) == (NMNIST_CHANNELS, 10) == (2312, 10)
    assert np.bincount(task._data["train"].labels).tolist() == [1] * 10 and len(task._data["test"]) == 20
    x, y, p, t = read_nmnist_file(tmp_path / "Test" / "0" / "00000.bin")
    ev = load_nmnist(tmp_path, "Test", steps=60, dt=0.005)
    step, channel = ev.spikes(0)
    want = {(int(ti // 5000), int(pi * 1156 + yi * 34 + xi)) for xi, yi, pi, ti in zip(x, y, p, t) if ti < 300_000}
    assert set(zip(step.tolist(), channel.tolist())) == want and ev.labels[0] == 0
    nets = tiny_nets(task, P=2, hidden=3)
    fit = task.evaluate(nets, 0)
    assert fit.fitness.shape == (2,) and np.isfinite(fit.fitness).all()
    assert 0 <= task.validate(nets, 0).fitness.min() <= 1


def one_line(exc):
    return "\n" not in str(exc.value)


def test_missing_files_are_one_line_errors(tmp_path, monkeypatch):
    with pytest.raises(tasks.TaskError, match="no folder") as e:
        tasks.make("shd", path=str(tmp_path / "nowhere"))
    assert one_line(e) and "zenkelab.org" in str(e.value)
    with pytest.raises(tasks.TaskError, match="no file 'shd_train.h5'") as e:
        tasks.make("shd", path=str(tmp_path))
    assert one_line(e) and "path=DIR" in str(e.value)
    (tmp_path / "shd_train.h5.gz").write_bytes(b"")
    with pytest.raises(tasks.TaskError, match="gunzip") as e:
        tasks.make("shd", path=str(tmp_path))
    assert one_line(e)
    monkeypatch.setenv("EVOSPIKE_DATA", str(tmp_path / "data"))
    with pytest.raises(tasks.TaskError, match="nmnist: no folder") as e:
        tasks.make("nmnist")
    assert one_line(e) and str(tmp_path / "data" / "nmnist") in str(e.value)
    (tmp_path / "n").mkdir()
    (tmp_path / "n" / "Train.zip").write_bytes(b"")
    with pytest.raises(tasks.TaskError, match=r"no folder 'Train' in .*/n' \(unzip it\)") as e:
        tasks.make("nmnist", path=str(tmp_path / "n"))
    assert one_line(e)
    (tmp_path / "n" / "Train").mkdir()
    with pytest.raises(tasks.TaskError, match=r"no \.bin files in .*Train.0'") as e:
        tasks.make("nmnist", path=str(tmp_path / "n"))
    assert one_line(e) and "Test/0..9/*.bin" in str(e.value)


def test_malformed_files_are_one_line_errors(tmp_path):
    with h5py.File(tmp_path / "shd_train.h5", "w") as f:
        f.create_dataset("labels", data=np.zeros(3, np.uint16))
    write_shd(tmp_path / "shd_test.h5", shd_samples(1, 0))
    with pytest.raises(tasks.TaskError, match="shd_train.h5' has no dataset 'spikes/times'") as e:
        tasks.make("shd", path=str(tmp_path))
    assert one_line(e)
    (tmp_path / "shd_train.h5").write_bytes(b"not hdf5")
    with pytest.raises(tasks.TaskError, match="shd_train.h5' is not a readable HDF5 file") as e:
        tasks.make("shd", path=str(tmp_path))
    assert one_line(e)
    write_shd(tmp_path / "shd_train.h5", [([0.1], [700], 0)])
    with pytest.raises(tasks.TaskError, match="spikes/units in") as e:
        tasks.make("shd", path=str(tmp_path))
    assert one_line(e)
    write_nmnist(tmp_path / "n", 1, 0)
    bad = tmp_path / "n" / "Train" / "3" / "00000.bin"
    bad.write_bytes(b"\x00" * 7)
    with pytest.raises(tasks.TaskError, match="00000.bin' has 7 bytes, not a multiple of 5") as e:
        tasks.make("nmnist", path=str(tmp_path / "n"))
    assert one_line(e) and "Train/3" in str(e.value)


def test_missing_h5py_and_test_folder(shd_dir, tmp_path, monkeypatch):
    write_nmnist(tmp_path, 1, 0)
    for f in (tmp_path / "Test").rglob("*.bin"):
        f.unlink()
    with pytest.raises(tasks.TaskError, match=r"no \.bin files in .*Test.0'") as e:
        tasks.make("nmnist", path=str(tmp_path))
    assert one_line(e)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(tasks.TaskError, match=r"needs h5py: pip install -e '.*\[datasets\]'$") as e:
        tasks.make("shd", path=str(shd_dir))
    assert one_line(e)


@pytest.mark.parametrize("option, value, words", [
    ("steps", 0, "task option steps: 0"), ("dt", 0.0, "task option dt: 0.0"), ("dt", "1", "task option dt"),
    ("batch_size", -1, "task option batch_size"), ("limit", 1.5, "task option limit"),
    ("validation_limit", -2, "task option validation_limit"), ("temperature", 0, "task option temperature"),
    ("fitness", "mse", "task option fitness"), ("reset", "none", "task option reset"), ("path", 3, "task option path"),
])
def test_options_are_checked(shd_dir, option, value, words):
    with pytest.raises(tasks.TaskError, match=words) as e:
        tasks.make("shd", **{"path": str(shd_dir), option: value})
    assert one_line(e)


def test_presets_and_registry():
    for name in ("shd", "nmnist"):
        preset = tasks.spec(name).preset
        assert preset.strategy == "openes" and preset.genome["hidden"] == [128] and "not tuned" in preset.note
        assert tasks.spec(name).option_defaults()["path"] == ""


def test_cli_run_on_generated_shd(shd_dir, tmp_path):
    config = tmp_path / "shd.toml"
    config.write_text(f'[task]\npath = "{shd_dir}"\nsteps = 20\nbatch_size = 16\n[genome]\nhidden = [6]\n')
    assert main(["run", "shd", "--config", str(config), "--generations", "2", "--population", "8",
                 "--out", str(tmp_path), "--name", "r", "--quiet", "--backend", "serial"]) == 0
    r = load_run(tmp_path / "r")
    assert r.summary["status"] == "finished" and len(r.metrics) == 2
    assert 0 <= r.summary["validation"] <= 1


def test_dump_config_needs_no_data(tmp_path, monkeypatch, capsys, shd_dir):
    monkeypatch.setenv("EVOSPIKE_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    for name in ("shd", "nmnist"):
        assert main(["run", name, "--dump-config"]) == 0
        out = capsys.readouterr().out
        assert f'path = "{tmp_path / "data" / name}"' in out and 'name = "openes"' in out
        assert main(["run", name, "--generations", "1"]) == 2  # the run itself still needs the files
        assert f"{name}: no folder" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    with tasks.deferred_data():
        task = tasks.make("shd", path=str(shd_dir))
    assert task._sets is None and task.input_bytes() == (0, "")
    nets = tiny_nets(task)
    eager = tasks.make("shd", path=str(shd_dir))
    np.testing.assert_array_equal(task.evaluate(nets, 3).fitness, eager.evaluate(nets, 3).fitness)  # read on use
    assert task.input_bytes() == eager.input_bytes()
