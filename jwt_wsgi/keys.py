"""Moved to :mod:`jwt_wsgi.jose.keys` (0.3).

Importing a name from here still works, with a :class:`DeprecationWarning`.
"""

from ._compat import moved

__getattr__ = moved(
    "jwt_wsgi.keys",
    {
        "jwt_wsgi.jose.keys": (
            "ALGORITHM_KEY_TYPES",
            "EC_CURVES",
            "OKP_CURVES",
            "HMAC_MIN_BYTES",
            "RSA_MIN_BITS",
            "KeyInput",
            "KeyRing",
            "KeySource",
            "VerifyingKey",
            "algorithm_object",
            "check_hmac_secret",
            "check_rsa_key",
            "curve_fits",
            "has_roca_fingerprint",
            "is_key_source",
            "pem_text",
            "prepare_public_jwk",
            "validate_algorithms",
        ),
    },
)
