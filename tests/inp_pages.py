"""Pages with interactions of known cost, for checking INP against the standard's rule (test_journeys_inp).

Each handler busy-waits the next duration of the ``d`` query parameter (milliseconds, comma-separated), so the
k-th interaction's processing time is known. The page keeps its own record of the interactions, independent of
vitals.js: every Event Timing entry with an interaction id (``entries()``, flushed on demand), and for a click that
navigates away (which Chromium may leave without an entry) the time from the click to the first animation frame
after its handler, or to ``pagehide`` when no frame came first. Served over HTTP on 127.0.0.1 (vitals.js records
only http(s) pages).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from tests import local_http

_BUSY = """
const durations = new URLSearchParams(location.search).get("d").split(",").map(Number);
const seen = [];
const observer = new PerformanceObserver(list => keep(list.getEntries()));
observer.observe({type: "event", durationThreshold: 16, buffered: true});
function keep(found) {
  found.filter(e => e.interactionId).forEach(e => seen.push([e.interactionId, e.duration]));
}
function entries() {
  keep(observer.takeRecords());
  return seen;
}
let next = 0;
let frameAfter = null;
function busy(event) {
  const until = performance.now() + durations[next++];
  while (performance.now() < until) {}
  document.getElementById("done").textContent = String(next);
  requestAnimationFrame(() => { frameAfter = performance.now() - event.timeStamp; });
}
function leave(event) {
  busy(event);
  addEventListener("pagehide", () => {
    const truth = {entries: entries(), frame: frameAfter ?? performance.now() - event.timeStamp};
    sessionStorage.setItem("truth", JSON.stringify(truth));
  });
  location.href = "/next";
}
"""
PAGES = {
    "/click": "<button id=go onclick='busy(event)'>Go</button><p id=done>0</p>",
    "/type": "<label>Text <input id=field onkeydown='busy(event)'></label><p id=done>0</p>",
    "/leave": "<button id=go onclick='leave(event)'>Go</button><p id=done>0</p>",
    "/next": "<p>Arrived</p>",
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path.split("?", 1)[0])
        if body is None:
            self.send_error(404)
            return
        html = f"<!doctype html><title>INP</title><script>{_BUSY}</script>{body}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(html)))
        self.end_headers()
        self.wfile.write(html)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def serving() -> Iterator[str]:
    """The pages on a free port of 127.0.0.1; yields the base URL and stops the server afterwards."""
    with local_http.serving(_Handler) as url:
        yield url
