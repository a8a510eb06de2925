"""Moved to :mod:`jwt_wsgi.endpoints` (0.3), with the JWK Set endpoint.

Importing a name from here still works, with a :class:`DeprecationWarning`.
"""

from ._compat import moved

__getattr__ = moved(
    "jwt_wsgi.session", {"jwt_wsgi.endpoints": ("RefreshEndpoint", "LogoutEndpoint")}
)
