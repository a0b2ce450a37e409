"""The dependency rules of docs/architecture.md, checked on every `make test`.

Imports are read with `ast` (nothing is executed), including the ones inside functions and
under TYPE_CHECKING: a lazy import still ties two modules together for a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("debugger", "replay")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `path` imports (a `from package import name` that names a module
    counts as that module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    found.discard(module_name(path))
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, known) for name, path in known.items()}


def test_debugger_imports_replay_only_from_the_cli_root() -> None:
    offenders = {
        name: sorted(target for target in targets if target.split(".")[0] == "replay")
        for name, targets in graph().items()
        if name.startswith("debugger") and name != "debugger.cli"
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_import_circles() -> None:
    edges = graph()
    # a package's __init__ re-exporting its modules is not a circle of meaning
    edges = {
        name: {t for t in targets if not (name.startswith(t + ".") and t in edges)}
        for name, targets in edges.items()
    }
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 1:
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name)
    assert circles == []


def test_the_checker_sees_a_planted_circle(tmp_path: Path) -> None:
    """The reader must resolve relative and `from package import module` forms, or the two
    tests above could pass on a tree full of circles."""
    (tmp_path / "debugger").mkdir()
    (tmp_path / "debugger" / "__init__.py").write_text("")
    (tmp_path / "debugger" / "a.py").write_text("from . import b\n")
    (tmp_path / "debugger" / "b.py").write_text("def f():\n    from debugger.a import x\n")
    known = {
        "debugger": tmp_path / "debugger" / "__init__.py",
        "debugger.a": tmp_path / "debugger" / "a.py",
        "debugger.b": tmp_path / "debugger" / "b.py",
    }
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert imports_of(known["debugger.a"], known) == {"debugger", "debugger.b"}
        assert imports_of(known["debugger.b"], known) == {"debugger.a"}
    finally:
        ROOT = saved
