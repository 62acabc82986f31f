"""API tokens: a lifetime, rotation, revocation by the user, by a password change and by deactivation."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from factories import PASSWORD
from labeling.models import ApiToken
from labeling.services.users import user_token_create

pytestmark = pytest.mark.django_db
API = "/api/v1"


def token_client(key: str) -> APIClient:
    return APIClient(HTTP_AUTHORIZATION=f"Token {key}")


def new_token(user, name="") -> str:
    r = APIClient().post(f"{API}/auth/token", {"username": user.username, "password": PASSWORD, "name": name},
                         format="json")
    assert r.status_code == 200, r.content
    return r.json()["token"]


def test_only_a_hash_of_the_key_is_stored_and_tokens_expire(labeler, settings):
    key = new_token(labeler, "laptop")
    stored = ApiToken.objects.get()
    assert key not in (stored.key_hash, stored.prefix) and stored.prefix == key[:8] and stored.name == "laptop"
    assert abs(stored.expires_at - (timezone.now() + settings.API_TOKEN_LIFETIME)) < timedelta(minutes=1)
    assert token_client(key).get(f"{API}/me").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    r = token_client(key).get(f"{API}/me")
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_rotation_replaces_the_token_in_use(labeler):
    old = new_token(labeler)
    r = token_client(old).post(f"{API}/auth/token/rotate")
    assert r.status_code == 200, r.content
    fresh = r.json()["token"]
    assert fresh != old
    assert token_client(old).get(f"{API}/me").status_code == 401
    assert token_client(fresh).get(f"{API}/me").status_code == 200


def test_a_user_lists_and_revokes_their_own_tokens_only(labeler, make_user):
    first, second = new_token(labeler, "ci"), new_token(labeler, "laptop")
    other = new_token(make_user("labeler"), "theirs")
    listed = token_client(second).get(f"{API}/auth/tokens").json()
    assert [(t["name"], t["current"]) for t in listed] == [("laptop", True), ("ci", False)]
    assert set(listed[0]) == {"id", "name", "prefix", "created_at", "expires_at", "current"}  # never the key
    theirs = ApiToken.objects.get(name="theirs").pk
    assert token_client(second).delete(f"{API}/auth/tokens/{theirs}").status_code == 404
    assert token_client(other).get(f"{API}/me").status_code == 200
    ci = listed[1]["id"]
    assert token_client(second).delete(f"{API}/auth/tokens/{ci}").status_code == 204
    assert token_client(first).get(f"{API}/me").status_code == 401
    assert token_client(second).get(f"{API}/me").status_code == 200


def test_a_password_change_or_deactivation_revokes_tokens(labeler, make_user):
    key = new_token(labeler)
    labeler.set_password("a-new-password-123")
    labeler.save()
    assert token_client(key).get(f"{API}/me").status_code == 401
    assert not ApiToken.objects.filter(user=labeler).exists()

    other = make_user("labeler")
    key = new_token(other)
    other.is_active = False
    other.save(update_fields=["is_active"])
    assert token_client(key).get(f"{API}/me").status_code == 401
    other.is_active = True
    other.save(update_fields=["is_active"])
    assert token_client(key).get(f"{API}/me").status_code == 401  # revoked, not just refused


def test_tokens_per_user_are_capped_oldest_first(labeler, settings):
    settings.API_TOKENS_PER_USER = 3
    keys = [user_token_create(user=labeler, name=str(i)).key for i in range(5)]
    assert sorted(ApiToken.objects.values_list("name", flat=True)) == ["2", "3", "4"]
    assert token_client(keys[0]).get(f"{API}/me").status_code == 401
    assert token_client(keys[4]).get(f"{API}/me").status_code == 200


def test_rotate_needs_a_token_not_a_session(labeler):
    client = APIClient()
    client.force_login(labeler)
    r = client.post(f"{API}/auth/token/rotate")
    assert r.status_code == 400 and "Authorization: Token" in r.json()["detail"]
