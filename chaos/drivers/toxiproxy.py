"""The `toxiproxy` driver: proxies and toxics on a Toxiproxy HTTP API (a real Toxiproxy, or the sandbox's
compatible fault proxy), through chaos.toxiproxy_client.ToxiproxyClient. A scenario may name a proxy by its role
(`database-primary`); the environment file's chaos.toxiproxy.proxies maps roles to the proxies' real names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.context import DrillContext
from chaos.toxiproxy_client import ToxiproxyClient, ToxiproxyError

_NOT_FOUND = 404


class ToxiproxyDriver:
    name = "toxiproxy"

    def __init__(self, base_url: str, proxies: Mapping[str, str] | None = None) -> None:
        self.base_url = base_url
        self.proxies = dict(proxies or {})
        self.client = ToxiproxyClient(base_url)

    def proxy_for(self, name: str) -> str:
        """The real proxy name of a role the environment file maps; any other name as it is."""
        return self.proxies.get(name, name)

    def run(self, action: str, args: dict[str, Any], ctx: DrillContext) -> dict[str, Any]:
        if "proxy" in args:
            args = {**args, "proxy": self.proxy_for(args["proxy"])}
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
