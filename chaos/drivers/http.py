"""The `http` driver: a webhook or failover API call. URLs come from the environment's named targets
(chaos.http.targets) or must start with one of its allowed prefixes (chaos.http.allow); header values come from
environment variables named in the scenario, never from the file."""

from __future__ import annotations

import os
from typing import Any

import httpx

from chaos.context import DrillContext
from rxcore.errors import RxError


class HttpDriver:
    name = "http"

    def __init__(self, targets: dict[str, str], allow: tuple[str, ...]) -> None:
        self.targets = targets
        self.allow = allow

    def url_for(self, args: dict[str, Any]) -> str:
        if "target" in args:
            if args["target"] not in self.targets:
                raise RxError(f"http target {args['target']!r} is not defined for this environment "
                              f"(known: {', '.join(sorted(self.targets)) or 'none'})")
            return self.targets[args["target"]].rstrip("/") + args.get("path", "")
        url = args["url"]
        if not any(url.startswith(prefix) for prefix in self.allow):
            raise RxError(f"{url} is outside the environment's chaos.http.allow prefixes")
        return url

    def run(self, action: str, args: dict[str, Any], ctx: DrillContext) -> dict[str, Any]:
        url = self.url_for(args)
        headers = {}
        for header, variable in (args.get("headers_env") or {}).items():
            if variable not in os.environ:
                raise RxError(f"http header {header}: environment variable {variable} is not set")
            headers[header] = os.environ[variable]
        response = httpx.request(args.get("method", "POST"), url, json=args.get("json"), headers=headers,
                                 timeout=args.get("timeout_s", 10))
        expected = args.get("expect_status", [200, 201, 202, 204])
        expected = expected if isinstance(expected, list) else [expected]
        if response.status_code not in expected:
            raise RxError(f"{url} answered {response.status_code}, expected {expected}")
        return {"status": response.status_code, "target": args.get("target", "url")}
