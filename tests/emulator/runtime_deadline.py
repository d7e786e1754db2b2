"""Gap filled: `cargo lambda watch` sends the wrong invocation deadline.

AWS documents `Lambda-Runtime-Deadline-Ms`, on the runtime API's
`GET /2018-06-01/runtime/invocation/next` answer, as the date that the
function times out, in Unix time milliseconds: the moment the function picked
the invocation up, plus its configured Timeout. cargo-lambda 1.9.2's emulator
sends a fixed 600000 there (a duration), which reads as a date in 1970, so a
function that plans its work around its deadline could never be tested
locally.

`DeadlineProxy` stands between each function process and cargo-lambda's
runtime API. It forwards every request and answer unchanged, except that it
sets that one header on `next` answers to the pickup time plus the Timeout
the runner registered for the function (`set_timeout`).
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import select
import socket
import threading
import time

HOST = "127.0.0.1"
NEXT_SUFFIX = "/runtime/invocation/next"
DEADLINE_HEADER = "Lambda-Runtime-Deadline-Ms"
# Headers that belong to one hop; the rest pass through.
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class DeadlineProxy:
    """Listens on 127.0.0.1 and forwards `/.rt/<key>/...` to cargo-lambda's port."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._timeouts: dict[str, float] = {}
        # Upstream connections waiting in a long-poll `next`, per binary key.
        self._waiting: dict[str, set[socket.socket]] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                proxy._forward(self)

            def do_POST(self) -> None:  # noqa: N802
                proxy._forward(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="deadline-proxy", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def set_timeout(self, key: str, seconds: float) -> None:
        """The Timeout of the function that binary `key` serves from now on."""
        with self._lock:
            self._timeouts[key] = seconds

    def drop(self, key: str) -> None:
        """Ends every `next` still waiting for binary `key`, once its process is gone. A direct
        connection would close with the process; through the proxy, cargo-lambda could otherwise
        hand the next invocation to a request nobody reads."""
        with self._lock:
            waiting = self._waiting.pop(key, set())
        for sock in waiting:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @staticmethod
    def _key_of(path: str) -> str | None:
        parts = path.split("/")
        return parts[2] if len(parts) > 2 and parts[1] == ".rt" else None

    def _timeout_for(self, path: str) -> float | None:
        key = self._key_of(path)
        with self._lock:
            return self._timeouts.get(key) if key else None

    def _forward(self, request: http.server.BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        upstream = http.client.HTTPConnection(HOST, self.upstream_port)
        key = self._key_of(request.path)
        waits = request.path.endswith(NEXT_SUFFIX) and key is not None
        try:
            upstream.request(request.command, request.path, body=body, headers=headers)
            if waits:
                with self._lock:
                    self._waiting.setdefault(key, set()).add(upstream.sock)
                if not _wait_for_answer(upstream, request.connection):
                    return  # the function process went away while it waited for an invocation
            response = upstream.getresponse()
            payload = response.read()
        except OSError:
            with contextlib.suppress(OSError):
                request.send_error(502, "cargo-lambda is unreachable")
            return
        finally:
            if waits:
                with self._lock:
                    self._waiting.get(key, set()).discard(upstream.sock)
            upstream.close()

        request.send_response(response.status, response.reason)
        timeout = self._timeout_for(request.path)
        for name, value in response.getheaders():
            if name.lower() in HOP_HEADERS:
                continue
            if name.lower() == DEADLINE_HEADER.lower() and timeout is not None:
                value = str(int((time.time() + timeout) * 1000))
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        try:
            request.wfile.write(payload)
        except OSError:
            pass


def _wait_for_answer(upstream: http.client.HTTPConnection, client: socket.socket) -> bool:
    """Waits until cargo-lambda answers a long-poll `next`; False (and the upstream request
    dropped) if the function's side of the connection closes first, so that no invocation is
    handed to a process that is gone."""
    while True:
        ready, _, _ = select.select([upstream.sock, client], [], [], 0.5)
        if upstream.sock in ready:
            return True
        if client in ready:
            try:
                if client.recv(1, socket.MSG_PEEK) == b"":
                    upstream.sock.shutdown(socket.SHUT_RDWR)
                    return False
            except OSError:
                return False
            # The function sent more bytes instead of closing; only cargo-lambda's answer matters.
            select.select([upstream.sock], [], [])
            return True
