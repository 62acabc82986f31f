"""A bounded fuzzing pass over the live OpenAPI schema (schemathesis + Hypothesis): no input is a 5xx,
and the schema is honest.

Every operation of ``/api/schema/`` gets a few generated requests that fit the schema and a few that
do not, once with a labeler's token and once with a staff token (staff passes every role check, so
the request reaches the view and its input handling). It fails on any 5xx, on a status code the
schema does not list for the operation, and on a body that does not match the documented one. Bounded: a fixed number of
examples per operation, derandomized (the same requests every run: no flaky failures, a failure
reproduces), no Hypothesis database; about 45 s for both roles here. ``FUZZ_EXAMPLES`` raises the count for a
longer local run.
"""

import os

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from labeling.services.queue import assignment_next
from labeling.services.users import user_token_create

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
BOUNDED = hypothesis.settings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
)


@pytest.fixture
def wsgi_app():
    """The real WSGI app, run in this thread inside the test's transaction. Like Django's test client,
    keep request_started from closing the connection (which would break that transaction)."""
    signals.request_started.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)


@pytest.fixture
def world(make_campaign, labeler, staff_user, settings, tmp_path):
    """Objects with ids 1.. so generated path ids sometimes hit real rows; files go to a temp dir."""
    settings.PREFLOOP_DATA_DIR = tmp_path
    campaign = make_campaign(n=3, k=2)
    make_campaign(n=2, kinds=("demonstration",))
    assignment_next(labeler=labeler, campaign_id=campaign.pk)
    return {"labeler": labeler, "staff": staff_user}


def _fuzz_operation(operation, headers: dict, mode: GenerationMode, failures: list) -> None:
    @BOUNDED
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance])
        except FailureGroup as exc:  # one sub-failure per violated check
            failures.append(f"{case.method} {case.formatted_path} query={case.query} body={str(case.body)[:200]!r}"
                            f" → {response.status_code} {response.text[:200]}: {'; '.join(str(e).splitlines()[0] for e in exc.exceptions)}")

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameters, no body): fine


@pytest.mark.parametrize("role", ["labeler", "staff"])
def test_no_input_gets_a_5xx(world, wsgi_app, role):
    headers = {"Authorization": f"Token {user_token_create(user=world[role]).key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app, headers=headers)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(operation, headers, mode, failures)
    assert operations >= 30, "the schema lost its operations"
    assert not failures, "\n".join(failures[:20])
