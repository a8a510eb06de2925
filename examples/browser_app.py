"""A browser single-page app: tokens in HttpOnly cookies, CSRF headers, silent refresh, logout.

The page (served at ``/``) logs in with a form; the server answers with the
token pair in ``HttpOnly`` cookies, which JavaScript cannot read, plus the two
readable CSRF cookies. The page calls the API with the cookies and, on
state-changing requests, the ``X-CSRF-Token`` header; when the access token
has expired (401) it refreshes once, silently, and retries. Logout revokes
the login and clears the cookies. Another site can make the browser send the
cookies, but cannot read the CSRF value, so its requests are refused (403).

Run it with ``python examples/browser_app.py`` and open the printed URL.
``ACCESS_SECONDS`` sets the access token's lifetime (300), ``REFRESH_GRACE``
the seconds a used refresh token may come back from another tab (10).
"""

from __future__ import annotations

import os
import secrets
import threading
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from jwt_wsgi import (
    Cookies,
    JWTMiddleware,
    LogoutEndpoint,
    MemoryRevocationStore,
    Minter,
    RefreshEndpoint,
    Rule,
    get_claims,
)

SECRET = os.environ.get("JWT_SECRET_KEY") or secrets.token_urlsafe(48)
ACCESS_SECONDS = float(os.environ.get("ACCESS_SECONDS", "300"))
REFRESH_GRACE = float(os.environ.get("REFRESH_GRACE", "10"))
USERS = {"alice": "wonderland", "bob": "builder"}  # Change this!

# Browsers treat http://127.0.0.1 and localhost as secure, so Secure cookies
# work in development too; Strict keeps them off every cross-site request.
COOKIES = Cookies(samesite="Strict")
minter = Minter(SECRET, algorithm="HS256", expires_in=ACCESS_SECONDS)
store = MemoryRevocationStore()
notes: dict[str, list[str]] = {}
notes_lock = threading.Lock()

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Notes</title></head>
<body>
<h1>Notes</h1>
<form id="login">
  <input id="username" autocomplete="username" placeholder="user">
  <input id="password" type="password" autocomplete="current-password" placeholder="password">
  <button id="sign-in" type="submit">Sign in</button>
</form>
<div id="app" hidden>
  <p id="who"></p>
  <form id="add"><input id="note"><button id="save" type="submit">Add</button></form>
  <button id="reload">Reload</button>
  <button id="logout">Log out</button>
  <ul id="notes"></ul>
</div>
<p id="status"></p>
<script>
function cookie(name) {
  const found = document.cookie.split("; ").find(c => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.split("=")[1]) : "";
}
let refreshes = 0;
async function refresh() {
  const r = await fetch("/auth/refresh", {method: "POST", credentials: "same-origin",
    headers: {"X-CSRF-Token": cookie("csrf_refresh_token")}});
  if (r.ok) { refreshes += 1; document.body.dataset.refreshes = refreshes; }
  return r.ok;
}
// Calls the API; on 401 refreshes once, silently, and tries again.
async function api(path, options = {}) {
  const call = () => fetch(path, {...options, credentials: "same-origin",
    headers: {...(options.headers || {}), "X-CSRF-Token": cookie("csrf_access_token")}});
  let r = await call();
  if (r.status === 401 && await refresh()) r = await call();
  if (r.status === 401) show(false);
  return r;
}
function show(signedIn, user) {
  document.getElementById("login").hidden = signedIn;
  document.getElementById("app").hidden = !signedIn;
  document.getElementById("who").textContent = signedIn ? "Signed in as " + user : "";
  document.body.dataset.state = signedIn ? "in" : "out";
}
async function load() {
  const r = await api("/api/notes");
  if (!r.ok) return;
  const body = await r.json();
  show(true, body.user);
  const list = document.getElementById("notes");
  list.replaceChildren(...body.notes.map(text => {
    const li = document.createElement("li"); li.textContent = text; return li; }));
  document.body.dataset.loaded = String(Date.now());
}
document.getElementById("login").onsubmit = async (event) => {
  event.preventDefault();
  const r = await fetch("/auth/login", {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username: document.getElementById("username").value,
                          password: document.getElementById("password").value})});
  document.getElementById("status").textContent = r.ok ? "" : "Wrong user or password";
  if (r.ok) await load();
};
document.getElementById("add").onsubmit = async (event) => {
  event.preventDefault();
  const r = await api("/api/notes", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({text: document.getElementById("note").value})});
  document.getElementById("status").textContent = r.ok ? "Saved" : "Refused: " + r.status;
  await load();
};
document.getElementById("reload").onclick = load;
document.getElementById("logout").onclick = async () => {
  await api("/auth/logout", {method: "POST"});
  show(false);
};
load();
</script>
</body></html>
"""

app = Flask(__name__)


@app.get("/")
def page() -> Any:
    return PAGE, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


@app.post("/auth/login")
def login() -> Any:
    body = request.get_json(silent=True) or {}
    username = body.get("username")
    if not isinstance(username, str) or USERS.get(username) != body.get("password"):
        return jsonify(msg="Bad username or password"), 401
    pair = minter.mint_pair(username)
    response = jsonify(user=username)
    for name, value, params in COOKIES.params(
        pair.access_token, pair.refresh_token, now=minter.clock()
    ):
        response.set_cookie(name, value, **params)
    return response


@app.get("/api/notes")
def list_notes() -> Any:
    user = get_claims(request.environ)["sub"]  # type: ignore[index]
    with notes_lock:
        return jsonify(user=user, notes=list(notes.get(user, [])))


@app.post("/api/notes")
def add_note() -> Any:
    user = get_claims(request.environ)["sub"]  # type: ignore[index]
    # force=True: JSON whatever the Content-Type, as many APIs accept it. Only
    # the CSRF check keeps a cross-site text/plain POST out.
    body = request.get_json(force=True, silent=True)
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text or len(text) > 200:
        return jsonify(msg="a note is 1 to 200 characters"), 400
    with notes_lock:
        notes.setdefault(user, []).append(text)
    return jsonify(saved=True), 201


# Logout behind the middleware (it needs the verified token); refresh beside it.
protected = JWTMiddleware(
    DispatcherMiddleware(
        app.wsgi_app,
        {"/auth/logout": LogoutEndpoint(store=store, cookies=COOKIES, minter=minter)},
    ),
    key=SECRET,
    algorithms=["HS256"],
    locations=["cookie"],
    cookies=COOKIES,
    revocation=store,
    rules=[Rule("/", ["GET"], auth="public"), Rule("/auth/login", ["POST"], auth="public")],
)
application = DispatcherMiddleware(
    protected,
    {
        "/auth/refresh": RefreshEndpoint(
            minter, store=store, cookies=COOKIES, respond="cookies", grace=REFRESH_GRACE
        )
    },
)

if __name__ == "__main__":
    from demo_server import serve

    serve(
        application, title="a browser app on cookies: open the URL, sign in as alice", login=False
    )
