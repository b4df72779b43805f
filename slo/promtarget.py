"""Which Prometheus an environment's SLOs are read from, and over which window.

An environment file may name it: `prometheus: {url: ..., headers_env: {Authorization: PROM_AUTH}}` (header values
come from environment variables, never from the file). Without that section, the environment's platform plug-in
may offer its own (the sandbox's Prometheus, named in `describe()["monitoring"]["prometheus"]`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rxcore.environment import load_environment, secret_headers
from rxcore.errors import ConfigError, RxError
from slo.prometheus import PrometheusClient
from slo.spec import Spec
from slo.windows import TimeWindow, Window, parse_instant, parse_window

__all__ = ["DEFAULT_WINDOW", "PrometheusSource", "prometheus_source", "spec_window", "window_of"]

DEFAULT_WINDOW = "28d"


@dataclass(frozen=True)
class PrometheusSource:
    client: PrometheusClient
    window: Window
    environment: str = ""  # the environment's name, for titles


def spec_window(spec: Spec) -> TimeWindow | None:
    """The window an OpenSLO file's SLOs name (`timeWindow`), the default of `--window`; None when they name none.
    SLOs naming different windows cannot share one evaluation: the caller must choose with --window."""
    windows = set((spec.extra.get("time_windows") or {}).values())
    if len(windows) > 1:
        named = ", ".join(sorted(w.duration + ("" if w.rolling else " calendar-aligned") for w in windows))
        raise RxError(f"{spec.path}: the SLOs name different timeWindows ({named}); choose one with --window")
    return next(iter(windows), None)


def prometheus_source(env_name: str, window: str | None, since: str | None, until: str | None,
                      now: float | None = None, command: str = "rxsuite slo evaluate",
                      default: TimeWindow | None = None) -> PrometheusSource:
    """The client and window (see `window_of`), or an RxError naming the option or field to fix."""
    chosen = window_of(window, since, until, now, command=command, default=default)
    env = load_environment(env_name)
    section = env.raw.get("prometheus")
    if section is None:
        platform = env.platform()
        offered = (platform.describe().get("monitoring") or {}).get("prometheus") if platform is not None else None
        if not offered:
            raise ConfigError(str(env.file), "prometheus", "no Prometheus to read SLIs from",
                              "add prometheus: {url: https://prometheus.example.org} to the environment file")
        return PrometheusSource(PrometheusClient(offered), chosen, env.name)
    return PrometheusSource(PrometheusClient(section["url"].rstrip("/"), secret_headers(env, "prometheus")), chosen,
                            env.name)


def window_of(window: str | None, since: str | None, until: str | None, now: float | None = None, *,
              command: str = "rxsuite slo evaluate", default: TimeWindow | None = None) -> Window:
    """The window `--window` or `--since`/`--until` name, for any source that holds history: `default` when neither
    `window` nor `since` is given, else the last 28 days; an RxError (`command` starts its message) when invalid."""
    now = time.time() if now is None else now
    try:
        if since is not None:
            if window is not None:
                raise ValueError("give --window or --since, not both")
            end = parse_instant(until) if until is not None else now
            label = f"since {since}" + (f" until {until}" if until else "")
            chosen = Window(parse_instant(since), min(end, now), label)
        else:
            if until is not None:
                raise ValueError("--until goes with --since")
            chosen = (default.window(now) if window is None and default is not None
                      else parse_window(window or DEFAULT_WINDOW, now))
        if chosen.end <= chosen.start:
            raise ValueError("the window ends before it starts")
    except ValueError as exc:
        raise RxError(f"{command}: {exc}") from None
    return chosen
