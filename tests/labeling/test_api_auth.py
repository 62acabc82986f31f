"""Auth endpoints: token, session login with CSRF, logout, /me."""

import pytest
from rest_framework.test import APIClient

from factories import PASSWORD
from labeling.services.queue import assignment_next
from labeling.services.submissions import assignment_skip, assignment_submit

pytestmark = pytest.mark.django_db
API = "/api/v1"


def test_token_for_good_credentials_only(labeler):
    client = APIClient()
    r = client.post(f"{API}/auth/token", {"username": labeler.username, "password": PASSWORD}, format="json")
    assert r.status_code == 200 and len(r.json()["token"]) == 40
    again = client.post(f"{API}/auth/token", {"username": labeler.username, "password": PASSWORD}, format="json")
    assert again.json()["token"] != r.json()["token"]  # a new token each time; both work
    bad = client.post(f"{API}/auth/token", {"username": labeler.username, "password": "nope"}, format="json")
    assert bad.status_code == 400 and bad.json() == {"detail": "invalid username or password"}
    me = APIClient(HTTP_AUTHORIZATION=f"Token {r.json()['token']}").get(f"{API}/me")
    assert me.status_code == 200 and me.json()["username"] == labeler.username


def test_session_login_needs_csrf_and_then_works(labeler):
    client = APIClient(enforce_csrf_checks=True)
    creds = {"username": labeler.username, "password": PASSWORD}
    assert client.post(f"{API}/auth/login", creds, format="json").status_code == 403  # no CSRF token
    token = client.get(f"{API}/auth/csrf").json()["csrfToken"]
    assert client.cookies["csrftoken"].value
    r = client.post(f"{API}/auth/login", creds, format="json", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 200, r.content
    assert r.json() == {"user": {"id": labeler.pk, "username": labeler.username, "roles": ["labeler"], "is_staff": False}}
    assert client.get(f"{API}/me").status_code == 200
    # Unsafe methods on a session need the (rotated) CSRF token.
    assert client.post(f"{API}/queue/next", {}, format="json").status_code == 403
    token = client.cookies["csrftoken"].value
    assert client.post(f"{API}/queue/next", {}, format="json", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.post(f"{API}/auth/logout", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.get(f"{API}/me").status_code == 401


def test_logout_with_a_token_revokes_it(labeler, client_for):
    client = client_for(labeler)
    assert client.post(f"{API}/auth/logout").status_code == 204
    assert client.get(f"{API}/me").status_code == 401


def test_me_counts_and_campaigns(labeler, client_for, make_campaign):
    a_campaign = make_campaign(n=3, name="alpha")
    make_campaign(n=1, kinds=("demonstration",), k=0, name="beta")
    first = assignment_next(labeler=labeler, campaign_id=a_campaign.pk)
    assignment_submit(assignment_id=first.pk, labeler=labeler, data={"ranking": [first.display_order]})
    second = assignment_next(labeler=labeler, campaign_id=a_campaign.pk)
    assignment_skip(assignment_id=second.pk, labeler=labeler)
    third = assignment_next(labeler=labeler, campaign_id=a_campaign.pk)  # held: counts as open for me
    assert third is not None
    body = client_for(labeler).get(f"{API}/me").json()
    assert body["roles"] == ["labeler"] and body["is_staff"] is False
    assert body["counts"] == {"today": 1, "total": 1, "demonstrations": 0, "rankings": 1, "skipped": 1}
    assert {c["name"]: c["open_tasks"] for c in body["campaigns"]} == {"alpha": 1, "beta": 1}
    assert all(c["status"] == "active" for c in body["campaigns"])


def test_me_for_a_non_labeler_lists_no_campaigns(researcher, client_for, make_campaign):
    make_campaign(n=2)
    body = client_for(researcher).get(f"{API}/me").json()
    assert body["roles"] == ["researcher"] and body["campaigns"] == []
