"""Moved to :mod:`jwt_wsgi.jose` (0.3): the verifier, encoding and compact-JWS helpers.

Importing a name from here still works, with a :class:`DeprecationWarning`.
"""

from ._compat import moved

__getattr__ = moved(
    "jwt_wsgi.tokens",
    {
        "jwt_wsgi.jose.verifier": (
            "Verifier=TokenVerifier",
            "Verified=VerifiedToken",
            "CheckedHeader",
            "safe_verify",
        ),
        "jwt_wsgi.jose.encoding": ("b64encode", "b64decode", "parse_json_object", "copy_json"),
        "jwt_wsgi.jose.compact": ("peek_claim", "peek_claims", "token_id", "token_kind"),
    },
)
