"""Prompts and completions: validation of one row, content hashing, and the bulk create that
prompt imports (and seed scripts) go through."""

import hashlib
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.models import Campaign, Completion, ModelVersion, Prompt
from labeling.services.errors import ImportRejected
from labeling.services.json_input import validate_free_json
from labeling.services.task_creation import tasks_create_for_prompts
from labeling.services.validation import NUL_MESSAGE, has_nul

ROLES = ("system", "user", "assistant")
ROW_FIELDS = ("prompt", "messages", "author_id", "category", "source_id", "metadata", "completions")
MAX_COMPLETIONS = 9
ID_MAX_LEN = 200
NUL_ROW_REASON = "contains a NUL character"
MAX_REPORTED_DUPLICATES = ImportRejected.MAX_REPORTED  # capped like the error report


class RowError(ValueError):
    """One input row is unusable; ``str(exc)`` is the reason shown to the user."""


@dataclass
class PromptRow:
    """A validated prompt, ready for :func:`prompts_create`. Build it with :func:`prompt_row_from_dict`."""

    messages: list[dict]
    author_id: str = ""
    source_id: str = ""
    category: str = Prompt.Category.OTHER
    metadata: dict = field(default_factory=dict)
    completions: list[str] = field(default_factory=list)
    line: int | None = None  # where it came from, for import reports


@dataclass
class PromptsCreated:
    """What :func:`prompts_create` did. ``duplicates`` holds ``{"line", "reason"}`` for the first
    ``MAX_REPORTED_DUPLICATES`` skipped rows (a re-imported 100k-line file must not answer with
    megabytes of them); ``duplicates_count`` counts them all."""

    imported: int
    tasks_created: int
    duplicates: list[dict]
    prompts: list[Prompt]
    duplicates_count: int = 0


# Zero-width and invisible formatting characters that NFKC keeps: "dup\u200bzw" reads as "dupzw".
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"))


def normalize_text(text: str) -> str:
    """For duplicate detection: NFKC (compatibility forms such as ligatures and full-width letters
    fold to their plain letters), invisible zero-width characters and soft hyphens dropped,
    whitespace runs collapsed to one space, trimmed. Case is kept: it can change meaning."""
    if text.isascii():  # NFKC leaves ASCII alone and every invisible character is non-ASCII (imports: most rows)
        return " ".join(text.split())
    return " ".join(unicodedata.normalize("NFKC", text).translate(_INVISIBLE).split())


def prompt_content_hash(messages: Sequence[dict]) -> str:
    """sha256 over the normalized (role, content) turns (:func:`normalize_text`): two prompts that
    differ only in whitespace, Unicode composition or invisible characters count as duplicates;
    other metadata never matters."""
    canonical = [[m["role"], normalize_text(m["content"])] for m in messages]
    blob = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _clean_text(value, what: str) -> str:
    if not isinstance(value, str):
        raise RowError(f"{what} must be a string")
    if not value.strip():
        raise RowError(f"empty text ({what})")
    return value.strip()


def _clean_messages(raw) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise RowError("'messages' must be a non-empty list of {role, content} objects")
    messages = []
    for i, m in enumerate(raw, start=1):
        if not isinstance(m, dict) or set(m) - {"role", "content"} or "role" not in m or "content" not in m:
            raise RowError(f"message {i} must be an object with exactly 'role' and 'content'")
        role = str(m["role"]).strip().lower()
        if role not in ROLES:
            raise RowError(f"message {i}: unknown role {m['role']!r} (use system, user or assistant)")
        messages.append({"role": role, "content": _clean_text(m["content"], f"message {i}")})
    if messages[-1]["role"] != "user":
        raise RowError("the last message must be from the user (the model answers it)")
    return messages


