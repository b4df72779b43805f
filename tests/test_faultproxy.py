"""The fault proxy, driven through `chaos.toxiproxy_client.ToxiproxyClient` as chaos drills drive it.

Each toxic is checked against the ground truth it injects (a delay, a cut, a rate) with generous margins:
these are correctness checks, not speed checks.
"""

from __future__ import annotations

import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from chaos.toxiproxy_client import Proxy, Toxic, ToxiproxyClient, ToxiproxyError
from tests.children import stop_child

ROOT = Path(__file__).resolve().parent.parent
MARGIN_S = 0.25  # scheduling slack allowed on top of an injected delay


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        tag: bytes = self.server.tag  # type: ignore[attr-defined]
        try:
            while data := self.request.recv(65536):
                self.request.sendall(tag + data)
        except OSError:
            return  # reset by a toxic: expected


@pytest.fixture
def echo() -> Iterator[str]:
    """A TCP echo server on a free port; yields its `host:port`."""
    yield from _echo_server(b"")


def _echo_server(tag: bytes) -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _EchoHandler)
    server.daemon_threads = True
    server.tag = tag  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class FaultProxy:
    client: ToxiproxyClient
    url: str
    log: Path
    log_offset: int


def _start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = _free_port()
    log = tmp_path / "faultproxy.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.faultproxy", "--host", "127.0.0.1", "--port", str(port), *extra],
            cwd=ROOT,
            stderr=stderr,
        )
    return process, f"http://127.0.0.1:{port}", log


