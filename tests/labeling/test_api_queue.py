"""Queue endpoints over HTTP: the documented payload, 204, reloads, and the payload contract."""

import json

import pytest
from rest_framework.renderers import JSONRenderer

from labeling.api.queue import AssignmentOutput, SubmissionOutput
from labeling.models import RATING_FLAGS
from labeling.selectors.assignments import assignment_payload, submission_payload
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_submit

pytestmark = pytest.mark.django_db
API = "/api/v1"


def test_next_returns_the_documented_payload(make_campaign, labeler, client_for):
    campaign = make_campaign(n=2, k=4)
    client = client_for(labeler)
    r = client.post(f"{API}/queue/next", {}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"assignment_id", "status", "expires_at", "started_at", "task"}
    task = body["task"]
    assert set(task) == {"id", "kind", "campaign", "prompt", "completions", "guidelines", "flags"}
    assert task["kind"] == "ranking" and task["campaign"] == {"id": campaign.pk, "name": campaign.name}
    assert task["prompt"]["messages"][0]["role"] == "user" and task["prompt"]["category"] == "open_qa"
    assert task["guidelines"] == "# Be helpful" and task["flags"] == list(RATING_FLAGS)
    assert len(task["completions"]) == 4 and all(set(c) == {"id", "text"} for c in task["completions"])
    assert body["expires_at"].endswith("Z") and body["status"] == "leased"
    # A reload gets the same assignment, in the same order.
    assert client.post(f"{API}/queue/next", {}, format="json").json() == body
    assert client.get(f"{API}/assignments/{body['assignment_id']}").json() == body


def test_next_with_a_campaign_and_204(make_campaign, labeler, client_for):
    a = make_campaign(n=1, name="a")
    b = make_campaign(n=1, kinds=("demonstration",), k=0, name="b")
    client = client_for(labeler)
    r = client.post(f"{API}/queue/next", {"campaign": b.pk}, format="json")
    assert r.json()["task"]["kind"] == "demonstration" and r.json()["task"]["completions"] == []
    assert client.post(f"{API}/assignments/{r.json()['assignment_id']}/submit", {"text": "done"}, format="json").status_code == 201
    assert client.post(f"{API}/queue/next", {"campaign": b.pk}, format="json").status_code == 204
    assert client.post(f"{API}/queue/next", {"campaign": 999999}, format="json").status_code == 204
    r = client.post(f"{API}/queue/next", {"campaign": a.pk}, format="json")
    assert r.status_code == 200 and r.json()["task"]["campaign"]["id"] == a.pk
    assert client.post(f"{API}/queue/next", {"campaign": "abc"}, format="json").status_code == 400


def test_payloads_render_exactly_as_their_serializers(make_campaign, labeler):
    make_campaign(n=1, k=3)
    a = assignment_next(labeler=labeler)
    payload = assignment_payload(assignment=a)
    rendered = json.loads(JSONRenderer().render(payload))
    assert json.loads(JSONRenderer().render(AssignmentOutput(payload).data)) == rendered
    ids = a.display_order
    result = assignment_submit(
        assignment_id=a.pk, labeler=labeler,
        data={"ranking": [ids], "ratings": [{"completion": ids[0], "likert": 2, "flags": ["hallucination"]}]},
        seconds_spent=3.5,
    )
    payload = submission_payload(assignment=result.assignment, record=result.record)
    rendered = json.loads(JSONRenderer().render(payload))
    assert json.loads(JSONRenderer().render(SubmissionOutput(payload).data)) == rendered
    assert rendered["seconds_spent"] == 3.5 and rendered["kind"] == "ranking"
