"""The queue's hot path shortcuts keep every guarantee of the slow paths they replace.

- token auth in one query: revocation, deactivation and role changes act on the very next request;
- PostgreSQL's one-statement submit writes nothing when its read went stale, and the locked path
  then answers as before (idempotent retry, 409, late submit);
- the input and content-negotiation shortcuts answer exactly what DRF would;
- hand-written statements are logged with their SQL, prepared or not.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.test import APIRequestFactory

from labeling.api.negotiation import JsonFirstContentNegotiation
from labeling.api.queue import QueueNextInput, SubmitInput, _fast_next, _fast_submit, _validated
from labeling.models import Assignment, Ranking, Task
from labeling.services.errors import Conflict
from labeling.services.queue import assignment_next, assignments_expire_stale
from labeling.services.submissions import assignment_submit
from labeling.services.users import user_set_roles, user_token_revoke

pytestmark = pytest.mark.django_db
API = "/api/v1"
only_pg = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL's one-statement paths")


def test_token_auth_is_one_query_and_acts_at_once(make_campaign, labeler, client_for, django_assert_num_queries):
    make_campaign(n=3)
    client = client_for(labeler)
    with django_assert_num_queries(1):  # token + user + roles: the 403 needs no second query
        assert client.post(f"{API}/campaigns", {}, format="json").status_code == 403
    user_set_roles(user=labeler, roles=[])
    assert client.post(f"{API}/queue/next", {}, format="json").status_code == 403
    user_set_roles(user=labeler, roles=["labeler"])
    assert client.post(f"{API}/queue/next", {}, format="json").status_code == 200
    labeler.is_active = False
    labeler.save(update_fields=["is_active"])
    assert client.post(f"{API}/queue/next", {}, format="json").status_code == 401
    labeler.is_active = True
    labeler.save(update_fields=["is_active"])
    user_token_revoke(user=labeler)
    assert client.post(f"{API}/queue/next", {}, format="json").status_code == 401


def test_roles_ride_along_with_the_token(make_user, client_for):
    staff = make_user(None, staff=True)
    both = make_user("researcher")
    user_set_roles(user=both, roles=["researcher", "campaign_admin"])
    me = client_for(both).get(f"{API}/me").json()
    assert me["roles"] == ["campaign_admin", "researcher"] and not me["is_staff"]
    assert client_for(staff).get(f"{API}/me").json()["roles"] == []


def _stale_read(a):
    """What ``assignment_submit`` read before the world changed under it."""
    from labeling.services import submissions_pg

    return submissions_pg.assignment_read(assignment_id=a.pk, labeler_id=a.labeler_id)


def _write(assignment, body):
    from labeling.services import submissions_pg
    from labeling.services.submissions import _digest

    return submissions_pg.submission_write(
        assignment=assignment, body=body, digest=_digest(body), seconds_spent=None, now=timezone.now()
    )


@only_pg
def test_stale_submit_writes_nothing_when_the_slot_was_retaken(make_campaign, make_user):
    make_campaign(n=1, lease_seconds=60)
    first, second = make_user(), make_user()
    a = assignment_next(labeler=first)
    read = _stale_read(a)  # leased, as far as this submit knows
    assignments_expire_stale(now=timezone.now() + timedelta(seconds=61))
    assert assignment_next(labeler=second).task_id == a.task_id  # the slot went to someone else
    body = {"kind": Task.Kind.RANKING, "ranking": [a.display_order], "ratings": [], "none_acceptable": False}
    assert _write(read, body) is None
    assert not Ranking.objects.exists()
    task = Task.objects.get(pk=a.task_id)
    assert (task.submitted_count, task.active_leases) == (0, 1)
    with pytest.raises(Conflict):
        assignment_submit(assignment_id=a.pk, labeler=first, data={"ranking": [a.display_order]})


@only_pg
def test_stale_submit_after_a_concurrent_identical_one_is_an_idempotent_retry(make_campaign, labeler):
    make_campaign(n=1)
    a = assignment_next(labeler=labeler)
    read = _stale_read(a)
    first = assignment_submit(assignment_id=a.pk, labeler=labeler, data={"ranking": [a.display_order]})
    body = {"kind": Task.Kind.RANKING, "ranking": [sorted(a.display_order)], "ratings": [], "none_acceptable": False}
    assert _write(read, body) is None  # the other request won: nothing written twice
    again = assignment_submit(assignment_id=a.pk, labeler=labeler, data={"ranking": [a.display_order]})
    assert (first.created, again.created, again.record.pk) == (True, False, first.record.pk)
    assert Ranking.objects.count() == 1 and Task.objects.get(pk=a.task_id).submitted_count == 1


@only_pg
def test_an_expired_lease_with_a_free_slot_is_submitted_in_one_statement(make_campaign, labeler):
    make_campaign(n=1, lease_seconds=60)
    a = assignment_next(labeler=labeler)
    assignments_expire_stale(now=timezone.now() + timedelta(seconds=61))
    with CaptureQueriesContext(connection) as queries:
        result = assignment_submit(assignment_id=a.pk, labeler=labeler, data={"ranking": [a.display_order]},
                                   seconds_spent=2)
    assert result.created and result.assignment.seconds_spent == 2.0
    assert len([q for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]) == 2
    task = Task.objects.get(pk=a.task_id)
    assert (task.submitted_count, task.active_leases, task.status) == (1, 0, Task.Status.DONE)
    stored = Assignment.objects.get(pk=a.pk)
    assert (stored.status, stored.seconds_spent) == (Assignment.Status.SUBMITTED, 2.0)


@only_pg
def test_prepared_statements_are_logged_with_their_sql(make_campaign, labeler):
    make_campaign(n=12)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(8):  # past psycopg's prepare threshold on this connection
            a = assignment_next(labeler=labeler)
            assignment_submit(assignment_id=a.pk, labeler=labeler, data={"ranking": [a.display_order]})
    assert all(isinstance(q["sql"], str) and q["sql"] for q in queries)
    assert any("WITH leased AS" in q["sql"] for q in queries[-6:])


SUBMIT_BODIES = [
    {}, {"ranking": [[1], [2]]}, {"ranking": [[1, 2]], "ratings": [{"completion": 1, "likert": 3}]},
    {"ranking": None}, {"ratings": None}, {"ranking": "x"}, {"none_acceptable": True}, {"none_acceptable": "true"},
    {"none_acceptable": 1}, {"seconds_spent": 2}, {"seconds_spent": 2.5}, {"seconds_spent": "2.5"},
    {"seconds_spent": -1}, {"seconds_spent": None}, {"seconds_spent": True}, {"seconds_spent": 10**400},
    {"seconds_spent": float("nan")}, {"text": "hi"}, {"text": "a\x00b"}, {"text": 3}, {"unknown": 1, "ranking": []},
]


def _drf(serializer_class, data):
    s = serializer_class(data=data)
    return dict(s.validated_data) if s.is_valid() else s.errors


def _ours(serializer_class, data, fast):
    from rest_framework.exceptions import ValidationError

    try:
        return dict(_validated(serializer_class, data, fast))
    except ValidationError as exc:
        return exc.detail


@pytest.mark.parametrize("data", SUBMIT_BODIES, ids=repr)
def test_fast_submit_input_answers_what_drf_answers(data):
    assert _ours(SubmitInput, data, _fast_submit) == _drf(SubmitInput, data)


@pytest.mark.parametrize("data", [{}, {"campaign": 3}, {"campaign": None}, {"campaign": "3"}, {"campaign": "abc"},
                                  {"campaign": True}, {"campaign": 3.0}, [], {"other": 1},
                                  {"kind": "ranking"}, {"kind": "demonstration", "campaign": 3}, {"kind": None},
                                  {"kind": "rank"}, {"kind": ""}, {"kind": ["ranking"]}, {"kind": 1}], ids=repr)
def test_fast_next_input_answers_what_drf_answers(data):
    assert _ours(QueueNextInput, data, _fast_next) == _drf(QueueNextInput, data)


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "text/html", "application/json; indent=4",
                                    "text/html, */*;q=0.8", "application/xml"])
@pytest.mark.parametrize("path", ["/x", "/x?format=json", "/x?format=api"])
def test_negotiation_shortcut_answers_what_drf_answers(accept, path):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    renderers = [JSONRenderer(), BrowsableAPIRenderer()]

    def pick(negotiation):
        from rest_framework.request import Request

        request = Request(APIRequestFactory().get(path, **headers))
        try:
            renderer, media_type = negotiation.select_renderer(request, renderers)
            return type(renderer), media_type
        except Exception as exc:
            return type(exc)

    assert pick(JsonFirstContentNegotiation()) == pick(DefaultContentNegotiation())


@pytest.mark.parametrize("model", ["Assignment", "Ranking", "Rating", "Demonstration"])
def test_hand_written_inserts_name_every_column(model):
    """A field added to one of these models must be added to the one-statement INSERTs as well."""
    import re

    from labeling import models
    from labeling.services import queue_pg, queue_sqlite, submissions_pg, submissions_sqlite

    table = getattr(models, model)._meta.db_table
    sql = (queue_pg._LEASE_SQL + submissions_pg._RANKING_SQL + submissions_pg._DEMONSTRATION_SQL
           + queue_sqlite._INSERT_SQL + submissions_sqlite._RANKING_SQL + submissions_sqlite._RATING_SQL
           + submissions_sqlite._DEMONSTRATION_SQL)
    inserts = re.findall(rf"INSERT INTO {table} \(([^)]*)\)", sql)
    assert len(inserts) == 2  # PostgreSQL's statement and SQLite's
    for listed in inserts:
        columns = {c.strip() for c in listed.split(",")}
        assert columns == {f.column for f in getattr(models, model)._meta.concrete_fields if not f.primary_key}
