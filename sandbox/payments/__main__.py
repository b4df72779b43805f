"""Command line: `python -m sandbox.payments --host H --port P`, configured by environment variables.

RXSUITE_PAYMENT_SECRET_KEY (required): the API key clients must send (`Authorization: Bearer <key>`).
RXSUITE_WEBHOOK_URL: where events are POSTed; unset, events are only recorded (GET /_control/webhooks).
RXSUITE_WEBHOOK_SECRET: the whsec_ signing secret; required when RXSUITE_WEBHOOK_URL is set.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import struct
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn

from rxcore import envvars
from sandbox.payments.api import build_app
from sandbox.payments.intents import PaymentStore
from sandbox.payments.webhooks import WebhookDispatcher


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.payments", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=18200, help="port (default 18200)")
    parser.add_argument("--max-intents", type=int, default=10_000, help="intents kept in memory (oldest dropped)")
    parser.add_argument("--webhook-attempts", type=int, default=4, help="delivery attempts per event (default 4)")
    parser.add_argument(
        "--webhook-backoff", type=float, default=0.5, help="seconds before the first retry, doubled each retry"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s payments: %(message)s")
    secret_key = envvars.getenv("RXSUITE_PAYMENT_SECRET_KEY") or ""
    webhook_url = envvars.getenv("RXSUITE_WEBHOOK_URL")
    webhook_secret = envvars.getenv("RXSUITE_WEBHOOK_SECRET") or ""
    if not secret_key:
        print("payments: RXSUITE_PAYMENT_SECRET_KEY is not set; export the API key clients will use", file=sys.stderr)
        return 2
    if webhook_url and not webhook_secret:
        print("payments: RXSUITE_WEBHOOK_URL is set but RXSUITE_WEBHOOK_SECRET is not; export the whsec_ secret",
              file=sys.stderr)
        return 2
    if args.max_intents < 1 or args.webhook_attempts < 1 or args.webhook_backoff < 0:
        print("payments: --max-intents and --webhook-attempts must be >= 1, --webhook-backoff >= 0", file=sys.stderr)
        return 2
    # Exit 0 on SIGTERM/SIGINT in every phase; while serving, uvicorn takes the signal, shuts down, then
    # re-raises it, and this handler turns that into a clean exit after our own cleanup ran.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_quietly)
    return asyncio.run(_serve(args, secret_key, webhook_url, webhook_secret))


async def _serve(args: argparse.Namespace, secret_key: str, webhook_url: str | None, webhook_secret: str) -> int:
    dispatcher = WebhookDispatcher(
        webhook_url, webhook_secret, attempts=args.webhook_attempts, backoff_s=args.webhook_backoff
    )
    server: uvicorn.Server | None = None
    app = build_app(
        secret_key, PaymentStore(args.max_intents), dispatcher, abort_connection=lambda client: _abort(server, client)
    )
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    logging.getLogger("payments").info(
        "listening on http://%s:%d, webhooks to %s", args.host, args.port, webhook_url or "(none)"
    )
    try:
        await server.serve()
    finally:
        await dispatcher.close()
    return 0 if server.started else 1


def _abort(server: uvicorn.Server | None, client: Any) -> bool:
    """Reset the connection of `client` (host, port), as a provider whose load balancer drops requests."""
    if server is None or client is None:
        return False
    for protocol in list(server.server_state.connections):
        if getattr(protocol, "client", None) == tuple(client):
            transport = protocol.transport
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
            return True
    return False


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
