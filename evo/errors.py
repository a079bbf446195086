"""Errors that the CLI reports as one line with exit code 2."""
from __future__ import annotations

from neurons import NetworkError
from tasks import TaskError

from .genome import GenomeError
from .strategies import StrategyError

__all__ = ["ConfigError", "RunDirError", "RunError", "USER_ERRORS"]


class ConfigError(ValueError):
    """A config key, type or value is invalid."""


class RunDirError(ValueError):
    """A run directory is missing, incomplete or corrupt."""


class RunError(RuntimeError):
    """A run stopped because its task failed; the message names the generation."""


USER_ERRORS = (ConfigError, RunDirError, RunError, TaskError, StrategyError, GenomeError, NetworkError)