def _clean_id(value, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RowError(f"{name} must be a string")
    value = str(value).strip()
    if len(value) > ID_MAX_LEN:
        raise RowError(f"{name} is longer than {ID_MAX_LEN} characters")
    return value


_CATEGORIES = frozenset(Prompt.Category.values)  # ``.values`` rebuilds a list on every call: once per row was costly


def _clean_category(value) -> str:
    if value in (None, ""):
        return Prompt.Category.OTHER
    key = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in _CATEGORIES:
        raise RowError(f"unknown category {value!r} (allowed: {', '.join(Prompt.Category.values)})")
    return key


def _clean_completions(raw, max_chars: int) -> list[str]:
    if raw in (None, []):
        return []
    if not isinstance(raw, list):
        raise RowError("'completions' must be a list of strings")
    texts = [_clean_text(t, f"completion {i}") for i, t in enumerate(raw, start=1)]
    if not 2 <= len(texts) <= MAX_COMPLETIONS:
        raise RowError(f"need 2 to {MAX_COMPLETIONS} completions to rank, got {len(texts)}")
    for i, t in enumerate(texts, start=1):
        if len(t) > max_chars:
            raise RowError(f"completion {i} too long: {len(t)} characters (max {max_chars})")
    return texts


def _check_json(value, **limits) -> None:
    try:
        validate_free_json(value, **limits)
    except ValidationError as exc:
        raise RowError(exc.messages[0]) from None


def prompt_row_from_dict(raw, *, line: int | None = None, max_chars: int | None = None,
                         json_checked: bool = False) -> PromptRow:
    """Validate one import row (the JSONL line shape of docs/api.md) into a :class:`PromptRow`.

    Raises :class:`RowError` with a one-line reason: missing field, empty text, too long
    (``settings.PROMPT_MAX_CHARS`` over all turns), unknown category, unknown field, bad types, a NUL
    character anywhere (PostgreSQL cannot store it), and whatever ``validate_free_json`` refuses
    (lone surrogates, NaN/Infinity, too deep; metadata over 64 KB), named by path.

    ``json_checked=True`` skips those last two generic walks (NUL and ``validate_free_json``) for a
    caller that has already proved from the raw text that neither can fail
    (``prompt_import._needs_json_checks``): on a 100k-line import they were most of the parse time.
    """
    max_chars = max_chars or settings.PROMPT_MAX_CHARS
    if not isinstance(raw, dict):
        raise RowError("expected a JSON object")
    unknown = sorted(set(raw) - set(ROW_FIELDS))
    if unknown:
        raise RowError(f"unknown field {unknown[0]!r} (allowed: {', '.join(ROW_FIELDS)})")
    if not json_checked and has_nul(raw):  # PostgreSQL stores no NUL in text or jsonb (a "\u0000" escape included)
        raise RowError(NUL_ROW_REASON)
    if not json_checked:
        _check_json(raw, where="", max_bytes=settings.PROMPT_IMPORT_MAX_BYTES)  # depth, numbers, Unicode
    if "prompt" in raw and "messages" in raw:
        raise RowError("give either 'prompt' or 'messages', not both")
    if "messages" in raw:
        messages = _clean_messages(raw["messages"])
    elif "prompt" in raw:
        messages = [{"role": "user", "content": _clean_text(raw["prompt"], "prompt")}]
    else:
        raise RowError("missing field: 'prompt' (or 'messages')")
    size = sum(len(m["content"]) for m in messages)
    if size > max_chars:
        raise RowError(f"too long: {size} characters (max {max_chars})")
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RowError("'metadata' must be an object")
    if metadata and not json_checked:
        _check_json(metadata, where="metadata")
    return PromptRow(
        messages=messages,
        author_id=_clean_id(raw.get("author_id"), "author_id"),
        source_id=_clean_id(raw.get("source_id"), "source_id"),
        category=_clean_category(raw.get("category")),
        metadata=metadata,
        completions=_clean_completions(raw.get("completions"), max_chars),
        line=line,
    )


def _existing_hashes(campaign: Campaign, hashes: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(hashes), 500):  # bounded IN lists
        chunk = hashes[start : start + 500]
        found.update(Prompt.objects.filter(campaign=campaign, content_hash__in=chunk).values_list("content_hash", "id"))
    return found


def _split_duplicates(campaign: Campaign, rows: Sequence[PromptRow]) -> tuple[list[tuple[PromptRow, str]], list[dict]]:
    hashed = [(row, prompt_content_hash(row.messages)) for row in rows]
    existing = _existing_hashes(campaign, sorted({h for _, h in hashed}))
    fresh, duplicates, first_line = [], [], {}
    for i, (row, h) in enumerate(hashed, start=1):
        line = row.line if row.line is not None else i
        if h in existing:
            duplicates.append({"line": line, "reason": f"duplicate of an existing prompt (id {existing[h]})"})
        elif h in first_line:
            duplicates.append({"line": line, "reason": f"duplicate of line {first_line[h]} in this file"})
        else:
            first_line[h] = line
            fresh.append((row, h))
    return fresh, duplicates


def prompts_create(*, campaign: Campaign, rows: Sequence[PromptRow]) -> PromptsCreated:
    """Create prompts (+ their candidate completions, written by a human: ``model_version`` null)
    and the campaign's tasks for them, in one transaction.

    Preconditions: rows come from :func:`prompt_row_from_dict`; the campaign is not archived.
    Duplicates (same content hash as a prompt already in the campaign, or as an earlier row) are
    skipped and reported, never fatal. Concurrent imports into one campaign are serialized by a
    row lock on the campaign, so the per-campaign unique hash cannot race.
    """
    if campaign.status == Campaign.Status.ARCHIVED:
        raise ValidationError({"campaign": ["this campaign is archived"]})
    with transaction.atomic():
        # NO KEY UPDATE: serializes imports into this campaign without blocking the queue, whose
        # Assignment inserts only need a KEY SHARE lock on the campaign row (foreign key check).
        Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk).values_list("pk").get()
        fresh, duplicates = _split_duplicates(campaign, rows)
        prompts = Prompt.objects.bulk_create(
            [
                Prompt(
                    campaign=campaign, messages=row.messages, author_id=row.author_id, source_id=row.source_id,
                    category=row.category, metadata=row.metadata, content_hash=h,
                )
                for row, h in fresh
            ],
            batch_size=1000,
        )
        completions = Completion.objects.bulk_create(
            [Completion(prompt=p, text=t) for p, (row, _) in zip(prompts, fresh) for t in row.completions],
            batch_size=1000,
        )
        by_prompt: dict[int, list[Completion]] = {}
        for c in completions:
            by_prompt.setdefault(c.prompt_id, []).append(c)
        tasks = tasks_create_for_prompts(campaign=campaign, prompts=prompts, completions_by_prompt=by_prompt)
    return PromptsCreated(
        imported=len(prompts), tasks_created=len(tasks), duplicates=duplicates[:MAX_REPORTED_DUPLICATES],
        prompts=prompts, duplicates_count=len(duplicates),
    )


def completions_create(
    *,
    prompt: Prompt,
    texts: Sequence[str],
    model_version: ModelVersion | None = None,
    generation_settings: dict | None = None,
) -> list[Completion]:
    """Store candidate outputs for a prompt (``model_version`` None = written by a human).

    Raises ValidationError if a text is empty or holds a NUL character, or if ``generation_settings``
    fails ``validate_free_json``. Creates no task: pair with
    ``task_creation.task_create_ranking`` (or use ``ranking_tasks_create_from_outputs``).
    """
    texts = list(texts)
    if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
        raise ValidationError({"texts": ["every completion needs non-empty text"]})
    nul = [i for i, t in enumerate(texts, start=1) if has_nul(t)]
    if nul:
        raise ValidationError({"texts": [f"completion {i} {NUL_MESSAGE}" for i in nul]})
    validate_free_json(generation_settings or {}, where="generation_settings")
    return Completion.objects.bulk_create(
        [
            Completion(prompt=prompt, text=t, model_version=model_version, generation_settings=generation_settings or {})
            for t in texts
        ]
    )
