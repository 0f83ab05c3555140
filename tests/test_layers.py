"""The import-layer contract: sub-packages import only those below them, and no module
imports itself back through others.

Counts every import that runs, at module level and inside functions (a lazy import is still a
dependency), but not those under ``if TYPE_CHECKING:``. A package's ``__init__`` only hands
names on, so its own imports are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import podium

ROOT = Path(podium.__file__).parent

# Lowest first. A part may import itself and any part listed before it, never one after.
LAYERS: list[set[str]] = [
    {"_utils", "errors"},
    {"result"},
    {"agents"},
    {"spec"},
    {"remote"},  # Client and Worker: HTTP to a server; they know workflows, not the engine
    {"stores", "bus"},
    {"patterns"},
    {"engine"},
    {"llm"},
    {"orchestrator", "report"},
    {"server"},
    {"demo"},
    {"cli", "mcp_server"},  # podium mcp: another front end, sharing the CLI's run documents
    {"__main__"},
]
TOP_LEVEL_MAX = 8  # modules at the top of src/podium/, __init__ and __main__ aside


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in skip
    ]


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        if path.name == "__init__.py":
            continue  # a package's face: it re-exports, it is not a layer
        base = mod.split(".")[:-1]
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    anchor = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                targets = [prefix] + [f"{prefix}.{a.name}" for a in node.names]
            graph[mod].update(t for t in targets if t in mods and t != mod)
    return graph


def _rank(part: str) -> int:
    for i, layer in enumerate(LAYERS):
        if part in layer:
            return i
    raise AssertionError(f"podium.{part} is in no layer: add it to LAYERS in tests/test_layers.py")


def test_every_import_goes_down_the_layers() -> None:
    wrong = []
    for mod, targets in _graph().items():
        for target in targets:
            src, dst = _part(mod), _part(target)
            if dst == "__init__" or src == dst:
                continue
            if _rank(dst) > _rank(src):
                wrong.append(f"{mod} -> {target}")
    assert not wrong, "imports that go up a layer:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_top_level_stays_small() -> None:
    top = sorted(p.name for p in ROOT.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert len(top) <= TOP_LEVEL_MAX, top


def test_the_scheduler_is_pure() -> None:
    graph = _graph()
    allowed = {"podium.agents.agent", "podium.errors"}
    assert graph["podium.engine.scheduler"] <= allowed, graph["podium.engine.scheduler"]
