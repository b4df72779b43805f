"""The platform API fuzzed from its own OpenAPI description (GET /openapi.json) with schemathesis (issue 19 point 7).

Every operation gets schema-valid and schema-violating requests, once with the anon key alone and once with a
signed-in patient's JWT; each answer must be no 5xx and conform to the description (status code documented,
content type and body as described). Bounded: FUZZ_EXAMPLES cases per operation and mode, no deadline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis

from sandbox.app.openapi import openapi_document
from tests.app_harness import DevStack, login
from tests.offset_stack import offset_dev_stack

FUZZ_EXAMPLES = 40
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance")

schema = schemathesis.openapi.from_dict(
    openapi_document("fuzz"),
    config=schemathesis.Config.from_dict({
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "generation": {"max-examples": FUZZ_EXAMPLES},
        "phases": {"stateful": {"enabled": False}},
    }),
)
_statuses: Counter[str] = Counter()


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    # Request-rate and failed-sign-in allowances far above the fuzzer's pace, so its cases reach the handlers
    # (the throttles themselves are tested in tests/test_app_robustness.py).
    generous = {"RX_RATE_PER_USER_RPS": "100000", "RX_RATE_PER_USER_BURST": "100000",
                "RX_SIGN_IN_ADDRESS_BURST": "100000"}
    with offset_dev_stack(slot=2, **generous) as running:
        yield running
    print(f"\nfuzz cases by answer: {dict(sorted(_statuses.items()))}, total {sum(_statuses.values())}")


@pytest.fixture(scope="module")
def patient_token(stack: DevStack) -> str:
    with httpx.Client(base_url=stack.edge_url, timeout=10.0) as client:
        return login(client, stack, "patient", 0).token


def test_served_description_is_the_fuzzed_one(stack: DevStack) -> None:
    served = httpx.get(f"{stack.edge_url}/openapi.json", timeout=10.0).json()
    assert served["paths"] == openapi_document("fuzz")["paths"]


def _call(case: Any, stack: DevStack, headers: dict[str, str], who: str) -> None:
    response = case.call(base_url=stack.edge_url, headers=headers, timeout=30)
    _statuses[f"{who} {response.status_code}"] += 1
    case.validate_response(response, headers=headers)


@schema.parametrize()
def test_anon_key_requests_get_no_5xx_and_conform(case: Any, stack: DevStack) -> None:
    _call(case, stack, {"apikey": stack.anon_key}, "anon")


@schema.parametrize()
def test_patient_requests_get_no_5xx_and_conform(case: Any, stack: DevStack, patient_token: str) -> None:
    _call(case, stack, {"apikey": stack.anon_key, "Authorization": f"Bearer {patient_token}"}, "patient")
