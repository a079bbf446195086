"""Fuzzed loaders: no input makes them raise anything but the project's own clear errors."""
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evo.training import config as cfg
from evo.errors import USER_ERRORS
from evo.genomes import FixedTopology
from evo.genomes.neat import NeatSpace

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(string.printable, max_size=12))
values = st.one_of(scalars, st.lists(scalars, max_size=3))
keys = st.one_of(st.sampled_from(["seed", "generations", "name", "episodes", "hidden", "population", "sigma0",
                                  "backend", "workers", "stop_fitness", "evolve", "initial", "threshold",
                                  "beta", "recurrent", "encoding", "add_node", "validate_every"]),
                 st.text(string.ascii_lowercase + "_", min_size=1, max_size=10))
tables = st.dictionaries(keys, values, max_size=4)
layers = st.fixed_dictionaries({}, optional={
    "run": tables, "genome": tables, "strategy": tables,
    "task": st.one_of(tables, tables.map(lambda t: {**t, "name": "cartpole"}),
                      tables.map(lambda t: {**t, "name": "xor"})),
})


@SETTINGS
@given(layers, st.sampled_from(["cma", "neat", "ga", "nsga2", "nope"]))
def test_config_resolution_raises_only_clear_errors(layer, strategy):
    layer = {**layer, "strategy": {**layer.get("strategy", {}), "name": strategy}}
    try:
        cfg.resolve({"task": {"name": "cartpole"}}, layer)
    except USER_ERRORS:
        pass


@SETTINGS
@given(st.binary(max_size=200))
def test_toml_loader_raises_only_config_errors(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("toml") / "c.toml"
    path.write_bytes(data)
    try:
        cfg.load_toml(path)
    except cfg.ConfigError:
        pass


json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)
node = st.fixed_dictionaries({"id": st.integers(-2, 12), "kind": st.sampled_from(["input", "output", "hidden", "x"]),
                              "threshold": scalars, "beta": scalars, "bias": scalars})
conn = st.fixed_dictionaries({"innovation": st.integers(-2, 12), "source": st.integers(-2, 12),
                              "target": st.integers(-2, 12), "weight": scalars, "enabled": scalars})
neat_genomes = st.one_of(json_values, st.fixed_dictionaries({
    "n_in": st.sampled_from([3, 2]), "n_out": st.sampled_from([1, 2]),
    "nodes": st.lists(node, max_size=5), "connections": st.lists(conn, max_size=6)}))


@SETTINGS
@given(neat_genomes)
def test_neat_genome_loader_raises_only_genome_errors(obj):
    space = NeatSpace(3, 1)
    try:
        pop = space.decode_genome(obj)
    except USER_ERRORS:
        return
    space.compile(pop)  # whatever loads is a valid network


@SETTINGS
@given(json_values)
def test_fixed_genome_loader_raises_only_genome_errors(obj):
    space = FixedTopology(4, 2, hidden=2)
    try:
        X = space.decode_genome(obj)
    except USER_ERRORS:
        return
    space.compile(X)
