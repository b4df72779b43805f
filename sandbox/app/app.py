"""Assembles the platform app: routers, error handlers, lifespan (pool, listener, access log) and the edge layer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from sandbox.app import admin_users, auth, functions, health, openapi, pages, realtime, rest
from sandbox.app.context import Services
from sandbox.app.db import Database
from sandbox.app.errors import ApiError, bad_request, error_response
from sandbox.app.metrics import AppMetrics
from sandbox.app.middleware import EdgeMiddleware
from sandbox.app.observability import AccessLog, RequestStats
from sandbox.app.payments_client import PaymentProvider
from sandbox.app.settings import Settings
from sandbox.app.throttle import SignInThrottle


def create_app(settings: Settings) -> ASGIApp:
    """The ASGI app for one region; the edge middleware wraps everything, including crash responses."""
    stats = RequestStats()
    access_log = AccessLog(settings.access_log, settings.region) if settings.access_log else None
    svc = Services(
        settings=settings,
        db=Database(settings.database_url),
        stats=stats,
        access_log=access_log,
        health=health.HealthProbe(settings.database_url),
        payments=PaymentProvider(settings.payment_url, settings.payment_secret_key),
        realtime=realtime.RealtimeHub(settings.database_url),
        sign_in_throttle=SignInThrottle(settings),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        await svc.db.open()
        svc.realtime.start()
        if access_log is not None:
            access_log.start()
        try:
            yield
        finally:
            await svc.realtime.stop()
            await svc.payments.close()
            await svc.health.close()
            await svc.db.close()
            if access_log is not None:
                await access_log.stop()

    app = FastAPI(
        title="Rx sandbox platform",
        version=settings.version,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.services = svc
    for module in (health, openapi, auth, admin_users, rest, functions, realtime, pages):
        app.router.routes.extend(module.router.routes)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="static")
    _install_error_handlers(app)
    metrics = AppMetrics() if settings.metrics else None
    return EdgeMiddleware(app, settings, stats, access_log, app.router.routes, metrics)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return exc.response_to(request.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        return bad_request("invalid request", details=str(exc.errors())).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed"}
        response = error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response
