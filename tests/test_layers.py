"""The layout's rules, checked on the sources: imports flow one way, components stand alone, no
import cycle. Every import counts, also one inside a function.

The layers, top to bottom (a module may import its own layer and the layers below it):
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.fixtures import PROJECT

LAYERS: list[tuple[str, ...]] = [
    ("bench",),
    ("pipeline.cli",),
    ("pipeline.scheduling",),
    ("pipeline.clusters",),
    ("pipeline.orchestration",),
    ("pipeline.review",),
    ("pipeline.records",),
    ("pipeline.dag",),
    ("pipeline.inputs",),
    ("pipeline.config",),
    ("pipeline.modules", "components"),
    ("pipeline.process", "pipeline", "components.shared"),
]
SOURCES = ("pipeline", "components", "bench")
__doc__ += "\n".join(f"    {i}. {', '.join(names)}" for i, names in enumerate(LAYERS))


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path, sources: Iterable[str] = SOURCES) -> dict[str, Path]:
    """{module name: file} of the project's sources; tests (`*_test.py`) are not sources."""
    found = {}
    for source in sources:
        for path in sorted((root / source).rglob("*.py")):
            if not path.name.endswith("_test.py"):
                found[module_name(path, root)] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules `path` imports, anywhere in it (`from a import b` is module a.b
    when that is a module, else a)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known)
    return found


def layer_of(module: str) -> int:
    """The rank of the most specific layer prefix that names the module."""
    best, rank = -1, None
    for index, names in enumerate(LAYERS):
        for prefix in names:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    if rank is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return rank


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports against the direction of the layers, and components importing `pipeline`."""
    found = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            if source.startswith("components") and target.startswith("pipeline"):
                found.append(f"{source} imports {target}: a component must stand alone")
            elif layer_of(target) < layer_of(source):
                found.append(f"{source} (layer {layer_of(source)}) imports {target} "
                             f"(layer {layer_of(target)}), a layer above it")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles (strongly connected components of more than one module, or a module
    importing itself), by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph(root: Path, sources: Iterable[str] = SOURCES) -> dict[str, set[str]]:
    modules = project_modules(root, sources)
    known = set(modules)
    return {name: imports(path, name, known) - {name} for name, path in modules.items()}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(PROJECT)


def test_imports_flow_one_way_and_components_stand_alone(graph):
    assert violations(graph) == []


def test_there_is_no_import_cycle(graph):
    assert cycles(graph) == []


def test_the_checks_catch_a_wrong_way_import_and_a_cycle(tmp_path):
    """The two checks on a planted tree: a component importing the pipeline, the config
    importing the DAG, and two modules importing each other."""
    files = {
        "pipeline/__init__.py": "",
        "pipeline/config/__init__.py": "import pipeline.dag.nodes\n",
        "pipeline/dag/__init__.py": "",
        "pipeline/dag/nodes.py": "from pipeline.dag import pipelines\n",
        "pipeline/dag/pipelines.py": "def f():\n    from pipeline.dag.nodes import X\n",
        "components/__init__.py": "",
        "components/gate/__init__.py": "from pipeline.config import Config\n",
    }
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    planted = import_graph(tmp_path, ("pipeline", "components"))
    assert violations(planted) == [
        "components.gate imports pipeline.config: a component must stand alone",
        f"pipeline.config (layer {_layer('pipeline.config')}) imports pipeline.dag.nodes "
        f"(layer {_layer('pipeline.dag')}), a layer above it"]
    assert cycles(planted) == [["pipeline.dag.nodes", "pipeline.dag.pipelines"]]


def _layer(package: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if package in names)
