"""Schemathesis over the whole OpenAPI schema of `podium serve`, through real HTTP: no
request it generates gets a 5xx, and every response matches its schema. Examples are few and
derandomized (a fixed seed) so that CI stays fast and repeatable."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)


@pytest.fixture(scope="module")
def api_schema(server):  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {server.keys['admin']}"}
    return schemathesis.openapi.from_url(server.url + "/openapi.json", headers=auth)


# streams and long polls never end on their own; the rest is fair game
schema = schemathesis.pytest.from_fixture("api_schema").exclude(
    path_regex=r".*(/events|/lease|/messages)$"
)


@schema.parametrize()
@settings(
    max_examples=3,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_breaks_the_server(case, server) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server.keys['admin']}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
        timeout=30,
    )
