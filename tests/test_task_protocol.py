"""A user's task that breaks the Task protocol: refused before a run starts, or a one-line
failure of the generation that met the fault, with the finished generations kept."""
import numpy as np
import pytest

import tasks
from tasks import Evaluation, Task, TaskError
from tasks import registry

from evo.app.cli import main
from evo.errors import ClusterError, ConfigError, RunError
from evo.evaluation import AutoEvaluator, Problem, RayEvaluator
from evo.results import load_run
from evo.training import config as cfg
from evo.training.api import run


class Toy(Task):
    """Two inputs, one output; fitness: the output's spike count on a constant input. ``fault``
    names what goes wrong, from generation ``at`` on."""

    n_inputs, n_outputs = 2, 1

    def __init__(self, *, fault: str = "", at: int = 0, steps: int = 5):
        self.options = {"fault": fault, "at": at, "steps": steps}
        self.calls = 0

    def _score(self, nets, seed):
        from neurons import simulate_outputs
        x = np.ones((self.options["steps"], 1, 2), np.float32)
        counts = simulate_outputs(nets, x).counts[:, 0, 0].astype(np.float64)
        return Evaluation(counts, {"spikes": counts})

    def evaluate(self, nets, seed):
        ev = self._score(nets, seed)
        fault, late = self.options["fault"], self.calls >= self.options["at"]
        self.calls += 1
        if not late:
            return ev
        if fault == "array":
            return ev.fitness
        if fault == "none":
            return None
        if fault == "new metric":
            return Evaluation(ev.fitness, {**ev.metrics, "new": ev.fitness})
        if fault == "text fitness":
            return Evaluation(ev.fitness.astype(str), ev.metrics)
        if fault == "number name":
            return Evaluation(ev.fitness, {3: ev.fitness})
        if fault == "multiline":
            raise RuntimeError("boom in step\nsecond line")
        if fault == "huge":
            return Evaluation(np.linspace(1.6e308, 1.7e308, len(ev)), ev.metrics)
        return ev

    def validate(self, nets, seed):
        return None if self.options["fault"] == "validate none" else self._score(nets, seed)

    def solved(self, ev):
        fault = self.options["fault"] if self.calls - 1 >= self.options["at"] else ""
        if fault == "solved shape":
            return np.array([True])
        if fault == "solved raises":
            raise KeyError("accuracy")
        if fault == "solved float":
            return ev.fitness
        return np.zeros(len(ev), bool)


def toy_run(tmp_path, name, task, generations=3, **task_options):
    layer = {"task": {"name": task, **task_options}, "genome": {"hidden": 2},
             "strategy": {"name": "cma", "population": 6},
             "run": {"generations": generations, "quiet": True, "backend": "serial", "out": str(tmp_path),
                     "name": name, "validate_every": 1, "stop_fitness": 1e9}}
    return run(cfg.resolve(layer), log=None)




@pytest.mark.parametrize("fault, at, message", [
    ("array", 1, "TaskError: evaluate returned ndarray; expected tasks.Evaluation(fitness, metrics)"),
    ("none", 1, "TaskError: evaluate returned NoneType; expected tasks.Evaluation(fitness, metrics)"),
    ("new metric", 1, "TaskError: evaluate reported metrics spikes, new, where it first reported spikes; a task "
                      "reports the same metrics every generation"),
    ("text fitness", 1, "TaskError: Evaluation.fitness: <U32 values; expected real numbers (float, integer or bool)"),
    ("number name", 1, "TaskError: Evaluation.metrics: the name 3 is int; expected a string"),
    ("solved shape", 1, "TaskError: solved returned bool of shape (1,); expected (6,) bool, one per network"),
    ("solved float", 1, "TaskError: solved returned float64 of shape (6,); expected (6,) bool, one per network"),
    ("solved raises", 1, "KeyError: 'accuracy'"),
    ("multiline", 1, "RuntimeError: boom in step second line (finished"),
])
def test_a_faulty_task_fails_its_generation_in_one_line_and_keeps_the_others(tmp_path, fault, at, message):
    with pytest.raises(RunError) as caught:
        toy_run(tmp_path, "r", "proto-toy", fault=fault, at=at)
    text = str(caught.value)
    assert text.startswith("generation 1: task 'proto-toy' failed: ") and message in text and "\n" not in text
    r = load_run(tmp_path / "r")
    assert r.summary["status"] == "failed" and list(r.metrics["generation"]) == [0]


