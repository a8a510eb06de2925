"""Path canonicalisation: the one place that decides what path a request is for.

Auth filters in front of routers are bypassed when the filter and the router
disagree on the path (``//admin``, ``/public/../admin``, ``/%2fadmin``,
``/..;/admin``). jwt_wsgi removes the disagreement instead of guessing the
router's view: the rules match the canonical path, and the middleware writes
that same path back into ``PATH_INFO`` before calling the app, so the app
routes exactly what was checked.

The canonical form of ``PATH_INFO``:

* dot segments (``.`` and ``..``) are resolved as RFC 3986 section 5.2.4 does,
  never climbing above the root;
* runs of slashes are merged into one;
* a trailing slash is kept (``/admin/`` stays ``/admin/``; Werkzeug-style
  rules match both spellings);
* everything else, including ``;`` and ``%`` inside segments, is left as is:
  ``PATH_INFO`` is already percent-decoded, and decoding twice would open
  another bypass.

Refused with 400 ``invalid_request`` (:class:`~jwt_wsgi.errors.UnsafePath`)
because no single reading is safe:
bytes that are not UTF-8, control characters and NUL, a backslash (some
servers and frameworks treat it as a separator), a dot segment carrying
parameters (``..;x``), and, when the server reports the raw request target
(``RAW_URI`` or ``REQUEST_URI``), an encoded slash or backslash (``%2F``,
``%5C``) in it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from .errors import UnsafePath

_ENCODED_SEPARATOR = re.compile(r"%(?:2f|5c)", re.IGNORECASE)
_DOT_WITH_PARAMS = re.compile(r"\.\.?;")


def canonical_path(
    path: str, script_name: str = "", raw_target: str = "", check_target: bool = True
) -> tuple[str, str]:
    """Return ``(wsgi_path, text_path)`` for a request, or raise :class:`UnsafePath`.

    ``path`` and ``script_name`` are the request's ``PATH_INFO`` and
    ``SCRIPT_NAME``; ``raw_target`` is the raw request target the server
    reports (``RAW_URI``/``REQUEST_URI``; ``""`` when it reports none).
    ``wsgi_path`` is the canonical path in WSGI's latin-1 form, to store in
    ``PATH_INFO``; ``text_path`` is the same path as Unicode, for matching.
    With ``check_target``, the raw target must agree with ``SCRIPT_NAME`` +
    ``PATH_INFO`` (see :func:`check_request_target`).
    """
    if check_target and raw_target and raw_target != script_name + path:
        check_request_target(raw_target, script_name, path)
    path = path or "/"
    # The common case, a plain ASCII path with no dot segments, empty
    # segments or separators to worry about, costs a few scans.
    if (
        path.isascii()
        and path.isprintable()
        and path.startswith("/")
        and "//" not in path
        and "/." not in path
        and "\\" not in path
    ):
        return path, path
    try:
        text = path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise UnsafePath("the request path is not valid UTF-8") from None
    if not text.isprintable():
        raise UnsafePath("the request path contains control characters")
    if "\\" in text:
        raise UnsafePath("the request path contains a backslash")
    canonical = resolve(text)
    return canonical.encode("utf-8").decode("latin-1"), canonical


def check_request_target(raw_target: str, script_name: str, path_info: str) -> None:
    """Refuse a request whose raw target and ``SCRIPT_NAME + PATH_INFO`` disagree.

    Servers percent-decode the target into ``PATH_INFO``; an encoded slash or
    backslash becomes a real one there, which is ambiguous, so it is refused.
    Otherwise the decoded target, canonicalised, must equal the canonical
    ``SCRIPT_NAME + PATH_INFO``, or be its suffix (a proxy fix-up may have
    prepended a prefix to ``SCRIPT_NAME``). A server or middleware that
    rewrites paths otherwise needs ``check_request_target=False``.
    """
    target = raw_target.split("?", 1)[0]
    if target == script_name + path_info or target == "*":
        return  # the common case: nothing was decoded or rewritten
    if "://" in target:
        target = urlsplit(target).path  # absolute-form request target
    if "%" in target:
        if _ENCODED_SEPARATOR.search(target):
            raise UnsafePath("the request path contains an encoded slash or backslash")
        target = unquote(target, encoding="latin-1")
    if not resolve(script_name + path_info).endswith(resolve(target)):
        raise UnsafePath("the request path does not match the request target")


def resolve(path: str) -> str:
    """Resolve dot segments and merge slashes; keep a trailing slash."""
    output: list[str] = []
    segments = path.split("/")
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if output:
                output.pop()
            continue
        if _DOT_WITH_PARAMS.match(segment):
            raise UnsafePath("the request path contains a dot segment with parameters")
        output.append(segment)
    trailing = segments[-1] in ("", ".", "..") and bool(output)
    return "/" + "/".join(output) + ("/" if trailing else "")
