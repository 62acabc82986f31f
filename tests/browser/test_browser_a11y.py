"""Automated accessibility check (axe-core, from frontend/node_modules) of each main screen at 1280×800:
no serious or critical WCAG 2 A/AA violation."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import browser_support as seed
from browser_support import login
from labeling import roles

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
