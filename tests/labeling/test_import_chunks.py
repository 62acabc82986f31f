"""Imports written in chunks while the file is still being read (PostgreSQL; SQLite writes once at the end
and must give the same answers): duplicates are reported as one pass would report them, ids follow the
lines, and a bad line or a failure after chunks were written leaves nothing behind nor a thread running."""

import io
import json
import threading

import pytest
from django.db import connection

from labeling.models import Completion, Prompt, Task
from labeling.services import prompt_bulk_write, prompt_import
from labeling.services.campaigns import campaign_create
from labeling.services.errors import ImportRejected
from labeling.services.prompt_import import prompts_import

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_chunks(settings, monkeypatch):
    settings.PROMPT_IMPORT_WRITE_CHUNK_ROWS = 3
    monkeypatch.setattr(prompt_import, "READ_BATCH", 2)


@pytest.fixture
def campaign():
    return campaign_create(name="chunked", task_kinds=["demonstration", "ranking"])


def jsonl(texts) -> io.BytesIO:
    return io.BytesIO("".join((t if t.startswith("{") else json.dumps(
        {"prompt": t, "completions": [f"{t}: answer {j}" for j in range(2)]})) + "\n" for t in texts).encode())


def do_import(campaign, texts):
    return prompts_import(campaign=campaign, file=jsonl(texts), filename="p.jsonl")


def test_duplicates_across_chunks_are_reported_as_in_one_pass(campaign):
    existing = do_import(campaign, ["old prompt"])
    old_id = Prompt.objects.get(campaign=campaign).pk
    assert existing.imported == 1
    texts = ["a", "b", "old prompt", "c", "a", "d", "e", "b", "f", "e", "g", "old prompt", "h"]
    result = do_import(campaign, texts)
    assert (result.imported, result.duplicates_count) == (8, 5)
    assert result.duplicates == [
        {"line": 3, "reason": f"duplicate of an existing prompt (id {old_id})"},
        {"line": 5, "reason": "duplicate of line 1 in this file"},
        {"line": 8, "reason": "duplicate of line 2 in this file"},
        {"line": 10, "reason": "duplicate of line 7 in this file"},
        {"line": 12, "reason": f"duplicate of an existing prompt (id {old_id})"},
    ]
    new = Prompt.objects.filter(campaign=campaign, pk__gt=old_id).order_by("pk")
    assert [p.messages[0]["content"] for p in new] == ["a", "b", "c", "d", "e", "f", "g", "h"]
    assert result.tasks_created == 16 and Task.objects.filter(prompt__in=new).count() == 16
    for prompt in new:
        ranking = Task.objects.get(prompt=prompt, kind=Task.Kind.RANKING)
        text = prompt.messages[0]["content"]
        assert list(ranking.completions.order_by("pk").values_list("text", flat=True)) == [
            f"{text}: answer 0", f"{text}: answer 1"]


def test_a_bad_line_after_chunks_were_written_leaves_nothing(campaign):
    texts = [f"prompt {i}" for i in range(20)] + ['{"prompt": "one answer", "completions": ["x"]}']
    with pytest.raises(ImportRejected) as exc:
        do_import(campaign, texts)
    assert exc.value.errors == [{"line": 21, "reason": "need 2 to 9 completions to rank, got 1"}]
    assert (Prompt.objects.count(), Task.objects.count(), Completion.objects.count()) == (0, 0, 0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite writes once, at the end: no chunk to fail")
def test_a_failure_while_writing_rolls_back_and_stops_the_reader(campaign, monkeypatch):
    real, calls = prompt_bulk_write.check_count, []

    def fail_on_the_third_chunk(what, written, expected):
        calls.append(what)
        real(what, written, expected + (calls.count("tasks") == 3 and what == "tasks"))

    monkeypatch.setattr(prompt_bulk_write, "check_count", fail_on_the_third_chunk)
    with pytest.raises(RuntimeError, match="expected"):
        do_import(campaign, [f"prompt {i}" for i in range(40)])
    assert (Prompt.objects.count(), Task.objects.count(), Completion.objects.count()) == (0, 0, 0)
    assert not [t for t in threading.enumerate() if t.name == "prompt-import-reader"]
    assert do_import(campaign, ["after the failure"]).imported == 1  # the staging tables were cleaned up


def test_text_with_tabs_newlines_and_backslashes_is_stored_exactly(campaign):
    tricky = "tab\there, newline\nthere, CR\rand \\ a backslash, \\. alone, \\N, ünïcödé \u2028 end"
    content = json.dumps({"prompt": tricky, "author_id": "a\\b", "source_id": "s\\t1",
                          "completions": [tricky + " 1", "\\\n\tx"]}) + "\n"
    result = prompts_import(campaign=campaign, file=io.BytesIO(content.encode()), filename="p.jsonl")
    assert result.imported == 1
    prompt = Prompt.objects.get(campaign=campaign)
    assert (prompt.messages[0]["content"], prompt.author_id, prompt.source_id) == (tricky, "a\\b", "s\\t1")
    assert list(Completion.objects.filter(prompt=prompt).order_by("pk").values_list("text", flat=True)) == [
        tricky + " 1", "\\\n\tx"]
