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
15 s.

Delivery is sse-starlette's ``EventSourceResponse``: it watches for the client's disconnect (and cancels the
stream at once, instead of writing into a closed socket until the run ends), sends the keep-alive pings, drops a
client that accepts nothing for ``SEND_TIMEOUT_S``, and ends streams at server shutdown after a grace period in
which each stream may still send its ``end``. Each event is encoded once, when it is logged, however many clients
watch; a log wakes each event loop once per change, not once per subscriber. ``StreamLimiter`` counts the open
streams per owner (``--max-streams-per-owner``; more answer 429).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import threading
import weakref
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Message, Receive, Scope, Send

from runtime.server.errors import ApiError
from runtime.server.guards import PathScrub

KEEPALIVE_S = 15.0
# a client that takes no bytes for this long is gone (a stalled reader would otherwise hold its stream forever)
SEND_TIMEOUT_S = 30.0
# at shutdown, streams of cancelled runs get this long to send their `end` (below uvicorn's graceful timeout, 10 s)
SHUTDOWN_GRACE_S = 8.0
# after a write, a stream lets events gather this long before the next one: a busy run then costs each subscriber
# a few writes a second, not one per event, and the event loop stays free for other requests (/healthz)
BATCH_S = 0.1
# at most this much per write: a late subscriber's catch-up is sent in slices, other requests are served between
WRITE_BYTES = 64 * 1024
# bytes per second all event streams of the server write together (WritePacer): bounds the event loop's time spent
# writing events whatever the number of subscribers; beyond it the subscribers lag
RATE = 32 * 1024 * 1024


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
    """Append from any thread; read and wait from event loops. Each entry is encoded (and scrubbed) once, when it
    is logged, into one buffer of the wire bytes that every subscriber reads slices of: a stream is a byte offset
    into it, and catching up costs a copy of the next slice, never per-event work in the event loop. Result events
    are also numbered (``n``), attempt events are not."""

    def __init__(self, run_id: str, initial: Iterable[dict[str, Any]] = (),
                 scrub: Callable[[bytes], bytes] | None = None) -> None:
        self.run_id = run_id
        self._scrub = scrub
        self._lock = threading.Lock()
        self._wire = bytearray()              # every entry as sent, one after the other
        self._ends: list[int] = []            # the offset in _wire after each entry
        self._results: list[int] = []         # result event n is entry _results[n - 1]
        self._end: dict[str, Any] | None = None
        self._waiters: dict[asyncio.AbstractEventLoop, set[asyncio.Event]] = {}
        self._wake_pending: set[asyncio.AbstractEventLoop] = set()
        for ev in initial:
            self._put(ev, numbered=True)

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
            self._put(ev, numbered)
        self._wake()

    def _put(self, ev: dict[str, Any], numbered: bool) -> None:
        if numbered:
            ev["n"] = len(self._results) + 1
            self._results.append(len(self._ends))
        wire = _encode(ev)
        self._wire += self._scrub(wire) if self._scrub is not None else wire
        self._ends.append(len(self._wire))

    def close(self, end: dict[str, Any]) -> None:
        with self._lock:
            if self._end is None:
                self._end = end
        self._wake()

    def _wake(self) -> None:
        """Schedule one wake-up per event loop that has waiters and none pending (a busy run appending from its
        threads costs each loop one callback per burst, not one per subscriber and event)."""
        with self._lock:
            loops = [loop for loop in self._waiters if loop not in self._wake_pending]
            self._wake_pending.update(loops)
        for loop in loops:
            try:
                loop.call_soon_threadsafe(self._wake_loop, loop)
            except RuntimeError:  # that loop is closed: its subscribers are gone
                with self._lock:
                    self._waiters.pop(loop, None)
                    self._wake_pending.discard(loop)

    def _wake_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            self._wake_pending.discard(loop)
            flags = list(self._waiters.get(loop, ()))
        for flag in flags:
            flag.set()

    @property
    def ended(self) -> bool:
        return self._end is not None

    def offset_after(self, n: int) -> int:
        """The wire offset of the first entry after result event ``n`` (0 for n = 0; the end of what is logged
        for an unknown n)."""
        with self._lock:
            if n <= 0:
                return 0
            if n <= len(self._results):
                return self._ends[self._results[n - 1]]
            return len(self._wire)

    def read(self, offset: int, limit: int) -> tuple[bytes, dict[str, Any] | None]:
        """(the whole entries after ``offset``, at most ``limit`` bytes of them but at least one; the end record
        once the run has ended)."""
        with self._lock:
            size = len(self._wire)
            if offset >= size:
                return b"", self._end
            stop = size
            if size - offset > limit:
                i = bisect.bisect_right(self._ends, offset + limit) - 1  # the last entry that fits
                stop = self._ends[i] if i >= 0 and self._ends[i] > offset else \
                    self._ends[bisect.bisect_right(self._ends, offset)]  # one entry larger than limit: alone
            with memoryview(self._wire) as view:
                return bytes(view[offset:stop]), self._end

    def encode_end(self, end: dict[str, Any]) -> bytes:
        wire = format_event(end, event="end")
        return self._scrub(wire) if self._scrub is not None else wire

    def pending(self, offset: int) -> tuple[int, dict[str, Any] | None]:
        """(bytes logged after ``offset``, the end record once the run has ended)."""
        with self._lock:
            return len(self._wire) - offset, self._end

    def __len__(self) -> int:
        return len(self._ends)

    async def wait(self, offset: int, timeout: float) -> None:
        """Until there is an entry after wire offset ``offset``, the end, or ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        flag = asyncio.Event()
        with self._lock:
            if len(self._wire) > offset or self._end is not None:
                return
            self._waiters.setdefault(loop, set()).add(flag)
        try:
            await asyncio.wait_for(flag.wait(), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            pass
        finally:
            with self._lock:
                flags = self._waiters.get(loop)
                if flags is not None:
                    flags.discard(flag)
                    if not flags:
                        del self._waiters[loop]


class WritePacer:
    """The bytes per second that all event streams of one event loop write together (``RATE``), shared out
    first come first served in turns of ``WRITE_BYTES``. However many clients watch and however much history they
    catch up with, the event loop's share of time spent writing events is bounded, and other requests (/healthz)
    are served between two turns; the clients lag instead. A stream waits for its turn without polling: only the
    next stream in line is woken, when the budget allows one more write."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self._tokens = float(burst)
        self._stamp: float | None = None
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> WritePacer:
        """The pacer of ``loop`` (one per event loop: every stream served by it shares it)."""
        pacer = _PACERS.get(loop)
        if pacer is None:
            pacer = _PACERS[loop] = cls(RATE, 2 * WRITE_BYTES)
        return pacer

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, size: int) -> None:
        """Wait for a turn to write ``size`` bytes (``give_back`` what was not written)."""
        loop = asyncio.get_running_loop()
        self._refill(loop.time())
        if not self._waiters and self._tokens > 0:
            self._tokens -= size
            return
        turn: asyncio.Future[None] = loop.create_future()
        self._waiters.append(turn)
        self._schedule(loop)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._tokens += size  # handed a turn it will not use
            raise
        self._tokens -= size

    def give_back(self, size: int) -> None:
        self._tokens += size

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is None and self._waiters:
            self._timer = loop.call_later(max(0.0, -self._tokens / self.rate) + 0.0005, self._hand_over, loop)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """One turn to the first stream still waiting (it spends the budget when it resumes)."""
        self._timer = None
        self._refill(loop.time())
        if self._tokens > 0:
            while self._waiters:
                turn = self._waiters.popleft()
                if not turn.done():
                    turn.set_result(None)  # one write per hand-over: the next one once the budget allows
                    break
        if self._waiters:
            self._timer = loop.call_later(max(WRITE_BYTES / self.rate, -self._tokens / self.rate), self._hand_over,
                                          loop)


_PACERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WritePacer] = weakref.WeakKeyDictionary()


def _encode(ev: dict[str, Any]) -> bytes:
    if ev.get("kind") == "attempt":
        return format_event(ev, event="attempt")
    return format_event(ev, ident=ev["n"])


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
    the server cancels every run, so each ends soon; uvicorn's graceful-shutdown timeout bounds the wait). Every
    write waits for its turn (``WritePacer``)."""
    pacer = WritePacer.of(asyncio.get_running_loop())
    offset = log.offset_after(after)
    while True:
        available, end = log.pending(offset)
        if available:
            await pacer.take(WRITE_BYTES)
            chunk, _ = log.read(offset, WRITE_BYTES)  # what is logged by now, whole entries
            pacer.give_back(WRITE_BYTES - len(chunk))
            offset += len(chunk)
            yield chunk  # one write for a burst, not one per event
            await asyncio.sleep(0 if log.pending(offset)[0] else BATCH_S)
            continue
        if end is not None:
            yield log.encode_end(end)
            return
        await log.wait(offset, KEEPALIVE_S)


def encode_replay(events: list[dict[str, Any]], end: dict[str, Any], after: int,
                  scrub: Callable[[bytes], bytes] | None = None) -> list[bytes]:
    """The SSE body of a run that is not active — its stored events after ``after``, then ``end`` — as chunks of
    about ``WRITE_BYTES`` (built in a worker thread: no per-event work in the event loop)."""
    chunks: list[bytes] = []
    part: list[bytes] = []
    size = 0
    for i, ev in enumerate(events, 1):
        if i > after:
            ev["n"] = i
            wire = format_event(ev, ident=i)
            part.append(wire)
            size += len(wire)
            if size >= WRITE_BYTES:
                chunks.append(b"".join(part))
                part, size = [], 0
    part.append(format_event(end, event="end"))
    chunks.append(b"".join(part))
    return [scrub(c) for c in chunks] if scrub is not None else chunks


async def replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    """The body ``encode_replay`` built, written in paced turns."""
    pacer = WritePacer.of(asyncio.get_running_loop())
    for chunk in chunks:
        await pacer.take(len(chunk))
        yield chunk


class StreamLimiter:
    """Open event streams per owner, at most ``per_owner`` each (None: the owner of an open server)."""

    def __init__(self, per_owner: int) -> None:
        if per_owner < 1:
            raise ValueError("max_streams_per_owner must be at least 1")
        self.per_owner = per_owner
        self._lock = threading.Lock()
        self._open: Counter[str | None] = Counter()

    def acquire(self, owner: str | None) -> None:
        """Count one more stream of ``owner``; 429 when it has ``per_owner`` open."""
        with self._lock:
            if self._open[owner] >= self.per_owner:
                raise ApiError(429, "too_many_streams",
                               f"{self._open[owner]} event streams of this owner are open (the limit, "
                               f"--max-streams-per-owner, is {self.per_owner}); close one first",
                               headers={"Retry-After": "1"})
            self._open[owner] += 1

    def release(self, owner: str | None) -> None:
        with self._lock:
            self._open[owner] -= 1
            if self._open[owner] <= 0:
                del self._open[owner]

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._open.values())


class _CountedEventSource(EventSourceResponse):
    """An EventSourceResponse that calls ``on_close`` once it is over, however it ends (the run ended, the client
    went, a send timed out, the server shut down) — even when the body never started."""

    def __init__(self, content: AsyncIterator[bytes], on_close: Callable[[], None], **kw: Any) -> None:
        super().__init__(content, **kw)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def prescrubbed(message: Message) -> None:
            # the body is scrubbed where it is encoded (EventLog, encode_replay): guards.PathScrub passes it on
            if message["type"] == "http.response.start":
                message = {**message, PathScrub.PRESCRUBBED: True}
            await send(message)

        try:
            await super().__call__(scope, receive, prescrubbed)
        finally:
            self._on_close()


def sse_response(body: AsyncIterator[bytes], on_close: Callable[[], None]) -> EventSourceResponse:
    """The ``text/event-stream`` response of ``body`` (``stream`` or ``replay``); ``on_close`` when it is over."""
    return _CountedEventSource(body, on_close, headers={"Cache-Control": "no-cache"}, sep="\n", ping=KEEPALIVE_S,
                               ping_message_factory=lambda: ServerSentEvent(comment="keep-alive", sep="\n"),
                               send_timeout=SEND_TIMEOUT_S, shutdown_grace_period=SHUTDOWN_GRACE_S)
