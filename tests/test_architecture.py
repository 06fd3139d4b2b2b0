"""The shape DESIGN.md asks for, checked on the source: no import circle inside dynclient/, no module
taking another's private name, and a core that does no I/O.

Every import statement counts, also those inside functions (an import made late is still a
dependency), read from the source with `ast`.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dynclient"
# What the core may not import: it decides, the shells move bytes and wait.
IO_MODULES = {"socket", "ssl", "asyncio", "urllib3", "aiohttp", "http", "selectors", "threading", "subprocess"}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(("dynclient", *path.relative_to(PACKAGE).with_suffix("").parts))
        found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, str | None]]:
    """(module imported, the name taken from it or None) for every import in the file."""
    out = []
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                out.append((candidate, None) if candidate in known else (base, alias.name))
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {target for target, _ in imports(name, path, known) if target in known and target != name}
            for name, path in known.items()}


def test_no_import_circle_inside_dynclient():
    edges = graph()
    circles = []
    state: dict[str, int] = {}   # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert circles == []


def test_no_module_takes_another_modules_private_name():
    known = modules()
    taken = [(name, target, taken_name) for name, path in known.items()
             for target, taken_name in imports(name, path, known)
             if taken_name and taken_name.startswith("_") and not taken_name.startswith("__")
             and target.startswith("dynclient")]
    assert taken == []


def test_the_core_does_no_io():
    known = modules()
    for name, path in known.items():
        if not name.startswith("dynclient.core"):
            continue
        for target, _ in imports(name, path, known):
            assert target.split(".")[0] not in IO_MODULES, f"{name} imports {target}"
        source = path.read_text()
        assert "time.sleep" not in source and ".recv(" not in source, f"{name} waits or reads a socket"
