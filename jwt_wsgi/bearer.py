"""Reading the bearer token from the request (RFC 6750 section 2.1).

:class:`BearerHeader` is configured once with the header and scheme. The
authenticator reads that header from the environ once per request and hands
the value to :meth:`BearerHeader.parse`, which returns the token, ``None``
when the value carries no bearer credentials at all, or raises
:class:`~jwt_wsgi.errors.MalformedCredentials` (400) for a value it cannot
read unambiguously.

Accepted: ``Authorization: Bearer <token>`` with the scheme in any case and
whitespace around the parts. Refused with 400: an empty header, a scheme with
no token, more than one token, characters outside RFC 6750's ``b64token``, and
two ``Authorization`` headers (which WSGI servers join as ``Bearer A,Bearer
B``). A header of another scheme (``Basic``) is not a bearer token: the
request counts as carrying none, so ``optional`` routes treat it as anonymous
and ``required`` routes answer 401 with a bare challenge (RFC 6750 section 3.1).
"""

from __future__ import annotations

import re

from .errors import ConfigurationError, MalformedCredentials

#: RFC 6750's b64token: the characters a bearer (or DPoP) token may contain.
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")


class BearerHeader:
    """Where the token comes from: one request header.

    :param header: the request header, ``Authorization`` by default.
    :param scheme: the auth scheme, ``Bearer`` by default; ``""`` reads the
        whole header value as the token (``X-Api-Token: <jwt>``).
    """

    def __init__(self, header: str = "Authorization", scheme: str = "Bearer") -> None:
        if not isinstance(header, str) or not re.fullmatch(r"[A-Za-z0-9-]+", header):
            raise ConfigurationError(f"header must be a header name, not {header!r}")
        if not isinstance(scheme, str) or (
            scheme and not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", scheme)
        ):
            raise ConfigurationError(
                f"scheme must be an auth scheme such as 'Bearer', not {scheme!r}"
            )
        self.header = header
        self.scheme = scheme.lower()
        #: The environ key of the header, e.g. ``HTTP_AUTHORIZATION``.
        self.environ_key = "HTTP_" + header.upper().replace("-", "_")
        #: The usual spelling of the value before the token, e.g. ``"Bearer "``:
        #: a value starting with it is looked up in the cache before any parsing.
        self.prefix = f"{scheme} " if scheme else ""
        self._malformed = f"the {header} header must carry exactly one bearer token"

    def parse(self, value: str) -> str | None:
        """The token, ``None`` for no bearer credentials; raise on a malformed value."""
        if value.startswith(self.prefix):
            # The usual spelling, "Bearer <token>" and nothing else: a b64token
            # holds no space or comma, so this is what the split below finds.
            token = value[len(self.prefix) :]
            if B64TOKEN.match(token):
                return token
        parts = value.split()
        if not self.scheme:
            token = parts[0] if len(parts) == 1 else ""
        elif not parts:
            token = ""
        elif parts[0].lower() != self.scheme:
            # "Basic x,Bearer y": two Authorization headers joined by the server.
            if "," in parts[0] or ("," in value and self.scheme in value.lower()):
                raise MalformedCredentials(self._malformed)
            return None
        else:
            token = parts[1] if len(parts) == 2 else ""
        if not B64TOKEN.match(token):
            raise MalformedCredentials(self._malformed)
        return token
