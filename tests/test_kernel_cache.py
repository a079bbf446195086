"""Compiled kernels cached on disk are compiled again when the SIMD intrinsics they inline
change: numba keys a cached kernel on its own source file only (neurons.simd)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from neurons.kernels import AVAILABLE

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="numba is not installed: no compiled kernels")

ROOT = Path(__file__).resolve().parents[1]

# spikes of random networks on the vector kernel (N = 16: two 8-lane vectors), as one number
SCRIPT = """
import numpy as np
from neurons import NetworkBatch, simulate
rng = np.random.default_rng(0)
net = NetworkBatch(rng.normal(0, 1, (2, 3, 16)), rng.normal(0, 0.5, (2, 16, 16)), np.ones((2, 16)),
                   np.full((2, 16), 0.9), np.zeros((2, 16)), 2)
x = (rng.random((40, 1, 3)) < 0.5).astype(np.float32)
print(int(simulate(net, x, kernel="numba").sum()))
"""


def _spikes(tree: Path) -> int:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    env.pop("NUMBA_CACHE_DIR", None)  # numba's cache next to the sources: tree/neurons/__pycache__
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=tree, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_a_change_of_the_simd_intrinsics_recompiles_the_cached_kernels(tmp_path):
    shutil.copytree(ROOT / "neurons", tmp_path / "neurons", ignore=shutil.ignore_patterns("__pycache__"))
    before = _spikes(tmp_path)
    assert list((tmp_path / "neurons" / "__pycache__").glob("vector_kernel*.nbi")), "the kernel was not cached"
    assert _spikes(tmp_path) == before  # from the cache, the same spikes
    simd = tmp_path / "neurons" / "simd.py"
    code = simd.read_text()
    assert code.count('binary("fadd")') == 1
    simd.write_text(code.replace('binary("fadd")', 'binary("fsub")'))  # vadd now subtracts
    assert _spikes(tmp_path) != before


def test_every_kernel_made_of_the_intrinsics_holds_their_digest():
    from neurons.simd import SOURCE_DIGEST, source_digest
    from neurons.vector_kernel import vector_kernel
    from neurons.vector_models import vector_model_kernel
    from tasks.rollout import PORTS, _kernel

    assert SOURCE_DIGEST == source_digest((ROOT / "neurons" / "simd.py").read_bytes()) != 0
    assert source_digest(b"a") != source_digest(b"b")
    kernels = [vector_kernel(1, True, False), vector_model_kernel(16, 1, False, False, True),
               vector_model_kernel(8, 1, True, True, False)] + [_kernel(p, 0, False, True) for p in range(len(PORTS))]
    for k in kernels:  # dispatchers, not compiled yet
        assert SOURCE_DIGEST in [cell.cell_contents for cell in k.py_func.__closure__], k.py_func.__qualname__


def test_the_rollout_kernels_hold_the_digest_of_the_portable_functions_they_inline():
    from neurons.simd import file_digest, source_digest
    from tasks.rollout import PORTABLE_DIGEST, PORTS, TRIG_DIGEST, _kernel

    assert PORTABLE_DIGEST == source_digest((ROOT / "neurons" / "portable.py").read_bytes()) != 0
    assert TRIG_DIGEST == source_digest((ROOT / "tasks" / "lane_trig.py").read_bytes()) != 0
    assert file_digest(ROOT / "no such file.py") == 0
    for p in range(len(PORTS)):
        k = _kernel(p, 2, True, True)  # membrane decoding, population encoding: tanh1 and exp1
        cells = [cell.cell_contents for cell in k.py_func.__closure__]
        assert PORTABLE_DIGEST in cells and TRIG_DIGEST in cells, p


def test_a_run_says_once_when_numba_compiles_kernels_and_not_when_it_loads_them(monkeypatch):
    import numba

    from evo.evaluation import base

    monkeypatch.setattr(base, "_compile_noticed", False)
    monkeypatch.setattr(base, "current_kernel", lambda: "auto")
    said = []
    with base.compile_notice(said.append):  # nothing compiles: no notice
        pass
    assert said == []

    @numba.njit  # not cached: compiled at its first call
    def twice(x):
        return 2 * x

    @numba.njit
    def thrice(x):
        return 3 * x

    with base.compile_notice(said.append):
        assert twice(2) == 4 and thrice(2) == 6
    assert len(said) == 1 and said[0].startswith("compiling numba kernels for this machine")
    with base.compile_notice(said.append):
        assert twice(2.0) == 4.0  # a second compile in the process: said once already
    assert len(said) == 1
    monkeypatch.setattr(base, "_compile_noticed", False)
    with base.compile_notice(None):  # no notices (log=None)
        assert thrice(2.0) == 6.0
    assert base._compile_noticed is False


def test_the_eval_timeout_does_not_count_numba_compiling(monkeypatch):
    import time

    from numba.core import event

    from evo.errors import EvaluationTimeout
    from evo.evaluation import base
    from evo.evaluation.serial import time_limit

    monkeypatch.setattr(base, "current_kernel", lambda: "auto")
    compile_event = {"dispatcher": None, "args": None, "return_type": None}
    t = time.perf_counter()
    with time_limit(0.05):
        time.sleep(0.02)
        with event.trigger_event("numba:compile", data=compile_event):  # numba compiling for 0.3 s
            with event.trigger_event("numba:compile", data=compile_event):  # a nested compile
                time.sleep(0.15)
            time.sleep(0.15)
        time.sleep(0.02)
    assert time.perf_counter() - t > 0.3  # six times the limit, all but 0.04 s of it compiling
    with pytest.raises(EvaluationTimeout):
        with time_limit(0.05):
            with event.trigger_event("numba:compile", data=compile_event):
                time.sleep(0.2)
            time.sleep(0.5)  # the limit, moved on by the compile, still ends what follows it
