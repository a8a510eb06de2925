"""OAuth 2.0 Protected Resource Metadata (RFC 9728), from the middleware's configuration.

OAuth clients (MCP clients among them) discover how to get a token for an API
by fetching ``/.well-known/oauth-protected-resource`` from it, and find that
URL in the ``resource_metadata`` parameter of a 401's challenge. Here:

* :func:`protected_resource_metadata` builds the document from a
  :class:`~jwt_wsgi.JWTMiddleware`: ``resource``, the providers' issuers as
  ``authorization_servers``, every scope a rule or the policy asks for as
  ``scopes_supported``, where tokens are read as
  ``bearer_methods_supported``, and with DPoP the proof algorithms
  (``dpop_signing_alg_values_supported``) and whether every token must be
  DPoP-bound (``dpop_bound_access_tokens_required``);
* :class:`ResourceMetadata` wraps the middleware and answers the well-known
  path (section 3.1: inserted between the host and the resource's path);
* :func:`metadata_url` is the URL to give ``JWTMiddleware(resource_metadata=...)``,
  which adds it to every challenge (section 5.1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ConfigurationError, json_response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .middleware import JWTMiddleware

__all__ = ["ResourceMetadata", "metadata_url", "protected_resource_metadata"]

WELL_KNOWN = "/.well-known/oauth-protected-resource"
#: Token locations that are RFC 6750 bearer methods (a cookie is not one).
_BEARER_METHODS = {"header": "header", "query": "query"}


def _check_resource(resource: str, allow_http: bool) -> tuple[str, str]:
    """The resource's origin and path; it must be an https URL without a fragment."""
    parts = urlsplit(resource)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.netloc or parts.fragment or "#" in resource:
        raise ConfigurationError(
            f"resource must be an https URL without a fragment (RFC 9728 section 1.2), "
            f"not {resource!r}"
        )
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


def metadata_url(resource: str, *, allow_http: bool = False) -> str:
    """Where ``resource``'s metadata is served: the well-known path before its path."""
    origin, path = _check_resource(resource, allow_http)
    return origin + WELL_KNOWN + path


def protected_resource_metadata(
    middleware: JWTMiddleware,
    resource: str,
    *,
    resource_name: str | None = None,
    resource_documentation: str | None = None,
    scopes_supported: Iterable[str] | None = None,
    extra: Mapping[str, Any] | None = None,
    allow_http: bool = False,
) -> dict[str, Any]:
    """The RFC 9728 document for ``resource`` as ``middleware`` protects it.

    :param scopes_supported: the scopes to announce; by default every scope a
        rule or the policy requires.
    :param extra: more members (``resource_policy_uri``, ...), added as given.
    """
    _check_resource(resource, allow_http)
    document: dict[str, Any] = {"resource": resource}
    issuers = sorted(
        {p.issuer for p in middleware.authenticator.providers.values() if p.issuer is not None}
    )
    if issuers:
        document["authorization_servers"] = issuers
    if scopes_supported is None:
        policies = [*middleware.rules.rules, *([middleware.policy] if middleware.policy else [])]
        scopes_supported = {scope for policy in policies for scope in policy.scopes}
    document["scopes_supported"] = sorted(scopes_supported)
    document["bearer_methods_supported"] = [
        _BEARER_METHODS[location]
        for location in middleware.authenticator.sources.locations
        if location in _BEARER_METHODS
    ]
    authenticator = middleware.authenticator
    if authenticator.dpop_proofs is not None:
        modes = authenticator.dpop_modes()
        if modes != {"disabled"}:
            document["dpop_signing_alg_values_supported"] = list(
                authenticator.dpop_proofs.algorithms
            )
            document["dpop_bound_access_tokens_required"] = modes == {"required"}
    if resource_name is not None:
        document["resource_name"] = resource_name
    if resource_documentation is not None:
        document["resource_documentation"] = resource_documentation
    document.update(extra or {})
    return document


class ResourceMetadata:
    """WSGI middleware answering ``GET`` of the metadata path, passing everything else on.

    ``app = ResourceMetadata(JWTMiddleware(api, ..., resource_metadata=metadata_url(R)), R)``.
    The document is built once, at construction, from the wrapped middleware.
    """

    def __init__(self, middleware: JWTMiddleware, resource: str, **options: Any) -> None:
        self.app: WSGIApplication = middleware
        allow_http = bool(options.get("allow_http", False))
        _, path = _check_resource(resource, allow_http)
        self.path = WELL_KNOWN + path
        document = protected_resource_metadata(middleware, resource, **options)
        self.body = json.dumps(document, separators=(",", ":")).encode()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != self.path:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            headers = [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")]
            start_response("405 Method Not Allowed", [*headers, ("Content-Length", "0")])
            return []
        return json_response(
            environ, start_response, "200 OK", self.body, cache_control="max-age=3600"
        )
