"""No secret, token or credential reaches any report file: plant them where a run folder could carry them, build
every output (HTML, Markdown, JSON, PDF) and search each file."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reports.builder import generate
from reports.sources import for_run
from rxcore.files import write_json_atomic
from rxcore.redact import Scrubber
from tests import report_inputs

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlUExBTlRFRA"
SERVICE_KEY = "svc-PLANTED-service-key-0987"
BEARER = "tok_PLANTED_bearer_0123456789"
PASSWORD = "PLANTEDpass42"
API_KEY = "PLANTEDapikey55"
SANDBOX_SECRET = "sandboxJwtSecretPLANTED77"
SECRETS = (JWT, SERVICE_KEY, BEARER, PASSWORD, API_KEY, SANDBOX_SECRET)


def _plant(tmp_path: Path) -> Path:
    folder = report_inputs.composite_run(tmp_path, T0)
    load = next(folder.glob("*-load-sandbox"))
    report_inputs.load_run(tmp_path / "other", T0, names=(f"GET /rest/v1/x?apikey={API_KEY}",), seed=4)
    (load / "latency.jsonl").write_text((load / "latency.jsonl").read_text() + "".join(
        line + "\n" for line in (next((tmp_path / "other").glob("*")) / "latency.jsonl").read_text().splitlines()[1:]))
    run = json.loads((load / "run.json").read_text())
    run["parameters"] |= {"note": f"Authorization: Bearer {BEARER}", "password": PASSWORD, "profile": JWT}
    run["environment"] |= {"name": f"staging https://ops:{SERVICE_KEY}@ops.example", "token": SANDBOX_SECRET}
    write_json_atomic(load / "run.json", run)
    raw = load / "raw"
    raw.mkdir()
    with gzip.open(raw / "samples-local.csv.gz", "wt") as out:
        out.write(f"t,name,status,latency_ms,headers\n1,GET /x,200,12,Authorization: Bearer {JWT}\n")
    journeys = next(folder.glob("*-journeys-sandbox"))
    document = json.loads((journeys / "journeys.json").read_text())
    document["journeys"][1]["attempts"][1]["error"] = (
        f"login as patient-1@synthetic.rx.test with password={PASSWORD} failed; apikey: {SERVICE_KEY}; "
        f"sandbox secret {SANDBOX_SECRET}")
    document["journeys"][0]["journey"] = f"doctor-queue {JWT}"
    (journeys / "journeys.json").write_text(json.dumps(document))
    drill = next(folder.glob("*-drill-sandbox"))
    journal = json.loads((drill / "drill.json").read_text())
    journal["reason"] = f"rollback failed: POST https://admin:{PASSWORD}@ops.example/failover"
    journal["description"] = f"uses key {SERVICE_KEY}"
    write_json_atomic(drill / "drill.json", journal)
    return folder


def _texts(path: Path) -> list[bytes]:
    """The file's bytes, plus every deflated stream of a PDF unpacked."""
    data = path.read_bytes()
    found = [data]
    if path.suffix == ".pdf":
        for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
            try:
                found.append(zlib.decompress(stream))
            except zlib.error:
                continue
    return found


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    mp = pytest.MonkeyPatch()
    mp.setenv("RX_STAGING_SERVICE_KEY", SERVICE_KEY)
    try:
        tmp_path = tmp_path_factory.mktemp("secrets")
        folder = _plant(tmp_path)
        result = generate(for_run(folder), runs_root=tmp_path, pdf=True, known_secrets=[SANDBOX_SECRET])
    finally:
        mp.undo()
    return list(result.files.values())


def test_every_output_file_is_written(written: list[Path]) -> None:
    assert sorted(p.name for p in written) == ["report.html", "report.json", "report.pdf", "summary.md"]


@pytest.mark.parametrize("secret", SECRETS)
def test_no_planted_secret_in_any_output_file(written: list[Path], secret: str) -> None:
    leaks = [p.name for p in written for text in _texts(p) if secret.encode() in text]
    assert leaks == []


def test_the_planted_places_were_read(written: list[Path]) -> None:
    """The scrubbed values still show where they were: the test exercises the paths, not an empty report."""
    html = next(p for p in written if p.name == "report.html").read_text()
    assert "password=[redacted]" in html
    assert "apikey=[redacted]" in html


def test_scrubber_keeps_ordinary_text() -> None:
    text = "p95 latency 41.2 ms; token bucket rate limiting; 3 write(s) lost"
    assert Scrubber(environ={}).text(text) == text
