"""Proxies and the collection the API manipulates; every state change is logged as one line."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from sandbox.faultproxy.errors import PROXY_NOT_FOUND, TOXIC_NOT_FOUND, ApiError, bad_request
from sandbox.faultproxy.link import Link
from sandbox.faultproxy.toxics import STREAMS, Toxic, toxic_from_json

log = logging.getLogger("faultproxy")


def parse_address(value: Any, field: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets) as Toxiproxy takes it; an empty host means loopback here."""
    if not isinstance(value, str) or ":" not in value:
        raise bad_request(f"bad request body: {field} must be 'host:port', got {value!r}")
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise bad_request(f"bad request body: {field} port must be 0-65535, got {value!r}")
    return ("127.0.0.1" if host == "localhost" else host), int(port_text)


def _format_address(sockname: tuple[Any, ...]) -> str:
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Proxy:
    """A listener forwarding every accepted connection to `upstream` through the proxy's toxics."""

    def __init__(self, name: str, listen: str, upstream: str) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self._upstream_address = parse_address(upstream, "upstream")
        self.enabled = False
        self._server: asyncio.AbstractServer | None = None
        self._links: set[Link] = set()
        self._toxics: dict[str, Toxic] = {}
        self._by_stream: dict[str, tuple[Toxic, ...]] = dict.fromkeys(STREAMS, ())

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": self.toxics_json(),
        }

    def toxics_json(self) -> list[dict[str, Any]]:
        return [toxic.to_json() for toxic in self._toxics.values()]

    # --- listener ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.enabled:
            return
        host, port = parse_address(self.listen, "listen")
        try:
            self._server = await asyncio.get_running_loop().create_server(self._accept, host, port, reuse_address=True)
        except OSError as exc:
            raise ApiError(f"listen tcp {self.listen}: {exc.strerror or exc}", 500) from exc
        self.listen = _format_address(self._server.sockets[0].getsockname())
        self.enabled = True

    def stop(self) -> None:
        """Close the listener and cut every connection through it."""
        if not self.enabled:
            return
        self.enabled = False
        if self._server is not None:
            self._server.close()
            self._server = None
        self.close_connections()

    def close_connections(self) -> None:
        for link in list(self._links):
            link.close()

    def _accept(self) -> asyncio.Protocol:
        link = Link(self._upstream_address, self._by_stream.__getitem__, self._links.discard)
        self._links.add(link)
        return link.client

    async def update(self, *, listen: str, upstream: str, enabled: bool) -> None:
        if listen != self.listen:
            parse_address(listen, "listen")
            self.stop()
            self.listen = listen
        if upstream != self.upstream:
            self._upstream_address = parse_address(upstream, "upstream")
            self.upstream = upstream
            self.close_connections()  # as Toxiproxy: connections to the old upstream do not survive
        if enabled:
            await self.start()
        else:
            self.stop()

    # --- toxics -----------------------------------------------------------------------------------------
    def toxic(self, name: str) -> Toxic:
        try:
            return self._toxics[name]
        except KeyError:
            raise ApiError(TOXIC_NOT_FOUND, 404) from None

    def add_toxic(self, body: Any) -> Toxic:
        toxic = toxic_from_json(body)
        if toxic.name in self._toxics:
            raise ApiError("toxic already exists", 409)
        self._toxics[toxic.name] = toxic
        self._toxics_changed()
        return toxic

    def update_toxic(self, name: str, body: Any) -> Toxic:
        if not isinstance(body, dict):
            raise bad_request("bad request body: expected a JSON object")
        toxic = self.toxic(name).updated(body)
        self._toxics[name] = toxic
        self._toxics_changed()
        return toxic

    def remove_toxic(self, name: str) -> None:
        self.toxic(name)
        del self._toxics[name]
        self._toxics_changed()

    def reset_toxics(self) -> None:
        if self._toxics:
            self._toxics.clear()
            self._toxics_changed()

    def _toxics_changed(self) -> None:
        for stream in STREAMS:
            self._by_stream[stream] = tuple(t for t in self._toxics.values() if t.stream == stream)
        for link in list(self._links):
            link.toxics_changed()


