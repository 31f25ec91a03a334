"""Exposure guards of the run server (pure ASGI middleware): the Host header, security headers on every answer, and
no absolute server path in any JSON or event-stream answer. (JSON-only POSTs: ``app.require_json``, a dependency of
the POST routes, so that a POST to a GET-only path still answers 405.)

* ``HostCheck``: a request whose ``Host`` is not one of ``allowed_hosts`` answers 400 ``host_not_allowed`` (a DNS
  rebinding page on another origin cannot reach a server bound to loopback). ``*`` allows any host.
* ``SecurityHeaders``: CSP (scripts, styles, connections only from this origin), ``X-Frame-Options: DENY``,
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` on every answer.
* ``PathScrub``: the server's absolute roots (plans directory, input files directory, store, working directory) are
  rewritten in JSON and ``text/event-stream`` bodies, so that error messages written for the local CLI user (which
  name paths) do not tell a tenant where the server keeps its files.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runtime.server.errors import error_body

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

# /docs loads Swagger UI from /docs-assets (same origin); Swagger UI sets inline styles, so styles need
# 'unsafe-inline' (no script may be inline). img-src data: covers the page's empty favicon and Swagger's icons.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


async def send_error(send: Any, status: int, code: str, message: str,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """One JSON error answer straight from a middleware (the app's error shape, ``errors.error_body``)."""
    body = json.dumps(error_body(code, message)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def host_name(header: str) -> str:
    """The host of a ``Host`` header value without its port, lower case (``[::1]:8000`` → ``::1``)."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def default_allowed_hosts(bound_host: str) -> tuple[str, ...]:
    """Loopback names plus the host the server is bound to (unless it is a wildcard address, which no client
    names in ``Host``)."""
    hosts = list(LOOPBACK_HOSTS)
    bound = host_name(bound_host) if not bound_host.startswith("[") else bound_host.strip("[]").lower()
    try:
        wildcard = ipaddress.ip_address(bound).is_unspecified
    except ValueError:
        wildcard = False
    if bound and not wildcard and bound not in hosts:
        hosts.append(bound)
    return tuple(hosts)


class HostCheck:
    def __init__(self, app: Any, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed = {h.strip().lower().strip("[]") for h in allowed_hosts if h.strip()}
        self.any = "*" in self.allowed

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and not self.any:
            header = dict(scope.get("headers") or []).get(b"host")
            name = host_name(header.decode("latin-1")) if header is not None else ""
            if name not in self.allowed:
                shown = name if name.isascii() and name.isprintable() and len(name) <= 255 else "(unreadable)"
                await send_error(send, 400, "host_not_allowed",
                                 f"Host {shown or '(missing)'!s} is not served here (serve --allowed-hosts)")
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers") or []}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*(message.get("headers") or []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _spellings(path: str) -> list[str]:
    """A path as it appears in a UTF-8 JSON body: raw and JSON-escaped (they differ only for `"` and `\\`)."""
    return list(dict.fromkeys([path, json.dumps(path, ensure_ascii=False)[1:-1]]))


class PathScrubber:
    """``roots``: (absolute path, replacement). A root followed by ``/`` loses both (a path inside the plans
    directory becomes relative to it); a root alone becomes its replacement."""

    def __init__(self, roots: Iterable[tuple[Path, str]]) -> None:
        pairs: list[tuple[bytes, bytes]] = []
        for root, name in roots:
            for form in {str(root), str(root.resolve())}:
                if len(form) <= 1:
                    continue  # "/" itself: scrubbing it would mangle every path
                for spelled in _spellings(form):
                    pairs.append(((spelled + os.sep).encode(), b"" if name == "." else (name + "/").encode()))
                    pairs.append((spelled.encode(), name.encode()))
        pairs = sorted(set(pairs), key=lambda p: -len(p[0]))  # longest (deepest) root first
        # a root must end where a path segment ends: /srv/plans is not scrubbed out of /srv/plans2
        self.pairs = [(re.compile(re.escape(old) + (b"" if old.endswith(b"/") else rb"(?![^\s\"'/:;,)\]}])")),
                       new) for old, new in pairs]

    def scrub(self, body: bytes) -> bytes:
        for old, new in self.pairs:
            body = old.sub(lambda _m, new=new: new, body)
        return body


class PathScrub:
    """The middleware of a ``PathScrubber`` (built from ``roots``, or the app's own ``scrubber``). A response whose
    ``http.response.start`` message carries ``PRESCRUBBED`` (the run event streams: each event is scrubbed once,
    when it is logged, however many clients watch) is passed on as it is."""

    SCRUBBED = (b"application/json", b"text/event-stream")
    PRESCRUBBED = "ncd.prescrubbed"

    def __init__(self, app: Any, roots: Iterable[tuple[Path, str]] = (),
                 scrubber: PathScrubber | None = None) -> None:
        self.app = app
        self.scrubber = scrubber if scrubber is not None else PathScrubber(roots)
        self.pairs = self.scrubber.pairs

    def scrub(self, body: bytes) -> bytes:
        return self.scrubber.scrub(body)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.pairs:
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"start": None, "chunks": None}

        async def scrubbed(message: dict) -> None:
            if message["type"] == "http.response.start":
                if message.get(self.PRESCRUBBED):
                    await send({k: v for k, v in message.items() if k != self.PRESCRUBBED})
                    return
                headers = dict((k.lower(), v) for k, v in message.get("headers") or [])
                if not headers.get(b"content-type", b"").startswith(self.SCRUBBED):
                    await send(message)
                    return
                if b"content-length" in headers:  # buffered: the length changes
                    state["start"], state["chunks"] = message, []
                    return
                state["chunks"] = False  # streamed: scrub event by event (one event is one chunk)
                await send(message)
                return
            if message["type"] != "http.response.body" or state["chunks"] is None:
                await send(message)
                return
            if state["chunks"] is False:
                await send({**message, "body": self.scrub(message.get("body", b""))})
                return
            state["chunks"].append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = self.scrub(b"".join(state["chunks"]))
            start = state["start"]
            headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, scrubbed)
