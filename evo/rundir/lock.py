"""One writer per run directory: an advisory lock (``fcntl.flock``) on its ``.lock`` file."""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from ..errors import RunDirError
from .layout import LOCK

__all__ = ["run_lock", "is_locked"]


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold an advisory lock (``fcntl.flock`` on ``.lock`` in the run directory) while a process
    writes the run; a second process gets a RunDirError at once."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"run directory {str(path)!r} " + ("is not a folder" if os.path.lexists(path)
                                                             else "does not exist"))
    try:
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise RunDirError(f"cannot open the lock file {str(path / LOCK)!r}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip().splitlines()[0:1]
            other = other[0] if other else ""
            raise RunDirError(f"run directory {str(path)!r} is in use by another evospike process"
                              f"{f' (pid {other})' if other else ''}; wait for it to end") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def is_locked(path: Path) -> bool:
    """Whether a process holds the run's lock now (its status "running" is then live)."""
    try:
        fd = os.open(Path(path) / LOCK, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
