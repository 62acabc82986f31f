"""Password guessing is slowed: the login and token endpoints answer 429 past their rate."""
import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle


@pytest.fixture
def strict_auth_rate(monkeypatch):
    cache.clear()
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
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
