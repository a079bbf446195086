"""A user's strategy or callback that breaks its protocol: refused before a run starts, or a
one-line failure that names it, with the finished generations kept."""
import json
import sys
import tomllib

import numpy as np
import pytest

from evo import strategies
from evo.errors import ConfigError, RunDirError, RunError, StrategyError
from evo.results import load_run
from evo.strategies import Strategy
from evo.strategies import registry
from evo.training import Callback
from evo.training import config as cfg
from evo.training.api import resume, run


class Rand(Strategy):
    """Random search that reuses one buffer: ``ask`` fills it, ``tell`` clears it. ``fault``
    names what goes wrong."""

    name = "proto-rand"

    def __init__(self, dim, *, seed: int = 0, population: int = 6, fault: str = ""):
        if fault == "init":
            raise ValueError("sigma must be positive")
        self.dim, self.seed, self.fault = dim, seed, fault
        if fault != "no population":
            self.population_size = 0 if fault == "zero population" else population
        self.rng = np.random.default_rng(seed)
        self.buf = np.zeros((population, dim))

    def ask(self):
        if self.fault == "ask raises":
            raise ValueError("my ask bug")
        if self.fault == "ask none":
            return None
        if self.fault == "ask fewer":
            return self.rng.normal(size=(self.population_size - 1, self.dim))
        if self.fault == "ask complex":
            return self.rng.normal(size=self.buf.shape) + 0j
        self.buf[:] = self.rng.normal(size=self.buf.shape)
        return self.buf

    def _tell(self, population, values):
        if self.fault == "tell raises":
            raise RuntimeError("my tell bug")
        if self.fault == "tell exits":
            sys.exit(2)
        self.buf *= 0.0  # the buffer ask returned, reused
        if self.fault == "species":
            self.last_species = np.zeros(2, np.int64)

    def center_genome(self):
        return np.zeros(3) if self.fault == "center" else None

    def state(self):
        meta = {"strategy": self.name, "generation": self.generation, "dim": self.dim, "seed": self.seed,
                "population": len(self.buf), "fault": self.fault, "rng": self.rng.bit_generator.state}
        arrays = {"buf": self.buf}
        if self.fault == "object state":
            arrays["hist"] = np.array([{"a": 1}, None], dtype=object)
        if self.fault == "set meta":
            meta["tags"] = {1, 2}
        return meta, arrays

    @classmethod
    def from_state(cls, meta, arrays):
        s = cls(meta["dim"], seed=meta["seed"], population=meta["population"], fault=meta["fault"])
        s.generation, s.rng.bit_generator.state, s.buf = meta["generation"], meta["rng"], arrays["buf"].copy()
        return s


class Other(Rand):
    name = "proto-other"


class Tabled(Rand):
    """An option whose default is a table."""

    name = "proto-tabled"

    def __init__(self, dim, *, seed: int = 0, population: int = 6, scales: dict = {"a": 1.0, "b": [1, 2]}):
        super().__init__(dim, seed=seed, population=population)
        self.scales = scales


@pytest.fixture(autouse=True)
def protocol_strategies(monkeypatch):
    """This module's strategies, registered for each test only."""
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    strategies.register("proto-rand", Rand)
    strategies.register("proto-other", Other)
    strategies.register("proto-tabled", Tabled)


def test_an_option_whose_default_is_a_table_takes_a_table(tmp_path):
    tables = {"a": 0.5, "odd key": {"x": [1, 2]}}
    resolved = cfg.resolve_sources([("config", {"task": {"name": "xor"},
                                                "strategy": {"name": "proto-tabled", "scales": tables}})])
    assert resolved.config["strategy"]["scales"] == tables
    dumped = cfg.dump_with_sources(resolved)  # --dump-config: one line per option, its source after it
    assert 'scales = {a = 0.5, "odd key" = {x = [1, 2]}}  # config' in dumped
    assert tomllib.loads(dumped)["strategy"]["scales"] == tables
    r = rand_run(tmp_path, strategy="proto-tabled", scales=tables)
    assert load_run(r.path).config["strategy"]["scales"] == tables
    with pytest.raises(ConfigError, match=r"^strategy.scales: 3 is int; expected a table$"):
        rand_run(tmp_path, strategy="proto-tabled", scales=3)


def rand_run(tmp_path, name="r", generations=3, callbacks=(), strategy="proto-rand", **options):
    layer = {"task": {"name": "xor"}, "genome": {"hidden": 2}, "strategy": {"name": strategy, **options},
             "run": {"generations": generations, "quiet": True, "backend": "serial", "out": str(tmp_path),
                     "name": name, "validate_every": 1, "stop_fitness": 1e9}}
    return run(cfg.resolve(layer), callbacks=callbacks, log=None)