def test_fitness_near_the_float_limit_gives_finite_statistics(tmp_path):
    toy_run(tmp_path, "r", "proto-toy", generations=1, fault="huge")
    row = load_run(tmp_path / "r").metrics.iloc[0]
    fitness = np.linspace(1.6e308, 1.7e308, 6)
    assert row["mean"] == pytest.approx(1.65e308) and row["median"] == pytest.approx(1.65e308)
    assert row["std"] == pytest.approx(np.std(fitness / 1e308) * 1e308)


def test_a_validate_that_returns_no_evaluation_is_named(tmp_path):
    with pytest.raises(RunError, match=r"^generation 0: task 'proto-toy' failed: TaskError: validate returned "
                                       r"NoneType; expected tasks.Evaluation\(fitness, metrics\) \(finished"):
        toy_run(tmp_path, "r", "proto-toy", fault="validate none")


class Broken(Task):
    """Whatever its option ``what`` says is wrong with it."""

    n_inputs, n_outputs = 2, 1

    def __init__(self, *, what: str = "", steps: int = 5):
        if what == "raise":
            np.zeros(steps)[steps]  # a bug the options reach: IndexError
        self.options = {"what": what, "steps": steps}
        if what == "no inputs":
            self.n_inputs = 0
        elif what == "bool outputs":
            self.n_outputs = True
        elif what == "option list":
            self.options = ["what"]
        elif what == "extra option":
            self.options = {"what": what, "value": 3}
        elif what == "text target":
            self.target = "high"
        elif what == "text metric names":
            self.metric_names = "accuracy"
        elif what == "array option":
            self.options = {"what": np.arange(3)}

    def evaluate(self, nets, seed):
        return Evaluation(np.zeros(nets.n_networks))

    validate = evaluate


class NoValidate(Task):
    n_inputs, n_outputs = 2, 1

    def __init__(self):
        self.options = {}

    def evaluate(self, nets, seed):
        return Evaluation(np.zeros(nets.n_networks))




@pytest.mark.parametrize("what, message", [
    ("raise", "task 'proto-broken' failed to start with what='raise': IndexError: index 5 is out of bounds for axis "
              "0 with size 5"),
    ("no inputs", "task 'proto-broken' (Broken): n_inputs = 0; a tasks.Task sets n_inputs and n_outputs to integers "
                  ">= 1"),
    ("bool outputs", "task 'proto-broken' (Broken): n_outputs = True; a tasks.Task sets n_inputs and n_outputs"),
    ("option list", "task 'proto-broken' (Broken): options = ['what']; expected a dict of the options it was made "
                    "with, by name"),
    ("text target", "task 'proto-broken' (Broken): target = 'high'; expected a number (inf: no target)"),
    ("text metric names", "task 'proto-broken' (Broken): metric_names = 'accuracy'; expected None or a tuple of "
                          "metric names"),
])
def test_make_refuses_a_task_that_breaks_the_protocol(what, message):
    with pytest.raises(TaskError) as caught:
        tasks.make("proto-broken", what=what)
    assert str(caught.value).startswith(message)


def test_a_task_without_validate_or_with_options_toml_cannot_hold_is_refused_before_the_run(tmp_path):
    with pytest.raises(TaskError, match=r"^task 'proto-novalidate' \(NoValidate\) defines no validate\(nets, seed\)"):
        tasks.make("proto-novalidate")
    with pytest.raises(ConfigError, match=r"^task 'proto-broken': options\['what'\] is ndarray \(array\(\[0, 1, 2\]\)\), "
                                          r"which config.toml cannot hold"):
        toy_run(tmp_path, "x", "proto-broken", what="array option")
    assert not (tmp_path / "x").exists()


def test_a_run_records_the_options_its_task_factory_takes(tmp_path):
    """A plugin's factory may return a task that records more options than the factory takes
    (one that wraps a built-in task): the run records the factory's own, which make it again."""
    resolved = cfg.resolve({"task": {"name": "proto-broken", "what": "extra option", "steps": 3}})
    assert resolved["task"] == {"name": "proto-broken", "what": "extra option", "steps": 3}
    r = toy_run(tmp_path, "r", "proto-broken", generations=2, what="extra option")
    assert main(["resume", str(r.path), "--generations", "3", "--quiet"]) == 0
    assert list(load_run(r.path).metrics["generation"]) == [0, 1, 2]


