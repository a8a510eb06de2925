"""The package's import graph, as a maintainer reads it: ``python -m tests.import_graph``.

Prints each module of ``jwt_wsgi`` with the package modules it imports (those
only needed for type checking marked ``(types)``), then the import cycles and
the private names imported across modules; ``make imports`` runs it.
:mod:`tests.test_architecture` asserts what it reports.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp

PACKAGE = "jwt_wsgi"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def graph(*, type_checking: bool = True) -> grimp.ImportGraph:
    """The package's graph; with ``type_checking``, imports under ``TYPE_CHECKING`` too."""
    return grimp.build_graph(
        PACKAGE, exclude_type_checking_imports=not type_checking, cache_dir=None
    )


def edges(built: grimp.ImportGraph) -> dict[str, set[str]]:
    """Each module and the package modules it imports directly."""
    return {m: set(built.find_modules_directly_imported_by(m)) for m in built.modules}


def cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(imports.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return found


def private_imports() -> Iterator[str]:
    """``path:line: from .x import _name`` for each private name taken from another module."""
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            # ``from . import _checks`` names a private module: that is its use.
            if not isinstance(node, ast.ImportFrom) or not node.level or node.module is None:
                continue
            private = [a.name for a in node.names if a.name.startswith("_")]
            if private:
                where = path.relative_to(ROOT.parent)
                yield (
                    f"{where}:{node.lineno}: from {'.' * node.level}{node.module or ''} import "
                    + (", ".join(private))
                )


def main() -> int:
    runtime = edges(graph(type_checking=False))
    every = edges(graph())
    for module in sorted(every):
        names = [m + ("" if m in runtime[module] else " (types)") for m in sorted(every[module])]
        print(f"{module} -> {', '.join(names) if names else '(nothing of the package)'}")
    found = cycles(every)
    print(f"\ncycles: {len(found)}")
    for component in found:
        print("  " + " <-> ".join(component))
    private = list(private_imports())
    print(f"private names imported across modules: {len(private)}")
    for line in private:
        print("  " + line)
    return 1 if found or private else 0


if __name__ == "__main__":
    sys.exit(main())
