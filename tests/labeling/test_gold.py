"""Gold tasks: setting a gold answer, the pairwise agreement maths, the per-labeler report and its endpoint."""

import pytest
from django.core.exceptions import ValidationError

from labeling.models import Campaign, Task
from labeling.selectors.quality import gold_pairs, labeler_gold_agreement, ranking_agreement
from labeling.services.gold import task_set_gold
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit

API = "/api/v1"
GOLD = [[3], [1, 4], [2]]


# --- the maths (no database) ---------------------------------------------------------------------

def test_gold_pairs_skip_ties():
    assert sorted(gold_pairs(GOLD)) == [(1, 2), (3, 1), (3, 2), (3, 4), (4, 2)]
    assert gold_pairs([[1, 2, 3]]) == []


@pytest.mark.parametrize(
    "answer, expected",
    [
        (GOLD, (5, 5)),
        ([[3], [4, 1], [2]], (5, 5)),  # order inside a tie does not matter
        ([[2], [1, 4], [3]], (0, 5)),  # reversed
        ([[3, 1], [4], [2]], (4, 5)),  # ties 3 with 1: that pair is not ordered the same way
        ([[3], [1], [4], [2]], (5, 5)),  # breaking a gold tie costs nothing: a tie is no gold pair
        ([[1, 2, 3, 4]], (0, 5)),  # all tied
        ([[3], [2]], (1, 1)),  # completions missing from the answer are left out of both counts
    ],
)
def test_ranking_agreement(answer, expected):
    assert ranking_agreement(GOLD, answer) == expected


# --- the service ---------------------------------------------------------------------------------

@pytest.fixture
def campaign(make_campaign):
    """2 prompts, 3 completions each: 2 ranking + 2 demonstration tasks, 3 labels per task; gold tasks are
    served first (gold_fraction 1)."""
    campaign = make_campaign(n=2, k=3, overlap=3, kinds=("ranking", "demonstration"))
    Campaign.objects.filter(pk=campaign.pk).update(gold_fraction=1.0)
    campaign.refresh_from_db()
    return campaign


def _ids(task):
    return sorted(task.completions.values_list("id", flat=True))


@pytest.mark.django_db
def test_task_set_gold_validates_and_writes_only_the_answer(campaign, labeler):
    task = Task.objects.filter(campaign=campaign, kind="ranking").order_by("id").first()
    a, b, c = _ids(task)
    for bad, message in [
        ([[a], [b]], f"completion {c} missing"),
        ([[a], [b], [c], [999]], "999 is not part of this task"),
        ([[a, b, c]], "at least two groups"),
        ("best first", "non-empty list of groups"),
    ]:
        with pytest.raises(ValidationError, match=message):
            task_set_gold(task=task, answer=bad)
    stale = Task.objects.get(pk=task.pk)
    Task.objects.filter(pk=task.pk).update(active_leases=1)  # as the queue does meanwhile, under its row lock
    task_set_gold(task=stale, answer={"ranking": [[c, a], [b]]})
    task.refresh_from_db()
    assert task.gold_answer == {"ranking": [[a, c], [b]]}  # canonical: sorted inside a tie
    assert task.active_leases == 1  # the stale copy did not overwrite the lease count

    demo = Task.objects.filter(campaign=campaign, kind="demonstration").first()
    assert task_set_gold(task=demo, answer="  A reference answer. ").gold_answer == {"text": "A reference answer."}
    for bad in ("   ", [[1]], "nul\x00"):
        with pytest.raises(ValidationError):
            task_set_gold(task=demo, answer=bad)
    task_set_gold(task=demo, answer=None)
    demo.refresh_from_db()
    assert demo.gold_answer is None


# --- the report ----------------------------------------------------------------------------------

def _label_everything(campaign, labelers, rank):
    """Each labeler submits every task of the campaign; ``rank(labeler, task)`` gives their ranking."""
    for labeler in labelers:
        while (a := assignment_next(labeler=labeler, campaign_id=campaign.pk)) is not None:
            body = {"text": "my answer"} if a.task.kind == "demonstration" else {"ranking": rank(labeler, a.task)}
            assignment_submit(assignment_id=a.pk, labeler=labeler, data=body)


