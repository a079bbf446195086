"""The task registry: create tasks by name, like ``gymnasium.make``.

Three ways in: built-in tasks, ``register(name, factory)`` in user code, and the entry-point
group ``evospike.tasks`` of installed packages (``name = "package.module:factory"``).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable

from .base import Task, TaskError

__all__ = ["register", "make", "names", "spec", "TaskSpec", "UnknownTaskError", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "evospike.tasks"


class UnknownTaskError(TaskError):
    """No task of that name is registered."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    factory: Callable[..., Task]
    description: str = ""

    def option_names(self) -> list[str] | None:
        """The factory's keyword options, or None if it takes any (**kwargs)."""
        params = inspect.signature(self.factory).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        return [p.name for p in params
                if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]


_registry: dict[str, TaskSpec] = {}
_entry_points_loaded = False


def register(name: str, factory: Callable[..., Task], description: str = "", *, replace: bool = False) -> None:
    """Register ``factory(**options) -> Task`` under ``name``."""
    if not isinstance(name, str) or not name:
        raise TaskError(f"register: task name {name!r}; expected a non-empty string")
    if name in _registry and not replace:
        raise TaskError(f"register: task {name!r} is already registered; pass replace=True to replace it")
    if not description:
        doc = inspect.getdoc(factory) or ""
        description = doc.strip().splitlines()[0] if doc.strip() else ""
    _registry[name] = TaskSpec(name, factory, description)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _registry:
            continue
        try:
            factory = ep.load()
        except Exception as exc:  # a broken plugin must not break every other task
            raise TaskError(f"entry point {ep.name!r} = {ep.value!r} of group {ENTRY_POINT_GROUP!r} "
                            f"failed to load: {exc}") from exc
        register(ep.name, factory)


def names() -> list[str]:
    """Every task name that ``make`` accepts, sorted."""
    _load_entry_points()
    return sorted(_registry)


def spec(name: str) -> TaskSpec:
    _load_entry_points()
    if not isinstance(name, str):
        raise UnknownTaskError(f"task name {name!r} is {type(name).__name__}; expected a string, one of "
                               f"{', '.join(names())}")
    if isinstance(name, str) and name.startswith("gym:") and name not in _registry:
        import functools

        from .gym_adapter import GymTask
        env_id = name[len("gym:"):]
        if not env_id:
            raise UnknownTaskError("task 'gym:' needs an environment id, e.g. gym:CartPole-v1")
        return TaskSpec(name, functools.partial(GymTask, env_id), f"Gymnasium environment {env_id}")
    if name not in _registry:
        import difflib
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
    return s.factory(**options)
