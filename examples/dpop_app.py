"""DPoP from a browser: a key made with WebCrypto, a token bound to it, a proof per request.

The page (served at ``/``) makes a non-extractable P-256 key with WebCrypto,
signs in at ``/token`` with a DPoP proof and gets an access token bound to
its key (``cnf.jkt``), then calls ``/api/me`` with ``Authorization: DPoP``
and a fresh proof each time. The server asks for nonces: the first proof of
each kind is answered ``use_dpop_nonce`` with a ``DPoP-Nonce`` header, and
the page retries with it. A replayed proof, or the token sent as a plain
bearer token, is refused. Stolen from the page's storage, the token alone
is useless: the private key never leaves WebCrypto.

Run it with ``python examples/dpop_app.py`` and open the printed URL.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from jwt_wsgi import (
    DPoP,
    DPoPNonces,
    JWTMiddleware,
    MemoryRevocationStore,
    Minter,
    Rule,
    ServiceUnavailable,
    get_claims,
)
from jwt_wsgi.errors import DPoPNonceRequired, InvalidDPoPProof, KeyStoreUnavailable

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

USERS = {"alice": "wonderland", "bob": "builder"}  # Change this!


def create_app(base_url: str, *, clock: Callable[[], float] = time.time) -> WSGIApplication:
    """The site for clients that address it as ``base_url`` (what ``htu`` must name)."""
    secret = secrets.token_bytes(32)
    minter = Minter(secret, expires_in=300, clock=clock)
    store = MemoryRevocationStore(clock=clock)  # revocation, and proof ids (one process)
    proofs = DPoP(base_url, nonces=DPoPNonces.generate(clock=clock), replay=store)

    @Request.application
    def site(request: Request) -> Response:
        if request.path == "/":
            return Response(PAGE, mimetype="text/html")
        if request.path == "/token" and request.method == "POST":
            return token_endpoint(request)
        if request.path == "/api/me":
            claims = get_claims(request.environ)
            assert claims is not None  # the default rule requires a token here
            return Response(
                json.dumps({"sub": claims["sub"], "jkt": claims["cnf"]["jkt"]}),
                mimetype="application/json",
            )
        return Response("not found", 404)

    def token_endpoint(request: Request) -> Response:
        """A token endpoint in a few lines (RFC 9449 section 5): the proof's key binds the token."""
        try:
            proof = proofs.verify(request.environ, store, now=clock())
        except DPoPNonceRequired as error:
            return token_error("use_dpop_nonce", error.description, error.dpop_nonce)
        except InvalidDPoPProof as error:
            return token_error("invalid_dpop_proof", error.description)
        except ServiceUnavailable as error:  # the replay store is down: 503, Retry-After
            return Response.from_app(error, request.environ)
        form = request.get_json(silent=True) or {}
        user = form.get("username")
        if not isinstance(user, str) or USERS.get(user) != form.get("password"):
            return token_error("invalid_grant", "bad username or password")
        try:
            token = minter.mint(user, {"cnf": {"jkt": proof.jkt}})
        except KeyStoreUnavailable:  # a shared key store, unreachable: 503 as well
            return Response.from_app(ServiceUnavailable(), request.environ)
        body = {"access_token": token, "token_type": "DPoP", "expires_in": 300}
        response = Response(json.dumps(body), mimetype="application/json")
        if proof.nonce is not None:
            response.headers["DPoP-Nonce"] = proof.nonce
        return response

    return JWTMiddleware(
        site,
        clock=clock,
        key=secret,
        algorithms=["HS256"],
        dpop="required",
        dpop_proofs=proofs,
        revocation=store,
        rules=[Rule("/", ["GET"], auth="public"), Rule("/token", ["POST"], auth="public")],
    )


def token_error(error: str, description: str, nonce: str | None = None) -> Response:
    """An OAuth token-endpoint error: 400 with a JSON body (and a nonce to use)."""
    response = Response(
        json.dumps({"error": error, "error_description": description}),
        400,
        mimetype="application/json",
    )
    if nonce is not None:
        response.headers["DPoP-Nonce"] = nonce
    return response


PAGE = """<!doctype html>
<meta charset="utf-8">
<title>DPoP from a browser</title>
<h1>DPoP from a browser</h1>
<button id="run">Sign in as alice with a DPoP key</button>
<pre id="out"></pre>
<script>
const enc = new TextEncoder();
const b64u = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/[+]/g, "-").replace(/[/]/g, "_").replace(/=+$/, "");
const b64json = (value) => b64u(enc.encode(JSON.stringify(value)));
const sha256 = (text) => crypto.subtle.digest("SHA-256", enc.encode(text));

async function makeKey() {
  const pair = await crypto.subtle.generateKey(
    {name: "ECDSA", namedCurve: "P-256"}, false, ["sign", "verify"]);
  const {kty, crv, x, y} = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const jwk = {kty, crv, x, y};
  // RFC 7638: the required members, in lexicographic order, no whitespace.
  const jkt = b64u(await sha256(JSON.stringify({crv, kty, x, y})));
  return {pair, jwk, jkt};
}

async function proof(key, method, url, token, nonce) {
  const claims = {jti: crypto.randomUUID(), htm: method, htu: url,
                  iat: Math.floor(Date.now() / 1000)};
  if (token) claims.ath = b64u(await sha256(token));
  if (nonce) claims.nonce = nonce;
  const input = b64json({typ: "dpop+jwt", alg: "ES256", jwk: key.jwk}) + "." + b64json(claims);
  // WebCrypto's ECDSA signature is r || s, the form JWS uses.
  const signature = await crypto.subtle.sign(
    {name: "ECDSA", hash: "SHA-256"}, key.pair.privateKey, enc.encode(input));
  return input + "." + b64u(signature);
}

let nonce = null;

// One request with a fresh proof; once more with the server's nonce if it asks.
async function send(key, method, path, token, body) {
  const url = location.origin + path;
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = {"DPoP": await proof(key, method, url, token, nonce)};
    if (token) headers["Authorization"] = "DPoP " + token;
    if (body) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {method, headers, body: body && JSON.stringify(body)});
    if (response.headers.get("DPoP-Nonce")) nonce = response.headers.get("DPoP-Nonce");
    const data = await response.json();
    if (data.error !== "use_dpop_nonce") return {status: response.status, data, headers};
  }
  throw new Error("the server kept asking for a nonce");
}

async function dpopDemo() {
  const key = await makeKey();
  nonce = null;
  const signIn = await send(key, "POST", "/token", null,
                            {username: "alice", password: "wonderland"});
  const token = signIn.data.access_token;
  const me = await send(key, "GET", "/api/me", token);
  // An attacker replaying what it saw: the same proof again.
  const replay = await fetch("/api/me", {headers: me.headers});
  // The token alone, as a bearer token.
  const bearer = await fetch("/api/me", {headers: {"Authorization": "Bearer " + token}});
  return {
    jkt: key.jkt, tokenStatus: signIn.status, tokenType: signIn.data.token_type,
    meStatus: me.status, me: me.data,
    replayStatus: replay.status, replay: await replay.json(),
    replayChallenge: replay.headers.get("WWW-Authenticate"),
    bearerStatus: bearer.status, bearer: await bearer.json(),
  };
}

document.getElementById("run").onclick = async () => {
  document.getElementById("out").textContent = JSON.stringify(await dpopDemo(), null, 2);
};
</script>
"""

if __name__ == "__main__":
    from demo_server import serve_built

    serve_built(create_app, "DPoP from a browser: open the URL and press the button")
