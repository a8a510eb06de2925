"""The README and the reference pages say what the code does.

Sphinx builds the reference from the docstrings (``make docs``); these checks
cover the hand-written tables, which would otherwise drift from the code.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

import jwt_wsgi
from jwt_wsgi import errors

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_every_refusal_class_and_reason_is_listed() -> None:
    page = (DOCS / "errors.rst").read_text()
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.AuthError) and cls is not errors.AuthError:
            row = re.search(
                rf":class:`~jwt_wsgi\.errors\.{cls.__name__}`\n\s+- (\d+)\n\s+- ``(\w+)``", page
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


def named_block(page: str, name: str) -> str:
    """The code of the block ``:name: NAME`` of a docs page, as written."""
    text = (DOCS / page).read_text()
    match = re.search(rf"\.\. code-block:: \w+\n   :name: {name}\n\n((?:    .*\n|\n)+)", text)
    assert match is not None, name
    return "\n".join(line[4:] for line in match[1].splitlines()) + "\n"


@pytest.mark.server
def test_the_django_middleware_list_passes_a_fresh_projects_checks(tmp_path: Path) -> None:
    """``django-admin startproject`` installs the admin; the guide's MIDDLEWARE keeps
    what it needs (replacing AuthenticationMiddleware, as the guide once said, fails
    ``manage.py check`` with admin.E408)."""
    import subprocess
    import sys

    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "django-admin"), "startproject", "mysite", str(tmp_path)],
                   check=True)  # fmt: skip
    settings = tmp_path / "mysite" / "settings.py"
    original = settings.read_text()
    listed = re.search(r"MIDDLEWARE = \[.*?\]\n", original, re.DOTALL)
    assert listed is not None

    def check(middleware: str) -> subprocess.CompletedProcess[str]:
        settings.write_text(original.replace(listed[0], middleware))
        return subprocess.run([sys.executable, "manage.py", "check"], cwd=tmp_path,
                              capture_output=True, text=True)  # fmt: skip

    documented = check(named_block("frameworks.rst", "django-middleware"))
    assert documented.returncode == 0, documented.stderr
    replaced = named_block("frameworks.rst", "django-middleware").replace(
        '    "django.contrib.auth.middleware.AuthenticationMiddleware",\n', ""
    )
    assert "admin.E408" in check(replaced).stderr


def test_the_paste_pipeline_of_the_configuration_page_loads_and_protects(
    tmp_path: Path,
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from paste.deploy import loadapp  # type: ignore[import-untyped]
    from werkzeug.test import Client

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "login-public.pem"
    pem.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ))  # fmt: skip
    ini = named_block("configuration.rst", "paste-pipeline")
    ini = ini.replace("myproject.wsgi:app_factory", "tests.helpers:echo_app_factory")
    ini = ini.replace("/etc/myproject/login-public.pem", str(pem))
    (tmp_path / "app.ini").write_text(ini)
    client = Client(loadapp(f"config:{tmp_path / 'app.ini'}", relative_to=str(ROOT)))
    import time

    import jwt

    now = int(time.time())
    token = jwt.encode({"sub": "a", "iss": "https://login.example.com/", "aud": "api",
                        "iat": now, "exp": now + 60, "scope": "reports:read"}, key,
                       algorithm="RS256")  # fmt: skip
    assert client.get("/health").status_code == 200
    assert client.get("/reports/q3").status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/reports/q3", headers=bearer).status_code == 200
    assert client.get("/admin/users", headers=bearer).status_code == 403


def test_a_plain_flask_app_needs_a_rule_for_its_static_route(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """What the command's page says of ``--fail-on default`` and Flask's /static."""
    from jwt_wsgi.cli import main

    (tmp_path / "plainapp.py").write_text(
        "from flask import Flask\n"
        "from jwt_wsgi import JWTMiddleware, Rule\n"
        "app = Flask(__name__)\n"
        "@app.get('/orders')\n"
        "def orders():\n    return 'ok'\n"
        "RULES = [Rule('/orders', scopes=['orders'])]\n"
        "STATIC = Rule('/static/<path:filename>', ['GET', 'HEAD'], auth='public')\n"
        "bare = JWTMiddleware(app.wsgi_app, key='k' * 32, algorithms=['HS256'], rules=RULES)\n"
        "ruled = JWTMiddleware(app.wsgi_app, key='k' * 32, algorithms=['HS256'],\n"
        "                      rules=[*RULES, STATIC])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["routes", "plainapp:bare", "--fail-on", "default"]) == 1
    assert main(["routes", "plainapp:ruled", "--fail-on", "default"]) == 0


def test_the_revocation_page_promises_what_the_mirror_keeps() -> None:
    assert "at its next request" not in (DOCS / "revocation.rst").read_text()
