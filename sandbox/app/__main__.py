"""``python -m sandbox.app --host H --port P``: serve one region of the platform (settings from RX_* vars)."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from sandbox.app.app import create_app
from sandbox.app.body import MAX_BODY_BYTES
from sandbox.app.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"sandbox app: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        workers=1,
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=3,
        server_header=False,
        ws_max_size=MAX_BODY_BYTES,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
