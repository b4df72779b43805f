"""The `toxiproxy` driver: proxies and toxics on a Toxiproxy HTTP API (a real Toxiproxy, or the sandbox's
compatible fault proxy), through chaos.toxiproxy_client.ToxiproxyClient."""

from __future__ import annotations

from typing import Any

from chaos.context import DrillContext
from chaos.toxiproxy_client import ToxiproxyClient, ToxiproxyError

_NOT_FOUND = 404


class ToxiproxyDriver:
    name = "toxiproxy"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.client = ToxiproxyClient(base_url)

    def run(self, action: str, args: dict[str, Any], ctx: DrillContext) -> dict[str, Any]:
        if action in ("disable_proxy", "enable_proxy"):
            self.client.update_proxy(args["proxy"], enabled=action == "enable_proxy")
        elif action == "add_toxic":
            name = args.get("name") or f"drill-{args['type']}"
            self.client.add_toxic(args["proxy"], args["type"], args.get("attributes") or {}, name=name,
                                  stream=args.get("stream", "downstream"), toxicity=args.get("toxicity", 1.0))
            return {"toxic": name}
        elif action == "remove_toxic":
            try:
                self.client.remove_toxic(args["proxy"], args["name"])
            except ToxiproxyError as exc:
                if not (args.get("missing_ok") and exc.status == _NOT_FOUND):
                    raise
                return {"removed": False}
        elif action == "reset":
            self.client.reset()
        return {"url": self.base_url}
