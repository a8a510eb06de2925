"""The ``jwt-wsgi`` command: make a key, mint a token, read one, verify one, publish keys.

Every command works on files and standard streams, so it fits in scripts:

* ``keygen`` writes a new private key (JWK or PEM) to a file only this user
  can read, and prints its public half;
* ``mint`` signs a token with a key file, as :class:`~jwt_wsgi.Minter` does;
* ``inspect`` prints a token's header and claims *without verifying them*,
  labelled as such, with times in UTC and relative to now;
* ``verify`` checks a token with the same :class:`~jwt_wsgi.Authenticator` the
  middleware uses and names the reason code when it fails;
* ``jwks`` prints the public JWK Set of some key files;
* ``proof`` prints a DPoP proof (RFC 9449) for one request, to call a DPoP
  API with ``curl``.

Tokens are read from standard input when the argument is ``-`` or absent, so
they need not appear in the process list or the shell's history. Secrets are
never printed: ``keygen`` writes them to the file named by ``--out`` only.

Exit codes: ``0`` success; ``1`` the token was refused or cannot be read;
``2`` a usage or configuration error (a bad option, an unreadable key file).
``--json`` prints one JSON object instead of text, for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn, TextIO

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from . import audit
from .authenticator import Authenticator
from .dpop import make_proof
from .errors import AuthError, ConfigurationError, KeysUnavailable
from .jose.compact import read_unverified
from .jose.encoding import b64decode, b64encode
from .jose.keys import (
    ALGORITHM_KEY_TYPES,
    algorithm_object,
    jwk_algorithm,
    key_from_file,
    load_verifying_key,
    public_members,
)
from .jose.signing import (
    exporting_algorithm,
    generate_private_key,
    jwk_thumbprint,
    key_thumbprint,
    new_signing_key,
    public_jwk,
    signing_key,
)
from .middleware import JWTMiddleware
from .minter import Minter
from .settings import import_object, parse_duration

#: Exit codes, documented above.
OK, REFUSED, USAGE = 0, 1, 2

_TIME_CLAIMS = ("iat", "nbf", "exp", "auth_time")


class _Failure(Exception):
    """Ends a command with a message and an exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.command(args, sys.stdout)
        return result
    except _Failure as failure:
        _say_error(args, str(failure), failure.code)
        return failure.code
    except ConfigurationError as exc:
        _say_error(args, str(exc), USAGE)
        return USAGE


def _say_error(args: argparse.Namespace, message: str, code: int) -> None:
    if getattr(args, "json", False):
        _emit(sys.stdout, ok=False, error=message)
    print(f"jwt-wsgi {args.name}: {message}", file=sys.stderr)


# keygen


def keygen(args: argparse.Namespace, out: TextIO) -> int:
    """Write a new private key to ``--out`` (mode 0600); print its public half."""
    algorithm: str = args.alg
    kid: str | None = args.kid
    if ALGORITHM_KEY_TYPES[algorithm] == "oct":
        if args.format == "pem":
            raise _Failure("an HMAC secret has no PEM form; use --format jwk")
        secret = new_signing_key(algorithm)
        kid = kid or secrets.token_urlsafe(12)
        private: dict[str, Any] = {"kty": "oct", "k": b64encode(secret)}
        public = None
    else:
        prepared = signing_key(generate_private_key(algorithm), algorithm, kid)
        kid = prepared.kid
        public = prepared.public_jwk()
        private = algorithm_object(algorithm).to_jwk(prepared.key, as_dict=True)
        private.pop("key_ops", None)
    private.update(use="sig", alg=algorithm, kid=kid)
    if args.format == "pem":
        data = prepared.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    else:
        data = (json.dumps(private, indent=2) + "\n").encode()
    _write_private(args.out, data, args.force)
    if args.json:
        _emit(out, ok=True, alg=algorithm, kid=kid, path=args.out, public_jwk=public)
    else:
        print(f"wrote a new {algorithm} private key (kid {kid}) to {args.out}", file=sys.stderr)
        if public is not None:
            print(json.dumps(public), file=out)
    return OK