@pytest.mark.django_db
def test_labeler_gold_agreement(campaign, make_user, django_assert_num_queries):
    good, sloppy, contrary = (make_user("labeler", username=n) for n in ("good", "sloppy", "contrary"))
    rankings = Task.objects.filter(campaign=campaign, kind="ranking").order_by("id")
    gold_task = rankings[0]  # the other ranking task stays ordinary: not counted
    a, b, c = _ids(gold_task)
    task_set_gold(task=gold_task, answer=[[a], [b], [c]])  # 3 pairs
    task_set_gold(task=Task.objects.filter(campaign=campaign, kind="demonstration").first(), answer="Reference.")

    def rank(labeler, task):
        ids = _ids(task)
        if task.pk != gold_task.pk or labeler == good:
            return [[i] for i in ids]
        if labeler == sloppy:
            return [[a, b], [c]]  # (a, b) tied: 2 of 3 pairs agree
        return [[c], [b], [a]]  # contrary: none agree

    with django_assert_num_queries(2):
        assert labeler_gold_agreement(campaign=campaign)["labelers"] == []  # gold, but no label yet
    _label_everything(campaign, [good, sloppy, contrary], rank)
    with django_assert_num_queries(2):
        report = labeler_gold_agreement(campaign=campaign)
    assert report["gold_tasks"] == {"ranking": 1, "demonstration": 1}
    by_name = {row["username"]: row for row in report["labelers"]}
    assert [row["username"] for row in report["labelers"]] == ["contrary", "sloppy", "good"]  # worst first
    assert by_name["good"] == {"labeler_id": good.pk, "username": "good", "gold_labelled": 2, "gold_rankings": 1,
                               "pairs": 3, "agreeing_pairs": 3, "agreement": 1.0}
    assert (by_name["sloppy"]["agreeing_pairs"], by_name["sloppy"]["agreement"]) == (2, pytest.approx(2 / 3))
    assert by_name["contrary"]["agreement"] == 0.0


@pytest.mark.django_db
def test_a_campaign_without_gold_costs_one_query(campaign, django_assert_num_queries):
    with django_assert_num_queries(1):
        report = labeler_gold_agreement(campaign=campaign)
    assert report == {"campaign": campaign.pk, "gold_fraction": 1.0, "gold_tasks": {"ranking": 0, "demonstration": 0},
                      "labelers": []}


# --- over HTTP -----------------------------------------------------------------------------------

ROLES = ("anon", "nobody", "labeler", "researcher", "campaign_admin", "staff")
ALLOWED = {"campaign_admin", "staff"}


@pytest.fixture
def users(make_user):
    found = {role: make_user(role) for role in ("labeler", "researcher", "campaign_admin")}
    return {**found, "anon": None, "nobody": make_user(None), "staff": make_user(None, staff=True)}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_quality_endpoints_are_for_campaign_admins_and_staff(campaign, users, client_for, role):
    client = client_for(users[role])
    task = Task.objects.filter(campaign=campaign, kind="ranking").first()
    ids = _ids(task)
    denied = 401 if role == "anon" else 403
    r = client.get(f"{API}/campaigns/{campaign.pk}/quality")
    assert r.status_code == (200 if role in ALLOWED else denied), r.content
    r = client.put(f"{API}/tasks/{task.pk}/gold", {"answer": [ids[:1], ids[1:]]}, format="json")
    assert r.status_code == (200 if role in ALLOWED else denied), r.content
    task.refresh_from_db()
    assert (task.gold_answer is not None) == (role in ALLOWED)


@pytest.mark.django_db
def test_quality_endpoints_answers(campaign, campaign_admin, labeler, client_for):
    client = client_for(campaign_admin)
    task = Task.objects.filter(campaign=campaign, kind="ranking").order_by("id").first()
    ids = _ids(task)
    r = client.put(f"{API}/tasks/{task.pk}/gold", {"answer": [[ids[2]], [ids[0], ids[1]]]}, format="json")
    assert r.status_code == 200 and r.json() == {"id": task.pk, "kind": "ranking",
                                                 "gold_answer": {"ranking": [[ids[2]], [ids[0], ids[1]]]}}
    r = client.put(f"{API}/tasks/{task.pk}/gold", {"answer": [[ids[0]]]}, format="json")
    assert r.status_code == 400 and "answer" in r.json(), r.content
    assert client.put(f"{API}/tasks/{task.pk}/gold", {}, format="json").status_code == 400
    assert client.put(f"{API}/tasks/99999/gold", {"answer": None}, format="json").status_code == 404
    assert client.get(f"{API}/campaigns/99999/quality").status_code == 404

    # Labelers never see the gold answer: the gold task looks like any other.
    Task.objects.exclude(pk=task.pk).update(priority=-1)
    a = assignment_next(labeler=labeler)
    assert a.task_id == task.pk
    body = client_for(labeler).get(f"{API}/assignments/{a.pk}").json()
    assert body["task"]["id"] == task.pk and "gold" not in str(body)

    # The labeler puts ids[0] first: of the gold pairs (ids[2], ids[0]) and (ids[2], ids[1]), only the second agrees.
    _label_everything(campaign, [labeler], lambda _, t: [[i] for i in (_ids(t)[0], _ids(t)[2], _ids(t)[1])])
    r = client.get(f"{API}/campaigns/{campaign.pk}/quality")
    assert r.status_code == 200
    assert r.json()["labelers"] == [{"labeler_id": labeler.pk, "username": labeler.username, "gold_labelled": 1,
                                     "gold_rankings": 1, "pairs": 2, "agreeing_pairs": 1, "agreement": 0.5}]
