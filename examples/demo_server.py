"""Serve an example on 127.0.0.1 with Werkzeug's server and print how to call it.

Shared by the examples' ``__main__`` blocks. ``PORT`` picks the port; by
default the system chooses a free one, so ``make demo`` never collides.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from werkzeug.serving import make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

CURL_LINES = """\
Log in as admin, then call /protected (200):
  TOKEN=$(curl -s -X POST {url}/login -H 'Content-Type: application/json' \\
    -d '{{"username": "admin", "password": "admin"}}' \\
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["jwt"])')
  curl -i {url}/protected -H "Authorization: Bearer $TOKEN"

Log in as another user, then call /protected (403):
  TOKEN=$(curl -s -X POST {url}/login -H 'Content-Type: application/json' \\
    -d '{{"username": "test", "password": "test"}}' \\
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["jwt"])')
  curl -i {url}/protected -H "Authorization: Bearer $TOKEN"

No token at all (401, with an RFC 6750 challenge):
  curl -i {url}/protected
"""


def serve(app: WSGIApplication, title: str, *, login: bool = True) -> None:
    """Serve ``app`` until interrupted, printing the URL and curl lines first."""
    serve_built(lambda url: app, title, login=login)


def serve_built(
    build: Callable[[str], WSGIApplication], title: str, *, login: bool = False
) -> None:
    """Serve the app ``build(url)`` makes once the port, hence the URL, is known."""
    built: list[WSGIApplication] = []
    server = make_server(
        "127.0.0.1",
        int(os.environ.get("PORT", "0")),
        lambda environ, start_response: built[0](environ, start_response),
        threaded=True,
    )
    url = f"http://127.0.0.1:{server.server_port}"
    built.append(build(url))
    print(f"{title}\nServing on {url}  (Ctrl-C to stop)\n", flush=True)
    if login:
        print(CURL_LINES.format(url=url), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
