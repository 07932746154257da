"""The package's shape (docs/architecture.md): a subpackage per stage of the DAG, few loose modules, no
module importing a module that imports it back (function-level imports included), old paths still working."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "zeroxqa"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the zeroxqa modules it imports anywhere in its body (`from pkg import mod` counts as mod)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module in modules:
                subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
                edges |= subs or {node.module}
        graph[name] = edges - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, as one path round it (depth-first search, each circle reported once)."""
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_circles():
    # a package's __init__ re-exporting its own submodule is not a circle of modules
    graph = {m: {e for e in edges if not m.startswith(e + ".") and not e.startswith(m + ".") or m == "zeroxqa"}
             for m, edges in import_graph().items()}
    assert cycles(graph) == []


def test_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_few_loose_modules():
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(loose) <= 10, loose


@pytest.mark.parametrize("old,new,name", [("zeroxqa.model", "zeroxqa.reader.model", "load_reader"),
                                          ("zeroxqa.export.onnx", "zeroxqa.speed.export.onnx", "export_onnx"),
                                          ("zeroxqa.atomic", "zeroxqa.registry.atomic", "write_json")])
def test_old_import_paths_still_work_with_a_warning(old, new, name):
    code = (f"import warnings; warnings.simplefilter('error')\n"
            f"try:\n    import {old}\nexcept DeprecationWarning as w:\n    print('warned:', w)\n"
            f"warnings.simplefilter('ignore')\nimport importlib\n"
            f"old, new = importlib.import_module('{old}'), importlib.import_module('{new}')\n"
            f"print(old is new, getattr(old, '{name}') is getattr(new, '{name}'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "moved to zeroxqa." in out
    assert out.strip().endswith("True True")


def test_registry_package_keeps_its_public_names():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from zeroxqa.registry import load_registry, promote  # noqa: F401
