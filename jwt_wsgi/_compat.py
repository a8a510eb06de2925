"""Old import paths and names that keep working for a release, with a warning.

Each module whose names moved sets its module ``__getattr__`` with
:func:`moved`; nothing here imports the package, so any module can.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def moved(old: str, homes: Mapping[str, Sequence[str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for a module whose names moved: ``{new module: names}``.

    ``from jwt_wsgi.tokens import Verifier`` keeps working for a release, with
    a :class:`DeprecationWarning` naming the module to import from instead.
    """
    home_of = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in home_of:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old}.{name} moved: import it from {home_of[name]}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(home_of[name]), name)

    return __getattr__
