"""What an evaluator evaluates, as a small picklable description: the task, the genome space
and the simulator kernel. Every process (the driver, each Ray worker) builds its own task
and genome space from it; nothing heavier travels."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import neurons
import tasks

from ..errors import ConfigError, GenomeError
from ..genomes import space_class

__all__ = ["Problem"]


@dataclass(frozen=True)
class Problem:
    """``task``: {"name": ..., **options}; ``genome_kind``: "fixed" or "neat"; ``genome``: the
    genome space's options; ``kernel``: the simulator kernel setting (``run.kernel``)."""

    task: dict[str, Any]
    genome_kind: str
    genome: dict[str, Any] = field(default_factory=dict)
    kernel: str = "auto"

    @classmethod
    def from_config(cls, config: dict, genome_kind: str) -> "Problem":
        """The problem of a resolved config whose strategy evolves genomes of ``genome_kind``."""
        return cls(dict(config["task"]), genome_kind, dict(config["genome"]), config["run"].get("kernel", "auto"))

    @property
    def task_name(self) -> str:
        return str(self.task["name"])

    def use_kernel(self) -> str:
        """Apply the kernel setting to this process; returns it (auto becomes numpy without numba)."""
        try:
            return neurons.use_kernel(self.kernel)
        except ValueError as exc:
            raise ConfigError(f"run.{exc}") from None

    def build(self) -> tuple[Any, Any]:
        """(task, genome space), with the kernel setting applied to this process."""
        self.use_kernel()
        task = tasks.make(self.task_name, **{k: v for k, v in self.task.items() if k != "name"})
        cls = space_class(self.genome_kind)
        try:
            space = cls(task.n_inputs, task.n_outputs, **self.genome)
        except TypeError as exc:  # an unknown genome option
            raise GenomeError(f"[genome] {exc}; valid keys: {', '.join(inspect.signature(cls).parameters)}") from None
        return task, space

    def padded_size(self, population: Any) -> int | None:
        """The network size every chunk of ``population`` is padded to (None: fixed size)."""
        return space_class(self.genome_kind).padded_size(population)
