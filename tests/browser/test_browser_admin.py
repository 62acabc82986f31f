"""A campaign admin in a real browser: create a campaign, import prompts (a bad line is reported by
number and nothing is imported), activate it, and read a campaign's progress."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from labeling import roles
from labeling.models import Campaign, Prompt, Task
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
