"""A real local OpenAI-compatible HTTP server for tests: `POST /v1/chat/completions` on 127.0.0.1.

Behaviour is scripted, not mocked: a ``responder`` turns each request body into the answer text, and faults are
injected per request, either from a queue (``server.script(...)``: the next requests get these actions in order) or
from rules (``server.rule(fn)``: ``fn(request) -> action or None``, consulted when the queue is empty). Every request
received is recorded, so tests can assert on what the client really sent.

    with OpenAIServer(lambda req: "true") as server:
        server.script(Status(429, retry_after="1"), Reply())   # first a 429, then the responder's answer
        server.script(Drip(interval=1.0), Large(30 << 20))     # a body one byte a second; a 30 MB answer
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """A normal 200 answer; ``text`` None asks the responder. ``delay`` sleeps first (latency)."""

    text: str | None = None
    delay: float = 0.0
    finish_reason: str = "stop"
    usage: bool = True


@dataclass(frozen=True)
class Status:
    """An HTTP error with an OpenAI-style error body; ``retry_after`` becomes the `Retry-After` header."""

    code: int
    retry_after: str | None = None
    message: str = "injected failure"


@dataclass(frozen=True)
class Hang:
    """Hold the request without answering (longer than the client's timeout); released early on stop()."""

    seconds: float = 5.0


@dataclass(frozen=True)
class Malformed:
    """A 200 whose body is not JSON."""

    body: bytes = b'{"id": "chatcmpl-broken", "choices": [ {'


@dataclass(frozen=True)
class Drip:
    """A 200 whose body (a normal completion of ``text``, or the responder's answer) is sent ``chunk`` bytes every
    ``interval`` seconds: each read is quick, the whole body slow. Stops when the client hangs up or on stop()."""

    text: str | None = None
    interval: float = 1.0
    chunk: int = 1


@dataclass(frozen=True)
class Large:
    """A 200 completion whose answer is ``size`` bytes of ``fill``, streamed in 64 KiB pieces (never built whole).
    ``declare_length`` False sends it chunked, without a Content-Length."""

    size: int
    fill: bytes = b"x"
    declare_length: bool = True


Action = Reply | Status | Hang | Malformed | Drip | Large


@dataclass
class Received:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    at: float = field(default_factory=time.monotonic)


def _words(text: str) -> int:
    return len(text.split())


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (a timeout, an abandoned call, a refused huge body) is what tests want,
    not an error to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class OpenAIServer:
    """The server; use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self, responder: Callable[[dict[str, Any]], str] | None = None) -> None:
        self.responder = responder or (lambda request: "ok")
        self.requests: list[Received] = []
        self._queue: deque[Action] = deque()
        self._rules: list[Callable[[dict[str, Any]], Action | None]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._counter = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- scripting

    def script(self, *actions: Action) -> None:
        with self._lock:
            self._queue.extend(actions)

    def rule(self, fn: Callable[[dict[str, Any]], Action | None]) -> None:
        with self._lock:
            self._rules.append(fn)

    def _next_action(self, body: dict[str, Any]) -> Action:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            rules = list(self._rules)
        for fn in rules:
            action = fn(body)
            if action is not None:
                return action
        return Reply()

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.requests if r.body is not None]

    # ---------------------------------------------------------------- lifetime

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return None

            def do_POST(self) -> None:  # the http.server API names it
                server._handle(self)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="openai-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- one request

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Received(h.path, {k.lower(): v for k, v in h.headers.items()}, body))
            self._counter += 1
            number = self._counter
        if h.path.rstrip("/") != "/v1/chat/completions" or not isinstance(body, dict):
            self._send(h, 404 if body is not None else 400, {"error": {"message": f"unsupported {h.path}"}})
            return
        action = self._next_action(body)
        if isinstance(action, Hang):
            self._stopping.wait(action.seconds)
            self._send(h, 504, {"error": {"message": "hung request released"}})
        elif isinstance(action, Status):
            headers = {"Retry-After": action.retry_after} if action.retry_after is not None else {}
            self._send(h, action.code, {"error": {"message": action.message, "type": "injected",
                                                  "code": str(action.code)}}, headers)
        elif isinstance(action, Malformed):
            self._send_raw(h, 200, action.body)
        elif isinstance(action, Drip):
            text = action.text if action.text is not None else self.responder(body)
            data = json.dumps(self._completion(body, text, Reply(), number)).encode()
            self._send_pieces(h, len(data), (data[i:i + action.chunk] for i in range(0, len(data), action.chunk)),
                              action.interval)
        elif isinstance(action, Large):
            self._send_large(h, action, number)
        else:
            if action.delay:
                self._stopping.wait(action.delay)
            text = action.text if action.text is not None else self.responder(body)
            self._send(h, 200, self._completion(body, text, action, number))

    @staticmethod
    def _completion(body: dict[str, Any], text: str, action: Reply, number: int) -> dict[str, Any]:
        prompt = sum(_words(str(m.get("content") or "")) for m in body.get("messages") or [])
        out: dict[str, Any] = {
            "id": f"chatcmpl-test-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "unknown"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": action.finish_reason, "logprobs": None}],
        }
        if action.usage:
            out["usage"] = {"prompt_tokens": prompt, "completion_tokens": _words(text),
                            "total_tokens": prompt + _words(text)}
        return out

    def _send_large(self, h: BaseHTTPRequestHandler, action: Large, number: int) -> None:
        head = (f'{{"id": "chatcmpl-test-{number}", "object": "chat.completion", "created": {int(time.time())}, '
                f'"model": "test-model", "choices": [{{"index": 0, "finish_reason": "stop", "message": '
                f'{{"role": "assistant", "content": "').encode()
        tail = b'"}}]}'
        piece = action.fill * (65536 // len(action.fill))

        def pieces() -> Iterator[bytes]:
            yield head
            left = action.size
            while left > 0:
                yield piece[:left]
                left -= len(piece)
            yield tail
        length = len(head) + action.size + len(tail) if action.declare_length else None
        self._send_pieces(h, length, pieces(), 0.0)

    def _send_pieces(self, h: BaseHTTPRequestHandler, length: int | None, pieces: Iterator[bytes],
                     interval: float) -> None:
        """A 200 body written piece by piece, ``interval`` seconds apart; chunked when ``length`` is None."""
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            if length is None:
                h.send_header("Transfer-Encoding", "chunked")
            else:
                h.send_header("Content-Length", str(length))
            h.end_headers()
            h.wfile.flush()
            for data in pieces:
                if self._stopping.is_set() or (interval and self._stopping.wait(interval)):
                    return
                h.wfile.write(data if length is not None else b"%x\r\n%s\r\n" % (len(data), data))
                h.wfile.flush()
            if length is None:
                h.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: exactly what a test may want
            h.close_connection = True

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, code: int, obj: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        OpenAIServer._send_raw(h, code, json.dumps(obj).encode(), headers)

    @staticmethod
    def _send_raw(h: BaseHTTPRequestHandler, code: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            h.send_response(code)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): nothing to answer
            pass


@contextmanager
def openai_server(responder: Callable[[dict[str, Any]], str] | None = None) -> Iterator[OpenAIServer]:
    """``with openai_server(fn) as server: …`` — the same as ``with OpenAIServer(fn) as server``."""
    with OpenAIServer(responder) as server:
        yield server
