"""The README and the reference pages say what the code does.

Sphinx builds the reference from the docstrings (``make docs``); these checks
cover the hand-written tables, which would otherwise drift from the code.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import jwt_wsgi
from jwt_wsgi import errors

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_every_refusal_class_and_reason_is_listed() -> None:
    page = (DOCS / "errors.rst").read_text()
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.AuthError) and cls is not errors.AuthError:
            row = re.search(
                rf":class:`~jwt_wsgi\.{cls.__name__}`\n\s+- (\d+)\n\s+- ``(\w+)``", page
            )
            assert row is not None, cls.__name__
            assert (int(row[1]), row[2]) == (cls.status, cls.reason), cls.__name__


def test_every_option_is_in_the_table_of_where_it_is_set() -> None:
    page = (DOCS / "middleware.rst").read_text()
    table = page[page.index("where it is set") : page.index("Every option is checked")]
    rows = re.split(r"\n   \* - ", table)[1:]
    owners = {
        "JWTMiddleware": jwt_wsgi.JWTMiddleware,
        "Authenticator": jwt_wsgi.Authenticator,
        "Provider": jwt_wsgi.Provider,
        "TokenSources": jwt_wsgi.TokenSources,
    }
    for row in rows:
        name = re.match(r":class:`~jwt_wsgi\.(\w+)`", row)
        assert name is not None
        listed = set(re.findall(r"``(\w+)``", row))
        parameters = inspect.signature(owners[name[1]]).parameters
        expected = {p for p in parameters if p not in ("app", "authenticator", "options", "name")}
        assert listed == expected, name[1]


def test_the_readme_shows_the_two_commands_and_no_stale_version() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "3.10" not in readme and "3.11+" in readme
    for link in re.findall(r"\]\(((?:docs|examples)/[^)#]*)", readme):
        assert (ROOT / link).exists(), link


def test_every_command_and_option_of_the_command_line_is_documented() -> None:
    import argparse

    from jwt_wsgi import cli

    page = (DOCS / "cli.rst").read_text()
    parser = cli._parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        entry = re.search(rf"^``{name}( [^`]*)?``$", page, re.MULTILINE)
        assert entry is not None, name
        for action in sub._actions:
            flags = [f for f in action.option_strings if f.startswith("--")]
            for flag in flags:
                if flag not in ("--help", "--json"):
                    assert flag in (entry[1] or ""), f"{name} {flag}"
    assert "``--json``" in page


def test_every_configuration_setting_is_in_the_table() -> None:
    from jwt_wsgi.config import SETTINGS

    page = (DOCS / "configuration.rst").read_text()
    table = page[page.index("Every setting\n") : page.index("An unknown setting")]
    listed = set(re.findall(r"``([a-z_]+)``", table))
    assert SETTINGS <= listed, sorted(SETTINGS - listed)


def test_the_threat_model_names_tests_that_exist() -> None:
    """Each defence in the security page points at the test proving it: keep them real."""
    page = (DOCS / "security.rst").read_text()
    references = re.findall(r"``(test_\w+\.py)::(\w+)(?:::(\w+))?", page)
    assert len(references) >= 10
    for module, first, second in references:
        source = (ROOT / "tests" / module).read_text()
        if second:
            assert f"class {first}" in source and f"def {second}(" in source, (module, second)
        else:
            assert f"def {first}(" in source or f"class {first}" in source, (module, first)
