"""pyramid.ini as a module, for servers without PasteDeploy support (waitress-serve)."""

from __future__ import annotations

import logging.config
from pathlib import Path

from paste.deploy import loadapp  # type: ignore[import-untyped]

HERE = Path(__file__).resolve().parent
logging.config.fileConfig(HERE / "pyramid.ini", disable_existing_loggers=False)
app = loadapp("config:pyramid.ini", relative_to=str(HERE))
