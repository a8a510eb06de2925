"""The JOSE core: compact JWS parsing, keys, verification and signing, without I/O.

Nothing here reads a socket, a file or the clock's wall time beyond a claim
check, and nothing imports from the WSGI layer above it (an import contract in
``pyproject.toml`` holds this). The modules, bottom up:

* :mod:`~jwt_wsgi.jose.encoding` — base64url and strict JSON.
* :mod:`~jwt_wsgi.jose.compact` — reading a compact JWS without verifying it.
* :mod:`~jwt_wsgi.jose.keys` — verification keys and algorithm allow-lists.
* :mod:`~jwt_wsgi.jose.signing` — signing keys, thumbprints, signing.
* :mod:`~jwt_wsgi.jose.verifier` — :class:`~jwt_wsgi.jose.verifier.TokenVerifier`.
"""
