"""The shape of the house, read from the sources (AST): no import circles between etcdops
modules, no import from a higher layer, the dev lab never imported by product code, and no
import of an etcdops module inside a function outside cli/ unless a `# lazy:` comment says why
(start-up time is a fair why). Imports under `if TYPE_CHECKING:` are for the type checker only
and do not count."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "etcdops"

# lowest first; a module may import from its own layer and the ones below
LAYERS: list[set[str]] = [
    {"errors", "paths", "limits", "durable", "units", "sha256", "window", "tools", "retention"},
    {"templating", "inventory", "commands", "versions", "offsite"},
    {"transport"},
    {"facts"},
    {
        "steps",
        "runbook",
        "preflight",
        "membership",
        "diskplan",
        "durations",
        "params",
        "context",
        "snapshots",
        "snapshot_leases",
        "revision",
        "recovery",
        "catalog",
        "schema",
        "upgrading",
        "rotation",
    },
    {"plan"},
    {"serialize", "runs", "report", "lock", "impact"},
    {"session"},
    {"execute"},
    {"output", "htmlreport", "cli", "__main__", "lab"},
]


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    in_function: bool
    lazy_comment: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_imports(tree: ast.Module) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    return ids


def edges() -> list[Edge]:
    known = modules()
    found = []
    for name, path in known.items():
        source = path.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        skip = _type_checking_imports(tree)
        in_functions = {
            id(sub)
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            for sub in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.append(sub if sub in known else node.module)
            for target in targets:
                if target in known and target != name:
                    above = lines[node.lineno - 2] if node.lineno > 1 else ""
                    lazy = "# lazy:" in lines[node.lineno - 1] or "# lazy:" in above
                    found.append(Edge(name, target, node.lineno, id(node) in in_functions, lazy))
    return found


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for index, layer in enumerate(LAYERS):
        if top in layer:
            return index
    raise AssertionError(f"{module}: in no layer of tests/unit/test_layers.py (add it to one)")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_no_import_circles() -> None:
    graph: dict[str, set[str]] = {}
    for e in edges():
        graph.setdefault(e.source, set()).add(e.target)
    assert cycles(graph) == []


def test_no_module_imports_from_a_higher_layer() -> None:
    upward = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in edges()
        if layer_of(e.target) > layer_of(e.source)
    ]
    assert upward == []


def test_product_code_never_imports_the_dev_lab() -> None:
    found = [
        f"{e.source}:{e.line}"
        for e in edges()
        if e.target.startswith("etcdops.lab")
        and not e.source.startswith(("etcdops.lab", "etcdops.cli.lab"))
    ]
    assert found == []


def test_imports_inside_functions_say_why_outside_the_cli() -> None:
    found = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in edges()
        if e.in_function and not e.lazy_comment and not e.source.startswith("etcdops.cli")
    ]
    assert found == []


def test_the_checks_can_fail() -> None:
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert layer_of("etcdops.cli.run") > layer_of("etcdops.plan") > layer_of("etcdops.errors")
