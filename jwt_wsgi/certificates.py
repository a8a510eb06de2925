"""The client certificate of a request, for certificate-bound tokens (RFC 8705).

A token bound to a certificate carries the certificate's SHA-256 thumbprint
in ``cnf.x5t#S256``; it is only good when the request came over mutual TLS
with that certificate. The WSGI app never sees the TLS handshake, so the
certificate has to come from one of two places, named explicitly:

* ``environ_key``: a key the server itself fills with the PEM certificate
  (``SSL_CLIENT_CERT`` under mod_wsgi or uWSGI);
* ``header``: a header a TLS-terminating proxy sets with the URL-encoded PEM
  (nginx's ``$ssl_client_escaped_cert``). Only trust it when the proxy
  replaces whatever a client sent and nothing reaches the app around it.

Neither is read unless configured. Thumbprints are remembered per distinct
value in a bounded memo: a client sends the same certificate again and again.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .errors import ConfigurationError
from .jose.encoding import b64encode

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: The memo's bound, and the longest value it keeps (a certificate chain is not one).
_MEMO_SIZE = 1024
_MEMO_MAX_CHARS = 16_384


class ClientCertificates:
    """Where a request's client certificate is read, and its RFC 8705 thumbprint.

    :param environ_key: an environ key holding the PEM certificate.
    :param header: a header holding the URL-encoded PEM, set by a trusted proxy.
    """

    def __init__(self, *, environ_key: str | None = None, header: str | None = None) -> None:
        if environ_key is not None and header is not None:
            raise ConfigurationError("give certificate_environ or certificate_header, not both")
        for option, value in (("certificate_environ", environ_key), ("certificate_header", header)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigurationError(f"{option} must be a non-empty string, not {value!r}")
        self.key: str | None = None
        self.escaped = header is not None
        if environ_key is not None:
            self.key = environ_key
        elif header is not None:
            self.key = "HTTP_" + header.upper().replace("-", "_")
        self._memo: dict[str, str | None] = {}

    def thumbprint(self, environ: WSGIEnvironment | None) -> str | None:
        """The base64url SHA-256 thumbprint of the request's certificate, or ``None``."""
        if self.key is None or environ is None:
            return None
        value = environ.get(self.key)
        if not isinstance(value, str) or not value.strip():
            return None
        if value in self._memo:
            return self._memo[value]
        found = self._thumbprint(value)
        if len(value) <= _MEMO_MAX_CHARS:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[value] = found
        return found

    def _thumbprint(self, value: str) -> str | None:
        pem = unquote(value) if self.escaped else value
        try:
            certificate = x509.load_pem_x509_certificate(pem.encode("ascii", "strict"))
        except (ValueError, UnicodeError):
            return None  # not a certificate: as if none came
        digest = hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest()
        return b64encode(digest)
