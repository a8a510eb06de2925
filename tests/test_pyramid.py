"""jwt_wsgi.pyramid: the security policy over the verified claims."""

from __future__ import annotations

from jwt_wsgi.pyramid import JWTSecurityPolicy, includeme

from .helpers import FrameworkRequest as Request


def test_the_pyramid_policy() -> None:
    from pyramid.config import Configurator
    from pyramid.interfaces import ISecurityPolicy

    policy = JWTSecurityPolicy()
    request = Request({"jwt.claims": {"sub": 7, "scp": ["notes:write"]}})
    assert policy.identity(request) == {"sub": 7, "scp": ["notes:write"]}
    assert policy.authenticated_userid(request) == "7"
    assert policy.permits(request, None, "notes:write")
    assert not policy.permits(request, None, "admin")
    assert not policy.permits(Request({"jwt.claims": {"scope": 3}}), None, "x")
    anonymous = Request({"jwt.claims": None, "jwt.principal": None})
    assert policy.identity(anonymous) is None and policy.authenticated_userid(anonymous) is None
    assert not policy.permits(anonymous, None, "notes:write")
    assert policy.identity(Request({"jwt.principal": "u", "jwt.claims": {}})) == "u"
    assert policy.remember(request, "7") == [] and policy.forget(request) == []
    with Configurator() as config:
        includeme(config)
        config.commit()
        assert isinstance(config.registry.queryUtility(ISecurityPolicy), JWTSecurityPolicy)
