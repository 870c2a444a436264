"""The import rule of docs/architecture.md, checked: lower layers never import higher ones, and no cycles.

Every import statement of seldb/ and cli/ counts, also the ones inside
functions: a lazy import may keep torch or matplotlib off the start-up path,
but never hide an upward import or a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]

# bottom to top; a module may import its own package and the packages below it
LAYERS = [
    ("base", ["seldb", "seldb.errors", "seldb.settings", "seldb.progress", "seldb.catalogue", "seldb.files",
              "seldb.render", "seldb.figures", "seldb.png", "seldb.aliases"]),
    ("files", ["seldb.h5"]),
    ("measures", ["seldb.measures"]),
    ("networks", ["seldb.nets"]),
    ("database", ["seldb.db"]),
    ("engines", ["seldb.engine"]),
    ("loading", ["seldb.load"]),
    ("ingest", ["seldb.ingest"]),
    ("dissect", ["seldb.dissect"]),
    ("control", ["seldb.control"]),
    ("am", ["seldb.am"]),
    ("ratings", ["seldb.ratings"]),
    ("sae", ["seldb.sae"]),
    ("reports", ["seldb.reports"]),
    ("web", ["seldb.serve"]),
    ("handle", ["seldb.api", "seldb.api_views", "seldb.demo", "seldb.demo_generator"]),
    ("cli", ["seldb_cli"]),
]  # fmt: skip
# The package's front door: `seldb.connect` imports the handle on first use, so that `import seldb` stays light.
FRONT_DOOR = {("seldb", "seldb.api")}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "cli":
        parts[0] = "seldb_cli"
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    return sorted([*ROOT.joinpath("seldb").rglob("*.py"), *ROOT.joinpath("cli").rglob("*.py")])


MODULES = {module_name(p): p for p in source_files()}


def layer_of(module: str) -> int:
    best, index = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                # the bare package "seldb" matches only itself, not every seldb module
                if prefix == "seldb" and module != "seldb":
                    continue
                best, index = len(prefix), i
    if index is None:
        raise AssertionError(f"{module} is in no layer of tests/test_layers.py: add it there and to the docs")
    return index


def imports(module: str, path: Path) -> list[tuple[str, int]]:
    """(imported seldb module, line) for every import statement in the file, nested ones included."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] in ("seldb", "seldb_cli") and name in MODULES]


EDGES = {module: imports(module, path) for module, path in MODULES.items()}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{MODULES[src].relative_to(ROOT)}:{line}: {src} ({LAYERS[layer_of(src)][0]}) imports {dst}"
        f" ({LAYERS[layer_of(dst)][0]})"
        for src, targets in EDGES.items()
        for dst, line in targets
        if layer_of(dst) > layer_of(src) and (src, dst) not in FRONT_DOOR
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_imports_have_no_cycle():
    # the front door's import runs when `seldb.connect` is first called, after every module is initialised
    graph = {
        src: {dst for dst, _ in targets if dst != src and (src, dst) not in FRONT_DOOR}
        for src, targets in EDGES.items()
    }
    cycles = [scc for scc in strongly_connected(graph) if len(scc) > 1]
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in cycles)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph is a few hundred modules)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    scc = set()
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        scc.add(top)
                        if top == node:
                            break
                    out.append(scc)
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def test_the_checker_sees_an_upward_and_a_cyclic_import(tmp_path):
    """The rule's own check: an upward import and a two-module cycle are found."""
    assert layer_of("seldb.db.read") < layer_of("seldb.reports.top")
    cyclic = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert [scc for scc in strongly_connected(cyclic) if len(scc) > 1] == [{"a", "b"}]
