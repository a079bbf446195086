"""Errors that the CLI reports as one line with exit code 2. The bottom layer of ``evo``:
it imports no other module of the package."""
from __future__ import annotations

import signal

from neurons import NetworkError
from tasks import TaskError

__all__ = ["one_line", "Terminated", "ConfigError", "RunDirError", "RunError", "ClusterError", "EvaluationTimeout", "StrategyError",
           "StepSizeError", "GenomeError", "USER_ERRORS"]


def one_line(text: object) -> str:
    """``text`` on one line: its lines joined by single spaces, blank ones left out (a
    message that a user's task, environment or library wrote on several)."""
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP: the terminal closed), raised like Ctrl-C's KeyboardInterrupt so that
    a run ends the same way; ``signal_name`` ("SIGTERM", "SIGHUP") is its summary's reason."""

    def __init__(self, signum: int = 15) -> None:
        super().__init__(signum)
        self.signal_name = signal.Signals(int(signum)).name


class ConfigError(ValueError):
    """A config key, type or value is invalid."""


class RunDirError(ValueError):
    """A run directory is missing, incomplete or corrupt."""


class RunError(RuntimeError):
    """A run stopped because its task failed (the message names the generation), or a
    benchmark's case failed in its own process (the message names the case)."""


class ClusterError(RuntimeError):
    """Ray cannot be reached, or its workers keep dying."""


class EvaluationTimeout(RuntimeError):
    """A generation's evaluation took longer than ``run.eval_timeout``."""


class StrategyError(ValueError):
    """Bad strategy options, a misuse of ask/tell, or a state that cannot be restored."""


class StepSizeError(StrategyError):
    """A strategy's update left the range that genes can hold: its step sizes are too large."""


class GenomeError(ValueError):
    """An invalid genome, genome matrix or genome-space option."""


USER_ERRORS = (ConfigError, RunDirError, RunError, ClusterError, TaskError, StrategyError, GenomeError, NetworkError)
