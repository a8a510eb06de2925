"""Moved (0.3): key stores to :mod:`jwt_wsgi.keystores`, signing to :mod:`jwt_wsgi.jose.signing`.

Importing a name from here still works, with a :class:`DeprecationWarning`.
"""

from ._compat import moved

__getattr__ = moved(
    "jwt_wsgi.signing",
    {
        "jwt_wsgi.keystores": ("MemoryKeyStore", "FileKeyStore", "RedisKeyStore"),
        "jwt_wsgi.jose.signing": (
            "SigningKey",
            "public_jwk",
            "jws_encoder",
            "sign",
            "signing_key",
            "generate_key=generate_private_key",
            "new_key=new_signing_key",
            "key_family=exporting_algorithm",
            "thumbprint=key_thumbprint",
            "jwk_thumbprint",
            "load_signing_key",
        ),
    },
)
