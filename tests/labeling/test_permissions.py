"""Permission matrix: every endpoint of docs/api.md (auth, queue, campaigns) × every role.

Research endpoints (models/snapshots/jobs) have their own matrix in tests/ops/test_research_api.py.
Expected codes are what a request with an empty body gets once past (or stopped by) the
permission check: 401 anonymous, 403 wrong role, otherwise the endpoint's own answer.
"""

import pytest

ROLES = ("anon", "nobody", "labeler", "campaign_admin", "researcher", "staff")

# path, method, {role: status}; "*" is the default for roles not listed.
MATRIX = [
    ("post", "/auth/token", {"*": 400}),
    ("post", "/auth/login", {"*": 400}),
    ("get", "/auth/csrf", {"*": 200}),
    ("post", "/auth/logout", {"anon": 401, "*": 204}),
    ("get", "/auth/tokens", {"anon": 401, "*": 200}),
    ("post", "/auth/token/rotate", {"anon": 401, "*": 200}),
    ("delete", "/auth/tokens/999999", {"anon": 401, "*": 404}),
    ("get", "/me", {"anon": 401, "*": 200}),
    ("post", "/queue/next", {"anon": 401, "labeler": 200, "staff": 200, "*": 403}),
    ("get", "/assignments/{a}", {"anon": 401, "labeler": 200, "staff": 404, "*": 403}),
    ("post", "/assignments/{a}/submit", {"anon": 401, "labeler": 400, "staff": 404, "*": 403}),
    ("post", "/assignments/{a}/skip", {"anon": 401, "labeler": 200, "staff": 404, "*": 403}),
    ("get", "/campaigns", {"anon": 401, "nobody": 403, "*": 200}),
    ("post", "/campaigns", {"anon": 401, "campaign_admin": 400, "staff": 400, "*": 403}),
    ("get", "/campaigns/{c}", {"anon": 401, "nobody": 403, "*": 200}),
    ("patch", "/campaigns/{c}", {"anon": 401, "campaign_admin": 200, "staff": 200, "*": 403}),
    ("delete", "/campaigns/{c}", {"anon": 401, "staff": 409, "*": 403}),  # not its creator: 403
    # Delete: the creator or staff only, and never a campaign that ever had assignments (archived or not).
    ("delete", "/campaigns/{archived}", {"anon": 401, "campaign_admin": 409, "staff": 409, "*": 403}),
    ("delete", "/campaigns/{empty}", {"anon": 401, "staff": 204, "*": 403}),
    ("delete", "/campaigns/{own_empty}", {"anon": 401, "campaign_admin": 204, "staff": 204, "*": 403}),
    ("post", "/campaigns/{c}/activate", {"anon": 401, "campaign_admin": 200, "staff": 200, "*": 403}),
    ("post", "/campaigns/{c}/pause", {"anon": 401, "campaign_admin": 200, "staff": 200, "*": 403}),
    ("post", "/campaigns/{c}/archive", {"anon": 401, "campaign_admin": 200, "staff": 200, "*": 403}),
    ("post", "/campaigns/{c}/prompts/import", {"anon": 401, "campaign_admin": 400, "staff": 400, "*": 403}),
    ("get", "/campaigns/{c}/prompts", {"anon": 401, "nobody": 403, "*": 200}),
    ("get", "/campaigns/{c}/progress", {"anon": 401, "nobody": 403, "*": 200}),
]


@pytest.fixture
def world(make_user, make_campaign):
    """One labeler holding a lease, a campaign with labels, an empty one, and one user per role."""
    from labeling.services.campaigns import campaign_archive, campaign_create
    from labeling.services.queue import assignment_next

    users = {role: make_user(role) for role in ("labeler", "campaign_admin", "researcher")}
    users["nobody"] = make_user(None)
    users["staff"] = make_user(None, staff=True)
    campaign = make_campaign(n=3)
    assignment = assignment_next(labeler=users["labeler"])
    empty = campaign_create(name="empty-campaign")  # no creator: staff's alone to delete
    own_empty = campaign_create(name="own-empty", created_by=users["campaign_admin"])
    archived = make_campaign(n=1)
    archived.created_by = users["campaign_admin"]
    archived.save(update_fields=["created_by"])
    assignment_next(labeler=users["labeler"], campaign_id=archived.pk)
    campaign_archive(campaign=archived)
    ids = {"c": campaign.pk, "a": assignment.pk, "empty": empty.pk, "own_empty": own_empty.pk, "archived": archived.pk}
    return {"users": users, "ids": ids}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, path, expected", MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_permission_matrix(world, client_for, role, method, path, expected):
    client = client_for(None if role == "anon" else world["users"][role])
    url = "/api/v1" + path.format(**world["ids"])
    response = getattr(client, method)(url, {}, format="multipart" if "import" in path else "json")
    assert response.status_code == expected.get(role, expected["*"]), (role, url, response.content[:300])