class ProxyCollection:
    """All proxies by name; mutations are serialised so concurrent API calls cannot interleave."""

    def __init__(self) -> None:
        self.proxies: dict[str, Proxy] = {}
        self._lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise ApiError(PROXY_NOT_FOUND, 404) from None

    async def create(self, body: Any) -> Proxy:
        name, listen, upstream, enabled = _proxy_fields(body, defaults=None)
        async with self._lock:
            if name in self.proxies:
                raise ApiError("proxy already exists", 409)
            proxy = Proxy(name, listen, upstream)
            if enabled:
                await proxy.start()
            self.proxies[name] = proxy
        log.info("created proxy %s listen=%s upstream=%s enabled=%s", name, proxy.listen, upstream, enabled)
        return proxy

    async def update(self, name: str, body: Any) -> Proxy:
        async with self._lock:
            proxy = self.get(name)
            _, listen, upstream, enabled = _proxy_fields(body, defaults=proxy)
            await proxy.update(listen=listen, upstream=upstream, enabled=enabled)
        log.info("updated proxy %s listen=%s upstream=%s enabled=%s", name, proxy.listen, upstream, enabled)
        return proxy

    async def delete(self, name: str) -> None:
        async with self._lock:
            self.get(name).stop()
            del self.proxies[name]
        log.info("deleted proxy %s", name)

    async def populate(self, body: Any) -> list[Proxy]:
        """Create or replace every proxy of a list (Toxiproxy's -config file and POST /populate)."""
        if not isinstance(body, list):
            raise bad_request("bad request body: expected a JSON list of proxies")
        entries = [_proxy_fields(entry, defaults=None, index=i + 1) for i, entry in enumerate(body)]
        names = [entry[0] for entry in entries]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise bad_request(f"bad request body: duplicate proxy name {duplicates[0]!r}")
        result = []
        for name, listen, upstream, enabled in entries:
            if name in self.proxies:
                await self.delete(name)
            result.append(await self.create({"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}))
        return result

    def remove_toxic(self, proxy_name: str, toxic_name: str) -> None:
        self.get(proxy_name).remove_toxic(toxic_name)
        log.info("removed toxic %s from proxy %s", toxic_name, proxy_name)

    def add_toxic(self, proxy_name: str, body: Any) -> Toxic:
        toxic = self.get(proxy_name).add_toxic(body)
        log.info("added toxic %s to proxy %s: %s", toxic.name, proxy_name, json.dumps(toxic.to_json()))
        return toxic

    def update_toxic(self, proxy_name: str, toxic_name: str, body: Any) -> Toxic:
        toxic = self.get(proxy_name).update_toxic(toxic_name, body)
        log.info("updated toxic %s on proxy %s: %s", toxic_name, proxy_name, json.dumps(toxic.to_json()))
        return toxic

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        async with self._lock:
            for proxy in self.proxies.values():
                await proxy.start()
                proxy.reset_toxics()
        log.info("reset: every proxy enabled, every toxic removed")

    async def close(self) -> None:
        async with self._lock:
            for proxy in self.proxies.values():
                proxy.stop()


def _proxy_fields(body: Any, *, defaults: Proxy | None, index: int | None = None) -> tuple[str, str, str, bool]:
    """(name, listen, upstream, enabled) from a create/update body, with Toxiproxy's rules and messages."""
    where = f" at proxy {index}" if index else ""
    if not isinstance(body, dict):
        raise bad_request(f"bad request body: expected a JSON object{where}")
    if defaults is None:
        name = body.get("name")
        listen = body.get("listen") or "127.0.0.1:0"
        upstream = body.get("upstream")
        enabled = body.get("enabled", True)
        if not isinstance(name, str) or not name:
            raise bad_request(f"missing required field: name{where}")
        if not upstream:
            raise bad_request(f"missing required field: upstream{where}")
    else:
        name = defaults.name
        listen = body.get("listen", defaults.listen)
        upstream = body.get("upstream", defaults.upstream)
        enabled = body.get("enabled", defaults.enabled)
    if not isinstance(enabled, bool):
        raise bad_request(f"bad request body: enabled must be true or false{where}")
    parse_address(listen, "listen")
    parse_address(upstream, "upstream")
    return name, listen, upstream, enabled
