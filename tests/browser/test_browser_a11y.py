"""Automated accessibility check (axe-core, from frontend/node_modules) of each main screen at 1280×800,
the labeling, admin and research ones: no serious or critical WCAG 2 A/AA violation."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import browser_support as seed
from browser_support import login
from labeling import roles
from labeling.jobs.export_job import run_export
from labeling.services.iterations import iteration_advance, iteration_create
from research_seed import dispatched, research_setup  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture
def axe_page(chromium, live_server, frontend_dist):
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `npm ci` in frontend/")
    # axe is injected as an inline script, which the app's CSP rightly forbids: bypass it for this audit only.
    context = chromium.new_context(viewport=VIEWPORT, base_url=live_server.url, bypass_csp=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def audit(page: Page, screen: str) -> None:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
    )
    bad = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert result["passes"], f"{screen}: axe checked nothing"
    assert bad == [], f"{screen}: {json.dumps(bad, indent=1)}"


def test_main_screens_have_no_serious_accessibility_violations(axe_page: Page, roles_exist):
    page = axe_page
    seed.user("ally", roles.LABELER, roles.CAMPAIGN_ADMIN)
    c = seed.campaign(
        "Accessible",
        prompts=[{"prompt": "Name three colours.", "completions": ["Red, green, blue.", "Blue.", "Colours are nice."]}],
        k=3,
    )
    page.goto("/login")
    audit(page, "login")
    login(page, "ally")
    audit(page, "home")
    page.get_by_role("link", name="Start labeling Accessible").click()
    expect(page.get_by_role("heading", name="Write a demonstration")).to_be_visible()
    audit(page, "demonstration")
    page.get_by_label("Your response, written as the assistant").fill("Red, yellow and blue.")
    page.get_by_role("button", name="Submit demonstration").click()
    expect(page.get_by_role("heading", name="Rate and rank the outputs")).to_be_visible()
    audit(page, "ranking (empty board)")
    page.locator("article.output-card").first.focus()
    page.keyboard.press("4")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("t")
    audit(page, "ranking (a tie on the board)")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    audit(page, "shortcuts help")
    page.keyboard.press("Escape")
    page.goto("/admin-ui/campaigns")
    expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
    audit(page, "admin list")
    page.goto(f"/admin-ui/campaigns/{c.id}")
    expect(page.get_by_role("button", name="Save changes")).to_be_visible()
    audit(page, "admin edit")
    page.goto(f"/admin-ui/campaigns/{c.id}/import")
    expect(page.get_by_role("heading", name="Upload prompts")).to_be_visible()
    audit(page, "import")
    page.goto(f"/admin-ui/campaigns/{c.id}/progress")
    expect(page.get_by_role("heading", name=re.compile("Labels per day"))).to_be_visible()
    audit(page, "progress")


def test_research_screens_have_no_serious_accessibility_violations(axe_page: Page, research_setup, dispatched):
    page = axe_page
    iteration = iteration_create(source_campaign_ids=[research_setup["support"].id], base_model=research_setup["base"],
                                 name="axe-round")
    assert run_export(iteration.jobs.get().id) == "succeeded"
    iteration_advance(iteration_id=iteration.id)
    iteration_id = iteration.id
    login(page, "rita")
    for path, heading in [("/research/snapshots", "Snapshots"), ("/research/models", "Models"),
                          ("/research/jobs", "Jobs"), ("/research/jobs/new", "New job"),
                          (f"/research/jobs/{research_setup['ppo'].id}", re.compile(r"Job #\d+ · ppo")),
                          (f"/research/jobs/{research_setup['evaluate'].id}", re.compile(r"Job #\d+ · evaluate")),
                          ("/research/iterations", "Iterations"), ("/research/iterations/new", "New iteration"),
                          (f"/research/iterations/{iteration_id}", "Iteration axe-round")]:
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, exact=True) if isinstance(heading, str)
               else page.get_by_role("heading", name=heading)).to_be_visible()
        page.wait_for_load_state("networkidle")
        audit(page, path)
    # The folded parts of the forms too.
    page.goto("/research/jobs/new")
    page.locator("summary", has_text="Advanced").click()
    page.locator("summary", has_text="Job runner options").click()
    audit(page, "new job, all params open")