def _wait_ready(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"fault proxy exited with {process.returncode}")
        try:
            httpx.get(f"{url}/version", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("fault proxy API did not answer within 15 s")


@pytest.fixture(scope="module")
def _server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One fault proxy process for the module; `fp` leaves it empty after each test."""
    process, url, log = _start(tmp_path_factory.mktemp("faultproxy"))
    try:
        _wait_ready(process, url)
        yield url, log
    finally:
        stop_child(process)


@pytest.fixture
def fp(_server: tuple[str, Path]) -> Iterator[FaultProxy]:
    url, log = _server
    client = ToxiproxyClient(url)
    try:
        yield FaultProxy(client, url, log, log.stat().st_size)
    finally:
        for name in client.proxies():
            client.delete_proxy(name)
        client.close()


def _address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host, int(port)


def _connect(proxy: Proxy) -> socket.socket:
    sock = socket.create_connection(_address(proxy.listen), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def _round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    started = time.perf_counter()
    sock.sendall(payload)
    assert _recv_exactly(sock, len(payload)) == payload
    return time.perf_counter() - started


def _make_proxy(fp: FaultProxy, upstream: str, name: str = "echo") -> Proxy:
    return fp.client.create_proxy(name, "127.0.0.1:0", upstream)


# --- API shapes and errors ---------------------------------------------------------------------------------
def test_version_is_a_json_version_string(fp: FaultProxy) -> None:
    assert httpx.get(f"{fp.url}/version").json()["version"] == fp.client.version()


def test_create_proxy_answers_201_with_the_toxiproxy_shape(fp: FaultProxy, echo: str) -> None:
    response = httpx.post(f"{fp.url}/proxies", json={"name": "p", "listen": "127.0.0.1:0", "upstream": echo})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"name", "listen", "upstream", "enabled", "toxics"}
    assert (body["name"], body["upstream"], body["enabled"], body["toxics"]) == ("p", echo, True, [])
    assert _address(body["listen"])[1] > 0


def test_proxies_index_is_keyed_by_name(fp: FaultProxy, echo: str) -> None:
    _make_proxy(fp, echo, "a")
    _make_proxy(fp, echo, "b")
    index = httpx.get(f"{fp.url}/proxies").json()
    assert sorted(index) == ["a", "b"]
    assert index["a"]["name"] == "a"


def test_duplicate_proxy_name_is_409(fp: FaultProxy, echo: str) -> None:
    _make_proxy(fp, echo, "p")
    response = httpx.post(f"{fp.url}/proxies", json={"name": "p", "listen": "127.0.0.1:0", "upstream": echo})
    assert (response.status_code, response.json()) == (409, {"error": "proxy already exists", "status": 409})


def test_missing_upstream_is_400(fp: FaultProxy) -> None:
    response = httpx.post(f"{fp.url}/proxies", json={"name": "p", "listen": "127.0.0.1:0"})
    assert response.status_code == 400
    assert response.json() == {"error": "missing required field: upstream", "status": 400}


def test_malformed_json_is_400(fp: FaultProxy) -> None:
    response = httpx.post(f"{fp.url}/proxies", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("bad request body")


def test_bad_listen_address_is_400_naming_the_field(fp: FaultProxy, echo: str) -> None:
    response = httpx.post(f"{fp.url}/proxies", json={"name": "p", "listen": "nowhere", "upstream": echo})
    assert response.status_code == 400
    assert "listen" in response.json()["error"]


def test_unknown_proxy_is_404(fp: FaultProxy) -> None:
    for method in ("GET", "DELETE"):
        response = httpx.request(method, f"{fp.url}/proxies/ghost")
        assert (response.status_code, response.json()) == (404, {"error": "proxy not found", "status": 404})


def test_unknown_toxic_is_404(fp: FaultProxy, echo: str) -> None:
    _make_proxy(fp, echo, "p")
    response = httpx.delete(f"{fp.url}/proxies/p/toxics/ghost")
    assert (response.status_code, response.json()) == (404, {"error": "toxic not found", "status": 404})


def test_invalid_toxic_type_and_stream_are_400(fp: FaultProxy, echo: str) -> None:
    _make_proxy(fp, echo, "p")
    bad_type = httpx.post(f"{fp.url}/proxies/p/toxics", json={"type": "gremlin"})
    bad_stream = httpx.post(f"{fp.url}/proxies/p/toxics", json={"type": "latency", "stream": "sideways"})
    assert (bad_type.status_code, bad_type.json()["error"]) == (400, "invalid toxic type")
    assert bad_stream.status_code == 400
    assert "stream" in bad_stream.json()["error"]


def test_toxic_defaults_follow_toxiproxy(fp: FaultProxy, echo: str) -> None:
    _make_proxy(fp, echo, "p")
    response = httpx.post(f"{fp.url}/proxies/p/toxics", json={"type": "latency", "attributes": {"latency": 5}})
    assert response.status_code == 200
    assert response.json() == {
        "attributes": {"latency": 5, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
    }


def test_duplicate_toxic_name_is_409(fp: FaultProxy, echo: str) -> None:
    _make_proxy(fp, echo, "p")
    fp.client.add_toxic("p", "latency", {"latency": 1}, name="slow")
    with pytest.raises(ToxiproxyError) as caught:
        fp.client.add_toxic("p", "latency", {"latency": 1}, name="slow")
    assert (caught.value.status, caught.value.message) == (409, "toxic already exists")


# --- traffic and toxics ------------------------------------------------------------------------------------
def test_traffic_passes_through_unchanged(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    payload = bytes(range(256)) * 4096  # 1 MiB
    with _connect(proxy) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        received = _recv_exactly(sock, len(payload))
        sender.join(timeout=10)
    assert received == payload


def test_latency_toxic_delays_each_round_trip(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "latency", {"latency": 200})
    with _connect(proxy) as sock:
        trips = [_round_trip(sock) for _ in range(3)]
    assert all(0.2 <= trip < 0.2 + MARGIN_S for trip in trips), trips


def test_upstream_latency_delays_requests(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "latency", {"latency": 150}, stream="upstream")
    with _connect(proxy) as sock:
        trip = _round_trip(sock)
    assert 0.15 <= trip < 0.15 + MARGIN_S


def test_jitter_stays_within_latency_plus_or_minus_jitter(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "latency", {"latency": 100, "jitter": 50})
    with _connect(proxy) as sock:
        trips = [_round_trip(sock) for _ in range(15)]
    assert all(0.05 <= trip < 0.15 + MARGIN_S for trip in trips), trips
    assert max(trips) - min(trips) > 0.01, trips  # the jitter is really applied


def test_latency_preserves_chunk_order(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "latency", {"latency": 20, "jitter": 20})
    messages = [f"{i:04d}".encode() for i in range(50)]
    with _connect(proxy) as sock:
        for message in messages:
            sock.sendall(message)
            time.sleep(0.002)
        received = _recv_exactly(sock, 4 * len(messages))
    assert received == b"".join(messages)


def test_removing_latency_restores_fast_round_trips(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "latency", {"latency": 300}, name="slow")
    with _connect(proxy) as sock:
        assert _round_trip(sock) >= 0.3
        fp.client.remove_toxic("echo", "slow")
        assert _round_trip(sock) < 0.3


def test_timeout_toxic_stops_data_then_closes_after_its_timeout(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    with _connect(proxy) as sock:
        assert _round_trip(sock) < 1
        fp.client.add_toxic("echo", "timeout", {"timeout": 500})
        started = time.perf_counter()
        sock.sendall(b"lost")
        sock.settimeout(0.5 + 2)
        assert sock.recv(100) == b""  # nothing arrives, then the connection is closed
        elapsed = time.perf_counter() - started
    assert 0.5 - 0.05 <= elapsed < 0.5 + MARGIN_S


def test_timeout_zero_holds_data_until_removed(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    with _connect(proxy) as sock:
        fp.client.add_toxic("echo", "timeout", {"timeout": 0}, name="hold")
        sock.sendall(b"held")
        sock.settimeout(0.6)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        fp.client.remove_toxic("echo", "hold")
        sock.settimeout(5)
        assert _recv_exactly(sock, 4) == b"held"


def test_reset_peer_resets_the_connection(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "reset_peer", {"timeout": 0})
    with _connect(proxy) as sock:
        sock.sendall(b"ping")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)


def test_reset_peer_waits_for_its_timeout(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "reset_peer", {"timeout": 400})
    with _connect(proxy) as sock:
        started = time.perf_counter()
        sock.sendall(b"ping")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)
        elapsed = time.perf_counter() - started
    assert 0.4 - 0.05 <= elapsed < 0.4 + MARGIN_S


def test_bandwidth_limits_a_transfer_to_its_rate(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "bandwidth", {"rate": 100})  # 100 KB/s
    size = 60_000  # at least 0.6 s at 100 KB/s
    with _connect(proxy) as sock:
        started = time.perf_counter()
        sock.sendall(b"x" * size)
        received = _recv_exactly(sock, size)
        elapsed = time.perf_counter() - started
    assert len(received) == size
    assert size / 100_000 <= elapsed < size / 100_000 + 1.0


def test_toxicity_zero_never_applies(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "latency", {"latency": 500}, toxicity=0.0)
    with _connect(proxy) as sock:
        assert _round_trip(sock) < 0.5


def test_toxicity_is_rolled_per_connection(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "latency", {"latency": 150}, toxicity=0.5)
    delayed = []
    for _ in range(30):
        with _connect(proxy) as sock:
            first = _round_trip(sock)
            fp.client.add_toxic("echo", "bandwidth", {"rate": 0}, name="unlimited", stream="upstream")
            fp.client.remove_toxic("echo", "unlimited")
            second = _round_trip(sock)
        assert (first >= 0.15) == (second >= 0.15)  # one roll per connection, kept when other toxics change
        delayed.append(first >= 0.15)
    assert any(delayed) and not all(delayed)  # P(all same) = 2 * 0.5**30


def test_update_toxic_changes_its_attributes(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "latency", {"latency": 400, "jitter": 0}, name="slow")
    updated = fp.client.update_toxic("echo", "slow", {"latency": 100})
    assert updated.attributes == {"latency": 100, "jitter": 0}
    with _connect(proxy) as sock:
        assert 0.1 <= _round_trip(sock) < 0.1 + MARGIN_S


# --- proxy state -------------------------------------------------------------------------------------------
def test_disable_closes_existing_connections_and_refuses_new_ones(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    with _connect(proxy) as sock:
        assert _round_trip(sock) < 1
        fp.client.update_proxy("echo", enabled=False)
        assert sock.recv(100) == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(_address(proxy.listen), timeout=2)


def test_reenable_accepts_connections_again(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.update_proxy("echo", enabled=False)
    again = fp.client.update_proxy("echo", enabled=True)
    assert again.enabled and again.listen == proxy.listen
    with _connect(proxy) as sock:
        assert _round_trip(sock) < 1


def test_changing_upstream_routes_new_connections_to_it(fp: FaultProxy, echo: str) -> None:
    for other in _echo_server(b"B:"):
        proxy = _make_proxy(fp, echo)
        with _connect(proxy) as old:
            assert _round_trip(old) < 1
            fp.client.update_proxy("echo", upstream=other)
            assert old.recv(100) == b""  # as Toxiproxy: connections to the old upstream are closed
        with _connect(proxy) as new:
            new.sendall(b"hi")
            assert _recv_exactly(new, 4) == b"B:hi"


def test_delete_proxy_stops_listening(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    assert httpx.delete(f"{fp.url}/proxies/echo").status_code == 204
    assert "echo" not in fp.client.proxies()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(_address(proxy.listen), timeout=2)


def test_reset_enables_every_proxy_and_removes_every_toxic(fp: FaultProxy, echo: str) -> None:
    proxy = _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "latency", {"latency": 500})
    fp.client.update_proxy("echo", enabled=False)
    assert httpx.post(f"{fp.url}/reset").status_code == 204
    after = fp.client.proxy("echo")
    assert after.enabled and after.toxics == ()
    with _connect(proxy) as sock:
        assert _round_trip(sock) < 0.5


def test_api_changes_are_logged_one_line_each(fp: FaultProxy, echo: str) -> None:
    _make_proxy(fp, echo)
    fp.client.add_toxic("echo", "latency", {"latency": 1}, name="l")
    fp.client.remove_toxic("echo", "l")
    fp.client.update_proxy("echo", enabled=False)
    fp.client.delete_proxy("echo")
    lines = fp.log.read_bytes()[fp.log_offset :].decode().splitlines()
    assert [line.split("faultproxy: ", 1)[1].split(" ", 1)[0] for line in lines] == [
        "created",
        "added",
        "removed",
        "updated",
        "deleted",
    ]


# --- command line ------------------------------------------------------------------------------------------
def test_config_file_creates_its_proxies(tmp_path: Path, echo: str) -> None:
    listen = f"127.0.0.1:{_free_port()}"
    config = tmp_path / "proxies.json"
    config.write_text(
        f'[{{"name": "on", "listen": "{listen}", "upstream": "{echo}"}},'
        f' {{"name": "off", "listen": "127.0.0.1:0", "upstream": "{echo}", "enabled": false}}]'
    )
    process, url, _ = _start(tmp_path, "--config", str(config))
    try:
        _wait_ready(process, url)
        with ToxiproxyClient(url) as client:
            proxies = client.proxies()
        assert (proxies["on"].enabled, proxies["on"].listen, proxies["off"].enabled) == (True, listen, False)
        with _connect(proxies["on"]) as sock:
            assert _round_trip(sock) < 1
    finally:
        stop_child(process)


def test_bad_config_exits_2_naming_the_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text('[{"name": "p", "listen": "127.0.0.1:0"}]')
    result = subprocess.run(
        [sys.executable, "-m", "sandbox.faultproxy", "--port", str(_free_port()), "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert str(config) in result.stderr and "upstream" in result.stderr


# --- client ------------------------------------------------------------------------------------------------
def test_client_round_trips_proxies_and_toxics(fp: FaultProxy, echo: str) -> None:
    created = fp.client.create_proxy("c", "127.0.0.1:0", echo, enabled=False)
    assert (created.name, created.upstream, created.enabled, created.toxics) == ("c", echo, False, ())
    enabled = fp.client.update_proxy("c", enabled=True)
    assert enabled.enabled
    toxic = fp.client.add_toxic("c", "bandwidth", {"rate": 10}, name="bw", stream="upstream", toxicity=0.5)
    assert toxic == Toxic("bw", "bandwidth", "upstream", 0.5, {"rate": 10})
    assert fp.client.toxic("c", "bw") == toxic
    assert fp.client.toxics("c") == [toxic]
    assert fp.client.proxy("c").toxics == (toxic,)
    assert fp.client.proxies() == {"c": fp.client.proxy("c")}
    fp.client.remove_toxic("c", "bw")
    assert fp.client.toxics("c") == []
    fp.client.delete_proxy("c")
    assert fp.client.proxies() == {}


def test_client_reset_clears_toxics(fp: FaultProxy, echo: str) -> None:
    _make_proxy(fp, echo, "c")
    fp.client.add_toxic("c", "timeout", {"timeout": 0})
    fp.client.reset()
    assert fp.client.toxics("c") == []


def test_client_raises_with_status_and_message(fp: FaultProxy) -> None:
    with pytest.raises(ToxiproxyError) as caught:
        fp.client.proxy("ghost")
    assert (caught.value.status, caught.value.message) == (404, "proxy not found")


def test_client_reports_an_unreachable_api_as_status_0() -> None:
    with (
        ToxiproxyClient(f"http://127.0.0.1:{_free_port()}", timeout=2) as client,
        pytest.raises(ToxiproxyError) as caught,
    ):
        client.version()
    assert caught.value.status == 0
