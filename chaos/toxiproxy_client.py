"""A small synchronous client for Toxiproxy's HTTP API; works against a real Toxiproxy and the sandbox's.

Chaos drivers use it to inject faults (toxics, disabled proxies) and to roll them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


class ToxiproxyError(Exception):
    """The API refused a request (`status` is the HTTP status) or could not be reached (`status` 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"toxiproxy: {message} (HTTP {status})" if status else f"toxiproxy: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Toxic:
        return cls(
            name=data["name"],
            type=data["type"],
            stream=data.get("stream", "downstream"),
            toxicity=float(data.get("toxicity", 1.0)),
            attributes=dict(data.get("attributes") or {}),
        )


@dataclass(frozen=True)
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Proxy:
        return cls(
            name=data["name"],
            listen=data["listen"],
            upstream=data["upstream"],
            enabled=bool(data["enabled"]),
            toxics=tuple(Toxic.from_json(toxic) for toxic in data.get("toxics") or ()),
        )


class ToxiproxyClient:
    """`ToxiproxyClient("http://127.0.0.1:8474")`; every method is one API call."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        # Toxiproxy refuses browser user agents; httpx's default one is fine, but say who we are.
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers={"User-Agent": "rxsuite-toxiproxy-client"}
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def version(self) -> str:
        response = self._request("GET", "/version")
        try:
            return str(response.json()["version"])
        except (ValueError, KeyError, TypeError):
            return response.text.strip()  # Toxiproxy before 2.6 answers with plain text

    def proxies(self) -> dict[str, Proxy]:
        data = self._request("GET", "/proxies").json()
        return {name: Proxy.from_json(proxy) for name, proxy in data.items()}

    def proxy(self, name: str) -> Proxy:
        return Proxy.from_json(self._request("GET", f"/proxies/{name}").json())

    def create_proxy(self, name: str, listen: str, upstream: str, enabled: bool = True) -> Proxy:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        return Proxy.from_json(self._request("POST", "/proxies", json=body).json())

    def update_proxy(
        self, name: str, *, enabled: bool | None = None, upstream: str | None = None, listen: str | None = None
    ) -> Proxy:
        body = {
            key: value
            for key, value in (("enabled", enabled), ("upstream", upstream), ("listen", listen))
            if value is not None
        }
        return Proxy.from_json(self._request("POST", f"/proxies/{name}", json=body).json())

    def delete_proxy(self, name: str) -> None:
        self._request("DELETE", f"/proxies/{name}")

    def add_toxic(
        self,
        proxy: str,
        type: str,
        attributes: dict[str, Any],
        *,
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
    ) -> Toxic:
        body: dict[str, Any] = {"type": type, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        if name is not None:
            body["name"] = name
        return Toxic.from_json(self._request("POST", f"/proxies/{proxy}/toxics", json=body).json())

    def update_toxic(
        self, proxy: str, name: str, attributes: dict[str, Any], *, toxicity: float | None = None
    ) -> Toxic:
        body: dict[str, Any] = {"attributes": attributes}
        if toxicity is not None:
            body["toxicity"] = toxicity
        return Toxic.from_json(self._request("POST", f"/proxies/{proxy}/toxics/{name}", json=body).json())

    def toxic(self, proxy: str, name: str) -> Toxic:
        return Toxic.from_json(self._request("GET", f"/proxies/{proxy}/toxics/{name}").json())

    def toxics(self, proxy: str) -> list[Toxic]:
        return [Toxic.from_json(toxic) for toxic in self._request("GET", f"/proxies/{proxy}/toxics").json()]

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._request("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._request("POST", "/reset")

    def _request(self, method: str, path: str, *, json: Any = None) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(0, f"{method} {self._http.base_url}{path} failed: {exc}") from exc
        if response.is_error:
            raise ToxiproxyError(response.status_code, _error_message(response))
        return response


def _error_message(response: httpx.Response) -> str:
    try:
        message = response.json().get("error")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else response.text.strip() or response.reason_phrase
