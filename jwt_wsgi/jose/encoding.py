"""The encodings of a compact JWS: base64url, strictly, and UTF-8 JSON objects, strictly.

The parse is stricter than PyJWT on purpose (RFC 7515, RFC 7519, RFC 8725):
base64url without padding and with canonical trailing bits, UTF-8 JSON only
(no BOM, no UTF-16), no duplicate member names, no ``NaN``. One token has one
spelling, which the verified-token cache and a denylist keyed on the string
rely on.
"""

from __future__ import annotations

import binascii
import json
import json.scanner
from collections.abc import Callable
from typing import Any

from ..errors import MalformedToken


def copy_json(value: Any) -> Any:
    """Copy a JSON value deeply: in JSON only dicts and lists are containers.

    Several times faster than ``copy.deepcopy``, which matters because every
    request, cached or not, gets its own copy.
    """
    if type(value) is dict:
        copy = value.copy()
        for name, item in value.items():
            if type(item) is dict or type(item) is list:
                copy[name] = copy_json(item)
        return copy
    if type(value) is list:
        return [copy_json(item) for item in value]
    return value


def b64encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2): segments, thumbprints, hashes."""
    return binascii.b2a_base64(data, newline=False).decode("ascii").rstrip("=").translate(_URLSAFE)


_URLSAFE = str.maketrans("+/", "-_")


def b64decode(segment: str) -> bytes:
    """Decode one base64url segment, refusing padding and non-canonical forms.

    PyJWT accepts ``=`` padding, so one token has several spellings. Refusing
    padding and stray trailing bits keeps "one token, one string", which the
    verified-token cache and any denylist keyed on the string rely on.
    """
    tail = len(segment) % 4
    if tail == 1 or "=" in segment or "+" in segment or "/" in segment:
        raise MalformedToken("the token is not valid base64url")
    standard = segment.replace("-", "+").replace("_", "/") + _PADDING[tail]
    try:
        data = binascii.a2b_base64(standard, strict_mode=True)
    except (binascii.Error, ValueError):
        raise MalformedToken("the token is not valid base64url") from None
    if tail and _ALPHABET_INDEX[segment[-1]] & _SPARE_BITS[tail]:
        raise MalformedToken("the token is not valid base64url")
    return data


_ALPHABET_INDEX = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
_PADDING = ("", "", "==", "=")
# The low bits of the last character that carry no data, which must be zero.
_SPARE_BITS = (0, 0, 0b1111, 0b11)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# A decoder is configured once; decoding keeps no state in it.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
# The decoder's own scanner (C), without decode()'s whitespace handling. The
# stub types make_scanner's argument as itself; it takes the decoder.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse UTF-8 JSON into a dict, refusing duplicates, BOMs and non-objects.

    The usual compact text goes straight to the decoder's C scanner; text with
    whitespace around it (valid JSON, rare in tokens) takes the full decoder.
    """
    try:
        text = data.decode("utf-8")
        try:
            value, end = _SCAN(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):
            value = _DECODER.decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedToken(f"the token {what} is not a UTF-8 JSON object") from None
    if not isinstance(value, dict):
        raise MalformedToken(f"the token {what} is not a JSON object")
    return value
