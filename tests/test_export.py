import numpy as np
import pytest

from evo.training import config as cfg
from evo.app.cli import main
from evo.app.export import read_nir
from evo.results import load_best_genome, load_run
from evo.training.api import build, run
from neurons import dense, simulate

nir = pytest.importorskip("nir")


@pytest.mark.parametrize("strategy,reset,genome", [("cma", "subtract", {}), ("neat", "zero", {}),
                                                   ("pgpe", "subtract", {"hidden": [5, 3]})])
def test_nir_round_trip_gives_identical_spikes(tmp_path, capsys, strategy, reset, genome):
    layer = {"task": {"name": "cartpole", "episodes": 3, "max_steps": 60, "validation_episodes": 3, "reset": reset},
             "strategy": {"name": strategy, "population": 12}, "genome": genome,
             "run": {"generations": 3, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": "r"}}
    path = run(cfg.resolve(layer), log=None).path
    # the best network: pgpe's center after 3 generations is too weak to spike
    assert main(["export", str(path), "--format", "nir", str(tmp_path / "best.nir"), "--network", "best"]) == 0
    assert "wrote" in capsys.readouterr().out
    graph = nir.read(tmp_path / "best.nir")
    assert {"input", "w_in", "lif", "w_rec", "output"} <= set(graph.nodes)
    rebuilt, got_reset = read_nir(tmp_path / "best.nir")
    assert got_reset == reset
    r = load_run(path)
    _, space = build(r.config)
    original = dense(space.compile(load_best_genome(r, space)))  # a layered network in its dense form
    real = np.isfinite(original.threshold[0])
    x = np.random.default_rng(0).normal(0, 1.5, (200, 4, 4)).astype(np.float32)
    a = simulate(original, x, reset)[..., real]
    b = simulate(rebuilt, x, reset)
    assert a.any() and np.array_equal(a, b)
    assert rebuilt.n_out == original.n_out


def test_a_file_that_is_not_nir_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "x.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="cannot read NIR"):
        read_nir(bad)
