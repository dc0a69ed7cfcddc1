"""Contract conformance: schemathesis drives the emulator over a real socket with openapi.yaml.

For every operation it sends generated requests, valid and invalid (the
default positive and negative modes, with its coverage and fuzzing phases),
and fails on any 5xx answer, any status the contract does not document, a
wrong content type or header, a body that breaks the documented response
schema, an operation that ignores authentication, or an undocumented method
that is not answered 405.

Two of schemathesis's opinionated checks are left out on purpose:
``positive_data_acceptance`` (the contract's ``QueryFilter`` is a free-form
object and ``beforeDate``/``afterDate`` are plain strings, so schema-valid
bodies such as an unknown filter field or an empty date are rightly answered
400) and ``negative_data_rejection`` (more than 5000 observations is answered
413, which the contract documents but the check does not expect).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from genomcore_sdk.emulator import Emulator
from tests.conftest import REFRESH, ROOT, TOKEN

schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
    missing_required_header,
    unsupported_method,
]


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with Emulator(token=TOKEN, refresh_token=REFRESH) as emu:
        yield emu.base_url


@schema.parametrize()
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_emulator_conforms_to_openapi(case: schemathesis.Case, emulator_url: str) -> None:
    headers = None
    if case.path != "/v1/auth/refresh":
        headers = {"Authorization": f"Bearer {TOKEN}"}
    case.call_and_validate(base_url=emulator_url, headers=headers, checks=CHECKS)