def _write_private(path: str, data: bytes, force: bool) -> None:
    """Create ``path`` readable by this user only; refuse to replace a file unless ``force``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise _Failure(f"{path} exists; pass --force to replace it") from None
    except OSError as exc:
        raise _Failure(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(data)


# mint


def mint(args: argparse.Namespace, out: TextIO) -> int:
    """Print a new token for ``identity`` signed with ``--key``."""
    key, algorithm, kid = _signing_key_file(args.key, args.alg)
    claims: dict[str, Any] = {}
    for item in args.claim:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise _Failure(f"--claim takes NAME=VALUE, not {item!r}")
        claims[name] = _value(value)
    minter = Minter(
        key,
        algorithm,
        expires_in=args.lifetime,
        issuer=args.issuer,
        audience=args.audience or None,
        kid=args.kid or kid,
    )
    token = minter.mint(args.identity, claims, fresh=args.fresh)
    if args.json:
        header, payload = _peek(token)
        print(
            json.dumps({"ok": True, "token": token, "header": header, "claims": payload}), file=out
        )
    else:
        print(token, file=out)
    return OK


# proof


def proof(args: argparse.Namespace, out: TextIO) -> int:
    """Print a DPoP proof for ``METHOD URL`` signed with ``--key`` (and ``ath`` for ``--token``)."""
    key, algorithm, _ = _signing_key_file(args.key, args.alg)
    if ALGORITHM_KEY_TYPES[algorithm] == "oct":
        raise _Failure("a DPoP proof is signed with a private key, not an HMAC secret")
    if isinstance(key, bytes):
        key = load_pem_private_key(key, password=None)
    token = None if args.token is None else _token(args)
    public = public_jwk(key.public_key(), algorithm, None)
    made = make_proof(key, algorithm, args.method, args.url, token, nonce=args.nonce, jwk=public)
    if args.json:
        _emit(out, ok=True, proof=made, jkt=jwk_thumbprint(public))
    else:
        print(made, file=out)
    return OK


def _signing_key_file(path: str, algorithm: str | None) -> tuple[Any, str, str | None]:
    """A key file's key (in a form :class:`Minter` takes), its algorithm and its JWK ``kid``."""
    material = _key_file(path)
    if isinstance(material, dict):
        if "keys" in material:
            raise _Failure(f"{path} is a key set; give one key")
        algorithm = algorithm or material.get("alg") or _jwk_algorithm(material, path)
        kid = material.get("kid") if isinstance(material.get("kid"), str) else None
        if material.get("kty") == "oct":
            return _secret(material.get("k"), path), algorithm, kid
        try:
            return algorithm_object(algorithm).from_jwk(dict(material)), algorithm, kid
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise _Failure(f"{path} holds no usable key: {exc}") from None
    if not isinstance(material, bytes) or not material.lstrip().startswith(b"-----BEGIN"):
        raise _Failure(f"{path} is neither a JWK nor a PEM key")
    if algorithm is None:
        try:
            private = load_pem_private_key(material, password=None)
        except (ValueError, TypeError) as exc:
            raise _Failure(f"{path} holds no unencrypted private key: {exc}") from None
        algorithm = _jwk_algorithm(
            jwt.get_algorithm_by_name(exporting_algorithm(private)).to_jwk(private, as_dict=True),
            path,
        )
    return material, algorithm, None


def _pem_public_jwk(data: bytes, path: str) -> dict[str, Any]:
    """The public JWK of a PEM private or public key, ``kid`` its thumbprint."""
    try:
        key = load_verifying_key(data)
    except ConfigurationError:
        raise _Failure(f"{path} holds no PEM key (or an encrypted one)") from None
    jwk = public_jwk(key, exporting_algorithm(key), key_thumbprint(key))
    jwk["alg"] = _jwk_algorithm(jwk, path)  # the family's, made exact (ES384, ...)
    return jwk


def _jwk_algorithm(jwk: dict[str, Any], path: str) -> str:
    """The usual algorithm of a JWK without ``alg``, as the key ring picks it."""
    algorithm = jwk_algorithm(jwk)
    if algorithm is None:
        raise _Failure(f"{path}: cannot tell the algorithm of this key; pass --alg")
    return algorithm


