"""A trivial, fast HTTP/1.1 endpoint for load tests and benchmarks: every GET gets the same small JSON array.

`GET /_count` answers how many other requests it has served, so a test can compare a run's record with what
the server saw. Run as `python tests/trivial_server.py PORT`; it serves until killed.
"""

from __future__ import annotations

import asyncio
import sys

_BODY = b'[{"id":"1","name":"amoxicillin"}]'
_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
             + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY)


class _Counter:
    served = 0


class _Protocol(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        self.pending += data
        out = []
        while b"\r\n\r\n" in self.pending:
            head, self.pending = self.pending.split(b"\r\n\r\n", 1)
            if head.split(b" ", 2)[1:2] == [b"/_count"]:
                body = str(_Counter.served).encode()
                out.append(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                           + str(len(body)).encode() + b"\r\n\r\n" + body)
            else:
                _Counter.served += 1
                out.append(_RESPONSE)
        if out:
            self.transport.write(b"".join(out))  # type: ignore[attr-defined]


async def _serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_Protocol, "127.0.0.1", port, backlog=1024)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
