"""Streaming prompt imports: the set-based write (atomic, line numbers, dedupe, completions linked to
their ranking task), bounded reports, cancellation, and large files through a background ``import``
job (202, progress, then the report or the bad lines) as the admin screen follows it."""

import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.jobs import services as job_services
from labeling.jobs.import_job import run_import
from labeling.models import Completion, Job, Prompt, Task
from labeling.services.campaigns import campaign_create
from labeling.services.errors import ImportRejected
from labeling.services.prompt_import import ImportCancelled, ImportProgress, prompts_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return campaign_create(name="stream-target", task_kinds=["demonstration", "ranking"])


def row(i: int, k: int = 4) -> dict:
    return {"prompt": f"Prompt number {i}: explain tides.", "author_id": f"a{i % 7}",
            "completions": [f"answer {j} to prompt {i}" for j in range(1, k + 1)] if k else None}


def jsonl(rows) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps({k: v for k, v in r.items() if v is not None})) + "\n"
                   for r in rows).encode()


def do_import(campaign, content: bytes, name="prompts.jsonl", **kwargs):
    return prompts_import(campaign=campaign, file=io.BytesIO(content), filename=name, **kwargs)


def test_a_bad_last_line_of_a_large_file_leaves_nothing(campaign):
    content = jsonl([row(i) for i in range(3000)] + ['{"prompt": "fine", "completions": ["only one"]}'])
    with pytest.raises(ImportRejected) as exc:
        do_import(campaign, content)
    assert exc.value.errors == [{"line": 3001, "reason": "need 2 to 9 completions to rank, got 1"}]
    assert (Prompt.objects.count(), Task.objects.count(), Completion.objects.count()) == (0, 0, 0)
    assert do_import(campaign, content.rsplit(b"\n", 2)[0] + b"\n").imported == 3000  # the staging left nothing behind


def test_completions_are_stored_in_order_and_linked_to_their_own_ranking_task(campaign):
    result = do_import(campaign, jsonl([row(1, k=3), row(2, k=0), row(3, k=9)]))
    assert (result.imported, result.tasks_created) == (3, 5)  # 3 demonstrations, 2 rankings (row 2 has none)
    for i, k in ((1, 3), (3, 9)):
        prompt = Prompt.objects.get(messages__0__content=f"Prompt number {i}: explain tides.")
        ranking = Task.objects.get(prompt=prompt, kind=Task.Kind.RANKING)
        linked = list(ranking.completions.order_by("id").values_list("text", flat=True))
        assert linked == [f"answer {j} to prompt {i}" for j in range(1, k + 1)]
        assert ranking.required_labels == campaign.labels_per_task and ranking.priority == campaign.priority
    assert list(Prompt.objects.order_by("id").values_list("author_id", flat=True)) == ["a1", "a2", "a3"]


def test_csv_with_completions_through_the_bulk_path(campaign):
    lines = ["prompt,author_id,category,completion_1,completion_2,completion_3,completion_4"]
    lines += [f'"Q{i}, with a comma",a{i},open_qa,x{i},y{i},z{i},w{i}' for i in range(500)]
    result = do_import(campaign, ("\n".join(lines) + "\n").encode(), "prompts.csv")
    assert (result.imported, result.tasks_created, Completion.objects.count()) == (500, 1000, 2000)
    assert Task.completions.through.objects.count() == 2000
    first = Prompt.objects.order_by("id").first()
    assert first.messages == [{"role": "user", "content": "Q0, with a comma"}] and first.category == "open_qa"


def test_duplicates_are_all_counted_and_the_first_200_listed(campaign):
    do_import(campaign, jsonl([row(0)]))
    existing = Prompt.objects.get()
    rows = [row(0)] + [row(i) for i in range(1, 301)] + [row(i) for i in range(1, 301)]
    result = do_import(campaign, jsonl(rows))
    assert (result.imported, result.duplicates_count) == (300, 301)
    assert len(result.duplicates) == 200
    assert result.duplicates[0] == {"line": 1, "reason": f"duplicate of an existing prompt (id {existing.pk})"}
    assert result.duplicates[1] == {"line": 302, "reason": "duplicate of line 2 in this file"}
    assert Prompt.objects.count() == 301 and Task.objects.count() == 602


def test_many_bad_lines_report_the_first_200_and_count_all(campaign):
    content = jsonl([row(i) if i % 2 else "{broken" for i in range(1000)])
    with pytest.raises(ImportRejected) as exc:
        do_import(campaign, content)
    assert exc.value.bad_lines == 500 and str(exc.value) == "nothing was imported: 500 bad lines"
    assert [e["line"] for e in exc.value.errors] == list(range(1, 400, 2))
    assert Prompt.objects.count() == 0


def test_a_cancelled_import_imports_nothing(campaign):
    progress = ImportProgress()
    progress.cancelled = True
    with pytest.raises(ImportCancelled):
        do_import(campaign, jsonl([row(i) for i in range(10)]), progress=progress)
    assert Prompt.objects.count() == 0


