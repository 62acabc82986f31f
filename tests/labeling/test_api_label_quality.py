"""The label-quality endpoints: who may call them, what they answer, and clear 4xx on bad input."""
import pytest

from crowd import simulate_crowd
from labeling.models import Assignment, LabelReview, Task

API = "/api/v1"
ROLES = ("anon", "nobody", "labeler", "campaign_admin", "researcher", "staff")
READ = {"anon": 401, "nobody": 403, "labeler": 403, "*": 200}
MATRIX = [
    ("get", "/campaigns/{c}/agreement?n_boot=100", READ),
    ("get", "/campaigns/{c}/consensus", READ),
    ("get", "/campaigns/{c}/labelers?n_boot=100", READ),
    ("get", "/campaigns/{c}/labelers/{l}?n_boot=100", READ),
    ("get", "/campaigns/{c}/review-queue", READ),
    ("post", "/labels/{a}/review", {"anon": 401, "campaign_admin": 400, "staff": 400, "*": 403}),
]


@pytest.fixture
def crowd(db):
    return simulate_crowd(tasks=10, k=3, honest=2, seed=3)


@pytest.fixture
def users(make_user):
    users = {role: make_user(role) for role in ("labeler", "campaign_admin", "researcher")}
    users["nobody"] = make_user(None)
    users["staff"] = make_user(None, staff=True)
    return users


@pytest.mark.django_db
@pytest.mark.parametrize("method, path, expected", MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_permission_matrix(crowd, users, client_for, method, path, expected):
    label = Assignment.objects.filter(campaign=crowd.campaign).first()
    url = API + path.format(c=crowd.campaign.pk, l=label.labeler_id, a=label.pk)
    for role in ROLES:
        response = getattr(client_for(None if role == "anon" else users[role]), method)(url, {}, format="json")
        assert response.status_code == expected.get(role, expected["*"]), (role, url, response.content[:300])


@pytest.mark.django_db
def test_agreement_labelers_and_consensus_answers(crowd, researcher, client_for):
    client = client_for(researcher)
    c = crowd.campaign.pk
    body = client.get(f"{API}/campaigns/{c}/agreement?n_boot=100").json()
    assert body["overall"]["pairwise_agreement"]["n_tasks"] == 10
    assert body["overall"]["pairwise_agreement"]["n_items"] == 10 * 10 * 3  # C(5,2) labeler pairs × C(3,2)
    assert {"value", "ci_low", "ci_high", "n_tasks", "n_items"} == set(body["overall"]["alpha_likert"])
    assert len(body["labelers"]) == 5 and body["by_week"][0]["week"]

    consensus = client.get(f"{API}/campaigns/{c}/consensus?limit=3").json()
    assert consensus["count"] == 10 and len(consensus["results"]) == 3
    assert sorted(i for g in consensus["results"][0]["consensus"] for i in g) == sorted(
        Task.objects.get(pk=consensus["results"][0]["task_id"]).completions.values_list("id", flat=True))

    labelers = client.get(f"{API}/campaigns/{c}/labelers?n_boot=100").json()
    careless = next(e for e in labelers["labelers"] if e["username"].startswith("careless"))
    assert "speed" in careless["flags"]
    page = client.get(f"{API}/campaigns/{c}/labelers/{careless['labeler_id']}?n_boot=100").json()
    fastest = page["signals"]["speed"]["examples"][0]
    assert page["examples"][str(fastest)]["seconds_spent"] < 6

    assert client.get(f"{API}/campaigns/{c}/labelers/999999").status_code == 404
    bad = client.get(f"{API}/campaigns/{c}/agreement?n_boot=5")
    assert bad.status_code == 400 and "n_boot" in bad.json()


@pytest.mark.django_db
def test_review_queue_and_decisions_through_the_api(crowd, campaign_admin, client_for):
    client = client_for(campaign_admin)
    c = crowd.campaign.pk
    queue = client.get(f"{API}/campaigns/{c}/review-queue?signal=speed&limit=2").json()
    assert queue["count"] == 10 and len(queue["items"]) == 2  # the careless labeler labelled every task
    item = queue["items"][0]
    assert item["agreement"] <= queue["items"][1]["agreement"]  # most contested first
    assert len(item["labels"]) == 5 and item["completions"][0]["text"].startswith("answer")
    careless = next(lab for lab in item["labels"] if "speed" in lab["labeler_flags"])

    url = f"{API}/labels/{careless['assignment_id']}/review"
    missing = client.post(url, {"decision": "reject"}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()
    done = client.post(url, {"decision": "reject", "reason": "4 seconds for 3 outputs", "signal": "speed"},
                       format="json")
    assert done.status_code == 201 and done.json()["reviewer"] == campaign_admin.username
    assert client.post(url, {"decision": "accept"}, format="json").status_code == 409
    assert Task.objects.get(pk=item["task_id"]).status == "open"
    assert LabelReview.objects.get(assignment_id=careless["assignment_id"]).reason == "4 seconds for 3 outputs"

    filtered = client.get(f"{API}/campaigns/{c}/review-queue?max_agreement=0&labeler=1").json()
    assert filtered["count"] == 0
    assert client.get(f"{API}/campaigns/{c}/review-queue?signal=vibes").status_code == 400