def test_ray_refuses_a_task_only_this_process_knows_and_auto_stays_serial(capsys):
    problem = Problem({"name": "proto-toy"}, "fixed", {"hidden": 2})
    with pytest.raises(ClusterError, match=r"^task 'proto-toy' is registered only in this process \(tasks.register\), "
                                           r"so Ray's workers cannot make it"):
        RayEvaluator(problem, 0, workers=1)
    from evo.genomes import FixedTopology
    space = FixedTopology(2, 1, hidden=2)
    population = np.random.default_rng(0).normal(size=(4, space.dim))
    with AutoEvaluator(problem, 0, ray_after=0.0, cpus=2) as evaluator:  # every generation is "long"
        first, _ = evaluator.evaluate(population, 0)
        second, _ = evaluator.evaluate(population, 1)
        assert evaluator.backend == "serial" and len(first) == len(second) == 4
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("evospike: generation 0 took") and err[0].endswith(
        "but task 'proto-toy' is registered only in this process, which Ray's workers cannot make it from; staying "
        "serial (a plugin works everywhere: tasks/README.md)")


def test_resume_names_a_task_this_process_does_not_know(tmp_path, capsys, monkeypatch):
    toy_run(tmp_path, "r", "proto-toy", generations=2)
    monkeypatch.delitem(registry._registry, "proto-toy")
    assert main(["resume", str(tmp_path / "r"), "--generations", "3", "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"evospike: error: {str(tmp_path / 'r' / 'config.toml')!r}: task 'proto-toy' is not registered in this "
        f"process (a task that tasks.register() added exists only in the process that registered it; make it a "
        f"plugin, tasks/README.md, or call evo's Python API after registering it)")


def test_a_plugin_may_not_take_a_built_in_task_name(monkeypatch):
    from importlib import metadata
    fake = [metadata.EntryPoint(name="xor", value="mytasks:Parity", group=registry.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: fake)
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    with pytest.warns(UserWarning, match=r"^evospike: skipped task 'xor': entry point 'mytasks:Parity' of group "
                                         r"'evospike.tasks' names it, but a built-in task has that name$"):
        registry.names()
    assert type(tasks.make("xor")).__module__ == "tasks.xor"


class BadRecord(Toy):
    def record(self, nets, seed, inputs=False):
        raise ValueError("boom")




def test_show_plot_survives_a_failing_record(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    toy_run(tmp_path, "r", "proto-badrecord", generations=2)
    capsys.readouterr()
    assert main(["show", str(tmp_path / "r"), "--plot"]) == 0
    out = capsys.readouterr().out
    assert "(no raster: task 'BadRecord''s record failed: ValueError: boom)" in out
    assert (tmp_path / "r" / "fitness.png").is_file() and (tmp_path / "r" / "topology.png").is_file()
    assert not (tmp_path / "r" / "raster.png").exists()


@pytest.fixture(autouse=True)
def protocol_tasks(monkeypatch):
    """This module's tasks, registered for each test only (other modules list every task)."""
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    for name, factory in (("proto-toy", Toy), ("proto-broken", Broken), ("proto-novalidate", NoValidate),
                          ("proto-badrecord", BadRecord)):
        tasks.register(name, factory)


@pytest.mark.parametrize("name,factory,message", [
    ("p4", 5, "register: task 'p4': factory 5; expected a function or class that makes the task, or a "
              "'module:attr' string naming one"),
    ("p5", "tasks.xor", "register: task 'p5': factory 'tasks.xor'; expected a function or class"),
    ("Bad Name!", Toy, "register: task name 'Bad Name!'; expected a non-empty string without spaces or '/'"),
    ("a/b", Toy, "register: task name 'a/b'; expected"),
])
def test_register_refuses_what_could_never_make_a_task(name, factory, message):
    with pytest.raises(tasks.TaskError) as exc:
        tasks.register(name, factory)
    assert str(exc.value).startswith(message)
    assert name not in registry.names()