def test_progress_counts_lines_and_bytes(campaign):
    content = jsonl([row(i) for i in range(50)])
    progress = ImportProgress(bytes_total=len(content))
    do_import(campaign, content, progress=progress)
    assert progress.as_dict() == {"phase": "done", "lines_read": 50, "bytes_read": len(content),
                                  "bytes_total": len(content)}


def test_json_checks_still_run_when_the_fast_path_cannot_prove_them(campaign):
    deep = {"prompt": "ok?", "metadata": {"a": [[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]]}}
    content = jsonl([row(1), {"prompt": "ok?", "metadata": {"x": 1e400}}, deep,
                     '{"prompt": "lone \\ud800 surrogate"}', {"prompt": "fine", "metadata": {"p": 0.5}}])
    with pytest.raises(ImportRejected) as exc:
        do_import(campaign, content)
    found = [(e["line"], e["reason"]) for e in exc.value.errors]
    assert [line for line, _ in found] == [2, 3, 4], found
    assert "metadata.x: Infinity" in found[0][1] and "nested more than 20" in found[1][1] and "surrogate" in found[2][1]


# --- large files: a background job -----------------------------------------------------------------

URL = "/api/v1/campaigns/{}/prompts/import"


@pytest.fixture
def big_files(settings, tmp_path, monkeypatch):
    """Anything over 200 bytes goes to a job; dispatch is recorded (the test runs the job itself)."""
    settings.PROMPT_IMPORT_SYNC_MAX_BYTES = 200
    settings.PREFLOOP_DATA_DIR = tmp_path
    sent: list[int] = []
    monkeypatch.setattr(job_services, "job_dispatch", lambda *, job_id: sent.append(job_id) or True)
    return sent


def upload(client, campaign, content: bytes, name="prompts.jsonl"):
    return client.post(URL.format(campaign.pk), {"file": SimpleUploadedFile(name, content)}, format="multipart")


def test_a_large_upload_is_imported_by_a_job_that_reports_progress(campaign, campaign_admin, client_for, big_files,
                                                                   django_capture_on_commit_callbacks):
    client = client_for(campaign_admin)
    content = jsonl([row(i) for i in range(400)] + [row(3)])
    with django_capture_on_commit_callbacks(execute=True):
        r = upload(client, campaign, content)
    assert r.status_code == 202, r.content
    body = r.json()
    assert (body["status"], body["phase"], body["bytes_total"], body["report"]) == ("queued", "queued", len(content), None)
    job = Job.objects.get(pk=body["id"])
    assert job.kind == Job.Kind.IMPORT and job.created_by == campaign_admin and big_files == [job.pk]
    assert r.headers["Location"] == f"/api/v1/campaigns/{campaign.pk}/prompts/imports/{job.pk}"
    assert Prompt.objects.count() == 0

    assert run_import(job.pk) == Job.Status.SUCCEEDED
    body = client.get(r.headers["Location"]).json()
    assert body["status"] == "succeeded" and body["progress"] == 1.0 and body["phase"] == "done"
    assert (body["lines_read"], body["bytes_read"]) == (401, len(content))
    assert body["report"] == {"imported": 400, "tasks_created": 800, "duplicates_count": 1,
                              "duplicates": [{"line": 401, "reason": "duplicate of line 4 in this file"}]}
    assert Prompt.objects.count() == 400 and Completion.objects.count() == 1600
    assert not list(Path(job.output_dir).glob("upload.*"))  # the upload is removed once the job is final


def test_a_rejected_large_file_reports_its_bad_lines_and_imports_nothing(campaign, campaign_admin, client_for, big_files):
    client = client_for(campaign_admin)
    r = upload(client, campaign, ("prompt,category\n" + "".join(f"q{i},open_qa\n" for i in range(50)) + "bad,poetry\n").encode(),
               "prompts.csv")
    assert r.status_code == 202, r.content
    assert run_import(r.json()["id"]) == Job.Status.FAILED
    body = client.get(r.headers["Location"]).json()
    assert body["status"] == "failed" and body["error"] == "nothing was imported: 1 bad line"
    assert body["bad_lines"] == 1 and body["errors"][0]["line"] == 52 and "unknown category" in body["errors"][0]["reason"]
    assert body["report"] is None and Prompt.objects.count() == 0


def test_import_jobs_are_read_by_campaign_admins_of_that_campaign_only(campaign, campaign_admin, labeler, client_for,
                                                                       big_files):
    r = upload(client_for(campaign_admin), campaign, jsonl([row(i) for i in range(20)]))
    other = campaign_create(name="other", task_kinds=["demonstration"])
    url = f"/api/v1/campaigns/{other.pk}/prompts/imports/{r.json()['id']}"
    assert client_for(campaign_admin).get(url).status_code == 404
    assert client_for(labeler).get(r.headers["Location"]).status_code == 403
    assert upload(client_for(campaign_admin), campaign, b"x" * 300, "prompts.txt").status_code == 400  # format: at once
