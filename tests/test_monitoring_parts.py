"""The monitoring parts' pieces without processes: the app's metrics, the pager's records, the configurations."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox.app.metrics import AppMetrics
from sandbox.config import SandboxConfig
from sandbox.monitoring import PLATFORM_RULES, RULES_DIR, MonitoringFiles
from sandbox.pager import entries_of


def test_requests_are_counted_by_route_template_code_and_method_with_a_3s_bucket() -> None:
    metrics = AppMetrics()
    for seconds in (0.2, 2.9, 3.0, 4.0):
        metrics.record("GET", "/rest/v1/{table}", 200, seconds)
    metrics.record("POST", "/rest/v1/{table}", 503, 0.1)
    text = metrics.exposition().decode()
    assert 'http_requests_total{code="200",method="GET",route="/rest/v1/{table}"} 4.0' in text
    assert 'http_requests_total{code="503",method="POST",route="/rest/v1/{table}"} 1.0' in text
    assert 'http_request_duration_seconds_bucket{code="200",le="3.0",method="GET",route="/rest/v1/{table}"} 3.0' \
        in text  # a request of exactly 3 s is in the 3 s bucket: le is "at or below"
    assert 'le="2.5",method="GET",route="/rest/v1/{table}"} 1.0' in text


def test_the_pager_records_one_line_per_alert_of_a_notification() -> None:
    notification = {"receiver": "pager", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "RxAvailabilityPage", "severity": "page"},
         "startsAt": "2026-11-29T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z"},
        {"status": "resolved", "labels": {"alertname": "RxLatencyP95Page"}, "startsAt": "2026-11-29T09:00:00Z"}]}
    entries = entries_of(notification, 1795960000.5)
    assert [(e["alert"], e["status"]) for e in entries] == [("RxAvailabilityPage", "firing"),
                                                           ("RxLatencyP95Page", "resolved")]
    assert entries[0]["received"] == "2026-11-29T13:46:40.500+00:00"
    assert entries[0]["labels"]["severity"] == "page"


def test_prometheus_scrapes_every_part_at_the_configured_interval(tmp_path: Path) -> None:
    config = SandboxConfig()
    files = MonitoringFiles(config, tmp_path, tmp_path / "logs")
    prometheus = files.prometheus_config()
    targets = {job["job_name"]: [t for group in job["static_configs"] for t in group["targets"]]
               for job in prometheus["scrape_configs"]}
    ports = config.ports
    jobs = {"rx-app": ("region_a", "region_b"), "haproxy": ("edge_stats",), "failover": ("failover",),
            "payments": ("payments",), "postgres": ("pg_exporter",), "prometheus": ("prometheus",)}
    assert targets == {job: [f"127.0.0.1:{ports[p]}" for p in names] for job, names in jobs.items()}
    assert prometheus["global"]["scrape_interval"] == "1s" == prometheus["global"]["scrape_timeout"]
    assert prometheus["rule_files"] == [str(tmp_path / "rules" / "*.yml")]
    receiver = files.alertmanager_config()["receivers"][0]["webhook_configs"][0]
    assert receiver == {"url": f"http://127.0.0.1:{ports['pager']}/", "send_resolved": True}


def test_the_exporter_password_stays_out_of_the_command_line(tmp_path: Path) -> None:
    files = MonitoringFiles(SandboxConfig(), tmp_path, tmp_path / "logs")
    argv, env = files.command("pg-exporter", {"pg_passwords": {"postgres": "s3cret/+"}})
    assert not any("s3cret" in arg for arg in argv)
    assert "postgres:s3cret%2F%2B@127.0.0.1:18432" in env["DATA_SOURCE_NAME"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs Debian's prometheus package (make deps)")
def test_the_rule_generator_writes_the_default_edge_and_platform_rules_promtool_accepts(tmp_path: Path) -> None:
    files = MonitoringFiles(SandboxConfig(), tmp_path, tmp_path / "logs")
    done = subprocess.run(files.rules_argv(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / RULES_DIR).iterdir())
    assert written == ["default.rules.yml", "edge.rules.yml", PLATFORM_RULES]
    checked = subprocess.run(["promtool", "check", "rules", str(tmp_path / RULES_DIR / PLATFORM_RULES)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rule = files.platform_rules()["groups"][0]["rules"][0]
    assert (rule["alert"], rule["for"], rule["labels"]["severity"]) == ("RxRegionDown", "2s", "ticket")
