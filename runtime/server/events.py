"""Live progress of runs: one event per step state change, as server-sent events.

An active run has an ``EventLog``: the events of its own result rows so far (read from the store when the run was
(re)started, then appended by the orchestrator's ``on_result`` callback from the run's threads), the attempt events
its ``on_attempt`` callback reports while it runs (a step started, or an attempt failed and will be retried) and,
once the run has ended and its rows are committed, an end record. A subscriber first receives everything already in
the log, then waits for more — so a late subscriber misses nothing. Runs that are not active are streamed from the
store (their result events only: no step of theirs is running).

Wire format (``text/event-stream``)::

    event: attempt
    data: {"run_id": "r1", "kind": "attempt", "flow_index": "1.2", "status": "running", "attempt": 1, ...}

    id: 3
    data: {"n": 3, "run_id": "r1", "kind": "item", "flow_index": "1.2", "status": "completed", ...}

    event: end
    data: {"run_id": "r1", "status": "completed", "outcome": {...}}

``n`` (also the SSE ``id``) numbers the run's own result rows from 1, the same in the live log and in the store; a
reconnecting client sends ``Last-Event-ID`` and gets what came after that result. Attempt events carry no id: they
are transient states that the next result of the step supersedes. A comment line (``: keep-alive``) is sent every
15 s while nothing happens.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterable
from typing import Any

KEEPALIVE_S = 15.0


def row_event(run_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """The event of one result row (a live row from the recorder, or a stored one): no values, only the state."""
    meta = row.get("meta")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = None
    meta = meta if isinstance(meta, dict) else {}
    ev = {"run_id": run_id, "kind": row.get("kind"), "flow_index": row.get("flow_index"),
          "inference_id": row.get("inference_id"), "iteration": row.get("iteration") or "",
          "status": row.get("status"), "concept": row.get("concept_name"), "cycle": row.get("cycle"),
          "errors": meta.get("errors") or []}
    if row.get("kind") == "loop_iteration":
        ev["position"] = (meta.get("loop") or {}).get("position")
    return ev


def attempt_event(run_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """The event of one attempt (an executions row): it started (``running``) or failed and may be retried."""
    try:
        cell = json.loads(row.get("cell") or "[]")
    except ValueError:
        cell = []
    return {"run_id": run_id, "kind": "attempt", "flow_index": row.get("flow_index"),
            "inference_id": row.get("inference_id"), "iteration": row.get("iteration") or "",
            "status": row.get("status"), "cell": cell, "attempt": row.get("attempt"), "cycle": row.get("cycle"),
            "error_kind": row.get("error_kind")}


class EventLog:
    """Append from any thread; read and wait from event loops. Entries are read by position; result events are
    also numbered (``n``), attempt events are not."""

    def __init__(self, run_id: str, initial: Iterable[dict[str, Any]] = ()) -> None:
        self.run_id = run_id
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._results = 0
        self._end: dict[str, Any] | None = None
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        for ev in initial:
            self._results += 1
            ev["n"] = self._results
            self._entries.append(ev)

    def append(self, ev: dict[str, Any]) -> None:
        """A result event: numbered."""
        self._add(ev, numbered=True)

    def transient(self, ev: dict[str, Any]) -> None:
        """An attempt event: not numbered."""
        self._add(ev, numbered=False)

    def _add(self, ev: dict[str, Any], numbered: bool) -> None:
        with self._lock:
            if self._end is not None:
                return
            if numbered:
                self._results += 1
                ev["n"] = self._results
            self._entries.append(ev)
            waiters = list(self._waiters)
        _wake(waiters)

    def close(self, end: dict[str, Any]) -> None:
        with self._lock:
            if self._end is None:
                self._end = end
            waiters = list(self._waiters)
        _wake(waiters)

    @property
    def ended(self) -> bool:
        return self._end is not None

    def position_after(self, n: int) -> int:
        """The position of the first entry after result event ``n`` (0 for n = 0 or an unknown n)."""
        with self._lock:
            if n <= 0:
                return 0
            for position, ev in enumerate(self._entries):
                if ev.get("n") == n and ev.get("kind") != "attempt":
                    return position + 1
            return len(self._entries)

    def since(self, position: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        with self._lock:
            return self._entries[max(0, position):], self._end

    def __len__(self) -> int:
        return len(self._entries)

    async def wait(self, position: int, timeout: float) -> None:
        """Until there is an entry at or after ``position``, the end, or ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        flag = asyncio.Event()
        key = (loop, flag)
        with self._lock:
            if len(self._entries) > position or self._end is not None:
                return
            self._waiters.add(key)
        try:
            await asyncio.wait_for(flag.wait(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            pass
        finally:
            with self._lock:
                self._waiters.discard(key)


def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
    for loop, flag in waiters:
        try:
            loop.call_soon_threadsafe(flag.set)
        except RuntimeError:  # that loop is closed: its subscriber is gone
            pass


def format_event(data: dict[str, Any], *, event: str | None = None, ident: int | None = None) -> bytes:
    lines = []
    if ident is not None:
        lines.append(f"id: {ident}")
    if event is not None:
        lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


async def stream(log: EventLog, after: int) -> AsyncIterator[bytes]:
    """The SSE body of an active run: entries after result event ``after``, live, then ``end`` (also at shutdown:
    the server cancels every run, so each ends soon; uvicorn's graceful-shutdown timeout bounds the wait)."""
    position = log.position_after(after)
    while True:
        events, end = log.since(position)
        for ev in events:
            position += 1
            if ev.get("kind") == "attempt":
                yield format_event(ev, event="attempt")
            else:
                yield format_event(ev, ident=ev["n"])
        if events:
            continue
        if end is not None:
            yield format_event(end, event="end")
            return
        await log.wait(position, KEEPALIVE_S)
        if log.since(position)[0] == [] and not log.ended:
            yield b": keep-alive\n\n"


async def replay(events: list[dict[str, Any]], end: dict[str, Any], after: int) -> AsyncIterator[bytes]:
    """The SSE body of a run that is not active: its stored events, then ``end``."""
    for i, ev in enumerate(events, 1):
        if i > after:
            ev["n"] = i
            yield format_event(ev, ident=i)
    yield format_event(end, event="end")
