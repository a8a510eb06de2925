"""Reading the bearer token from the request (RFC 6750 section 2.1).

:class:`TokenSource` is configured once with the header and scheme. Per
request it returns the token, ``None`` when the request carries no bearer
credentials at all, or raises :class:`~jwt_wsgi.errors.InvalidRequest` for a
header it cannot read unambiguously.

Accepted: ``Authorization: Bearer <token>`` with the scheme in any case and
whitespace around the parts. Refused with 400: an empty header, a scheme with
no token, more than one token, and two ``Authorization`` headers (which WSGI
servers join as ``Bearer A,Bearer B``). A header of another scheme (``Basic``)
is not a bearer token: the request counts as carrying none, so ``optional``
routes treat it as anonymous and ``required`` routes answer 401 with a bare
challenge, as RFC 6750 section 3.1 asks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .errors import InvalidRequest

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

# RFC 6750's b64token: the characters a bearer token may contain.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")


class TokenSource:
    """Where the token comes from.

    :param header: the request header, ``Authorization`` by default.
    :param scheme: the auth scheme, ``Bearer`` by default; ``""`` reads the
        whole header value as the token (``X-Api-Token: <jwt>``).
    """

    def __init__(self, header: str = "Authorization", scheme: str = "Bearer") -> None:
        if not header or not re.fullmatch(r"[A-Za-z0-9-]+", header):
            raise ValueError(f"not a header name: {header!r}")
        if scheme and not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", scheme):
            raise ValueError(f"not an auth scheme: {scheme!r}")
        self.header = header
        self.scheme = scheme.lower()
        self.environ_key = "HTTP_" + header.upper().replace("-", "_")

    def read(self, environ: WSGIEnvironment) -> str | None:
        """The token, ``None`` for no bearer credentials; raise on a malformed header."""
        value = environ.get(self.environ_key)
        if value is None:
            return None
        parts = value.split()
        if not self.scheme:
            token = parts[0] if len(parts) == 1 else ""
        elif not parts:
            token = ""
        elif parts[0].lower() != self.scheme:
            # "Basic x,Bearer y": two Authorization headers joined by the server.
            if "," in parts[0] or ("," in value and self.scheme in value.lower()):
                raise InvalidRequest(
                    f"the {self.header} header must carry exactly one bearer token"
                )
            return None
        else:
            token = parts[1] if len(parts) == 2 else ""
        if not _B64TOKEN.match(token):
            raise InvalidRequest(f"the {self.header} header must carry exactly one bearer token")
        return token
