"""Gold tasks in the queue (at gold_fraction, never twice, indistinguishable) and qualification."""
import random

import pytest

from labeling.models import Campaign, Task
from labeling.selectors.assignments import assignment_payload
from labeling.services.gold import task_set_gold
from labeling.services.qualification import campaign_set_qualification, qualification_status, serving_plan
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit

API = "/api/v1"
pytestmark = pytest.mark.django_db


def _gold_campaign(make_campaign, *, n=8, gold=4, fraction=1.0, overlap=1):
    """``n`` ranking tasks, the first ``gold`` of them gold with answer = completion ids ascending."""
    campaign = make_campaign(n=n, k=3, overlap=overlap)
    Campaign.objects.filter(pk=campaign.pk).update(gold_fraction=fraction)
    campaign.refresh_from_db()
    golds = []
    for task in Task.objects.filter(campaign=campaign).order_by("id")[:gold]:
        golds.append(task_set_gold(task=task, answer=[[c] for c in _ids(task)]).pk)
    return campaign, golds


def _ids(task) -> list[int]:
    return sorted(task.completions.values_list("id", flat=True))


def _answer(user, campaign, *, right: bool = True):
    a = assignment_next(labeler=user, campaign_id=campaign.pk)
    if a is None:
        return None
    ids = sorted(a.display_order)
    assignment_submit(assignment_id=a.pk, labeler=user, data={"ranking": [[c] for c in (ids if right else ids[::-1])]})
    return a


def test_gold_first_at_fraction_one_never_twice_then_ordinary_work(make_campaign, make_user):
    campaign, golds = _gold_campaign(make_campaign, fraction=1.0)
    labeler = make_user("labeler")
    served = [_answer(labeler, campaign).task_id for _ in range(8)]
    assert served[:4] == golds and len(set(served)) == 8  # every gold once, then the rest
    assert _answer(labeler, campaign) is None
    gold = Task.objects.get(pk=golds[0])
    assert gold.status == "open" and gold.submitted_count == 1  # a yardstick stays open for the next labeler
    second = make_user("labeler")
    assert _answer(second, campaign).task_id == golds[0]


def test_no_gold_at_fraction_zero_and_the_share_follows_the_fraction(make_campaign, make_user):
    campaign, golds = _gold_campaign(make_campaign, n=6, gold=2, fraction=0.0)
    labeler = make_user("labeler")
    served = [_answer(labeler, campaign) for _ in range(5)]
    assert [a.task_id for a in served if a] == [t for t in Task.objects.filter(campaign=campaign).order_by("id")
                                                 .values_list("id", flat=True) if t not in golds]
    campaign.gold_fraction = 0.25
    rng = random.Random(5)
    draws = [bool(serving_plan(labeler=labeler, campaigns={campaign.pk: campaign}, rng=rng)[0]) for _ in range(4000)]
    assert sum(draws) / len(draws) == pytest.approx(0.25, abs=0.02)


def test_a_gold_task_looks_like_any_other_to_the_labeler(make_campaign, make_user):
    campaign, golds = _gold_campaign(make_campaign, n=2, gold=1)
    labeler = make_user("labeler")
    gold = assignment_payload(assignment=_answer(labeler, campaign))
    plain = assignment_payload(assignment=_answer(labeler, campaign))
    assert gold["task"]["id"] == golds[0] and plain["task"]["id"] != golds[0]

    def shape(payload):
        return {k: sorted(v) if isinstance(v, dict) else type(v).__name__ for k, v in payload["task"].items()}
    assert shape(gold) == shape(plain) and set(gold) == set(plain)
    assert "gold" not in str(gold)


def test_qualification_gates_real_tasks_and_can_be_reopened(make_campaign, make_user, campaign_admin):
    campaign, golds = _gold_campaign(make_campaign, n=10, gold=6, fraction=0.0)
    campaign = campaign_set_qualification(campaign=campaign, gold_tasks=2, min_agreement=0.75)
    good, bad = make_user("labeler"), make_user("labeler")

    assert [_answer(good, campaign).task_id for _ in range(2)] == golds[:2]  # gold only while qualifying
    assert qualification_status(campaign=campaign, labeler=good)["status"] == "passed"
    assert _answer(good, campaign).task_id not in golds  # real work now (fraction 0: no more gold)

    assert [_answer(bad, campaign, right=False).task_id for _ in range(2)] == golds[:2]
    status = qualification_status(campaign=campaign, labeler=bad)
    assert (status["status"], status["agreement"], status["done"]) == ("failed", 0.0, 2)
    assert assignment_next(labeler=bad, campaign_id=campaign.pk) is None  # failed: nothing served

    from labeling.services.qualification import qualification_reopen
    qualification_reopen(campaign=campaign, labeler_id=bad.pk, by=campaign_admin)
    assert qualification_status(campaign=campaign, labeler=bad)["status"] == "pending"
    again = [_answer(bad, campaign).task_id for _ in range(2)]
    assert again == golds[2:4]  # new gold tasks, never the ones seen before
    assert qualification_status(campaign=campaign, labeler=bad)["status"] == "passed"


def test_qualification_api_each_sees_what_they_may(make_campaign, make_user, client_for, campaign_admin, researcher):
    campaign, golds = _gold_campaign(make_campaign, n=4, gold=2, fraction=0.0)
    labeler, other = make_user("labeler"), make_user("labeler")
    admin = client_for(campaign_admin)
    url = f"{API}/campaigns/{campaign.pk}"
    assert client_for(labeler).put(f"{url}/qualification-settings", {"gold_tasks": 1, "min_agreement": 1},
                                   format="json").status_code == 403
    bad = admin.put(f"{url}/qualification-settings", {"gold_tasks": -1, "min_agreement": 2}, format="json")
    assert bad.status_code == 400 and {"gold_tasks", "min_agreement"} <= set(bad.json())
    r = admin.put(f"{url}/qualification-settings", {"gold_tasks": 1, "min_agreement": 1}, format="json")
    assert r.json() == {"campaign": campaign.pk, "gold_tasks": 1, "min_agreement": 1.0}

    campaign.refresh_from_db()
    _answer(labeler, campaign, right=False)
    mine = client_for(labeler).get(f"{url}/qualification").json()
    assert (mine["status"], mine["done"], mine["agreement"]) == ("failed", 1, 0.0)
    assert client_for(other).get(f"{url}/qualification").json()["status"] == "pending"  # only their own
    assert client_for(labeler).get(f"{url}/qualifications").status_code == 403
    listed = client_for(researcher).get(f"{url}/qualifications").json()
    assert [(q["labeler"], q["status"]) for q in listed] == [(labeler.username, "failed")]
    assert client_for(researcher).post(f"{url}/qualifications/{labeler.pk}/reopen").status_code == 403
    reopened = admin.post(f"{url}/qualifications/{labeler.pk}/reopen").json()
    assert (reopened["status"], reopened["reopened_by"], reopened["reopen_count"]) == (
        "pending", campaign_admin.username, 1)
    assert admin.post(f"{url}/qualifications/{other.pk}/reopen").status_code == 404  # no label in this campaign
