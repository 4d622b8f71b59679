"""Fuzzing the REST API from its OpenAPI spec: no input makes it answer 500 or break its own schema.

Schemathesis generates requests from the spec, valid and not, and sends them in process (ASGI, no
network). Bounded and deterministic (few examples per operation, a derandomised search) so CI runs
it in well under a minute; ``SLIPWAY_FUZZ_EXAMPLES`` raises the count for a deeper run by hand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from _server import admin_token
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from slipway import load_settings
from slipway._backend import Backend
from slipway.server import create_app

EXAMPLES = int(os.environ.get("SLIPWAY_FUZZ_EXAMPLES", "4"))
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[schemathesis.BaseSchema, dict[str, str]]]:
    """The /api/v1 part of the spec, served in process, and the headers that authenticate as an admin."""
    home: Path = tmp_path_factory.mktemp("fuzz")
    env = {"SLIPWAY_MAX_REQUEST_BYTES": str(1 << 20), "SLIPWAY_DATASET_ROOTS": str(home / "shared")}
    backend = Backend(load_settings(env=env, cwd=home, home=str(home)))
    headers = {"Authorization": f"Bearer {admin_token(backend)}"}
    try:
        app = create_app(backend, allowed_hosts=["testserver"])  # the host schemathesis addresses in process
        schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex="^/api/v1/")
        reachable = schema["/api/v1/experiments"]["GET"].Case().call(headers=headers)
        assert reachable.status_code == 200, reachable.text  # else every case would be a mere refusal
        yield schema, headers
    finally:
        backend.close()


def test_no_input_makes_the_api_fail_or_break_its_schema(
    fuzzed: tuple[schemathesis.BaseSchema, dict[str, str]],
) -> None:
    """Every operation of /api/v1 in turn; the failures of all of them are reported together."""
    api_schema, headers = fuzzed
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 50  # the whole API, not an empty spec
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def fuzz(case: Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            fuzz()
        except (AssertionError, BaseExceptionGroup) as exc:  # every operation's failures are reported together
            failures.append(f"{operation.label}: {str(exc)[:800]}")
    assert not failures, "\n\n".join(failures)
