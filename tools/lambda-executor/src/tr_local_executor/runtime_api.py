"""A minimal AWS Lambda Runtime API (2018-06-01) served on 127.0.0.1.

Just enough for one ``awslambdaric`` process: it long-polls ``/invocation/next``,
then posts ``/invocation/{id}/response`` or ``/invocation/{id}/error``; an import
failure of the handler is posted to ``/init/error``. Standard library only.
"""

from __future__ import annotations

import json
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_PREFIX = "/2018-06-01/runtime"


@dataclass(frozen=True)
class PendingInvocation:
    """One event waiting to be fetched by the runtime with ``GET /invocation/next``."""

    request_id: str
    payload: bytes
    invoked_function_arn: str
    deadline_ms: int
    trace_id: str | None = None


@dataclass(frozen=True)
class RuntimeReply:
    """What the runtime posted back: a response, a function error or an init error."""

    request_id: str | None
    body: bytes
    is_error: bool
    error_type: str | None = None


class RuntimeApiServer:
    """Serves the Runtime API for one runtime process, one invocation at a time."""

    def __init__(self) -> None:
        self._events: queue.Queue[PendingInvocation] = queue.Queue()
        self._replies: dict[str, Future[RuntimeReply]] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.polled = threading.Event()
        """Set when the runtime first asks for an event: its init phase is over."""
        self.init_error: Future[RuntimeReply] = Future()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="tr-lambda-runtime-api", daemon=True
        )

    @property
    def address(self) -> str:
        """``host:port`` as expected in ``AWS_LAMBDA_RUNTIME_API``."""
        return f"127.0.0.1:{self._httpd.server_port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        for future in self._replies.values():
            future.cancel()

    def submit(self, invocation: PendingInvocation) -> Future[RuntimeReply]:
        """Queue an event for the runtime; the future resolves with its reply."""
        future: Future[RuntimeReply] = Future()
        with self._lock:
            self._replies[invocation.request_id] = future
        self._events.put(invocation)
        return future

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._replies.pop(request_id, None)

    # -- request handling -------------------------------------------------

    def _next_event(self) -> PendingInvocation | None:
        self.polled.set()
        while not self._closed.is_set():
            try:
                return self._events.get(timeout=0.5)
            except queue.Empty:
                continue
        return None

    def _reply(self, request_id: str, reply: RuntimeReply) -> bool:
        with self._lock:
            future = self._replies.pop(request_id, None)
        if future is None or future.done():
            return False
        future.set_result(reply)
        return True

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - the Lambda Runtime API's routes in one handler class
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = (
                True  # headers and body go out in two writes: no 40 ms ACK waits
            )

            def log_message(self, format: str, *args: object) -> None:
                return  # keep the function's log free of access lines

            def _send(
                self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def _status(self, status: int, message: str) -> None:
                self._send(
                    status,
                    json.dumps({"status": message}).encode(),
                    {"Content-Type": "application/json"},
                )

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_GET(self) -> None:
                if self.path != f"{API_PREFIX}/invocation/next":
                    self._status(404, "unknown path")
                    return
                event = api._next_event()
                if event is None:
                    self._status(500, "runtime api closed")
                    return
                headers = {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": event.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(event.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": event.invoked_function_arn,
                }
                if event.trace_id:
                    headers["Lambda-Runtime-Trace-Id"] = event.trace_id
                self._send(200, event.payload, headers)

            def do_POST(self) -> None:
                body = self._body()
                parts = self.path[len(API_PREFIX) :].strip("/").split("/")
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                if parts == ["init", "error"]:
                    if not api.init_error.done():
                        api.init_error.set_result(RuntimeReply(None, body, True, error_type))
                    self._status(202, "OK")
                elif (
                    len(parts) == 3
                    and parts[0] == "invocation"
                    and parts[2] in ("response", "error")
                ):
                    is_error = parts[2] == "error"
                    reply = RuntimeReply(parts[1], body, is_error, error_type if is_error else None)
                    if api._reply(parts[1], reply):
                        self._status(202, "OK")
                    else:
                        self._status(400, "unknown or finished request id")
                else:
                    self._status(404, "unknown path")

        return Handler
