"""A campaign admin in a real browser: create a campaign, import prompts (a bad line is reported by
number and nothing is imported), activate it, and read a campaign's progress."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from labeling import roles
from labeling.models import Campaign, Job, Prompt, Task
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit
import browser_support as seed
from browser_support import login

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def admin_setup(roles_exist):
    seed.user("ada", roles.CAMPAIGN_ADMIN, roles.LABELER)
    labeler = seed.user("lars")
    # A campaign with some finished work, so the list and the progress page have something to show.
    busy = seed.campaign(
        "Summaries (seeded)",
        kinds=("demonstration",),
        prompts=[{"prompt": f"Summarize note {i}.", "category": "summarization"} for i in range(6)],
        priority=3,
    )
    for i in range(3):
        a = assignment_next(labeler=labeler, campaign_id=busy.id)
        assignment_submit(assignment_id=a.id, labeler=labeler, data={"text": f"Summary {i}."}, seconds_spent=40.0)
    seed.campaign("Paused brainstorms", kinds=("ranking",), prompts=[], active=True)
    from labeling.services.campaigns import campaign_pause

    campaign_pause(campaign=Campaign.objects.get(name="Paused brainstorms"))
    return busy


def test_admin_creates_campaign_imports_prompts_and_sees_progress(page: Page, shot, admin_setup, tmp_path):
    login(page, "ada")
    page.get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Summaries \\(seeded\\)"))).to_contain_text("active")
    shot(page, "05-admin-list")

    # Create, with a Markdown preview of the guidelines.
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name").fill("Customer support replies")
    page.get_by_label("Guidelines (Markdown)").fill(
        "# Be kind\n\nAnswer **politely**; never invent order numbers.\n\n- cite the policy\n- keep it short"
    )
    expect(page.locator(".preview-body h1")).to_have_text("Be kind")
    expect(page.locator(".preview-body strong")).to_have_text("politely")
    page.get_by_label("Demonstrations (write the ideal answer)").check()
    page.get_by_label("Outputs per prompt (K, 2–9)").fill("3")
    page.get_by_label("Labels per task (overlap)").fill("2")
    page.get_by_label("Lease length (minutes)").fill("20")
    page.get_by_label("Priority (higher is served first)").fill("5")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_text("Campaign created.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Customer support replies"))).to_be_visible()
    shot(page, "06-admin-edit")

    c = Campaign.objects.get(name="Customer support replies")
    assert c.status == Campaign.Status.DRAFT
    assert sorted(c.task_kinds) == ["demonstration", "ranking"]
    assert (c.completions_per_prompt, c.labels_per_task, c.lease_seconds, c.priority) == (3, 2, 1200, 5)
    assert c.guidelines.startswith("# Be kind")

    # Edit: save a change.
    page.get_by_label("Priority (higher is served first)").fill("7")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    c.refresh_from_db()
    assert c.priority == 7

    # Import with one bad line (line 3): nothing is imported and line 3 is named.
    page.get_by_role("link", name="Import prompts").first.click()
    lines = [
        json.dumps({"prompt": "Where is my parcel?", "completions": ["In transit.", "Lost, sorry.", "Ask the courier."]}),
        json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Refund please"}]}),
        '{"prompt": "unterminated',
        json.dumps({"prompt": "Can I change my address?", "category": "closed_qa"}),
    ]
    bad = tmp_path / "prompts.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    page.get_by_label("Prompts file (.jsonl or .csv)").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    report = page.locator(".import-report")
    expect(report).to_contain_text("nothing was imported")
    expect(report.get_by_role("row", name=re.compile(r"line 3"))).to_be_visible()
    expect(report).not_to_contain_text("line 1 ")
    shot(page, "07-import-report")
    assert Prompt.objects.filter(campaign=c).count() == 0

    # Fixed file: imported, with tasks.
    good = tmp_path / "prompts-fixed.jsonl"
    good.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    page.get_by_label("Prompts file (.jsonl or .csv)").set_input_files(str(good))
    page.get_by_role("button", name="Import").click()
    expect(report).to_contain_text("Imported 3 prompts")
    assert Prompt.objects.filter(campaign=c).count() == 3
    tasks = Task.objects.filter(campaign=c).count()
    expect(report).to_contain_text(f"created {tasks} task")

    # Activate from the campaign header.
    page.get_by_role("button", name="Activate Customer support replies").click()
    expect(page.get_by_role("button", name="Pause Customer support replies")).to_be_visible()
    c.refresh_from_db()
    assert c.status == Campaign.Status.ACTIVE

    # Progress of the seeded campaign: 3 of 6 done, one active labeler, labels today.
    page.goto(f"/admin-ui/campaigns/{admin_setup.id}/progress")
    expect(page.locator(".stat", has_text="tasks done")).to_contain_text("3 / 6")
    expect(page.locator(".stat", has_text="labels submitted")).to_contain_text("3 / 6")
    expect(page.locator(".stat", has_text="active labelers")).to_contain_text("1")
    expect(page.get_by_role("heading", name=re.compile("Labels per day"))).to_be_visible()
    shot(page, "08-progress")

    # Pause it from the progress page.
    page.get_by_role("button", name="Pause Summaries (seeded)").click()
    expect(page.get_by_role("button", name="Activate Summaries (seeded)")).to_be_visible()
    admin_setup.refresh_from_db()
    assert admin_setup.status == Campaign.Status.PAUSED
    page.watch.allow_http_error(400, "/prompts/import")  # the bad file, on purpose
    page.watch.assert_clean()


def test_labeler_cannot_open_admin_pages(page: Page, roles_exist):
    seed.user("lena")
    login(page, "lena")
    expect(page.get_by_role("link", name="Campaigns")).to_have_count(0)
    page.goto("/admin-ui/campaigns")
    expect(page.get_by_role("alert")).to_contain_text("campaign admins")


def test_admin_follows_a_large_import_run_by_a_job(page: Page, shot, admin_setup, tmp_path, settings, monkeypatch):
    """A file over the synchronous limit: the page shows the job's progress (waiting, then lines and bytes
    read), then its report; a bad large file ends with its bad lines, nothing imported. The file name
    (chosen by the uploader) is shown as text."""
    from labeling.jobs import services as job_services
    from labeling.jobs.import_job import run_import

    settings.PROMPT_IMPORT_SYNC_MAX_BYTES = 500
    settings.PREFLOOP_DATA_DIR = tmp_path / "data"
    sent: list[int] = []
    monkeypatch.setattr(job_services, "job_dispatch", lambda *, job_id: sent.append(job_id) or True)
    c = seed.campaign("Bulk prompts", prompts=[], active=False)
    rows = [json.dumps({"prompt": f"Question {i}?", "completions": [f"yes {i}", f"no {i}"]}) for i in range(300)]
    big = tmp_path / "<img src=x onerror=alert(1)>.jsonl"
    big.write_text("\n".join(rows) + "\n")

    login(page, "ada")
    page.goto(f"/admin-ui/campaigns/{c.id}/import")
    page.get_by_label("Prompts file (.jsonl or .csv)").set_input_files(str(big))
    page.get_by_role("button", name="Import").click()
    status = page.get_by_role("status").filter(has_text="import")
    expect(status).to_contain_text("Waiting for a worker to start the import of <img src=x onerror=alert(1)>.jsonl")
    expect(page.get_by_role("heading", name="Importing <img src=x onerror=alert(1)>.jsonl")).to_be_visible()
    assert page.locator("main img").count() == 0
    job = Job.objects.get(kind=Job.Kind.IMPORT)
    assert sent == [job.pk] and job.params["bytes_total"] == big.stat().st_size

    # What the worker's heartbeat writes while it reads: the page follows by itself.
    total = big.stat().st_size
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, progress=0.4, metrics=[
        {"t": 1.0, "phase": "reading", "lines_read": 120, "bytes_read": int(total * 0.4), "bytes_total": total}])
    expect(page.get_by_role("status").filter(has_text="Reading and checking")).to_contain_text("120 lines read")
    expect(page.get_by_label("Import progress")).to_have_attribute("value", "40")
    shot(page, "07b-import-progress")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED)  # let the real run claim it

    assert run_import(job.pk) == Job.Status.SUCCEEDED
    report = page.locator(".import-report")
    expect(report).to_contain_text("Imported 300 prompts, created 600 tasks")
    assert Prompt.objects.filter(campaign=c).count() == 300
    expect(page.get_by_label("Import progress")).to_have_count(0)

    # A large file with a bad line: the job fails with the line, nothing is imported.
    bad = tmp_path / "more.jsonl"
    bad.write_text("\n".join([r.replace("Question", "Query") for r in rows] + ['{"prompt": ""}']) + "\n")
    page.get_by_label("Prompts file (.jsonl or .csv)").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status").filter(has_text="Waiting for a worker")).to_be_visible()
    assert run_import(Job.objects.filter(kind=Job.Kind.IMPORT).latest("id").pk) == Job.Status.FAILED
    expect(report).to_contain_text("nothing was imported: 1 bad line")
    expect(report.get_by_role("row", name=re.compile(r"line 301"))).to_contain_text("empty text")
    assert Prompt.objects.filter(campaign=c).count() == 300
    page.watch.assert_clean()