def _value(text: str) -> Any:
    """A claim value: JSON when it parses (``true``, ``3``, ``["a"]``), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _duration(text: str) -> int:
    """Whole seconds, written as configuration files write them (``15m``)."""
    try:
        seconds = parse_duration(text, "lifetime")
    except ConfigurationError:
        seconds = 0
    if seconds <= 0 or seconds != int(seconds):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 900, 30s, 15m, 2h or 1d")
    return int(seconds)


# inspect


def inspect(args: argparse.Namespace, out: TextIO) -> int:
    """Print the header and claims of a token without verifying it."""
    token = _token(args)
    header, claims = _peek(token)
    times = _times(claims, time.time())
    if args.json:
        _emit(out, ok=True, verified=False, header=header, claims=claims, times=times)
        return OK
    print("NOT VERIFIED: anyone can write these; `jwt-wsgi verify` checks them.", file=out)
    print(f"header: {json.dumps(header, indent=2, sort_keys=True)}", file=out)
    print(f"claims: {json.dumps(claims, indent=2, sort_keys=True)}", file=out)
    for name, when in times.items():
        print(f"{name}: {when}", file=out)
    return OK


def _times(claims: dict[str, Any], now: float) -> dict[str, str]:
    """The time claims in UTC and relative to ``now``."""
    times = {}
    for name in _TIME_CLAIMS:
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        try:
            moment = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        except (OverflowError, OSError, ValueError):
            moment = "out of range"
        times[name] = f"{moment} ({_relative(value - now)})"
    return times


def _relative(seconds: float) -> str:
    amount = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if amount >= size:
            text = f"{amount / size:.0f} {unit}"
            break
    else:
        text = f"{amount:.0f} s"
    return f"in {text}" if seconds > 0 else f"{text} ago"


# verify


def verify(args: argparse.Namespace, out: TextIO) -> int:
    """Verify a token as the middleware would; name the reason when it fails."""
    token = _token(args)
    sources = [s for s in (args.key, args.jwks) if s is not None]
    if len(sources) > 1:
        raise _Failure("give --key or --jwks, not both")
    if not sources and args.issuer is None:
        raise _Failure("give --key FILE, --jwks URL or --issuer URL")
    options: dict[str, Any] = {
        "algorithms": args.alg,
        "issuer": args.issuer,
        "audience": args.audience or None,
        "leeway": args.leeway,
    }
    if args.key is not None:
        if args.ca_file is not None or args.timeout is not None:
            raise _Failure(
                "--ca-file and --timeout apply to keys fetched by URL (--jwks, --issuer)"
            )
        options["key"] = _verifying_key_file(args.key)
    else:  # fetched: from --jwks, or discovered from --issuer
        options.update(jwks_url=args.jwks, allow_http=args.allow_http, ca_file=args.ca_file,
                       timeout=args.timeout)  # fmt: skip
    authenticator = Authenticator.from_options(**options)
    try:
        result = authenticator.authenticate(token)
    except KeysUnavailable as error:
        # The command's user is the operator: say why the fetch failed (the log has it).
        for provider in authenticator.providers.values():
            failure = getattr(provider.keys, "last_failure", None)
            if failure:
                print(f"the keys could not be fetched: {failure}", file=sys.stderr)
        return _refused(error, args, out)
    except AuthError as error:
        return _refused(error, args, out)
    if args.json:
        _emit(out, ok=True, provider=result.provider, header=result.header, claims=result.claims)
    else:
        print(f"valid ({result.header.get('alg')}, kid {result.header.get('kid')})", file=out)
        print(f"claims: {json.dumps(result.claims, indent=2, sort_keys=True)}", file=out)
        for name, when in _times(result.claims, time.time()).items():
            print(f"{name}: {when}", file=out)
    return OK


def _refused(error: AuthError, args: argparse.Namespace, out: TextIO) -> int:
    """Say why a token was refused: its reason code, status and description."""
    if args.json:
        _emit(out, ok=False, reason=error.reason, status=error.status, error=error.error,
              description=error.description)  # fmt: skip
    else:
        print(f"refused: {error.reason} ({error.status}): {error.description}", file=out)
    return REFUSED


def _verifying_key_file(path: str) -> Any:
    """A key file's content as ``key=`` takes it, private JWK members dropped."""
    material = _key_file(path)
    if not isinstance(material, dict):
        return material
    if "keys" in material:
        members = material["keys"] if isinstance(material["keys"], list) else []
        return {"keys": [public_members(m) if isinstance(m, dict) else m for m in members]}
    return public_members(material)


# jwks


def jwks(args: argparse.Namespace, out: TextIO) -> int:
    """Print the public JWK Set of the given private or public key files."""
    members = []
    for path in args.files:
        material = _key_file(path)
        if isinstance(material, dict):
            for member in material.get("keys", [material]):
                if member.get("kty") == "oct":
                    raise _Failure(f"{path}: an HMAC secret has no public form")
                members.append(public_members(member))
        elif isinstance(material, bytes) and material.lstrip().startswith(b"-----BEGIN"):
            members.append(_pem_public_jwk(material, path))
        else:
            raise _Failure(f"{path} is neither a JWK nor a PEM key")
    print(json.dumps({"keys": members}, indent=None if args.json else 2), file=out)
    return OK