def test_the_networks_recorded_are_those_evaluated_when_a_strategy_reuses_its_buffer(tmp_path):
    r = rand_run(tmp_path)
    best = json.loads((r.path / "best.json").read_text())
    assert np.abs(best["genome"]).sum() > 0  # not the buffer tell cleared
    assert best["fitness"] == pytest.approx(r.best)


@pytest.mark.parametrize("fault, message", [
    ("ask raises", "strategy 'proto-rand' ask() failed: ValueError: my ask bug"),
    ("ask none", "strategy 'proto-rand' ask() failed: StrategyError: it returned NoneType; expected a "
                 "(population_size, D) matrix of real numbers"),
    ("ask fewer", "strategy 'proto-rand' ask() failed: StrategyError: it returned 5 genomes of"),
    ("ask complex", "strategy 'proto-rand' ask() failed: StrategyError: it returned complex128 values of shape"),
    ("tell raises", "strategy 'proto-rand' tell() failed: RuntimeError: my tell bug"),
    ("tell exits", "strategy 'proto-rand' tell() failed: it called sys.exit(2)"),
    ("object state", "strategy 'proto-rand' failed: StrategyError: strategy 'proto-rand': state()'s array 'hist' "
                     "holds object values; a checkpoint holds arrays of numbers or strings under string keys"),
    ("set meta", "strategy 'proto-rand' failed: StrategyError: strategy 'proto-rand': state()'s meta cannot be "
                 "JSON (set is not JSON)"),
    ("species", "strategy 'proto-rand' failed: StrategyError: last_species holds int64 values of shape (2,); "
                "expected (6,) integer species ids, one per network"),
    ("center", "strategy 'proto-rand' failed: StrategyError: center_genome() returned float64 values of shape (3,); "
               "expected ("),
])
def test_a_faulty_strategy_fails_in_one_line(tmp_path, fault, message):
    with pytest.raises(RunError) as caught:
        rand_run(tmp_path, fault=fault)
    text = str(caught.value)
    assert text.startswith("generation 0: ") and message in text and "\n" not in text
    if fault == "object state":  # refused before anything was written: no pickle on disk
        assert not list((tmp_path / "r" / "checkpoints").glob("*.npz"))


@pytest.mark.parametrize("fault, message", [
    ("init", "strategy 'proto-rand' failed to start with population=6, fault='init': ValueError: sigma must be "
             "positive"),
    ("no population", "strategy 'proto-rand' (Rand): population_size = None; a Strategy sets it to an integer >= 1"),
    ("zero population", "strategy 'proto-rand' (Rand): population_size = 0; a Strategy sets it to an integer >= 1"),
])
def test_a_strategy_that_cannot_start_is_refused_before_the_run(tmp_path, fault, message):
    with pytest.raises(StrategyError) as caught:
        rand_run(tmp_path, fault=fault)
    assert str(caught.value).startswith(message)
    assert not (tmp_path / "r").exists()


def test_resume_uses_the_runs_strategy_and_refuses_another_ones_state(tmp_path):
    path = rand_run(tmp_path, generations=2).path
    calm = rand_run(tmp_path, "calm", generations=3).path
    assert resume(path, 3, log=None).generations == 3
    assert load_run(path).best == load_run(calm).best
    text = (path / "config.toml").read_text().replace('name = "proto-rand"', 'name = "proto-other"')
    (path / "config.toml").write_text(text)
    with pytest.raises(RunDirError, match=r"strategy.name is \"proto-other\", but summary.json records \"proto-rand\""):
        resume(path, 4, log=None)
    summary = (path / "summary.json").read_text().replace('"proto-rand"', '"proto-other"')
    (path / "summary.json").write_text(summary)  # both edited: the checkpoint still tells
    with pytest.raises(RunDirError, match=r"a state of strategy 'proto-rand', but config.toml's strategy "
                                          r"'proto-other' writes 'proto-other'; the checkpoint is not this run's"):
        resume(path, 4, log=None)


class Recorder(Callback):
    def __init__(self, hook="", returns=None):
        self.hook, self.returns, self.ended = hook, returns, []

    def on_start(self, trainer):
        if self.hook == "on_start":
            raise ValueError("start bug")

    def on_generation(self, trainer, result):
        if self.hook == "on_generation":
            open("/no/such/folder/log.txt", "a")
        if self.hook == "exit" and result.generation == 1:
            sys.exit(0)
        return self.returns

    def on_end(self, trainer, status, reason):
        self.ended.append(status)
        if self.hook == "on_end":
            raise ValueError("end bug")


