"""The task registry: create tasks by name, like ``gymnasium.make``.

Three ways in: the built-in tasks (registered below by "module:Class" strings, imported on
first use, as Gymnasium's ``envs/__init__.py`` does), ``register(name, factory)`` in user
code (a class, a callable, or a "module:attr" string), and the entry-point group
``evospike.tasks`` of installed packages (``name = "package.module:factory"``). A plugin
whose entry point fails to import is skipped with one warning; every other task still works.
"""
from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import math
import numbers
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

import numpy as np

from .base import Task, TaskError
from .gym_adapter import GYM_PRESETS, GymTask
from .preset import Preset

__all__ = ["register", "make", "check_task", "names", "spec", "TaskSpec", "UnknownTaskError", "ENTRY_POINT_GROUP",
           "load_attr"]

ENTRY_POINT_GROUP = "evospike.tasks"


class UnknownTaskError(TaskError):
    """No task of that name is registered."""


def load_attr(target: str, what: str = "factory") -> Any:
    """The object a "package.module:attr" string names."""
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise TaskError(f"{what} {target!r}; expected 'package.module:attr'")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass
class TaskSpec:
    """A registered task: its name, its factory (loaded on first use) and a one-line description."""

    name: str
    entry: Callable[..., Task] | str
    description: str = ""
    _factory: Callable[..., Task] | None = field(default=None, repr=False)

    @property
    def factory(self) -> Callable[..., Task]:
        if self._factory is None:
            self._factory = load_attr(self.entry) if isinstance(self.entry, str) else self.entry
        return self._factory

    @property
    def preset(self) -> Preset | None:
        """The task's recommended setting (its class's ``preset``), or None."""
        preset = getattr(self.factory, "preset", None)
        return preset if isinstance(preset, Preset) else None

    def option_names(self) -> list[str] | None:
        """The factory's keyword options, or None if it takes any (**kwargs)."""
        params = inspect.signature(self.factory).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        return [p.name for p in params
                if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]

    def option_defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in inspect.signature(self.factory).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty}


_registry: dict[str, TaskSpec] = {}
_entry_points_loaded = False
_everywhere: set[str] = set()  # names that every process knows: the built-ins and the entry points


def register(name: str, factory: Callable[..., Task] | str, description: str = "", *, replace: bool = False) -> None:
    """Register ``factory(**options) -> Task`` (or a "module:attr" string naming it) under ``name``."""
    if not isinstance(name, str) or not name or any(c.isspace() or c == "/" or not c.isprintable() for c in name):
        raise TaskError(f"register: task name {name!r}; expected a non-empty string without spaces or '/' (it "
                        f"becomes part of a run directory's name and a command-line argument)")
    if not callable(factory) and not (isinstance(factory, str) and factory.count(":") == 1 and all(factory.split(":"))):
        raise TaskError(f"register: task {name!r}: factory {factory!r:.60}; expected a function or class that "
                        f"makes the task, or a 'module:attr' string naming one")
    if name in _registry and not replace:
        raise TaskError(f"register: task {name!r} is already registered; pass replace=True to replace it")
    if not description and not isinstance(factory, str):
        doc = inspect.getdoc(factory) or ""
        description = doc.strip().splitlines()[0] if doc.strip() else ""
    _registry[name] = TaskSpec(name, factory, description)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _registry:  # a built-in, or a task this process registered: it keeps the name
            taken = "a built-in task" if ep.name in _everywhere else "a task registered in this process"
            warnings.warn(f"evospike: skipped task {ep.name!r}: entry point {ep.value!r} of group "
                          f"{ENTRY_POINT_GROUP!r} names it, but {taken} has that name", stacklevel=2)
            continue
        try:
            factory = ep.load()
        except Exception as exc:  # a broken plugin must not break every other task
            warnings.warn(f"evospike: skipped task {ep.name!r}: entry point {ep.value!r} of group "
                          f"{ENTRY_POINT_GROUP!r} failed to load ({type(exc).__name__}: {exc})", stacklevel=2)
            continue
        register(ep.name, factory)
        _everywhere.add(ep.name)


