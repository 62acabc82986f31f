"""One validation layer for free-form JSON (metadata, generation settings, message lists, notes...).

Everything a client sends as free-form JSON ends up in a PostgreSQL ``jsonb`` column or a text
column, and both refuse some values Python's ``json`` module happily produces: ``NaN``,
``Infinity`` (also what ``1e400`` parses to), lone UTF-16 surrogates (``"\\ud800"``, which cannot be
encoded as UTF-8), and NUL characters. Very deep values make every recursive consumer (json.dumps,
the renderer, the database) fail with a RecursionError. Each of those used to be a 500; here they
are one ``ValidationError`` that names the path inside the value, e.g.
``metadata.tags[3]: NaN is not allowed``.

Two entry points share one walker: :func:`validate_free_json` (a free-form field: all checks,
NUL included, size-capped) and :func:`json_body_problem` (a whole request body, used by the API's
JSON parser: depth, numbers and Unicode only, since a NUL in a plain text field gets that field's
own message). The walker is iterative, so a deep value cannot crash the check itself.
"""

from __future__ import annotations

import json
import math

from django.core.exceptions import ValidationError

DEFAULT_MAX_DEPTH = 20
DEFAULT_MAX_BYTES = 64_000


def has_lone_surrogate(text: str) -> bool:
    """True if ``text`` holds a UTF-16 surrogate code point (never valid in UTF-8 text)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_JSON_TYPES = (type(None), bool, int, float, str, dict, list)  # bool before int: it is an int subclass


def _path(where: str, trail) -> str:
    """``trail`` is a linked list ``(parent_trail, key)`` from the root: rendered only for a message."""
    keys = []
    while trail is not None:
        trail, key = trail
        keys.append(key)
    path = where
    for key in reversed(keys):
        path = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else str(key))
    return path or "value"


def _string_problem(text: str, *, check_nul: bool) -> str | None:
    if has_lone_surrogate(text):
        return "invalid Unicode (a lone surrogate such as \\ud800) is not allowed"
    if check_nul and "\x00" in text:
        return "a NUL character (\\x00) is not allowed"
    return None


def _number_problem(value: float) -> str | None:
    if math.isnan(value):
        return "NaN is not allowed"
    if math.isinf(value):
        return "Infinity is not allowed (numbers must be finite, e.g. 1e400 is too large)"
    return None


def _walk(value, *, where: str, max_depth: int, check_nul: bool) -> str | None:
    """The first problem found as ``"<path>: <message>"``, or None.

    Iterative (an explicit stack), so a deep value cannot crash the check itself; the path of a node
    is kept as a linked list of keys and turned into text only for the message (bodies are checked
    on the hot path)."""
    stack = [(value, 1, None)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth, trail = pop()
        kind = type(item)
        if kind not in _JSON_TYPES:  # a subclass (e.g. a str subclass) counts as its JSON type
            kind = next((t for t in _JSON_TYPES if isinstance(item, t)), kind)
        if kind is str:
            problem = _string_problem(item, check_nul=check_nul)
        elif kind is float:
            problem = _number_problem(item)
        elif kind is dict or kind is list:
            problem = f"nested more than {max_depth} levels deep" if depth > max_depth else None
        elif item is None or kind is bool or kind is int:
            continue
        else:
            problem = f"{kind.__name__} is not a JSON value"
        if problem:
            return f"{_path(where, trail)}: {problem}"
        if kind is dict:
            for key, child in reversed(item.items()):  # pushed last to first: checked in document order
                if not isinstance(key, str):
                    return f"{_path(where, trail)}: object keys must be strings"
                key_problem = _string_problem(key, check_nul=check_nul)
                if key_problem:
                    return f"{_path(where, trail)}: a key: {key_problem}"
                push((child, depth + 1, (trail, key)))
        elif kind is list:
            for i in range(len(item) - 1, -1, -1):
                push((item[i], depth + 1, (trail, i)))
    return None


def validate_free_json(value, *, where: str, max_depth: int = DEFAULT_MAX_DEPTH, max_bytes: int = DEFAULT_MAX_BYTES):
    """Check one free-form JSON value before it is stored; returns ``value`` unchanged.

    Refused, with a ``ValidationError`` whose message starts with the path inside the value
    (``where`` is its root, e.g. ``"metadata"`` → ``metadata.tags[3]: NaN is not allowed``):
    nesting deeper than ``max_depth`` levels (the value itself is level 1), non-finite numbers
    (NaN, ±Infinity, or a literal such as 1e400 that overflows to infinity), strings or keys with a
    lone surrogate or a NUL character, non-string keys, non-JSON types, and a value whose compact
    UTF-8 JSON encoding is over ``max_bytes``.
    """
    problem = _walk(value, where=where, max_depth=max_depth, check_nul=True)
    if problem:
        raise ValidationError(problem, code="invalid_json")
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > max_bytes:
        raise ValidationError(f"{where}: {size} bytes of JSON, more than the {max_bytes}-byte limit", code="too_large")
    return value


def json_body_problem(value, *, max_depth: int) -> str | None:
    """What makes a parsed request body unstorable (depth, numbers, Unicode), or None. NUL is left
    to the fields, which name it in their own messages."""
    return _walk(value, where="", max_depth=max_depth, check_nul=False)
