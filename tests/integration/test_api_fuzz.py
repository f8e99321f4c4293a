"""Schema-driven fuzzing of the HTTP API with Schemathesis: requests made
from the OpenAPI description, valid and invalid, sent to a real server with
the token of every role and with none. Whatever they carry, the answer is
never a server error and always one the description allows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra.settings import Settings
from infra.wiring.container import Container
from tests.views_support import TOKENS, bearer, running_api

pytestmark = pytest.mark.timeout(240)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Each example is sent once per role and once with no token.
AS_EVERY_CALLER: list[dict[str, str]] = [bearer(token) for token in TOKENS] + [{}]
EXAMPLES = 300


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    container = Container(
        Settings(
            database_url=f"sqlite:///{tmp_path}/ledger.db",
            views_database_url=f"sqlite:///{tmp_path}/views.db",
            api_tokens=TOKENS,
        )
    )
    with running_api(container) as url:
        yield url
    container.close()


def test_no_request_made_from_the_schema_gets_a_server_error_or_an_undescribed_answer(base: str) -> None:
    # given the API's own OpenAPI description, as it serves it
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    cases = st.one_of(
        schema.as_strategy(schemathesis.GenerationMode.POSITIVE),
        schema.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )
    seen: set[str] = set()

    # Fixed examples in a fixed order: the same run every time, in bounded time.
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def every_caller_gets_a_described_answer(case: schemathesis.Case) -> None:
        seen.add(f"{case.method} {case.path}")
        # when the case is sent by each role and by a stranger
        for caller in AS_EVERY_CALLER:
            if case.headers:  # the caller's token only
                case.headers.pop("Authorization", None)
            # then no answer is a 5xx, and each one matches the description
            case.call_and_validate(base_url=base, headers=caller, checks=CHECKS, timeout=10)

    every_caller_gets_a_described_answer()
    # and every route was exercised
    assert {"POST /v1/accounts/{account_id}/promotional-credits/grants", "GET /v1/analytics/daily"} <= seen
    assert len(seen) >= 8, seen
