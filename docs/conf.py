"""Sphinx configuration: the reference is built from the package's docstrings."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt_wsgi  # noqa: E402

project = "jwt_wsgi"
author = "jwt_wsgi contributors"
copyright = "2026, jwt_wsgi contributors"
release = version = jwt_wsgi.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.doctest"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True}

# Doctests run against the installed package, with a frozen clock where they
# need one; nothing touches the network.
doctest_global_setup = """
import jwt_wsgi
from jwt_wsgi import *
"""
