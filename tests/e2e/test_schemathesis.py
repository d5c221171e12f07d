"""Every operation of every service's OpenAPI, fuzzed by schemathesis against the running
services with every check on: no server errors, status codes, content types, headers and
bodies as declared, invalid input refused, valid input accepted. Bounded: 25 examples per
operation."""

import traceback

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS, load_all_checks

from shared.auth import KeyKind
from tests.e2e.conftest import RunningServices, route_table

pytestmark = pytest.mark.e2e

EXAMPLES = 25
KEY_FOR = {"ingest": KeyKind.WRITE, "profile": KeyKind.ADMIN, "metrics": KeyKind.ADMIN}
DEFAULT_ACCEPTANCE = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
# Ingest answers every well-formed request with a verdict per item. Some item rules lie beyond
# what JSON Schema can say (an identity must be a real value, not "null" or "0"; commerce types
# need an order; a Segment call needs a user), so for ingest a 422 verdict naming the rule is a
# processed answer to a schema-valid request. Every other check stays as it is.
ACCEPTANCE = {"ingest": [*DEFAULT_ACCEPTANCE, "422"]}


def all_checks() -> list[schemathesis.CheckFunction]:
    load_all_checks()
    return [check for check in CHECKS.get_all() if callable(check)]  # type: ignore[misc]


@pytest.mark.parametrize("service", ["ingest", "profile", "metrics"])
def test_the_declared_api_holds_under_generated_requests(running: RunningServices, service: str) -> None:
    base = running.url(service)
    key = running.key(KEY_FOR[service])
    config = schemathesis.Config.from_dict({"checks": {"positive_data_acceptance": {
        "expected-statuses": ACCEPTANCE.get(service, DEFAULT_ACCEPTANCE)}}})
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", config=config)
    # Where the OpenAPI declares its bearer scheme, the key goes into each case as that scheme's
    # credentials (marked as given, not generated), so the auth checks can also send the request
    # without it, or with a wrong one, and expect 401; elsewhere it rides along as a header.
    schemes = httpx.get(f"{base}/openapi.json").json().get("components", {}).get("securitySchemes", {})
    declared = any(scheme.get("scheme") == "bearer" for scheme in schemes.values())
    headers = {} if declared else {"authorization": f"Bearer {key}"}
    checks = all_checks()
    failures: list[str] = []
    answered: list[int] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy().filter(lambda case: "cursor" not in (case.query or {})))
        def exercise(case: schemathesis.Case) -> None:
            if declared:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}  # as the scheme names it
                case._has_explicit_auth = True
            response = case.call_and_validate(base_url=base, headers=headers, checks=checks, timeout=15)
            answered.append(response.status_code)

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}"
                            + ("" if str(exc) else traceback.format_exc()[-800:]))
    assert operations > 0, f"{service} declares no operation in its /openapi.json"
    assert not failures, "\n\n".join(failures)
    assert any(status not in (401, 403) for status in answered), f"{service}: the key was never accepted"


def test_every_route_is_declared_in_the_openapi(running: RunningServices) -> None:
    declared = set()
    for service in ("ingest", "profile", "metrics"):
        spec = httpx.get(f"{running.url(service)}/openapi.json", timeout=5).json()
        declared |= {(service, method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    undeclared = sorted(set(route_table()) - declared)
    assert not undeclared, f"routes missing from their service's /openapi.json: {undeclared}"
