"""Outbound webhook fixtures: a receiver (a real HTTP server on 127.0.0.1 in a thread that
records every request and answers the status codes it is told), and endpoints."""

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.integrations import services
from app.organizations.events import EVENT_TYPES
from tests.support import NOW


@dataclass
class Received:
    path: str
    headers: dict
    body: str


@dataclass
class Receiver:
    url: str
    requests: list = field(default_factory=list)
    codes: list = field(default_factory=list)  # answered in order; 200 once exhausted
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_code(self) -> int:
        with self.lock:
            return self.codes.pop(0) if self.codes else 200


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802  (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers), body))
            code = state.next_code()
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def make_endpoint(app):
    def make(org, url, events=EVENT_TYPES, *, own_system=False):
        return services.create_endpoint(
            org.id,
            url=url,
            events=list(events),
            description=None,
            own_system=own_system,
            actor_id=None,
            now=NOW,
        )

    return make
