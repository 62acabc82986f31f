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


def _path(parent: str, key) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


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


def _item_problem(value, depth: int, max_depth: int, check_nul: bool):
    """The problem of one value itself (not its children), or None; children are walked by the caller."""
    if isinstance(value, (dict, list)) and depth > max_depth:
        return f"nested more than {max_depth} levels deep"
    if isinstance(value, str):
        return _string_problem(value, check_nul=check_nul)
    if isinstance(value, float):
        return _number_problem(value)
    if value is None or isinstance(value, (bool, int, dict, list)):
        return None
    return f"{type(value).__name__} is not a JSON value"


def _walk(value, *, where: str, max_depth: int, check_nul: bool) -> str | None:
    """The first problem found as ``"<path>: <message>"``, or None. Iterative (explicit stack)."""
    stack = [(value, where, 1)]
    while stack:
        item, path, depth = stack.pop()
        problem = _item_problem(item, depth, max_depth, check_nul)
        if problem:
            return f"{path or 'value'}: {problem}"
        if isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                if not isinstance(key, str):
                    return f"{path or 'value'}: object keys must be strings"
                key_problem = _string_problem(key, check_nul=check_nul)
                if key_problem:
                    return f"{path or 'value'}: a key: {key_problem}"
                stack.append((child, _path(path, key), depth + 1))
        elif isinstance(item, list):
            stack.extend((child, _path(path, i), depth + 1) for i, child in reversed(list(enumerate(item))))
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
