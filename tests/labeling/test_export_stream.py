"""Streamed comparison exports (issue 12): the lines are exactly ``json.dumps(row, ensure_ascii=False,
sort_keys=True)`` of the documented rows whatever the text holds, on both backends (PostgreSQL encodes
the strings itself there), and the split by author is the same as the in-memory rule."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from labeling.models import Assignment, Campaign, Completion, Prompt, Ranking, Rating, Task
from labeling.services.exports import labeler_hash, snapshot_create, split_by_author

pytestmark = pytest.mark.django_db

AWKWARD = ['plain', 'quote " and backslash \\ and slash /', "tab\tnewline\ncarriage\rformfeed\fbackspace\b",
           "control \x01\x1f and del \x7f", "unicode é 漢字 😀 and line separator \u2028 \u2029",
           '{"looks": ["like", "json"]}', "   spaces   ", "<script>alert('x')</script>"]


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.PREFLOOP_DATA_DIR = tmp_path / "data"
    return settings.PREFLOOP_DATA_DIR


def _campaign():
    campaign = Campaign.objects.create(name="stream", status=Campaign.Status.ACTIVE, task_kinds=["ranking"],
                                       completions_per_prompt=3)
    labelers = [get_user_model().objects.create(username=f"stream-labeler-{i}") for i in range(3)]
    return campaign, labelers


def _ranked(campaign, labeler, i, messages, texts, groups_idx, ratings=(), author=""):
    prompt = Prompt.objects.create(campaign=campaign, messages=messages, author_id=author, content_hash=f"h{i}")
    completions = [Completion.objects.create(prompt=prompt, text=t) for t in texts]
    task = Task.objects.create(campaign=campaign, prompt=prompt, kind=Task.Kind.RANKING)
    task.completions.set(completions)
    a = Assignment.objects.create(task=task, campaign=campaign, labeler=labeler, status=Assignment.Status.SUBMITTED,
                                  expires_at=timezone.now() + timedelta(minutes=5), submitted_at=timezone.now())
    ranking = Ranking.objects.create(assignment=a, groups=[[completions[j].pk for j in g] for g in groups_idx])
    for j, likert, flags in ratings:
        Rating.objects.create(assignment=a, completion=completions[j], likert=likert, flags=flags)
    return ranking, prompt, completions


def _lines(folder: Path, name: str) -> list[str]:
    text = (folder / name).read_text(encoding="utf-8")  # split on "\n" only: U+2028 stays inside a line
    return [line + "\n" for line in text.split("\n")[:-1]]


def test_lines_are_canonical_json_of_the_documented_rows(data_dir):
    campaign, labelers = _campaign()
    expected = {}
    for i, text in enumerate(AWKWARD):
        messages = [{"role": "system", "content": f"sys {text}"}, {"role": "user", "content": text, "name": "x"}]
        texts = [f"{j}: {text}" for j in range(3)]
        groups = [[2], [0, 1]] if i % 2 else [[1], [0], [2]]
        ratings = [(0, 5, []), (2, 1, ["hallucination", "harmful_advice"])]
        ranking, prompt, _ = _ranked(campaign, labelers[i % 3], i, messages, texts, groups, ratings,
                                     author=f"author {text[:4]}")
        expected[ranking.pk] = {
            "prompt": [{"role": m["role"], "content": m["content"]} for m in messages],  # extra keys dropped
            "completions": texts, "ranking": groups, "none_acceptable": False,
            "ratings": [{"completion": 0, "likert": 5, "flags": []},
                        {"completion": 2, "likert": 1, "flags": ["hallucination", "harmful_advice"]}],
            "labeler": labeler_hash(labelers[i % 3].pk), "prompt_id": prompt.pk, "ranking_id": ranking.pk,
        }
    # Rankings that cannot be written as indices are left out: a detached completion, a single completion.
    detached, _, comps = _ranked(campaign, labelers[0], 90, [{"role": "user", "content": "q"}], ["a", "b"], [[0], [1]])
    detached.assignment.task.completions.remove(comps[1])
    _ranked(campaign, labelers[0], 91, [{"role": "user", "content": "q1"}], ["only"], [[0]])

    snap = snapshot_create(kind="comparisons", campaign_ids=[campaign.pk], name="awkward", valid_fraction=0.3)
    folder = Path(snap.path)
    rows = {}
    for name in ("train.jsonl", "valid.jsonl", "pairwise_train.jsonl", "pairwise_valid.jsonl"):
        for line in _lines(folder, name):
            parsed = json.loads(line)
            assert line == json.dumps(parsed, ensure_ascii=False, sort_keys=True) + "\n", f"{name}: not canonical"
            if not name.startswith("pairwise"):
                rows[parsed["ranking_id"]] = parsed
    assert rows == expected
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["rows"] == len(expected)
    assert manifest["quality"]["rankings_read"] == len(expected) + 2  # the two left out were still read
    pairs = [json.loads(line) for name in ("pairwise_train.jsonl", "pairwise_valid.jsonl") for line in _lines(folder, name)]
    assert len(pairs) == sum(2 if i % 2 else 3 for i in range(len(AWKWARD)))
    for pair in pairs:
        row = rows[pair["ranking_id"]]
        assert pair["prompt"] == row["prompt"] and pair["labeler"] == row["labeler"]
        better = next(g for g, group in enumerate(row["ranking"])
                      if row["completions"].index(pair["chosen"][0]["content"]) in group)
        worse = next(g for g, group in enumerate(row["ranking"])
                     if row["completions"].index(pair["rejected"][0]["content"]) in group)
        assert better < worse


def test_streamed_split_matches_the_in_memory_rule_and_counts_authors(data_dir):
    campaign, labelers = _campaign()
    authors = {}
    for i in range(40):
        author = "" if i % 8 == 0 else f"author-{i % 13}"  # prompts without an author are their own author
        ranking, prompt, _ = _ranked(campaign, labelers[i % 3], i, [{"role": "user", "content": f"q{i}"}],
                                     ["a", "b"], [[1], [0]], author=author)
        authors[ranking.pk] = author or f"prompt:{prompt.pk}"
    for fraction, seed in ((0.3, 4), (1e-9, 0), (0.99, 1)):
        snap = snapshot_create(kind="comparisons", campaign_ids=[campaign.pk], valid_fraction=fraction, seed=seed)
        folder = Path(snap.path)
        sides = {part: {authors[json.loads(line)["ranking_id"]] for line in _lines(folder, f"{part}.jsonl")}
                 for part in ("train", "valid")}
        expected = split_by_author([(a, None) for a in authors.values()], valid_fraction=fraction, seed=seed)
        assert sides["valid"] == {a for a, _ in expected.valid} and sides["train"] == {a for a, _ in expected.train}
        assert sides["train"] and sides["valid"]  # the corrections keep both sides populated
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["authors"] == {part: len(sides[part]) for part in ("train", "valid")}
