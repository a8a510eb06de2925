"""Users' code keeps working: every old import path and name, with a warning.

Each moved or renamed name is listed once here with where it lives now; the
tests check that the old spelling gives the very same object and warns with
a :class:`DeprecationWarning` naming the new home.
"""

from __future__ import annotations

import importlib

import pytest

#: (old module, name, new module): names whose module moved in 0.3.
MOVED = [
    ("jwt_wsgi.tokens", "Verifier", "jwt_wsgi.jose.verifier"),
    ("jwt_wsgi.tokens", "Verified", "jwt_wsgi.jose.verifier"),
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
    ("jwt_wsgi.session", "RefreshEndpoint", "jwt_wsgi.endpoints"),
    ("jwt_wsgi.session", "LogoutEndpoint", "jwt_wsgi.endpoints"),
    ("jwt_wsgi.jwks", "jwks_app", "jwt_wsgi.endpoints"),
    ("jwt_wsgi.dpop", "DPoPMode", "jwt_wsgi.binding"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_a_moved_name_is_importable_from_its_old_module(old: str, name: str, new: str) -> None:
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)


@pytest.mark.parametrize("old", sorted({old for old, _, _ in MOVED}))
def test_an_old_module_refuses_names_it_never_had(old: str) -> None:
    with pytest.raises(AttributeError, match="never_there"):
        _ = importlib.import_module(old).never_there


def test_from_import_of_an_old_path_works() -> None:
    with pytest.warns(DeprecationWarning, match="jwt_wsgi.jose.verifier"):
        from jwt_wsgi.tokens import Verifier
    from jwt_wsgi.jose.verifier import Verifier as moved

    assert Verifier is moved
