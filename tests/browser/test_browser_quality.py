"""A campaign admin reads label quality in a real browser: agreement with intervals, the labelers'
signals, and the review queue, where rejecting a label (with a reason) is recorded and re-opens its slot."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

import browser_support as seed
from browser_support import login
from labeling import roles
from labeling.models import LabelReview, Task
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rated_campaign(roles_exist):
    """Four labelers rank 10 tasks (K=3): three agree, the fourth is fast, ranks the reverse and rates all alike."""
    seed.user("ada", roles.CAMPAIGN_ADMIN)
    campaign = seed.campaign("Rated answers", kinds=("ranking",), k=3, labels_per_task=4,
                             prompts=[{"prompt": f"Question {i}?", "completions": [f"answer {j} to {i}" for j in range(3)]}
                                      for i in range(10)])
    for name, reverse, seconds in (("lena", False, 50.0), ("liam", False, 45.0), ("lina", False, 60.0),
                                   ("fast", True, 2.0)):
        user = seed.user(name)
        while (a := assignment_next(labeler=user, campaign_id=campaign.pk)) is not None:
            ids = sorted(a.display_order)
            order = ids[::-1] if reverse else ids
            assignment_submit(assignment_id=a.pk, labeler=user, seconds_spent=seconds,
                              data={"ranking": [[c] for c in order],
                                    "ratings": [{"completion": c, "likert": 4 if reverse else 6 - i}
                                                for i, c in enumerate(order)]})
    return campaign


def test_admin_reads_agreement_and_rejects_a_label(page: Page, shot, rated_campaign):
    login(page, "ada")
    page.goto(f"/admin-ui/campaigns/{rated_campaign.pk}/quality")
    agreement = page.get_by_role("region", name=re.compile("Agreement"))
    expect(agreement.get_by_role("row", name=re.compile("Pairwise agreement"))).to_contain_text("10 tasks")
    expect(agreement.get_by_role("row", name=re.compile("Kendall"))).to_contain_text(re.compile(r"\[-?\d\.\d\d, "))
    labelers = page.get_by_role("region", name="Labelers")
    expect(labelers.get_by_role("row", name=re.compile("^fast"))).to_contain_text("speed")
    expect(labelers.get_by_role("row", name=re.compile("^lena"))).to_contain_text("—")
    shot(page, "40-admin-quality")

    review = page.get_by_role("region", name=re.compile("Review queue"))
    review.get_by_label("Signal").select_option("speed")
    expect(review.get_by_role("heading", name=re.compile(r"Review queue \(10 tasks\)"))).to_be_visible()
    task = review.get_by_role("article").first.get_attribute("aria-label")
    card = review.get_by_role("article", name=task, exact=True)
    row = card.get_by_role("row", name=re.compile("^fast"))
    expect(row.get_by_role("button", name="Reject")).to_be_disabled()  # a rejection needs a reason
    row.get_by_role("textbox").fill("2 seconds, reversed ranking")
    row.get_by_role("button", name="Reject").click()
    expect(card.get_by_role("row", name=re.compile("^fast"))).to_contain_text("reject by ada: 2 seconds, reversed ranking")
    expect(card.get_by_role("heading")).to_contain_text("agreement 1.00")  # the three who agree remain
    review_row = LabelReview.objects.get()
    assert (review_row.decision, review_row.signal, review_row.reviewer.username) == ("reject", "speed", "ada")
    assert Task.objects.get(pk=review_row.assignment.task_id).status == "open"  # its slot went back to the queue
