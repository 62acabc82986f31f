"""Password guessing is slowed: every login door answers 429 past the per-IP rate, forged headers or not."""
import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from labeling.api.throttling import AuthAttemptThrottle


@pytest.fixture
def strict_auth_rate(monkeypatch):
    cache.clear()
    monkeypatch.setattr(AuthAttemptThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    yield
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/auth/token", "/api/v1/auth/login"])
def test_fourth_attempt_in_a_minute_is_throttled(strict_auth_rate, labeler, url):
    client = APIClient(enforce_csrf_checks=False)
    codes = [client.post(url, {"username": labeler.username, "password": "wrong"}, format="json").status_code
             for _ in range(4)]
    assert codes[:3] == [400, 400, 400]
    assert codes[3] == 429


@pytest.mark.django_db
def test_a_forged_forwarded_for_header_does_not_reset_the_count(strict_auth_rate, labeler):
    client = APIClient()
    codes = [client.post("/api/v1/auth/token", {"username": labeler.username, "password": "wrong"},
                         format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code for i in range(5)]
    assert codes[3:] == [429, 429]


@pytest.mark.django_db
def test_django_admin_login_shares_the_budget(strict_auth_rate, staff_user):
    client = Client()
    codes = [client.post("/admin/login/", {"username": staff_user.username, "password": "wrong"}).status_code
             for _ in range(4)]
    assert codes[:3] == [200, 200, 200]  # the admin re-shows its form with an error
    assert codes[3] == 429


@pytest.mark.django_db
def test_api_schema_and_docs_need_a_login(labeler):
    anonymous = Client()
    assert anonymous.get("/api/schema/").status_code in (401, 403)
    assert anonymous.get("/api/docs/").status_code in (401, 403)
    signed_in = Client()
    signed_in.force_login(labeler)
    assert signed_in.get("/api/schema/").status_code == 200
