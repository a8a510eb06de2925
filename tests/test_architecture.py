"""The architecture holds: no import cycles, no private names across modules, a core without I/O.

The same facts ``make imports`` prints (:mod:`tests.import_graph`) and the
import contracts in ``pyproject.toml`` declare, asserted here so that a
change that breaks them goes red in ``make test-fast`` too.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from .import_graph import ROOT, cycles, edges, graph, private_imports

#: What the JOSE core may import from the rest of the package: leaves only.
CORE_MAY_IMPORT = {"jwt_wsgi.errors", "jwt_wsgi._memo"}
#: Libraries that do I/O, threads or WSGI: none of them belongs in the core.
NOT_IN_THE_CORE = {"socket", "ssl", "threading", "urllib", "http", "os", "redis", "werkzeug"}


def test_no_import_cycles_even_for_type_checking() -> None:
    assert cycles(edges(graph())) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_private_name_is_imported_from_another_module() -> None:
    assert list(private_imports()) == []


def test_the_core_imports_only_leaves_of_the_package() -> None:
    imports = edges(graph())
    for module, imported in imports.items():
        if module.startswith("jwt_wsgi.jose"):
            above = {m for m in imported if not m.startswith("jwt_wsgi.jose")}
            assert above <= CORE_MAY_IMPORT, module


def test_the_core_does_no_io() -> None:
    for path in (ROOT / "jose").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & NOT_IN_THE_CORE, path.name


def test_the_import_contract_names_every_module_outside_the_core() -> None:
    """The forbidden list in pyproject.toml is complete: a new module cannot slip past it."""
    config = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (forbidden,) = [c for c in contracts if c["type"] == "forbidden"]
    top_level = {m for m in graph().modules if m.count(".") == 1} - {"jwt_wsgi.jose"}
    assert set(forbidden["forbidden_modules"]) == top_level - CORE_MAY_IMPORT


def test_only_optional_dependencies_are_imported_lazily() -> None:
    """A function-level import is for an optional dependency, never to dodge a cycle."""
    optional = {"flask", "django", "pyramid", "prometheus_client", "redis"}
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom):
                    top = "." if node.level else (node.module or "").split(".")[0]
                elif isinstance(node, ast.Import):
                    top = node.names[0].name.split(".")[0]
                else:
                    continue
                assert top in optional, f"{path.name}:{node.lineno} imports {top} lazily"


def test_the_graph_command_reports_clean(capsys: object) -> None:
    from . import import_graph

    assert import_graph.main() == 0
    assert Path(import_graph.__file__).exists()
