"""How to install one of evospike's optional extras, worded for how evospike was installed."""
from __future__ import annotations

import shlex
from functools import lru_cache
from pathlib import Path

__all__ = ["install_hint"]


@lru_cache(maxsize=None)
def _source_root() -> str | None:
    """The clone that evospike runs from (an editable install, or PYTHONPATH), if any."""
    root = Path(__file__).resolve().parents[1]
    try:
        text = (root / "pyproject.toml").read_text()
    except OSError:
        return None
    return str(root) if 'name = "evospike"' in text else None


def install_hint(extra: str) -> str:
    """The pip command that adds ``extra``: ``pip install -e '/path/to/clone[extra]'`` where
    evospike runs from a clone (README's install), else ``pip install 'evospike[extra]'``."""
    root = _source_root()
    return f"pip install -e {shlex.quote(f'{root}[{extra}]')}" if root else f"pip install 'evospike[{extra}]'"
