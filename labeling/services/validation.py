"""Validation of submitted answers, shared by the API and direct service callers.

Each ``clean_*`` returns the canonical body (what is stored and hashed for idempotency) or raises
``ValidationError`` with messages keyed by field, e.g. ``{"ranking": ["completion 17 is not part
of this task"]}``. Texts with a NUL character (``\x00``) are refused: PostgreSQL cannot store
one in a text column. Canonical means: tied ids sorted inside their group, ratings sorted by
completion, flags de-duplicated and sorted, texts stripped.
"""

from collections import Counter
from collections.abc import Sequence

from django.core.exceptions import ValidationError

from labeling.models import RATING_FLAGS, Task

DEMONSTRATION_MAX_CHARS = 50_000
NOTE_MAX_CHARS = 5_000
LIKERT_MIN, LIKERT_MAX = 1, 7


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def has_nul(value) -> bool:
    """True if a string anywhere in ``value`` (dict keys included) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_nul(v) for v in value)
    return False


NUL_MESSAGE = "contains a NUL character (\\x00), which cannot be stored: remove it"


def _reject_other_kind(data: dict, keys: Sequence[str], kind: str) -> dict[str, list[str]]:
    return {k: [f"not expected for a {kind} task"] for k in keys if k in data}


def clean_demonstration(data: dict) -> dict:
    """``{"text": str}`` → ``{"kind": "demonstration", "text": stripped}``."""
    errors = _reject_other_kind(data, ("ranking", "ratings", "none_acceptable"), "demonstration")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        errors["text"] = ["write the demonstration: a non-empty text is required"]
    elif len(text) > DEMONSTRATION_MAX_CHARS:
        errors["text"] = [f"at most {DEMONSTRATION_MAX_CHARS} characters"]
    elif has_nul(text):
        errors["text"] = [f"the text {NUL_MESSAGE}"]
    if errors:
        raise ValidationError(errors)
    return {"kind": Task.Kind.DEMONSTRATION, "text": text.strip()}


def _ranking_errors(groups, allowed: set[int]) -> list[str]:
    if not isinstance(groups, list) or not groups:
        return ["a non-empty list of groups of completion ids, best first, e.g. [[3], [1, 4], [2]]"]
    if any(not isinstance(g, list) or not g or not all(_is_int(i) for i in g) for g in groups):
        return ["every group must be a non-empty list of completion ids"]
    seen = Counter(i for g in groups for i in g)
    errors = [f"completion {i} is not part of this task" for i in sorted(seen) if i not in allowed]
    errors += [f"completion {i} appears more than once" for i in sorted(seen) if seen[i] > 1]
    missing = sorted(allowed - set(seen))
    if missing:
        errors.append(f"completion{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} missing from the ranking")
    return errors


def _clean_rating(rating, allowed: set[int]) -> tuple[dict | None, list[str]]:
    if not isinstance(rating, dict) or not _is_int(rating.get("completion")):
        return None, ["each rating needs an integer 'completion'"]
    cid = rating["completion"]
    if cid not in allowed:
        return None, [f"completion {cid} is not part of this task"]
    errors = []
    unknown_keys = sorted(set(rating) - {"completion", "likert", "flags", "note"})
    if unknown_keys:
        errors.append(f"rating of completion {cid}: unknown field {unknown_keys[0]!r}")
    likert = rating.get("likert")
    if not _is_int(likert) or not LIKERT_MIN <= likert <= LIKERT_MAX:
        errors.append(f"rating of completion {cid}: likert must be an integer from {LIKERT_MIN} to {LIKERT_MAX}")
    flags = rating.get("flags") or []
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        errors.append(f"rating of completion {cid}: flags must be a list of names")
        flags = []
    errors += [f"rating of completion {cid}: unknown flag {f!r}" for f in flags if f not in RATING_FLAGS]
    note = rating.get("note") or ""
    if not isinstance(note, str) or len(note) > NOTE_MAX_CHARS:
        errors.append(f"rating of completion {cid}: note must be text of at most {NOTE_MAX_CHARS} characters")
        note = ""
    elif has_nul(note):
        errors.append(f"rating of completion {cid}: the note {NUL_MESSAGE}")
        note = ""
    clean = {"completion": cid, "likert": likert, "flags": sorted(set(flags)), "note": note.strip()}
    return clean, errors


def _ratings_errors(ratings, allowed: set[int]) -> tuple[list[dict], list[str]]:
    if ratings is None:
        return [], []
    if not isinstance(ratings, list):
        return [], ["a list of {completion, likert, flags, note}"]
    cleaned, errors = [], []
    for rating in ratings:
        clean, problems = _clean_rating(rating, allowed)
        errors += problems
        if clean is not None:
            cleaned.append(clean)
    twice = sorted(cid for cid, n in Counter(r["completion"] for r in cleaned).items() if n > 1)
    errors += [f"completion {cid} is rated more than once" for cid in twice]
    return sorted(cleaned, key=lambda r: r["completion"]), errors


def clean_ranking(data: dict, *, task_completion_ids: Sequence[int]) -> dict:
    """Check a ranking body against the task's completions and return its canonical form.

    ``ranking`` must be a partition of exactly ``task_completion_ids`` (best group first; ties
    share a group); ``ratings`` are optional, at most one per completion, Likert 1-7, flags from
    ``RATING_FLAGS``; ``none_acceptable`` is a boolean (default false).
    """
    allowed = set(task_completion_ids)
    errors = _reject_other_kind(data, ("text",), "ranking")
    if "ranking" not in data:
        errors["ranking"] = ["this field is required for a ranking task"]
    else:
        problems = _ranking_errors(data["ranking"], allowed)
        if problems:
            errors["ranking"] = problems
    ratings, problems = _ratings_errors(data.get("ratings"), allowed)
    if problems:
        errors["ratings"] = problems
    none_acceptable = data.get("none_acceptable", False)
    if not isinstance(none_acceptable, bool):
        errors["none_acceptable"] = ["must be true or false"]
    if errors:
        raise ValidationError(errors)
    groups = [sorted(g) for g in data["ranking"]]
    return {"kind": Task.Kind.RANKING, "ranking": groups, "ratings": ratings, "none_acceptable": none_acceptable}