def test_callback_hooks_fail_in_one_line_and_every_on_end_runs(tmp_path):
    with pytest.raises(RunError, match=r"^generation 0: callback test_strategy_protocol.Recorder.on_start, at "
                                       r"test_strategy_protocol.py:\d+: ValueError: start bug"):
        rand_run(tmp_path, "s", callbacks=[Recorder("on_start")])
    with pytest.raises(RunError, match=r"^generation 3: callback test_strategy_protocol.Recorder.on_end, at "
                                       r"test_strategy_protocol.py:\d+: ValueError: end bug"):
        rand_run(tmp_path, "e", callbacks=[Recorder("on_end")])
    assert load_run(tmp_path / "e").summary["status"] == "finished"  # the writers' on_end ran after it
    with pytest.raises(RunError, match=r"^generation 0: callback test_strategy_protocol.Recorder, at "
                                       r"test_strategy_protocol.py:\d+: FileNotFoundError: \[Errno 2\] No such file"):
        rand_run(tmp_path, "g", callbacks=[Recorder("on_generation")])
    with pytest.raises(RunError, match=r"^generation 1: callback test_strategy_protocol.Recorder, at "
                                       r"test_strategy_protocol.py:\d+: it called sys.exit\(0\)"):
        rand_run(tmp_path, "x", callbacks=[Recorder("exit")])  # not a silent exit with status 0
    summary = load_run(tmp_path / "x").summary
    assert (summary["status"], summary["generations"]) == ("failed", 1)


def test_a_numpy_false_stops_the_run_and_other_returns_are_refused(tmp_path):
    assert rand_run(tmp_path, "f", generations=5, callbacks=[Recorder(returns=np.False_)]).generations == 1
    with pytest.raises(RunError, match=r"callback test_strategy_protocol.Recorder: TypeError: on_generation "
                                       r"returned 'stop'; expected None, True or False \(False stops the run\)"):
        rand_run(tmp_path, "s", callbacks=[Recorder(returns="stop")])


@pytest.mark.parametrize("callbacks, message", [
    ([Recorder], "callbacks[0]: the class Recorder; pass an instance, Recorder(...)"),
    ([print], "callbacks[0]: <built-in function print> has no on_start(); a callback subclasses"),
    (Recorder(), "callbacks: <test_strategy_protocol.Recorder object"),
])
def test_callbacks_that_are_not_callbacks_are_refused_before_the_run(tmp_path, callbacks, message):
    with pytest.raises(ConfigError) as caught:
        rand_run(tmp_path, callbacks=callbacks)
    assert str(caught.value).startswith(message)
    assert not (tmp_path / "r").exists()


def test_a_run_of_a_strategy_this_process_does_not_know(tmp_path, capsys, monkeypatch):
    from evo.app.cli import main
    path = rand_run(tmp_path, generations=2).path
    monkeypatch.delitem(registry._registry, "proto-rand")
    assert main(["replay", str(path), "--json"]) == 0  # the networks need only the genome space
    assert json.loads(capsys.readouterr().out)["score"] == load_run(path).summary["validation"]
    assert main(["resume", str(path), "--generations", "3"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"evospike: error: {str(path / 'config.toml')!r}: strategy 'proto-rand' is not registered in this process "
        f"(a strategy that strategies.register() added exists only in the process that registered it; make it a "
        f"plugin, or call evo's Python API after registering it)")


def test_a_strategy_option_without_a_default_is_named(tmp_path):
    class Required(Rand):
        def __init__(self, dim, *, seed: int = 0, sigma, population: int = 6):
            super().__init__(dim, seed=seed, population=population)

    strategies.register("proto-required", Required)
    with pytest.raises(StrategyError, match=r"^strategy 'proto-required': the option 'sigma' of Required.__init__ has "
                                            r"no default; give every keyword-only option a default$"):
        rand_run(tmp_path, strategy="proto-required")



class Countdown(Callback):
    """Stops the run after ``n`` generations it has seen; its count is its state."""

    def __init__(self, n: int = 5):
        self.n, self.seen = n, 0

    def on_generation(self, trainer, result):
        self.seen += 1
        return self.seen < self.n

    def state(self):
        return {"seen": self.seen}

    def load_state(self, state):
        self.seen = state["seen"]


class Interrupt(Callback):
    def on_generation(self, trainer, result):
        if result.generation == 2:
            raise KeyboardInterrupt


def test_a_callback_state_is_checkpointed_so_a_resumed_run_equals_the_undisturbed_one(tmp_path):
    calm = rand_run(tmp_path, "calm", generations=10, callbacks=[Countdown(5)])
    assert calm.generations == 5
    with pytest.raises(KeyboardInterrupt):
        rand_run(tmp_path, "cut", generations=10, callbacks=[Countdown(5), Interrupt()])
    loop = json.loads((tmp_path / "cut" / "checkpoints" / "loop.json").read_text())
    assert loop["generation"] == 2 and loop["callbacks"] == {"test_strategy_protocol.Countdown": {"seen": 2}}
    assert resume(tmp_path / "cut", callbacks=[Countdown(5)], log=None).generations == 5
    columns = ["generation", "evaluations", "best", "mean", "validation"]
    assert load_run(tmp_path / "cut").metrics[columns].equals(load_run(calm.path).metrics[columns])
