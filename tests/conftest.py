"""Shared fixtures. Nothing here is autouse and Django is imported lazily inside fixtures, so the
non-Django suites (tests/training) are unaffected by this file."""

import pytest


@pytest.fixture
def make_user(db):
    """``make_user(role)`` → a saved user with that role (``None`` for no role, ``staff=True``)."""
    from factories import make_user

    return make_user


@pytest.fixture
def labeler(make_user):
    return make_user("labeler")


@pytest.fixture
def campaign_admin(make_user):
    return make_user("campaign_admin")


@pytest.fixture
def researcher(make_user):
    return make_user("researcher")


@pytest.fixture
def staff_user(make_user):
    return make_user(None, staff=True)


@pytest.fixture
def client_for(db):
    """``client_for(user)`` → an APIClient authenticated with the user's real API token
    (``None`` → anonymous), so authentication queries are part of what tests measure."""
    from rest_framework.test import APIClient

    from labeling.services.users import user_token_create

    def build(user=None):
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {user_token_create(user=user).key}")
        return client

    return build


@pytest.fixture
def make_campaign(db):
    """``make_campaign(n=3, k=4, overlap=1, kinds=("ranking",), ...)``: see factories.campaign_with_tasks."""
    from factories import campaign_with_tasks

    return campaign_with_tasks
