import numpy as np
import pytest

from neurons import NetworkBatch


def dyadic(rng: np.random.Generator, shape, scale: int = 4, denom: int = 16) -> np.ndarray:
    """Random float32 values on a grid of 1/denom: sums of a few of them are exact in float32,
    so any summation order gives the same bits."""
    return (rng.integers(-scale * denom, scale * denom + 1, size=shape) / denom).astype(np.float32)


def random_net(rng, P, n_in, N, n_out, density=0.6) -> NetworkBatch:
    w_in = dyadic(rng, (P, n_in, N)) * (rng.random((P, n_in, N)) < density)
    w_rec = dyadic(rng, (P, N, N), scale=2) * (rng.random((P, N, N)) < density)
    threshold = (rng.integers(4, 33, size=(P, N)) / 16).astype(np.float32)
    beta = (rng.integers(0, 17, size=(P, N)) / 16).astype(np.float32)
    bias = dyadic(rng, (P, N), scale=1)
    return NetworkBatch(w_in, w_rec, threshold, beta, bias, n_out)


# Files whose tests start Ray: they run one after another in one pytest-xdist process, since
# two Ray instances at once would halve each other's CPUs, and test_ray looks for Ray's worker
# processes by name. A test of theirs marked ``without_ray`` starts no Ray instance and joins
# its file's own group instead. Every other file is a group of its own, so that its tests
# share one process's compiled kernels.
RAY_FILES = {"test_ray.py", "test_hostile.py", "test_mujoco.py", "test_bench.py"}


# First: pytest-xdist reads the groups in its own hook of this name, which would otherwise
# run before this one and see no marker.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        ray = name in RAY_FILES and item.get_closest_marker("without_ray") is None
        item.add_marker(pytest.mark.xdist_group("ray" if ray else name))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