def everywhere(name: str) -> bool:
    """Whether every process knows task ``name`` (a built-in, an entry point or gym:<EnvId>), not
    only one that called ``register`` for it; ``evospike replay`` or ``resume`` needs such a name."""
    _load_entry_points()
    return name in _everywhere or (name.startswith("gym:") and name not in _registry)


def _builtins_registered() -> None:
    """Called by the package once its built-in tasks are registered."""
    _everywhere.update(_registry)


def names() -> list[str]:
    """Every task name that ``make`` accepts, sorted."""
    _load_entry_points()
    return sorted(_registry)


def spec(name: str) -> TaskSpec:
    _load_entry_points()
    if not isinstance(name, str):
        raise UnknownTaskError(f"task name {name!r} is {type(name).__name__}; expected a string, one of "
                               f"{', '.join(names())}")
    if name.startswith("gym:") and name not in _registry:
        env_id = name[len("gym:"):]
        if not env_id:
            raise UnknownTaskError("task 'gym:' needs an environment id, e.g. gym:CartPole-v1")
        factory = functools.partial(GymTask, env_id)
        factory.preset = GYM_PRESETS.get(env_id)  # TaskSpec.preset reads it
        return TaskSpec(name, factory, f"Gymnasium environment {env_id}")
    if name not in _registry:
        close = difflib.get_close_matches(str(name), names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownTaskError(f"unknown task {name!r}{hint}; valid tasks: {', '.join(names())}, or gym:<EnvId> "
                               f"for a Gymnasium environment")
    return _registry[name]


def make(name: str, **options: Any) -> Task:
    """Create the task ``name`` with ``options``; an unknown option is an error naming the valid ones."""
    s = spec(name)
    valid = s.option_names()
    if valid is not None:
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise TaskError(f"task {name!r}: unknown option {unknown[0]!r}; valid options: "
                            f"{', '.join(valid) or '(none)'}")
    try:
        task = s.factory(**options)
    except TaskError:
        raise
    except Exception as exc:  # a task's own check of its options, or a bug it hit with them
        given = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "no options"
        raise TaskError(f"task {name!r} failed to start with {given}: {type(exc).__name__}: {exc}") from None
    if not isinstance(task, Task):
        raise TaskError(f"task {name!r}: its factory returned {type(task).__name__}, which is not a tasks.Task; "
                        f"subclass tasks.Task (see tasks/README.md)")
    check_task(name, task)
    return task


def check_task(name: str, task: Task) -> None:
    """A TaskError naming the first attribute of ``task`` that breaks the Task protocol (its
    ALL and SOME attributes, tasks.base.Task), so that a run refuses it before it starts."""
    where = f"task {name!r} ({type(task).__name__})"
    for attr in ("n_inputs", "n_outputs"):
        value = getattr(task, attr, None)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise TaskError(f"{where}: {attr} = {value!r}; a tasks.Task sets n_inputs and n_outputs to integers >= 1")
    options = getattr(task, "options", None)
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise TaskError(f"{where}: options = {options!r}; expected a dict of the options it was made with, by name")
    target = getattr(task, "target", math.inf)
    if isinstance(target, bool) or not isinstance(target, numbers.Real) or math.isnan(target):
        raise TaskError(f"{where}: target = {target!r}; expected a number (inf: no target)")
    metric_names = getattr(task, "metric_names", None)
    if metric_names is not None and (isinstance(metric_names, str) or not isinstance(metric_names, (tuple, list))
                                     or not all(isinstance(m, str) for m in metric_names)):
        raise TaskError(f"{where}: metric_names = {metric_names!r}; expected None or a tuple of metric names")
    if type(task).evaluate is Task.evaluate or type(task).validate is Task.validate:
        missing = "evaluate" if type(task).evaluate is Task.evaluate else "validate"
        raise TaskError(f"{where} defines no {missing}(nets, seed); every tasks.Task defines evaluate and validate "
                        f"(tasks/README.md)")
