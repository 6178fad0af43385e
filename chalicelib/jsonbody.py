"""Strict JSON decoding of what strangers send (request bodies, cursors), with the API's input limits.

`json.loads` recurses once per nesting level, so ten thousand `[` raise RecursionError
(a 500 if uncaught) instead of ValueError, and a few hundred levels parse but cannot be
rendered back (pydantic stops serialising deeper values); it also accepts NaN and Infinity (not JSON), turns
`1e400` into infinity, and keeps lone UTF-16 surrogates (`"\\ud800"`) that no UTF-8
encoder, DynamoDB's included, can store. `loads` refuses all of these with
`InvalidJson`, which callers turn into a 400.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32

# A \uD800-\uDFFF escape: only then can a parsed string hold a surrogate (raw UTF-8 cannot encode one).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


_CONTAINERS = (dict, list)  # what json.loads builds; exact types, checked with `type(x) in` for speed


class InvalidJson(ValueError):
    """The text is not JSON this API accepts; the message says why, for the 400."""


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting of arrays and objects in a parsed value (a scalar is 0, `[]` is 1), level by level without
    recursion; stops once past `limit` (the answer is then only "deeper than the limit")."""
    level = 0
    frontier = [value] if type(value) in _CONTAINERS else []
    while frontier and level <= limit:
        level += 1
        frontier = [
            child
            for node in frontier
            for child in (node.values() if type(node) is dict else node)
            if type(child) in _CONTAINERS
        ]
    return level


def _no_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not JSON.")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson(f"The number {text[:20]} is too large.")
    return value


def loads(raw: bytes | str) -> Any:
    """Parse `raw`; InvalidJson when it is not JSON, nests deeper than MAX_DEPTH, or holds NaN,
    Infinity, an overflowing number or a lone surrogate."""
    data = raw.encode() if isinstance(raw, str) else raw
    too_deep = InvalidJson(f"The body is nested deeper than {MAX_DEPTH} levels.")
    try:
        value = json.loads(data.decode("utf-8-sig"), parse_constant=_no_constant, parse_float=_finite)
    except InvalidJson:
        raise
    except RecursionError:  # the C parser's own limit (about a thousand levels): too deep either way
        raise too_deep from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidJson("The body is not valid JSON.") from None
    if depth(value) > MAX_DEPTH:
        raise too_deep
    if _SURROGATE_ESCAPE.search(data):
        try:
            json.dumps(value, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise InvalidJson("The body holds an unpaired UTF-16 surrogate (\\ud800-\\udfff).") from None
    return value
