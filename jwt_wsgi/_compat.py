"""Old import paths and names that keep working for a release, with a warning.

Each module whose names moved sets its module ``__getattr__`` with
:func:`moved`; nothing here imports the package, so any module can.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def moved(
    old: str, homes: Mapping[str, Sequence[str]], *, stacklevel: int = 2
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for a module whose names moved: ``{new module: names}``.

    A name given as ``"Old=New"`` was renamed as well; ``stacklevel`` is one
    more when another ``__getattr__`` calls this one. ``from jwt_wsgi.tokens
    import Verifier`` keeps working for a release, with a
    :class:`DeprecationWarning` naming what to import instead.
    """
    home_of: dict[str, tuple[str, str]] = {}
    for module, names in homes.items():
        for entry in names:
            name, _, new_name = entry.partition("=")
            home_of[name] = (module, new_name or name)

    def __getattr__(name: str) -> Any:
        if name not in home_of:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        module, new_name = home_of[name]
        warnings.warn(
            f"{old}.{name} moved: import {new_name} from {module}",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        return getattr(importlib.import_module(module), new_name)

    return __getattr__