# routes and explain


def routes(args: argparse.Namespace, out: TextIO) -> int:
    """Every route of the app and method, with its protection; fail on the flags named."""
    app, middleware = _load_app(args.app)
    reports, unused = audit.audit_routes(middleware, audit.find_routes(app))
    findings = sum(1 for r in reports if set(args.fail_on) & set(r.flags))
    if "unused-rule" in args.fail_on:
        findings += len(unused)
    if args.json:
        rows = [
            {"pattern": r.route.pattern, "method": r.method, "mode": r.mode, "rule": r.rule,
             "checks": r.checks, "flags": r.flags}
            for r in reports
        ]  # fmt: skip
        _emit(out, ok=not findings, routes=rows, unused_rules=unused)
    else:
        width = max((len(r.route.pattern) for r in reports), default=10)
        for r in reports:
            rule = r.rule or "(default)"
            extra = " ".join(r.checks)
            flags = f"  [{', '.join(r.flags)}]" if r.flags else ""
            line = f"{r.method:7s} {r.route.pattern:{width}s}  {r.mode:8s} {rule} {extra}"
            print(line.rstrip() + flags, file=out)
        for pattern in unused:
            print(f"unused rule: {pattern} matches no route  [unused-rule]", file=out)
    if findings:
        print(
            f"jwt-wsgi routes: {findings} finding(s) of {', '.join(args.fail_on)}", file=sys.stderr
        )
        return REFUSED
    return OK


def explain(args: argparse.Namespace, out: TextIO) -> int:
    """Replay the middleware's decision for a token, method and path."""
    _, middleware = _load_app(args.app)
    token = None if args.token in ("", "none") else _token(args)
    decision = audit.explain(middleware, token, args.method, args.path)
    if args.json:
        _emit(out, ok=decision.reason is None, **vars(decision))
    elif decision.reason is None:
        print(f"{decision.status}: the app is called ({decision.mode}, rule "
              f"{decision.rule or '(default)'})", file=out)  # fmt: skip
    else:
        print(f"{decision.status} {decision.reason}: {decision.description} "
              f"({decision.mode}, rule {decision.rule or '(default)'})", file=out)  # fmt: skip
    return OK if decision.reason is None else REFUSED


def _load_app(target: str) -> tuple[Any, Any]:
    """The object ``module:attribute`` names, and the :class:`JWTMiddleware` in it."""

    sys.path.insert(0, os.getcwd())  # the project the command runs in
    try:
        found = import_object(target, "the app")
    finally:
        sys.path.pop(0)
    if isinstance(found, JWTMiddleware):
        return found.app, found
    inner = getattr(found, "wsgi_app", None)
    if isinstance(inner, JWTMiddleware):
        return found, inner
    raise _Failure(f"{target} is not a JWTMiddleware, nor an app whose wsgi_app is one")


# shared


def _emit(out: TextIO, **fields: Any) -> None:
    """One JSON object on one line, for ``--json``."""
    print(json.dumps(fields), file=out)


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, parsed as strictly as the middleware does, not verified."""
    try:
        return read_unverified(token, len(token))
    except AuthError as error:
        raise _Failure(f"not a JWT: {error.description}", REFUSED) from None


def _token(args: argparse.Namespace) -> str:
    if args.token in (None, "-"):
        text = sys.stdin.read()
    else:
        text = args.token
    token = text.strip()
    for scheme in ("Bearer ", "DPoP "):
        if token.startswith(scheme):
            token = token[len(scheme) :].strip()
    if not token:
        raise _Failure("no token given (an argument, or standard input)", REFUSED)
    return token


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise _Failure(f"cannot read {path}: {exc.strerror}") from None


def _key_file(path: str) -> Any:
    """A key file's content (see :func:`~jwt_wsgi.jose.keys.key_from_file`)."""
    try:
        return key_from_file(_read(path), path)
    except ConfigurationError as exc:
        raise _Failure(str(exc)) from None


def _secret(text: Any, path: str) -> bytes:
    """An ``oct`` JWK's secret, its ``k`` decoded as strictly as a token segment."""
    if not isinstance(text, str) or not text:
        raise _Failure(f"{path}: an oct JWK needs a k member")
    try:
        return b64decode(text)
    except AuthError:
        raise _Failure(f"{path}: k is not base64url") from None


