"""One proxied TCP connection: two sockets, two directions, toxics applied to the data in flight.

Without an active toxic, a chunk read from one socket is written straight to the other inside the read
callback (no task, no copy), so the proxy adds almost nothing to PostgreSQL round trips. Once a toxic
applies, chunks go through a per-direction queue drained by a task that honours the toxics in order;
back-pressure pauses the reading socket, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import cast

from sandbox.faultproxy.toxics import Toxic

_QUEUE_HIGH = 4 << 20  # bytes queued in one direction before its source stops reading
_QUEUE_LOW = 1 << 20
_BANDWIDTH_SLICE_S = 0.1  # a throttled chunk is sent in slices of at most 100 ms of data, as Toxiproxy does
_CONNECT_TIMEOUT_S = 10.0

ToxicsOf = Callable[[str], tuple[Toxic, ...]]


class Link:
    """A client connection accepted by a proxy and its connection to the upstream."""

    def __init__(self, upstream: tuple[str, int], toxics_of: ToxicsOf, on_closed: Callable[[Link], None]) -> None:
        self.loop = asyncio.get_running_loop()
        self._upstream = upstream
        self._toxics_of = toxics_of
        self._on_closed = on_closed
        self._rolls: dict[int, bool] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._reset: asyncio.TimerHandle | None = None
        self._changed = asyncio.Event()
        self._connect_task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()  # the upstream socket is open; until then client data is queued
        self.closed = False
        self.client = _Side(self)
        self.server = _Side(self)
        self._pipes = {
            "upstream": _Pipe(self, "upstream", self.client, self.server),
            "downstream": _Pipe(self, "downstream", self.server, self.client),
        }
        self.client.pipe_in = self._pipes["upstream"]
        self.client.pipe_out = self._pipes["downstream"]
        self.server.pipe_in = self._pipes["downstream"]
        self.server.pipe_out = self._pipes["upstream"]

    # --- lifecycle -------------------------------------------------------------------------------------
    def side_made(self, side: _Side) -> None:
        if side is self.client:
            self._connect_task = self.loop.create_task(self._connect())
        elif self.closed:
            side.abort(reset=False)
        else:
            self.connected.set()
            self.toxics_changed()

    async def _connect(self) -> None:
        host, port = self._upstream
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                await self.loop.create_connection(lambda: self.server, host, port)
        except (OSError, TimeoutError):
            self.close()

    def side_lost(self, side: _Side, exc: Exception | None) -> None:
        if not self.closed:
            self.close(reset=exc is not None)

    def pipe_finished(self) -> None:
        """Both directions saw end-of-stream and flushed: close gracefully."""
        if all(pipe.finished for pipe in self._pipes.values()) and not self.closed:
            self._shutdown()
            for side in (self.client, self.server):
                if side.transport is not None:
                    side.transport.close()

    def close(self, *, reset: bool = False) -> None:
        """Cut the connection now (FIN, or RST when `reset`), dropping data in flight."""
        if self.closed:
            return
        self._shutdown()
        for side in (self.client, self.server):
            side.abort(reset=reset)

    def _shutdown(self) -> None:
        self.closed = True
        if self._connect_task is not None:
            self._connect_task.cancel()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._reset is not None:
            self._reset.cancel()
        for pipe in self._pipes.values():
            pipe.stop()
        self._changed.set()
        self._on_closed(self)

    # --- toxics ----------------------------------------------------------------------------------------
    def active(self, stream: str) -> tuple[Toxic, ...]:
        """The toxics of `stream` that apply to this connection (toxicity rolled once per revision)."""
        toxics = self._toxics_of(stream)
        if not toxics:
            return ()
        return tuple(toxic for toxic in toxics if self._applies(toxic))

    def _applies(self, toxic: Toxic) -> bool:
        rolled = self._rolls.get(toxic.serial)
        if rolled is None:
            rolled = self._rolls[toxic.serial] = random.random() < toxic.toxicity
        return rolled

    def toxics_changed(self) -> None:
        """Wake pipes waiting on toxics and (re)arm the close timers of `timeout` toxics."""
        self._changed.set()
        self._changed = asyncio.Event()
        if self.closed:
            return
        present = {toxic.serial for stream in self._pipes for toxic in self._toxics_of(stream)}
        self._rolls = {serial: rolled for serial, rolled in self._rolls.items() if serial in present}
        current = {toxic.serial: toxic for stream in self._pipes for toxic in self.active(stream)}
        for serial in [serial for serial in self._timers if serial not in current]:
            self._timers.pop(serial).cancel()
        for serial, toxic in current.items():
            if toxic.type == "timeout" and toxic.attributes["timeout"] > 0 and serial not in self._timers:
                self._timers[serial] = self.loop.call_later(toxic.attributes["timeout"] / 1000, self.close)

    async def changed(self, timeout: float | None = None) -> None:
        """Wait until the toxics change, or at most `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._changed.wait()

    def reset_after(self, seconds: float) -> None:
        if self._reset is None and not self.closed:
            self._reset = self.loop.call_later(seconds, lambda: self.close(reset=True))


class _Side(asyncio.Protocol):
    """One socket of a link: the accepted client, or the connection to the upstream."""

    pipe_in: _Pipe  # carries what this socket receives
    pipe_out: _Pipe  # writes to this socket

    def __init__(self, link: Link) -> None:
        self.link = link
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.link.side_made(self)

    def data_received(self, data: bytes) -> None:
        self.pipe_in.feed(data)

    def eof_received(self) -> bool:
        self.pipe_in.feed_eof()
        return True  # keep our writing half open: the other direction may still carry data

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.side_lost(self, exc)

    def pause_writing(self) -> None:
        self.pipe_out.destination_paused(True)

    def resume_writing(self) -> None:
        self.pipe_out.destination_paused(False)

    def abort(self, *, reset: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if reset:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


class _Pipe:
    """One direction of a link: `source` socket to `destination` socket, through the stream's toxics."""

    def __init__(self, link: Link, stream: str, source: _Side, destination: _Side) -> None:
        self._link = link
        self._stream = stream
        self._source = source
        self._destination = destination
        self._queue: deque[tuple[float, bytes]] = deque()
        self._queued = 0
        self._eof = False
        self.finished = False
        self._worker: asyncio.Task[None] | None = None
        self._pauses: set[str] = set()
        self._writable = asyncio.Event()
        self._writable.set()
        self._next_send = 0.0

    def feed(self, data: bytes) -> None:
        if self._worker is None and self._link.connected.is_set() and not self._link.active(self._stream):
            self._write(data)
            return
        self._queue.append((time.monotonic(), data))
        self._queued += len(data)
        if self._queued > _QUEUE_HIGH:
            self.pause("queue")
        self._ensure_worker()

    def feed_eof(self) -> None:
        self._eof = True
        if self._worker is None:
            self._ensure_worker()

    def pause(self, reason: str) -> None:
        if not self._pauses and self._source.transport is not None:
            self._source.transport.pause_reading()
        self._pauses.add(reason)

    def resume(self, reason: str) -> None:
        if reason not in self._pauses:
            return
        self._pauses.discard(reason)
        transport = self._source.transport
        if not self._pauses and transport is not None and not transport.is_closing():
            transport.resume_reading()

    def destination_paused(self, paused: bool) -> None:
        if paused:
            self._writable.clear()
            self.pause("destination")
        else:
            self._writable.set()
            self.resume("destination")

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self._queue.clear()

    def _ensure_worker(self) -> None:
        if self._worker is None and not self._link.closed:
            self._worker = self._link.loop.create_task(self._drain())

    async def _drain(self) -> None:
        await self._link.connected.wait()
        while self._queue:
            arrived, data = self._queue[0]
            await self._deliver(arrived, data)
            self._queue.popleft()
            self._queued -= len(data)
            if self._queued < _QUEUE_LOW:
                self.resume("queue")
        self._worker = None
        if self._eof:
            self._finish()

    async def _deliver(self, arrived: float, data: bytes) -> None:
        """Send one chunk once the toxics allow it: held by timeout/reset_peer, delayed, throttled."""
        due: float | None = None
        while data:
            toxics = self._link.active(self._stream)
            types = {toxic.type for toxic in toxics}
            if "timeout" in types:
                await self._link.changed()  # data stops until the toxic goes (or its timer closes the link)
                continue
            if "reset_peer" in types:
                reset = next(toxic for toxic in toxics if toxic.type == "reset_peer")
                self._link.reset_after(reset.attributes["timeout"] / 1000)
                await self._link.changed()
                continue
            latencies = [toxic for toxic in toxics if toxic.type == "latency"]
            if latencies:
                if due is None:
                    due = arrived + sum(_delay(toxic) for toxic in latencies)
                wait = due - time.monotonic()
                if wait > 0:  # re-checked after waking: uvloop's timers may fire up to a millisecond early
                    await self._link.changed(wait)
                    continue
            rates = [toxic.attributes["rate"] for toxic in toxics if toxic.type == "bandwidth"]
            rate = min((r for r in rates if r > 0), default=0) * 1000
            piece = data[: max(1, int(rate * _BANDWIDTH_SLICE_S))] if rate else data
            if rate:
                self._next_send = max(time.monotonic(), self._next_send) + len(piece) / rate
                while (wait := self._next_send - time.monotonic()) > 0:  # timers may fire a little early
                    await asyncio.sleep(wait)
            await self._writable.wait()
            self._write(piece)
            data = data[len(piece) :]

    def _write(self, data: bytes) -> None:
        transport = self._destination.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def _finish(self) -> None:
        transport = self._destination.transport
        if transport is not None and not transport.is_closing() and transport.can_write_eof():
            transport.write_eof()
        self.finished = True
        self._link.pipe_finished()


def _delay(toxic: Toxic) -> float:
    """Seconds of delay for one chunk: latency ± jitter, uniformly."""
    latency = toxic.attributes["latency"]
    jitter = toxic.attributes["jitter"]
    return max(0.0, latency + random.uniform(-jitter, jitter)) / 1000
