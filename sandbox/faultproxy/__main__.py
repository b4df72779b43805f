"""Command line: `python -m sandbox.faultproxy --host H --port P [--config FILE.json]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

from sandbox.faultproxy.api import build_app
from sandbox.faultproxy.errors import ApiError
from sandbox.faultproxy.proxy import ProxyCollection


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.faultproxy", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API port (default 8474, Toxiproxy's)")
    parser.add_argument("--config", type=Path, help="JSON list of {name, listen, upstream, enabled} to create")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s faultproxy: %(message)s")
    try:
        proxies = _read_config(args.config) if args.config else []
    except ValueError as exc:
        print(f"faultproxy: {exc}", file=sys.stderr)
        return 2
    # Exit 0 on SIGTERM/SIGINT in every phase; while serving, uvicorn takes the signal, shuts down, then
    # re-raises it, and this handler turns that into a clean exit after our own cleanup ran.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_quietly)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(_serve(args.host, args.port, proxies, args.config))


async def _serve(host: str, port: int, proxies: list[Any], config: Path | None) -> int:
    collection = ProxyCollection()
    try:
        await collection.populate(proxies)
    except ApiError as exc:
        print(f"faultproxy: config {config}: {exc.message}", file=sys.stderr)
        await collection.close()
        return 2
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(collection), host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
    )
    try:
        await server.serve()
    finally:
        await collection.close()
    return 0 if server.started else 1


def _read_config(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"config {path}: cannot read ({exc.strerror}); pass an existing file to --config") from None
    except ValueError as exc:
        raise ValueError(f"config {path}: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise ValueError(f"config {path}: expected a JSON list of {{name, listen, upstream, enabled}} objects")
    return data


def _loop_factory() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
