"""Users' code keeps working: every old import path and name, with a warning.

Each moved or renamed name is listed once here with where it lives now; the
tests check that the old spelling gives the very same object and warns with
a :class:`DeprecationWarning` naming the new home.
"""

from __future__ import annotations

import importlib

import pytest

#: (old module, name, new module): names whose module moved in 0.3, or that the
#: package's top level no longer exports; "Old=New" where the name changed too.
MOVED = [
    ("jwt_wsgi.tokens", "Verifier=TokenVerifier", "jwt_wsgi.jose.verifier"),
    ("jwt_wsgi.tokens", "Verified=VerifiedToken", "jwt_wsgi.jose.verifier"),
    ("jwt_wsgi.tokens", "b64decode", "jwt_wsgi.jose.encoding"),
    ("jwt_wsgi.tokens", "b64encode", "jwt_wsgi.jose.encoding"),
    ("jwt_wsgi.tokens", "parse_json_object", "jwt_wsgi.jose.encoding"),
    ("jwt_wsgi.tokens", "peek_claims", "jwt_wsgi.jose.compact"),
    ("jwt_wsgi.tokens", "token_id", "jwt_wsgi.jose.compact"),
    ("jwt_wsgi.keys", "KeyRing", "jwt_wsgi.jose.keys"),
    ("jwt_wsgi.keys", "KeySource", "jwt_wsgi.jose.keys"),
    ("jwt_wsgi.keys", "ALGORITHM_KEY_TYPES", "jwt_wsgi.jose.keys"),
    ("jwt_wsgi.signing", "FileKeyStore", "jwt_wsgi.keystores"),
    ("jwt_wsgi.signing", "RedisKeyStore", "jwt_wsgi.keystores"),
    ("jwt_wsgi.signing", "MemoryKeyStore", "jwt_wsgi.keystores"),
    ("jwt_wsgi.signing", "SigningKey", "jwt_wsgi.jose.signing"),
    ("jwt_wsgi.signing", "jwk_thumbprint", "jwt_wsgi.jose.signing"),
    ("jwt_wsgi.signing", "thumbprint=key_thumbprint", "jwt_wsgi.jose.signing"),
    ("jwt_wsgi.signing", "generate_key=generate_private_key", "jwt_wsgi.jose.signing"),
    ("jwt_wsgi.signing", "new_key=new_signing_key", "jwt_wsgi.jose.signing"),
    ("jwt_wsgi.signing", "key_family=exporting_algorithm", "jwt_wsgi.jose.signing"),
    ("jwt_wsgi.minter", "thumbprint=key_thumbprint", "jwt_wsgi.jose.signing"),
    ("jwt_wsgi", "UnknownKey", "jwt_wsgi.errors"),
    ("jwt_wsgi", "DPoPProofReplayed", "jwt_wsgi.errors"),
    ("jwt_wsgi", "error_response", "jwt_wsgi.errors"),
    ("jwt_wsgi", "SigningKey", "jwt_wsgi.jose.signing"),
    ("jwt_wsgi", "KeyInput", "jwt_wsgi.jose.keys"),
    ("jwt_wsgi", "DenylistStore", "jwt_wsgi.revocation"),
    ("jwt_wsgi", "AuthenticatorOptions", "jwt_wsgi.authenticator"),
    ("jwt_wsgi", "ProviderOptions", "jwt_wsgi.providers"),
    ("jwt_wsgi.session", "RefreshEndpoint", "jwt_wsgi.endpoints"),
    ("jwt_wsgi.session", "LogoutEndpoint", "jwt_wsgi.endpoints"),
    ("jwt_wsgi.jwks", "jwks_app", "jwt_wsgi.endpoints"),
    ("jwt_wsgi.dpop", "DPoPMode", "jwt_wsgi.binding"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_a_moved_name_is_importable_from_its_old_module(old: str, name: str, new: str) -> None:
    name, _, new_name = name.partition("=")
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=rf"import {new_name or name} from {new}$"):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), new_name or name)


def test_every_error_the_top_level_exported_still_imports_from_it() -> None:
    """0.2 exported every error class from jwt_wsgi; each still imports from there."""
    import jwt_wsgi
    from jwt_wsgi import errors

    for name in errors.__all__:
        value = getattr(errors, name)
        if (
            isinstance(value, type)
            and issubclass(value, Exception)
            and name not in jwt_wsgi.__all__
        ):
            with pytest.warns(DeprecationWarning, match="jwt_wsgi.errors"):
                assert getattr(jwt_wsgi, name) is getattr(errors, name)


@pytest.mark.parametrize("old", sorted({old for old, _, _ in MOVED}))
def test_an_old_module_refuses_names_it_never_had(old: str) -> None:
    with pytest.raises(AttributeError, match="never_there"):
        _ = importlib.import_module(old).never_there


def test_from_import_of_an_old_path_works() -> None:
    with pytest.warns(DeprecationWarning, match="jwt_wsgi.jose.verifier"):
        from jwt_wsgi.tokens import Verifier
    from jwt_wsgi.jose.verifier import TokenVerifier

    assert Verifier is TokenVerifier


def test_the_authenticators_bearer_header_was_its_source() -> None:
    from jwt_wsgi import Authenticator, Provider

    authenticator = Authenticator(Provider("p", ["HS256"], key="s" * 32))
    with pytest.warns(DeprecationWarning, match="Authenticator.bearer"):
        assert authenticator.source is authenticator.bearer
    assert authenticator.bearer.environ_key == "HTTP_AUTHORIZATION"
