"""A researcher reads the human-evaluation leaderboard in a real browser: three policies judged blind by
simulated labelers with a known preference (c > b > a), the Bradley–Terry table with lineage, win-rate
error bars per policy and per category, and the pairs beside the reward model's verdicts. Screenshot:
test-artifacts/screenshots/20-evaluation-leaderboard.png."""
from __future__ import annotations

import json
import math
import random
import re

import pytest
from playwright.sync_api import Page, expect

from labeling import roles
from labeling.jobs import services as job_services
from labeling.jobs.command import generations_path
from labeling.models import Completion, Evaluation, Job
from labeling.services.evaluations import evaluation_advance, evaluation_create
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit
import browser_support as seed
from browser_support import login
from test_browser_a11y import audit, axe_page  # noqa: F401  (axe_page is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]

CATEGORIES = ("generation", "open_qa", "brainstorming")
# The simulated labelers' true BT strengths: far enough apart that 24 comparisons per pair order them
# reliably (P(ppo-1 out-wins ppo-2 over 24) < 1e-3), so the screen's order is not a coin toss.
STRENGTH = {"sft-1": 0.0, "ppo-1": 1.5, "ppo-2": 3.0}


@pytest.fixture
def judged(roles_exist, settings, tmp_path, monkeypatch):
    """An evaluation of three policies whose samples are in and whose 36 tasks were labelled twice."""
    settings.PREFLOOP_DATA_DIR = tmp_path / "data"
    monkeypatch.setattr(job_services, "job_dispatch", lambda *, job_id: True)  # no worker here
    seed.user("rita", roles.RESEARCHER)
    labelers = [seed.user(f"lab{i}") for i in range(2)]
    source = seed.campaign("Held-out prompts", kinds=("demonstration",), active=False,
                           prompts=[{"prompt": f"Question {i}?", "category": CATEGORIES[i % 3],
                                     "author_id": f"a{i}"} for i in range(12)])
    base = job_services.model_version_create(name="sft-1", kind="sft", artifact_path="tiny")
    ppo1 = job_services.model_version_create(name="ppo-1", kind="policy", artifact_path="tiny", parent=base)
    ppo2 = job_services.model_version_create(name="ppo-2", kind="policy", artifact_path="tiny", parent=ppo1)
    evaluation = evaluation_create(name="spring", policies=[base, ppo1, ppo2], prompt_campaign=source,
                                 labels_per_task=2)
    prompt_ids = list(evaluation.campaign.prompts.values_list("id", flat=True))
    for job in evaluation.jobs.all():
        name = job.inputs["model"]["name"]
        path = generations_path(job)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"prompt_id": p, "completions": [f"{name} answers {p}"]}) + "\n"
                                for p in prompt_ids))
        Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    assert evaluation_advance(evaluation_id=evaluation.pk) == "labeling"
    rng = random.Random(0)
    names = dict(Completion.objects.filter(prompt__campaign=evaluation.campaign).values_list("id", "model_version__name"))
    for person in labelers:
        while (a := assignment_next(labeler=person, campaign_id=evaluation.campaign_id)) is not None:
            x, y = a.display_order
            p_x = 1 / (1 + math.exp(STRENGTH[names[y]] - STRENGTH[names[x]]))
            assignment_submit(assignment_id=a.id, labeler=person,
                              data={"ranking": [[x], [y]] if rng.random() < p_x else [[y], [x]]})
    # A judge that scored the same texts (as its score job would have): it prefers the SFT model's answers.
    judge = job_services.model_version_create(name="rm-1", kind="reward", artifact_path="tiny")
    Evaluation.objects.filter(pk=evaluation.pk).update(
        judge=judge, judge_scores={str(cid): {"sft-1": 2.0, "ppo-1": 1.0, "ppo-2": 0.0}[name] + rng.random()
                                   for cid, name in names.items()})
    return evaluation


def test_researcher_reads_the_leaderboard_with_error_bars(page: Page, shot, judged):
    login(page, "rita")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Research").click()
    page.get_by_role("navigation", name="Research pages").get_by_role("link", name="Leaderboard").click()
    expect(page.get_by_role("heading", name="Leaderboard", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"72 blind comparisons from 1 evaluation"))).to_be_visible()
    table = page.get_by_role("table", name="Policies by human preference (Bradley–Terry)")
    rows = table.get_by_role("row")
    expect(rows).to_have_count(4)
    expect(rows.nth(1)).to_contain_text("ppo-2")  # the labelers' favourite leads
    expect(rows.nth(1)).to_contain_text("from ppo-1")  # lineage: its parent
    expect(page.get_by_role("img", name="Win rate vs the other policies")).to_be_visible()
    for category in CATEGORIES:
        expect(page.get_by_role("img", name=f"Category: {category}")).to_be_visible()
    pairs = page.get_by_role("table", name=re.compile("Every pair"))
    expect(pairs.get_by_role("row")).to_have_count(4)
    expect(page.get_by_text(re.compile(r"The reward model disagrees with the labelers on 0\.\d+"))).to_be_visible()
    page.get_by_label("Evaluation").select_option(str(judged.pk))  # one evaluation instead of all pooled
    expect(page.get_by_text(re.compile(r"72 blind comparisons from 1 evaluation"))).to_be_visible()
    expect(rows.nth(1)).to_contain_text("ppo-2")
    shot(page, "20-evaluation-leaderboard", full_page=True)
    page.watch.assert_clean()


def test_leaderboard_has_no_serious_accessibility_violations(axe_page: Page, judged):
    login(axe_page, "rita")
    axe_page.goto("/research/leaderboard")
    expect(axe_page.get_by_role("heading", name="Leaderboard", exact=True)).to_be_visible()
    axe_page.wait_for_load_state("networkidle")
    audit(axe_page, "/research/leaderboard")
