"""Route registration with decorator sugar, producing plain Starlette routes.

Endpoints take the request and nothing else, so the hot path skips FastAPI's per-request dependency solving.
Each route records itself in ``scope["route"]``, where the access log reads the route template.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

F = TypeVar("F", bound=Callable[..., Any])


class _Route(Route):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


class _WebSocketRoute(WebSocketRoute):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


class Routes:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.routes: list[BaseRoute] = []

    def route(self, path: str, *methods: str) -> Callable[[F], F]:
        def register(endpoint: F) -> F:
            self.routes.append(_Route(self.prefix + path, endpoint, methods=list(methods)))
            return endpoint

        return register

    def get(self, path: str) -> Callable[[F], F]:
        return self.route(path, "GET")

    def post(self, path: str) -> Callable[[F], F]:
        return self.route(path, "POST")

    def patch(self, path: str) -> Callable[[F], F]:
        return self.route(path, "PATCH")

    def delete(self, path: str) -> Callable[[F], F]:
        return self.route(path, "DELETE")

    def websocket(self, path: str) -> Callable[[F], F]:
        def register(endpoint: F) -> F:
            self.routes.append(_WebSocketRoute(self.prefix + path, endpoint))
            return endpoint

        return register
