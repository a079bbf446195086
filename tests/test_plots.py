import numpy as np
import pytest

from evo.training import config as cfg
from evo.app import plots
from evo.app.cli import main
from evo.results import load_run
from evo.training.api import run
from neurons import NetworkBatch

pytest.importorskip("matplotlib")


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions save, kept for inspection."""
    kept = []
    save = plots._save

    def keep(plt, fig, path):
        kept.append(fig)
        return save(plt, fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    return kept


def quick_run(tmp_path, name, task="cartpole", strategy="cma", seed=0, genome=None):
    opts = {"cartpole": {"episodes": 2, "max_steps": 40, "validation_episodes": 2}, "xor": {}}[task]
    layer = {"task": {"name": task, **opts}, "strategy": {"name": strategy, "population": 12}, "genome": genome or {},
             "run": {"generations": 3, "quiet": True, "backend": "serial", "out": str(tmp_path), "name": name,
                     "seed": seed, "stop_on_solved": False}}
    return run(cfg.resolve(layer), log=None).path


@pytest.mark.parametrize("task,strategy,genome,extra", [
    ("cartpole", "cma", None, []), ("xor", "neat", None, ["species.png"]),
    ("cartpole", "openes", {"hidden": [4, 3]}, []), ("cartpole", "nsga2", None, ["pareto.png"])])
def test_show_plot_writes_the_pictures_of_the_run(tmp_path, capsys, task, strategy, genome, extra):
    path = quick_run(tmp_path, "r", task, strategy, genome=genome)
    assert main(["show", str(path), "--plot"]) == 0
    out = capsys.readouterr().out
    assert "status: finished" in out
    pictures = ["fitness.png", "topology.png", "raster.png"] + extra
    for name in pictures:
        data = (path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000, name
        assert f"wrote {path / name}" in out
    assert sorted(p.name for p in path.glob("*.png")) == sorted(pictures)


def test_fitness_and_validation_have_separate_axes(tmp_path, figures):
    r = load_run(quick_run(tmp_path, "f"))
    plots.fitness_curves(r.metrics, tmp_path / "fitness.png")
    top, bottom = figures[0].axes
    assert top.get_ylabel() == "training fitness" and bottom.get_ylabel() == "validation score"
    assert {line.get_label() for line in top.get_lines()} == {"best of generation", "mean of generation",
                                                                "best so far"}
    (val,) = bottom.get_lines()
    expected = r.metrics.dropna(subset=["validation"])
    assert val.get_ydata().tolist() == expected["validation"].tolist()
    assert top.get_shared_x_axes().joined(top, bottom)


def test_species_sizes_add_up_to_the_population(tmp_path, figures):
    r = load_run(quick_run(tmp_path, "n", "xor", "neat"))
    sizes = plots.species_sizes(r.individuals)
    assert sizes.index.tolist() == [0, 1, 2] and (sizes.sum(axis=1) == 12).all()
    assert sizes.columns.tolist() == sorted(r.individuals["species"].unique())
    plots.species_areas(r.individuals, tmp_path / "species.png")
    (ax,) = figures[0].axes
    assert len(ax.collections) == sizes.shape[1]  # one band per species
    assert ax.get_ylim() == (0, 12)


def test_control_task_records_one_episode_of_spikes():
    import tasks
    from evo.genomes import FixedTopology
    task = tasks.make("cartpole", max_steps=30, sim_steps=4)
    space = FixedTopology(4, 2, hidden=3)
    net = space.compile(np.random.default_rng(0).normal(0, 1, (2, space.dim)))
    spikes = task.record(net, 7)
    steps = task.validate(net.select([0]), 7, episodes=1).metrics["steps"][0]
    assert spikes.shape == (4 * steps, net.n_neurons) and set(np.unique(spikes)) <= {0.0, 1.0}


def test_compare_groups_runs_and_plots(tmp_path, capsys):
    for seed in (0, 1):
        quick_run(tmp_path, f"c{seed}", seed=seed)
    out_png = tmp_path / "cmp.png"
    assert main(["compare", str(tmp_path / "c*"), "--plot", "--output", str(out_png)]) == 0
    out = capsys.readouterr().out
    assert "cma" in out and "runs" in out
    assert out_png.read_bytes()[:4] == b"\x89PNG"


def test_record_returns_the_input_with_the_same_spikes():
    import tasks
    from evo.genomes import FixedTopology
    for name, opts in (("xor", {}), ("iris", {}), ("cartpole", {"max_steps": 20, "sim_steps": 3})):
        task = tasks.make(name, **opts)
        space = FixedTopology(task.n_inputs, task.n_outputs, hidden=3)
        net = space.compile(np.random.default_rng(1).normal(0, 1, (2, space.dim)))
        spikes, x = task.record(net, 5, inputs=True)
        assert np.array_equal(spikes, task.record(net, 5)), name
        assert x.shape == (spikes.shape[0], task.n_inputs), name
        if name == "xor":
            assert np.array_equal(x, task.inputs(5)[:, 2])  # case (1, 0) with the bias


def test_raster_has_labelled_input_hidden_and_output_panels_with_rates(tmp_path, figures):
    spikes = np.zeros((10, 4), np.float32)
    spikes[::2, 0] = 1   # output n0: rate 0.5
    spikes[:, 3] = 1     # hidden n3: rate 1; n2 is padding, n1 silent
    inputs = np.zeros((10, 3), np.float32)
    inputs[:, 1] = 1
    plots.spike_raster(spikes, 1, tmp_path / "raster.png", inputs=inputs, neurons=np.array([0, 1, 3]))
    fig = figures[0]
    rasters, bars = fig.axes[0::2], fig.axes[1::2]
    assert [ax.get_ylabel() for ax in rasters] == ["input spikes", "hidden", "output"]
    assert [t.get_text() for t in rasters[1].get_yticklabels()] == ["n1", "n3"]
    rates = [[p.get_width() for p in bar.patches] for bar in bars]
    assert rates == [[0, 1, 0], [0, 1], [0.5]]


def test_raster_draws_currents_as_an_image(tmp_path, figures):
    x = np.linspace(-1, 1, 40).reshape(10, 4)
    plots.spike_raster(np.zeros((10, 2)), 2, tmp_path / "r.png", inputs=x)
    ax, bar = figures[0].axes[:2]
    assert ax.get_ylabel() == "input current" and len(ax.images) == 1
    assert [p.get_width() for p in bar.patches] == pytest.approx(x.mean(axis=0).tolist())


def net_of(w_in, w_rec, n_out):
    N = w_rec.shape[0]
    return NetworkBatch(w_in[None], w_rec[None], np.ones((1, N)), np.full((1, N), 0.9), np.zeros((1, N)), n_out)


def test_layers_show_a_path_through_a_hidden_neuron_apart_from_the_direct_edge():
    # i1 -> n2 -> n0 and i1 -> n0; n1 -> n1 a self-loop; n0 -> n2 recurrent; n1 fed by i0
    w_in = np.zeros((2, 3))
    w_in[1, 2], w_in[1, 0], w_in[0, 1] = 1.0, -0.5, 0.7
    w_rec = np.zeros((3, 3))
    w_rec[2, 0], w_rec[1, 1], w_rec[0, 2], w_rec[1, 0] = 1.0, 0.3, 0.4, 0.2
    net = net_of(w_in, w_rec, 1)
    geo = plots._geometry(net, np.arange(3), True)
    cols = geo["columns"]
    assert cols == [[("i", 0), ("i", 1)], [("n", 1), ("n", 2)], [("n", 0)]]
    kinds = sorted((e[0], e[4]) for e in geo["edges"])
    assert kinds == [("curve", False)] * 5 + [("curve", True), ("loop", False)]
    pos = geo["pos"]
    nodes = np.array(list(pos.values()))
    for kind, pts, _, _, _ in geo["edges"]:
        if kind == "curve":  # no edge passes through a node it does not join
            curve = plots._bezier(*pts)[1:-1]
            d = np.sqrt(((curve[:, None, :] - nodes[None]) ** 2).sum(-1))
            joined = np.linalg.norm(nodes - pts[0], axis=1) < 1.01 * plots.NODE_R
            joined |= np.linalg.norm(nodes - pts[-1], axis=1) < 1.01 * plots.NODE_R
            assert (d[:, ~joined] > plots.NODE_R).all()
    direct = edge_between(geo, ("i", 1), ("n", 0))
    start, control, end = direct[1]
    assert np.linalg.norm(control - (start + end) / 2) > 0.1  # bent around n2, unlike i1 -> n2 -> n0
    s2, c2, e2 = edge_between(geo, ("i", 1), ("n", 2))[1]
    assert np.allclose(c2, (s2 + e2) / 2)  # straight
    back = edge_between(geo, ("n", 0), ("n", 2))
    assert back[4] and np.linalg.norm(back[1][1] - (back[1][0] + back[1][2]) / 2) > 0.1  # a dashed arc


def edge_between(geo, a, b):
    pos = geo["pos"]
    for e in geo["edges"]:
        if e[0] == "curve" and np.linalg.norm(e[1][0] - pos[a]) < 1.01 * plots.NODE_R \
                and np.linalg.norm(e[1][2] - pos[b]) < 1.01 * plots.NODE_R:
            return e
    raise AssertionError(f"no edge {a} -> {b}")


def test_wide_inputs_are_a_weight_image_and_the_figure_stays_readable(tmp_path, figures):
    from evo.genomes import FixedTopology
    # (inputs, hidden, circles drawn): more than 60 neurons or 24 in a layer: weight images only
    for n_in, hidden, circles in ((64, 704, 0), (784, 0, 10), (784, 32, 0), (30, 4, 14)):
        space = FixedTopology(n_in, 10, hidden=hidden, recurrent=False)
        net = space.compile(np.random.default_rng(0).normal(0, 1, (1, space.dim)))
        out = tmp_path / f"t{n_in}-{hidden}.png"
        plots.topology(net, out)
        w, h = png_size(out)
        assert w <= 1600 and h <= 1600, (n_in, w, h)
        fig = figures[-1]
        images = [im for ax in fig.axes for im in ax.images]
        assert images, n_in
        drawn = [p for ax in fig.axes for p in ax.patches if type(p).__name__ == "Circle"]
        assert len(drawn) == circles, (n_in, hidden)  # never a node per input
    assert images[0].get_array().shape == (30, 4)  # 30 inputs to 4 hidden: inputs x neurons


def test_square_inputs_are_tiles_per_neuron():
    w_in = np.arange(64 * 3, dtype=float).reshape(64, 3)
    img, title, labels = plots._w_in_image(w_in, np.array([0, 2]))
    assert img.shape == (8, 18) and np.isnan(img[:, 8:10]).all()
    assert np.array_equal(img[:, :8], w_in[:, 0].reshape(8, 8))
    assert np.array_equal(img[:, 10:], w_in[:, 2].reshape(8, 8)) and [t for *_, t in labels] == ["n0", "n2"]
    img, title, labels = plots._w_in_image(np.ones((784, 300)), np.arange(300))
    assert "first" not in title and not labels  # many tiles: 18 x 17 of 28x28, no labels
    assert img.shape == (17 * 31 - 3, 18 * 31 - 3)  # 3 pixels between tiles
    img, title, _ = plots._w_in_image(np.ones((784, 704)), np.arange(704))
    assert title.endswith(f"the first {plots.MAX_TILE_PIXELS // 784} of 704")


def test_a_task_whose_record_gives_no_input_still_gets_a_raster(tmp_path, figures):
    import tasks
    r = load_run(quick_run(tmp_path, "o"))

    class Old(type(tasks.make("cartpole"))):
        def record(self, nets, seed):  # the protocol before inputs=
            return super().record(nets, seed)

    from evo.results import load_best_genome
    from evo.training.api import build
    _, space = build(r.config)
    task = Old(**{k: v for k, v in r.config["task"].items() if k != "name"})
    written = plots.run_plots(r, task, space.compile(load_best_genome(r, space)), 3)
    assert [p.name for p in written] == ["fitness.png", "topology.png", "raster.png"]
    assert [ax.get_ylabel() for ax in figures[-1].axes[0::2]][-1] == "output"
    assert "input" not in figures[-1].axes[0].get_ylabel()