def _algorithm(text: str) -> str:
    if text not in ALGORITHM_KEY_TYPES:
        known = ", ".join(ALGORITHM_KEY_TYPES)
        raise argparse.ArgumentTypeError(f"unknown algorithm {text!r} (one of {known})")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jwt-wsgi",
        description="Make keys, mint, inspect and verify tokens for jwt_wsgi.",
        epilog="Exit codes: 0 success, 1 token refused or unreadable, 2 usage or key error.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run: Any, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(command=run, name=name)
        sub.add_argument("--json", action="store_true", help="print one JSON object")
        return sub

    sub = command("keygen", keygen, "write a new private key to a file; print its public JWK")
    sub.add_argument("--alg", type=_algorithm, default="ES256", help="algorithm (ES256)")
    sub.add_argument("--kid", help="key id (RFC 7638 thumbprint; random for HMAC)")
    sub.add_argument("--format", choices=("jwk", "pem"), default="jwk", help="file format (jwk)")
    sub.add_argument("--out", required=True, help="the private key file, created with mode 0600")
    sub.add_argument("--force", action="store_true", help="replace --out if it exists")

    sub = command("mint", mint, "print a new signed token")
    sub.add_argument("identity", help="the subject (sub)")
    sub.add_argument("--key", required=True, help="private key file (JWK or PEM)")
    sub.add_argument("--alg", type=_algorithm, help="algorithm (the key's alg, or its usual one)")
    sub.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a claim; VALUE is JSON when it parses (repeatable)",
    )
    sub.add_argument("--lifetime", type=_duration, default=900, help="900, 30s, 15m, 2h, 1d (15m)")
    sub.add_argument("--issuer", help="iss")
    sub.add_argument("--audience", action="append", default=[], help="aud (repeatable)")
    sub.add_argument("--kid", help="kid header (the key file's kid)")
    sub.add_argument("--fresh", action="store_true", help="set auth_time to now (a login)")

    sub = command("inspect", inspect, "print a token's header and claims, NOT verified")
    sub.add_argument("token", nargs="?", help="the token, or - (standard input, the default)")

    sub = command("verify", verify, "verify a token as the middleware would")
    sub.add_argument("token", nargs="?", help="the token, or - (standard input, the default)")
    sub.add_argument("--key", help="key file: PEM, JWK or JWK Set")
    sub.add_argument("--jwks", help="JWK Set URL")
    sub.add_argument("--issuer", help="required iss; alone, discovers the keys from it")
    sub.add_argument(
        "--alg",
        type=_algorithm,
        action="append",
        required=True,
        help="an accepted algorithm (repeatable; required)",
    )
    sub.add_argument("--audience", action="append", default=[], help="accepted aud (repeatable)")
    sub.add_argument("--leeway", type=float, default=0.0, help="clock leeway in seconds (0)")
    sub.add_argument("--allow-http", action="store_true", help="http:// key URLs (loopback tests)")
    sub.add_argument("--ca-file", help="PEM CA certificates for the key server (a private CA)")
    sub.add_argument(
        "--timeout", type=float, help="seconds for the key fetch, discovery included (5)"
    )

    flags = ("default", "public-by-default", "shadowed", "unused-rule")
    sub = command("routes", routes, "list the app's routes with their protection")
    sub.add_argument("app", help="module:attribute of the app (or of its JWTMiddleware)")
    sub.add_argument("--fail-on", action="append", default=[], choices=flags,
                     help="exit 1 when a route has this flag (repeatable)")  # fmt: skip

    sub = command("explain", explain, "replay the middleware's decision for a request")
    sub.add_argument("app", help="module:attribute of the app (or of its JWTMiddleware)")
    sub.add_argument("token", help="the token, - (standard input) or none")
    sub.add_argument("method", help="GET, POST...")
    sub.add_argument("path", help="the request path, e.g. /admin/users")

    sub = command("jwks", jwks, "print the public JWK Set of key files")
    sub.add_argument("files", nargs="+", help="private or public key files (JWK or PEM)")

    sub = command("proof", proof, "print a DPoP proof (RFC 9449) for one request")
    sub.add_argument("method", help="the request's method (htm): GET, POST...")
    sub.add_argument("url", help="the request's URL (htu), e.g. https://api.example.com/orders")
    sub.add_argument("--key", required=True, help="the client's private key file (JWK or PEM)")
    sub.add_argument("--alg", type=_algorithm, help="algorithm (the key's alg, or its usual one)")
    sub.add_argument("--token", help="the access token it goes with (ath), or - (standard input)")
    sub.add_argument("--nonce", help="the server's DPoP-Nonce")
    return parser


def run() -> NoReturn:
    """The console script's entry point."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): not an error of ours to report.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = REFUSED
    sys.exit(code)
