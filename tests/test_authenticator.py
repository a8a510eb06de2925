"""The authenticator without WSGI: the one-call check users reach for checks everything."""

from __future__ import annotations

import inspect
from typing import Any

import jwt
import pytest

from jwt_wsgi import (
    Authenticated,
    Authenticator,
    ConfigurationError,
    ExpiredToken,
    MemoryRevocationStore,
    Provider,
    RemoteKeySet,
    RevocationUnavailable,
    RevokedToken,
)
from jwt_wsgi.authenticator import AuthenticatorOptions
from jwt_wsgi.errors import (
    InvalidIssuer,
    MalformedToken,
    RevocationCheckFailed,
    TokenTooLarge,
    UnknownKey,
)
from jwt_wsgi.providers import ProviderOptions

from .helpers import NOW, SECRET, Clock, make_token

OTHER = "o" * 64


def authenticator(clock: Clock | None = None, **options: Any) -> Authenticator:
    return Authenticator(Provider("app", ["HS256"], key=SECRET), clock=clock or Clock(), **options)


def test_authenticate_returns_a_small_result_with_fresh_copies() -> None:
    auth = authenticator()
    token = make_token({"roles": ["user"]})
    result = auth.authenticate(token)
    assert isinstance(result, Authenticated)
    assert (result.token, result.provider) == (token, "app")
    assert result.claims["roles"] == ["user"] and result.header["alg"] == "HS256"
    result.claims["roles"].append("admin")
    result.header["alg"] = "none"
    again = auth.authenticate(token)  # a cache hit
    assert again.claims["roles"] == ["user"] and again.header["alg"] == "HS256"
    assert auth.cache.hits == 1
    assert set(inspect.signature(Authenticated).parameters) == {
        "token",
        "claims",
        "header",
        "provider",
        "kind",
        "dpop_nonce",
        "location",
    }
    assert result.kind == "access" and result.location is None  # no request, no location


def test_the_one_call_check_includes_the_clock_cached_or_not() -> None:
    clock = Clock()
    auth = authenticator(clock)
    token = make_token({"exp": int(NOW) + 10})
    auth.authenticate(token)
    clock.now += 10
    with pytest.raises(ExpiredToken):
        auth.authenticate(token)
    with pytest.raises(ExpiredToken):
        authenticator(clock).authenticate(token)  # cold


def test_the_one_call_check_includes_revocation() -> None:
    store = MemoryRevocationStore(clock=Clock())
    auth = authenticator(revocation=store)
    token = make_token({"jti": "j1"})
    assert auth.authenticate(token).claims["jti"] == "j1"
    store.revoke({"jti": "j1", "exp": int(NOW) + 600})
    with pytest.raises(RevokedToken):
        auth.authenticate(token)


