"""The one redactor (rxcore.redact) serves the run folder, the journeys and the reports with the same rules."""

from __future__ import annotations

import pytest

import reports.builder
import reports.render
from journeys.redact import Redactor
from rxcore.redact import REDACTED, Scrubber, redact

# Segments of 4-7 characters: the journeys' old pattern (8+) let this through, the reports' old one (4+) did not.
SHORT_JWT = "eyJhbGci.eyJzdWIi.c2ln"
LONG_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def test_journeys_and_reports_use_the_rxcore_scrubber() -> None:
    assert issubclass(Redactor, Scrubber)
    assert reports.builder.Scrubber is Scrubber and reports.render.Scrubber is Scrubber


@pytest.mark.parametrize("token", [SHORT_JWT, LONG_JWT])
def test_one_jwt_pattern_for_text_and_bytes(token: str) -> None:
    scrubber = Scrubber(environ={})
    assert scrubber.text(f"cookie={token};") == f"cookie={REDACTED};"
    assert scrubber.data(f"cookie={token};".encode()) == f"cookie={REDACTED};".encode()


def test_known_secrets_are_masked_in_their_url_encoded_forms_too() -> None:
    scrubber = Scrubber(["p@ss word!"], environ={})
    assert scrubber.text("fill p@ss word! / p%40ss%20word%21 / p%40ss+word%21") == (
        f"fill {REDACTED} / {REDACTED} / {REDACTED}")


def test_credential_looking_environment_values_are_masked() -> None:
    scrubber = Scrubber(environ={"RX_STAGING_SERVICE_KEY": "svc-planted-123", "HOME": "/root/home"})
    assert scrubber.text("key svc-planted-123 in /root/home") == f"key {REDACTED} in /root/home"


def test_bytes_that_are_not_utf8_pass_through_unchanged() -> None:
    raw = b"\x89PNG\xff\xfe token=abcdef \x00"
    assert Scrubber(environ={}).data(raw) == b"\x89PNG\xff\xfe token=" + REDACTED.encode() + b" \x00"


def test_field_redaction_keeps_variable_names_and_masks_values() -> None:
    document = {"anon_key_env": "RX_ANON", "service_key": "s3cret-value", "nested": [{"password": "x1"}]}
    assert redact(document) == {"anon_key_env": "RX_ANON", "service_key": REDACTED, "nested": [{"password": REDACTED}]}
