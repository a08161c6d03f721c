"""Schemathesis against /api/v1/openapi.json: property-based requests (valid and invalid)
to every operation, with a key holding every scope. No 500; statuses, content types,
headers and bodies match the document; invalid requests are rejected; requests without
the key are refused. Kept short (a few examples per operation) so the suite stays fast."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api import keys
from app.api.models import SCOPES
from app.timeutil import utcnow
from tests.factories import make_contact

MAX_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]


def _operations(app, make_org):
    org = make_org()
    for _ in range(3):
        make_contact(org)
    new = keys.create_key(
        org.id,
        name="schemathesis",
        scopes=list(SCOPES),
        expires_at=None,
        actor_id=None,
        now=utcnow(),
    )
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()], f"Bearer {new.secret}"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_matches_its_openapi_document(app, make_org, mode):
    operations, auth = _operations(app, make_org)
    assert len(operations) >= 6
    failures, calls = [], []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            # The same examples on every run: a random draw once produced a "negative" case
            # whose only invalid parts were the Authorization header this test adds back and
            # a query key lost in serialization, i.e. a valid request (flaky, not a finding).
            derandomize=True,
        )
        def run(case):
            case.call_and_validate(headers={"Authorization": auth}, checks=CHECKS)
            calls.append((case.operation.label, case.method))

        try:
            run()
        except Exception as error:  # collect every operation's failure, then report
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
    assert {label for label, _method in calls} == {op.label for op in operations}