def test_a_failing_store_fails_closed_or_open_as_configured(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def down(claims: dict[str, Any]) -> bool:
        raise RevocationUnavailable("down")

    with pytest.raises(RevocationCheckFailed):
        authenticator(revocation=down).authenticate(make_token())
    with caplog.at_level("WARNING", logger="jwt_wsgi"):
        assert authenticator(revocation=down, revocation_unavailable="open").authenticate(
            make_token()
        )
    assert "letting the token through" in caplog.text


def test_tokens_that_are_not_strings_or_too_large() -> None:
    with pytest.raises(MalformedToken):
        authenticator().authenticate(b"a.b.c")  # type: ignore[arg-type]
    with pytest.raises(TokenTooLarge):
        authenticator(max_token_bytes=64).authenticate(make_token())


def test_several_providers_are_chosen_by_issuer() -> None:
    auth = Authenticator(
        [
            Provider("a", ["HS256"], issuer="a", key=SECRET),
            Provider("b", ["HS256"], issuer="b", key=OTHER),
        ],
        clock=Clock(),
    )
    assert auth.authenticate(make_token({"iss": "b"}, key=OTHER)).provider == "b"
    with pytest.raises(InvalidIssuer):
        auth.authenticate(make_token({"iss": "c"}))
    assert set(auth.providers) == {"a", "b"}


def test_set_keys_works_offline_even_for_a_remote_provider() -> None:
    """Tests swap keys without a key server: set_keys never goes to the network."""
    keys = RemoteKeySet("https://idp.invalid/jwks.json", algorithms=["HS256"])
    auth = Authenticator(Provider("idp", ["HS256"], key=keys), clock=Clock())
    auth.set_keys(SECRET, provider="idp")
    assert auth.authenticate(make_token()).provider == "idp"
    assert keys.fetches == keys.failed_fetches == 0
    auth.set_keys({"keys": [{"kty": "oct", "k": "b" * 43, "kid": "new"}]}, provider="idp")
    with pytest.raises(UnknownKey):
        auth.authenticate(make_token())
    with pytest.raises(ConfigurationError, match="no provider named 'x'"):
        auth.set_keys(SECRET, provider="x")


def test_from_options_builds_one_default_provider() -> None:
    auth = Authenticator.from_options(key=SECRET, algorithms=["HS256"], leeway=5, clock=Clock())
    assert list(auth.providers) == ["default"]
    assert auth.providers["default"].leeway == 5
    assert auth.authenticate(make_token()).provider == "default"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key": SECRET}, "algorithms is required"),
        ({"algorithms": ["HS256"]}, "key=, jwks_url= or an issuer"),
        ({"key": SECRET, "algorithms": ["HS256"], "audiences": "x"}, "did you mean 'audience'"),
        ({"providers": [], "clock": Clock()}, "at least one Provider"),
        ({"providers": "p"}, "list of Providers"),
    ],
)
def test_from_options_refuses_what_cannot_work(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Authenticator.from_options(**options)


def test_provider_names_and_issuers_must_be_distinct() -> None:
    with pytest.raises(ConfigurationError, match="two providers are named"):
        Authenticator([Provider("a", ["HS256"], key=SECRET)] * 2)
    with pytest.raises(ConfigurationError, match="issuer of its own"):
        Authenticator(
            [
                Provider("a", ["HS256"], issuer="x", key=SECRET),
                Provider("b", ["HS256"], issuer="x", key=OTHER),
            ]
        )


def test_each_setting_has_one_home() -> None:
    """The shortcut keywords mirror the signatures they forward to, and nothing else."""
    from jwt_wsgi import TokenSources
    from jwt_wsgi.sources import SourceOptions

    provider = set(inspect.signature(Provider).parameters) - {"name"}
    sources = set(inspect.signature(TokenSources).parameters)
    authenticator_keywords = set(inspect.signature(Authenticator).parameters)
    assert set(ProviderOptions.__optional_keys__) == provider
    assert set(SourceOptions.__optional_keys__) == sources
    assert set(AuthenticatorOptions.__optional_keys__) == (
        provider | sources | authenticator_keywords
    )
    assert not provider & authenticator_keywords and not sources & authenticator_keywords
    assert not provider & sources


def test_sources_or_their_keywords_not_both() -> None:
    from jwt_wsgi import TokenSources

    with pytest.raises(ConfigurationError, match="on the TokenSources"):
        Authenticator.from_options(
            key=SECRET, algorithms=["HS256"], sources=TokenSources(), locations=["cookie"]
        )
    with pytest.raises(ConfigurationError, match="sources must be TokenSources"):
        Authenticator(Provider("p", ["HS256"], key=SECRET), sources=["header"])  # type: ignore[arg-type]


def test_legacy_verifier_warns_and_checks_the_clock() -> None:
    from jwt_wsgi import KeyRing

    with pytest.warns(DeprecationWarning, match="Authenticator"):
        legacy = jwt_wsgi_attribute("Verifier")
    verifier = legacy(KeyRing(SECRET, ["HS256"]), audience="api")
    verifier.clock = Clock()
    assert verifier.verify(make_token({"aud": "api"})).claims["sub"] == "alice"
    with pytest.raises(ExpiredToken):
        verifier.verify(make_token({"aud": "api", "exp": int(NOW) - 1}))
    with pytest.warns(DeprecationWarning):
        assert jwt_wsgi_attribute("Verified").__name__ == "VerifiedToken"
    with pytest.raises(AttributeError):
        jwt_wsgi_attribute("Nothing")


def jwt_wsgi_attribute(name: str) -> Any:
    import jwt_wsgi

    return getattr(jwt_wsgi, name)


def test_a_pyjwt_token_and_ours_agree() -> None:
    token = make_token({"scope": "a b"})
    assert authenticator().authenticate(token).claims == jwt.decode(
        token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
