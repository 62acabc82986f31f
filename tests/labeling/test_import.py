"""Prompt import: JSONL and CSV, the per-line error report, atomicity, duplicates, size limit."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import Completion, Prompt, Task
from labeling.services.campaigns import campaign_create
from labeling.services.errors import ImportRejected, PayloadTooLarge
from labeling.services.prompt_import import prompts_import
from labeling.services.prompts import prompt_content_hash

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return campaign_create(name="import-target", task_kinds=["demonstration", "ranking"])


def jsonl(*rows) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


def run_import(campaign, content: bytes, name="prompts.jsonl"):
    return prompts_import(campaign=campaign, file=io.BytesIO(content), filename=name)


def rejected(campaign, content: bytes, name="prompts.jsonl") -> list[dict]:
    with pytest.raises(ImportRejected) as exc:
        run_import(campaign, content, name)
    assert Prompt.objects.count() == 0 and Task.objects.count() == 0 and Completion.objects.count() == 0
    return exc.value.errors


GOOD = {"prompt": "Write a haiku about autumn.", "category": "generation", "author_id": "a1"}


def test_jsonl_import_creates_prompts_completions_and_tasks(campaign):
    content = jsonl(
        GOOD,
        "",  # blank lines are ignored
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is DNS?"}],
         "category": "open_qa", "source_id": "s-9", "metadata": {"lang": "en"},
         "completions": ["A phone book for the internet.", "A protocol.", "No idea."]},
    )
    result = run_import(campaign, content)
    assert (result.imported, result.tasks_created, result.duplicates) == (2, 3, [])
    dns = Prompt.objects.get(source_id="s-9")
    assert dns.messages[0] == {"role": "system", "content": "Be brief."} and dns.metadata == {"lang": "en"}
    assert dns.content_hash == prompt_content_hash(dns.messages)
    ranking = Task.objects.get(kind=Task.Kind.RANKING)
    assert ranking.prompt == dns and ranking.completions.count() == 3
    assert Task.objects.filter(kind=Task.Kind.DEMONSTRATION).count() == 2


def test_csv_import(campaign):
    content = (
        "\ufeffprompt,author_id,category,completion_1,completion_2,completion_3\n"
        '"Summarize: the cat sat\non the mat.",a7,summarization,A cat sat.,Cat on mat.,\n'
        "Name three colors,a8,brainstorming,,,\n"
    ).encode()
    result = run_import(campaign, content, "prompts.csv")
    assert (result.imported, result.tasks_created) == (2, 3)
    first = Prompt.objects.order_by("id").first()
    assert first.messages == [{"role": "user", "content": "Summarize: the cat sat\non the mat."}]
    assert first.category == "summarization" and first.completions.count() == 2


@pytest.mark.parametrize(
    "line, reason",
    [
        ('{"prompt": "unterminated', "bad JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"author_id": "a1"}', "missing field"),
        ('{"prompt": "   "}', "empty text"),
        ('{"prompt": "' + "x" * 20_001 + '"}', "too long"),
        ('{"prompt": "ok?", "category": "poetry"}', "unknown category"),
        ('{"prompt": "ok?", "colour": "red"}', "unknown field"),
        ('{"prompt": "ok?", "completions": ["only one"]}', "need 2 to 9 completions"),
        ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}', "last message"),
        ('{"messages": [{"role": "robot", "content": "hi"}]}', "unknown role"),
    ],
)
def test_each_kind_of_bad_line_is_reported_with_its_line_number(campaign, line, reason):
    errors = rejected(campaign, jsonl(GOOD, {"prompt": "Another fine prompt."}, line, {"prompt": "Last one."}))
    assert len(errors) == 1 and errors[0]["line"] == 3 and reason in errors[0]["reason"], errors


@pytest.mark.parametrize(
    "line",
    [
        b'{"prompt": "a raw \x00 byte"}',  # PostgreSQL cannot store it (json.loads would say "bad JSON")
        b'{"prompt": "an escaped \\u0000 NUL"}',
        b'{"messages": [{"role": "user", "content": "hi\\u0000"}]}',
        b'{"prompt": "ok?", "completions": ["fine", "not \\u0000 fine"]}',
        b'{"prompt": "ok?", "metadata": {"key\\u0000": "a NUL in a jsonb key"}}',
        b'{"prompt": "ok?", "author_id": "a\\u0000"}',
    ],
)
def test_a_nul_character_is_a_bad_line(campaign, line):
    content = jsonl(GOOD, {"prompt": "Another fine prompt."}).replace(b"\n", b"\n" + line + b"\n")
    errors = rejected(campaign, content)
    assert errors == [{"line": 2, "reason": "contains a NUL character"}]


def test_a_nul_character_in_a_csv_is_a_bad_line(campaign):
    content = b'prompt,completion_1,completion_2\nfine,x,y\n"multi\nline",x,y\nbad\x00 one,x,y\nok,a,b\n'
    errors = rejected(campaign, content, "prompts.csv")
    assert errors == [{"line": 5, "reason": "contains a NUL character"}]


def test_a_nul_character_over_http_is_400_with_the_line(campaign, campaign_admin, client_for):
    r = upload(client_for(campaign_admin), campaign, jsonl(GOOD) + b'\n{"prompt": "x\\u0000"}')
    assert r.status_code == 400, r.content
    assert r.json()["errors"] == [{"line": 2, "reason": "contains a NUL character"}]
    assert Prompt.objects.count() == 0


def test_all_bad_lines_are_reported_in_order(campaign):
    content = jsonl("{oops", GOOD, '{"prompt": ""}', b"\xff\xfe".decode("latin-1"))
    raw = content.replace("ÿþ".encode(), b"\xff\xfe")
    errors = rejected(campaign, raw)
    assert [e["line"] for e in errors] == [1, 3, 4]
    assert "not valid UTF-8" in errors[2]["reason"]


@pytest.mark.parametrize(
    "content, line, reason",
    [
        (b"text,author_id\nhello,a\n", 1, "unknown column 'text'"),
        (b"author_id\na\n", 1, "missing column 'prompt'"),
        (b"prompt,category\nfine,open_qa\n  ,open_qa\n", 3, "empty text"),
        (b"prompt,category\nfine,open_qa\nfine too,astrology\n", 3, "unknown category"),
        (b"prompt\nfine\n\"also, fine\",extra\n", 3, "2 fields but the header has 1"),
        (b'prompt,completion_1,completion_2\n"multi\nline",x,y\nok,,\n"  ",a,b\n', 5, "empty text"),
    ],
)
def test_csv_bad_lines(campaign, content, line, reason):
    errors = rejected(campaign, content, "prompts.csv")
    assert errors[0]["line"] == line and reason in errors[0]["reason"], errors


def test_duplicates_are_reported_and_skipped_not_fatal(campaign):
    run_import(campaign, jsonl(GOOD))
    content = jsonl(
        {"prompt": "  Write a   haiku about autumn. "},  # same after whitespace normalization
        {"prompt": "A new prompt."},
        {"prompt": "A new  prompt."},
    )
    result = run_import(campaign, content)
    assert result.imported == 1
    existing = Prompt.objects.get(content_hash=prompt_content_hash([{"role": "user", "content": GOOD["prompt"]}]))
    assert result.duplicates == [
        {"line": 1, "reason": f"duplicate of an existing prompt (id {existing.pk})"},
        {"line": 3, "reason": "duplicate of line 2 in this file"},
    ]
    # Another campaign may hold the same prompt.
    other = campaign_create(name="other", task_kinds=["demonstration"])
    assert run_import(other, jsonl(GOOD)).imported == 1


def test_oversized_file_is_refused(campaign, settings):
    settings.PROMPT_IMPORT_MAX_BYTES = 100
    with pytest.raises(PayloadTooLarge):
        run_import(campaign, jsonl(*[GOOD] * 10))
    stream = io.BytesIO(jsonl(*[GOOD] * 10))  # no .size: refused while streaming
    with pytest.raises(PayloadTooLarge):
        prompts_import(campaign=campaign, file=stream, filename="x.jsonl")
    assert Prompt.objects.count() == 0


# --- over HTTP ---------------------------------------------------------------------------------------

URL = "/api/v1/campaigns/{}/prompts/import"


def upload(client, campaign, content: bytes, name="prompts.jsonl"):
    return client.post(URL.format(campaign.pk), {"file": SimpleUploadedFile(name, content)}, format="multipart")


def test_api_import_201_and_400(campaign, campaign_admin, client_for):
    client = client_for(campaign_admin)
    r = upload(client, campaign, jsonl(GOOD, GOOD))
    assert r.status_code == 201, r.content
    assert r.json() == {"imported": 1, "duplicates": [{"line": 2, "reason": "duplicate of line 1 in this file"}],
                        "duplicates_count": 1, "tasks_created": 1}
    r = upload(client, campaign, jsonl({"prompt": "fine"}, "{bad", '{"prompt": ""}'))
    assert r.status_code == 400
    body = r.json()
    assert body["detail"] == "nothing was imported: 2 bad lines"
    assert [e["line"] for e in body["errors"]] == [2, 3] and body["errors"][0]["reason"].startswith("bad JSON")
    assert Prompt.objects.count() == 1


def test_api_import_refuses_big_uploads_and_unknown_formats(campaign, campaign_admin, client_for, settings):
    client = client_for(campaign_admin)
    settings.PROMPT_IMPORT_MAX_BYTES = 1000
    r = upload(client, campaign, b'{"prompt": "' + b"x" * 2000 + b'"}')
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = upload(client, campaign, b'{"prompt": "' + b"x" * 200_000 + b'"}')  # refused before parsing
    assert r.status_code == 413
    assert upload(client, campaign, b"hello", "prompts.txt").status_code == 400
    assert upload(client, campaign, b"\n\n", "prompts.jsonl").status_code == 400
    assert client.post(URL.format(campaign.pk), {}, format="multipart").status_code == 400
    assert Prompt.objects.count() == 0
