"""The import structure: packages in layers, no import circles, no hidden imports.

Between packages: neurons <- tasks <- evo. Inside evo, each layer imports only from the
layers below it (docs/design.md, "Layers"). Imports inside functions are only for optional
or heavy libraries, never for the project's own modules (that would hide a circle).
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("neurons", "tasks", "evo")

# evo's layers, bottom first; a module may import from lower layers and from its own subpackage
EVO_LAYERS = [
    {"evo", "evo.errors", "evo.seeding"},
    {"evo.genomes", "evo.rundir"},
    {"evo.strategies", "evo.evaluation"},
    {"evo.training"},
    {"evo.app", "evo.results"},
    {"evo.__main__"},
]
# what may be imported inside a function: optional or heavy libraries only
LOCAL_OK = {"ray", "numba", "matplotlib", "nir", "sklearn", "gymnasium", "Box2D", "mujoco", "neurons.vector_kernel",
            "neurons.vector_models", "tasks.rollout",
            "evo.strategies.compiled_variation"}  # the last four import numba when they load


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def imports(name: str, path: Path) -> tuple[set[str], set[str]]:
    """(module-level imports, imports inside functions) of module ``name``, resolved to absolute names."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top, local = set(), set()

    def resolve(node) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[:len(anchor) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        return [f"{base}.{a.name}" for a in node.names] + [base]

    def visit(node, inside: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                (local if inside else top).update(resolve(child))
            visit(child, inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(tree, False)
    return top, local


MODULES = modules()


def ours(target: str) -> str | None:
    """The project module an import names (the longest matching module name), or None."""
    parts = target.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in MODULES:
            return candidate
    return None


def evo_layer(module: str) -> tuple[int, str]:
    for rank, group in enumerate(EVO_LAYERS):
        for top in sorted(group, key=len, reverse=True):
            if module == top or (top != "evo" and module.startswith(top + ".")):
                return rank, top
    raise AssertionError(f"{module} is in no layer of EVO_LAYERS")


def graph() -> dict[str, set[str]]:
    out = {}
    for name, path in MODULES.items():
        top, _ = imports(name, path)
        out[name] = {m for m in (ours(t) for t in top) if m and m != name}
    return out


def test_packages_import_downwards_only():
    bad = []
    for name, deps in graph().items():
        pkg = name.split(".")[0]
        allowed = {"neurons": {"neurons"}, "tasks": {"neurons", "tasks"}, "evo": set(PACKAGES)}[pkg]
        bad += [f"{name} imports {d}" for d in deps if d.split(".")[0] not in allowed]
    assert not bad, bad


def test_evo_layers():
    bad = []
    for name, deps in graph().items():
        if not name.startswith("evo"):
            continue
        rank, group = evo_layer(name)
        for d in deps:
            if not d.startswith("evo") or d == "evo":
                continue
            d_rank, d_group = evo_layer(d)
            if d_group != group and d_rank >= rank:
                bad.append(f"{name} (layer {rank}) imports {d} (layer {d_rank})")
    assert not bad, bad


def test_no_import_circles():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def dfs(node: str, stack: list[str]) -> None:
        state[node] = 1
        for d in sorted(g[node]):
            # a package's __init__ importing its own submodules is not a circle in itself
            if state.get(d) == 1 and not node.startswith(d + "."):
                cycles.append(stack[stack.index(d):] + [d] if d in stack else [node, d])
            elif d not in state:
                dfs(d, stack + [d])
        state[node] = 2

    for n in sorted(g):
        if n not in state:
            dfs(n, [n])
    assert not cycles, cycles


def test_no_hidden_imports_inside_functions():
    bad = []
    for name, path in MODULES.items():
        _, local = imports(name, path)
        for target in local:
            root = target.split(".")[0]
            if ours(target) and target not in LOCAL_OK and ours(target) not in LOCAL_OK:
                bad.append(f"{name} imports {target} inside a function")
            elif not ours(target) and root not in LOCAL_OK and root in {"evo", "tasks", "neurons"}:
                bad.append(f"{name} imports {target} inside a function")
    assert not bad, bad


@pytest.mark.parametrize("statement, forbidden", [
    ("import tasks; tasks.names(); [tasks.spec(n).preset for n in tasks.names()]",
     ("sklearn", "gymnasium", "numba", "ray", "matplotlib", "Box2D")),
    ("from evo.results import load_run", ("cma", "deap", "ray", "sklearn", "matplotlib")),
    ("import evo.app.cli", ("cma", "deap", "ray", "sklearn", "matplotlib", "numba")),
])
def test_light_imports(statement, forbidden):
    code = f"import sys; {statement}; print(sorted({{m.split('.')[0] for m in sys.modules}}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    loaded = set(eval(out))
    assert not loaded & set(forbidden), loaded & set(forbidden)
