"""The run directory's file I/O: atomic writes, and reads of regular files only.

Writes go to a temporary file created in the same folder with ``O_CREAT | O_EXCL |
O_NOFOLLOW`` (``tempfile.mkstemp``), given the mode a plain ``open`` would give it under the
umask, then renamed over the target; renaming replaces a
symbolic link at the target instead of following it. A folder that is a symbolic link is
refused for writing, so a run writes only inside its own directory. Reads open only
regular files, never following a symbolic link (nor blocking on a FIFO).
"""
from __future__ import annotations

import io
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from ..errors import RunDirError

__all__ = ["atomic_write_bytes", "write_json", "write_toml", "write_parquet", "write_columns", "write_npz", "read_json",
           "read_npz", "read_bytes", "read_parquet", "check_folder", "folder", "TMP_SUFFIX"]

TMP_SUFFIX = ".tmp"  # temporary files are ".NAME.XXXX.tmp"


def _file_mode() -> int:
    """The mode ``open`` gives a new file under this process's umask (0o644 under 022);
    mkstemp's files are 0o600, readable by their owner alone."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def check_folder(path: Path, file_ok: bool = False) -> Path:
    """A RunDirError if ``path`` is a symbolic link, or something other than a folder (or a
    regular file, with ``file_ok``); a missing path is fine."""
    path = Path(path)
    if path.is_symlink():
        raise RunDirError(f"{str(path)!r} is a symbolic link; a run reads and writes only inside its own directory")
    if path.exists() and not (path.is_dir() or (file_ok and path.is_file())):
        raise RunDirError(f"{str(path)!r} is not a folder")
    return path


def folder(path: Path) -> Path:
    """``path`` as a folder to write in: checked (:func:`check_folder`), created if missing."""
    check_folder(path).mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), FILE_MODE)  # as a plain open would: others in a lab may read runs
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _finite_floats(obj: list | tuple) -> bool:
    """True for a long list of finite Python floats (a genome), which JSON takes as it is."""
    return len(obj) > 64 and all(type(v) is float for v in obj) and bool(np.isfinite(np.asarray(obj)).all())


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if _finite_floats(obj):
            return list(obj)
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def _has_long_list(obj: Any) -> bool:
    if isinstance(obj, dict):
        return any(_has_long_list(v) for v in obj.values())
    if isinstance(obj, list):
        return len(obj) > 1000 or any(isinstance(v, (dict, list)) and _has_long_list(v) for v in obj)
    return False


def write_json(path: Path, obj: Any) -> None:
    """``obj`` as JSON, indented, except that a document holding a long list (a large
    genome) is written compactly: indenting forces Python's slow encoder."""
    obj = _jsonable(obj)
    text = json.dumps(obj) if _has_long_list(obj) else json.dumps(obj, indent=1)
    atomic_write_bytes(path, (text + "\n").encode())


def write_toml(path: Path, obj: dict) -> None:
    atomic_write_bytes(path, tomli_w.dumps(toml_ready(obj)).encode())


def toml_ready(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): toml_ready(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [toml_ready(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def write_columns(path: Path, columns: dict[str, Any]) -> None:
    """A parquet table of named columns (lists or 1-D arrays of one length; scalars are
    repeated), written with pyarrow alone: what ``write_parquet(path, pd.DataFrame(columns))``
    writes, each column of the type pandas would give it, less pandas' schema metadata
    (``pd.read_parquet`` reads it back the same), in half the time."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    arrays = {k: _column(v) for k, v in columns.items()}
    n = max((a.shape[0] for a in arrays.values() if a.ndim), default=1)
    table = pa.table({k: np.broadcast_to(a, (n,)) if a.ndim == 0 else a for k, a in arrays.items()})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    atomic_write_bytes(path, buf.getvalue())


def _column(values: Any) -> np.ndarray:
    """An array as it is; a list or scalar as pandas would hold it: numbers as int64 or
    float64 (whatever numpy scalars it holds), the rest as numpy infers."""
    if isinstance(values, np.ndarray):
        return values
    a = np.asarray(values)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def read_bytes(path: Path) -> bytes:
    """The bytes of the regular file ``path``; a symbolic link, a FIFO, a device or a folder
    there is a RunDirError (a missing file is FileNotFoundError)."""
    path = Path(path)
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise RunDirError(f"{str(path)!r} is a symbolic link; run files must be regular files")
    if not stat.S_ISREG(mode):
        raise RunDirError(f"{str(path)!r} is not a regular file")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def read_json(path: Path) -> Any:
    return json.loads(read_bytes(path))


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(read_bytes(path)), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def read_parquet(path: Path) -> pd.DataFrame:
    """The table in the parquet file ``path``, read in this thread.

    Run tables are small. ``pandas.read_parquet`` starts Arrow's thread pools even with
    ``use_threads=False`` (its dataset reader, its pre-buffering); a pool still alive at
    interpreter exit can abort the process after its work is done (apache/arrow#34314).
    """
    import pyarrow.parquet as pq
    table = pq.ParquetFile(io.BytesIO(read_bytes(path)), pre_buffer=False).read(use_threads=False)
    return table.to_pandas(use_threads=False)
