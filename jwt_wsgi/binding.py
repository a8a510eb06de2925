"""How strongly a token must be bound to its sender: the DPoP modes.

A :class:`~jwt_wsgi.providers.Provider` and a :class:`~jwt_wsgi.rules.Rule`
each take ``dpop=`` one of these. The names live here, apart from the proof
checker in :mod:`jwt_wsgi.dpop`, so that settings can name a mode without
importing the checker.
"""

from __future__ import annotations

from typing import Literal

#: Where DPoP applies: a provider's or a rule's ``dpop=``.
DPoPMode = Literal["disabled", "allowed", "required"]
DPOP_MODES: tuple[DPoPMode, ...] = ("disabled", "allowed", "required")
