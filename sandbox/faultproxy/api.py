"""The Toxiproxy-compatible HTTP API (subset): same routes, JSON shapes and status codes."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.faultproxy.errors import ApiError, bad_request
from sandbox.faultproxy.proxy import ProxyCollection

VERSION = "2.9.0-rxsuite"


def build_app(collection: ProxyCollection) -> Starlette:
    """The API over `collection`; handlers are thin, the collection owns the rules."""

    async def version(_: Request) -> Response:
        return JSONResponse({"version": VERSION})

    async def proxy_index(_: Request) -> Response:
        return JSONResponse({name: proxy.to_json() for name, proxy in collection.proxies.items()})

    async def proxy_create(request: Request) -> Response:
        proxy = await collection.create(await _body(request))
        return JSONResponse(proxy.to_json(), status_code=201)

    async def populate(request: Request) -> Response:
        proxies = await collection.populate(await _body(request))
        return JSONResponse({"proxies": [proxy.to_json() for proxy in proxies]}, status_code=201)

    async def proxy_show(request: Request) -> Response:
        return JSONResponse(collection.get(request.path_params["proxy"]).to_json())

    async def proxy_update(request: Request) -> Response:
        proxy = await collection.update(request.path_params["proxy"], await _body(request))
        return JSONResponse(proxy.to_json())

    async def proxy_delete(request: Request) -> Response:
        await collection.delete(request.path_params["proxy"])
        return Response(status_code=204)

    async def toxic_index(request: Request) -> Response:
        return JSONResponse(collection.get(request.path_params["proxy"]).toxics_json())

    async def toxic_create(request: Request) -> Response:
        toxic = collection.add_toxic(request.path_params["proxy"], await _body(request))
        return JSONResponse(toxic.to_json())

    async def toxic_show(request: Request) -> Response:
        proxy = collection.get(request.path_params["proxy"])
        return JSONResponse(proxy.toxic(request.path_params["toxic"]).to_json())

    async def toxic_update(request: Request) -> Response:
        params = request.path_params
        toxic = collection.update_toxic(params["proxy"], params["toxic"], await _body(request))
        return JSONResponse(toxic.to_json())

    async def toxic_delete(request: Request) -> Response:
        collection.remove_toxic(request.path_params["proxy"], request.path_params["toxic"])
        return Response(status_code=204)

    async def reset(_: Request) -> Response:
        await collection.reset()
        return Response(status_code=204)

    routes = [
        Route("/version", version, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/populate", populate, methods=["POST"]),
        Route("/proxies", proxy_index, methods=["GET"]),
        Route("/proxies", proxy_create, methods=["POST"]),
        Route("/proxies/{proxy}", proxy_show, methods=["GET"]),
        Route("/proxies/{proxy}", proxy_update, methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}", proxy_delete, methods=["DELETE"]),
        Route("/proxies/{proxy}/toxics", toxic_index, methods=["GET"]),
        Route("/proxies/{proxy}/toxics", toxic_create, methods=["POST"]),
        Route("/proxies/{proxy}/toxics/{toxic}", toxic_show, methods=["GET"]),
        Route("/proxies/{proxy}/toxics/{toxic}", toxic_update, methods=["POST", "PATCH"]),
        Route("/proxies/{proxy}/toxics/{toxic}", toxic_delete, methods=["DELETE"]),
    ]
    return Starlette(routes=routes, exception_handlers={ApiError: _api_error})


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"bad request body: {exc}") from None


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.to_json(), status_code=exc.status)
