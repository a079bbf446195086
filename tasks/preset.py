"""A task's recommended setting: what ``evospike run TASK`` uses when nothing else is given."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Preset"]


@dataclass(frozen=True)
class Preset:
    """The recommended strategy, genome, options and budget of a task.

    - ``strategy``: the strategy's registered name; ``strategy_options`` its options.
    - ``generations``: the budget (``run.generations``); ``run``: other ``[run]`` keys, such
      as ``stop_fitness``.
    - ``genome``: ``[genome]`` keys for the strategy's genome space; ``task``: task options.
    - ``alternatives``: for another strategy S, the layer ``{"strategy": {...}, "genome":
      {...}, "task": {...}, "generations": N}`` to use instead of S's own defaults when a
      user picks S (its task options are applied over the preset's).
    - ``note``: one line on why this setting.

    ``layer()`` is the config layer ({"run", "task", "genome", "strategy"}) it stands for.
    """

    strategy: str
    generations: int
    strategy_options: dict[str, Any] = field(default_factory=dict)
    genome: dict[str, Any] = field(default_factory=dict)
    task: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    alternatives: dict[str, dict[str, Any]] = field(default_factory=dict)
    note: str = ""

    def layer(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy({"run": {"generations": self.generations, **self.run}, "task": dict(self.task),
                              "genome": dict(self.genome),
                              "strategy": {"name": self.strategy, **self.strategy_options}})

    def summary(self) -> str:
        """One line for ``evospike tasks``: the strategy and the budget."""
        opts = ", ".join(f"{k}={v}" for k, v in self.strategy_options.items() if k == "population")
        return f"{self.strategy}{f' ({opts})' if opts else ''}, {self.generations} generations"
