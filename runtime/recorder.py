"""Everything one run writes to its store (RUNTIME §8.3), through one writer thread with group commit.

The scheduler and the executors hand rows over without waiting; they collect in a ``WriteBatch`` that the writer
thread commits in one transaction (lingering up to ``LINGER_S`` so batches are large and the writer seldom competes
with the scheduler for the interpreter lock). A step's result row and the finish of its successful attempt are in
the same batch, hence the same transaction: after a crash the executions table never says "completed" for a step
whose result was lost, and a step whose result is durable is never run again. A failed write is kept and stops the
run (§8.1): ``failure`` is set, the scheduler starts nothing new, and the run ends with a storage error.

Group commit trades durability of cheap work for speed: after ``kill -9`` a step whose rows were still lingering runs
again. That is only acceptable for steps cheaper than ``DURABLE_STEP_S``: a step that took longer, or that called a
model, is handed over with ``durable=True`` and the scheduler calls ``barrier()`` before it starts anything else, so
its rows are committed before any dependent can start; a model call's row is committed before the call returns to
its cell (the answer is paid for: a resume must replay it, not ask again).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from runtime.executors.attempts import Cell
from runtime.reference import Reference
from runtime.store.base import Store
from runtime.store.batch import WriteBatch

# At most this long, or this many rows, between a step finishing and its rows being committed.
LINGER_S = 0.05
LINGER_ROWS = 2048
# Steps that took at least this long are committed before their dependents start (issue 13 rule 12).
DURABLE_STEP_S = 0.010


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass(slots=True)
class Attempt:
    """One executor attempt of one cell: its executions row (the store writes its ``execution_id`` into it)."""

    row: dict[str, Any]
    finish: dict[str, Any] | None = None


@dataclass(slots=True)
class StepJournal:
    """The attempts of one inference execution; a successful attempt's finish is written with the result row."""

    recorder: Recorder
    attempts: list[Attempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    called_model: bool = False  # a step that paid for a model answer is always made durable before dependents

    def attempt_started(self, cell: Cell, attempt: int) -> Attempt:
        handle = Attempt({"flow_index": cell.flow_index, "inference_id": cell.inference_id,
                          "iteration": cell.iteration, "cell": json.dumps(list(cell.position)),
                          "attempt": attempt, "cycle": cell.cycle, "started_at": now(), "status": "running"})
        with self.lock:
            self.attempts.append(handle)
        self.recorder._add(lambda b: b.executions.append(handle.row))
        if self.recorder.on_attempt is not None:
            self.recorder.on_attempt(dict(handle.row))
        return handle

    def attempt_finished(self, handle: Attempt, status: str, error_kind: str | None = None,
                         error_message: str | None = None) -> None:
        finish = {"status": status, "finished_at": now(), "error_kind": error_kind, "error_message": error_message}
        if status == "completed":
            handle.finish = finish  # written in the same transaction as the step's result row
            return
        self.recorder._add(lambda b: b.finishes.append((handle.row, finish)))
        if self.recorder.on_attempt is not None:
            self.recorder.on_attempt({**handle.row, **finish})

    def model_call(self, cell: Cell, attempt: int, row: dict[str, Any]) -> None:
        with self.lock:
            self.called_model = True
            handle = next((a for a in reversed(self.attempts) if a.row["attempt"] == attempt
                           and a.row["cell"] == json.dumps(list(cell.position))), None)
        self.recorder.model_call(cell, attempt, row, handle.row if handle is not None else None)

    def spend_retry(self) -> bool:
        return self.recorder.spend_retry()

    def exhausted(self) -> str | None:
        return self.recorder.exhausted

    def pending(self) -> list[Attempt]:
        with self.lock:
            return [a for a in self.attempts if a.finish is not None]


class Recorder:
    """The write side of one run. ``result`` and friends return at once; ``flush`` waits for durability."""

    def __init__(self, store: Store, run_id: str, *, checkpoint_every: int = 0, max_retries_total: int = 0,
                 on_row: Callable[[dict[str, Any]], None] | None = None,
                 on_attempt: Callable[[dict[str, Any]], None] | None = None, last_seq: int = 0,
                 limits: dict[str, float] | None = None, usage: dict[str, float] | None = None,
                 retries_spent: int = 0, lease: str | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.lease = lease  # the holder id every commit is fenced with (runtime/store/lease.py)
        self._durable_pending = False  # a durable row was handed over since the last barrier()
        self.checkpoint_every = max(0, int(checkpoint_every or 0))
        self.max_retries_total = max(0, int(max_retries_total or 0))
        self.on_row = on_row
        self.on_attempt = on_attempt
        self.failure: str | None = None
        self.retries_spent = int(retries_spent or 0)  # a continued run carries what it already spent (§6.2)
        self.rows_written = 0
        self.bytes_written = 0
        self._since_checkpoint = 0
        self._batch = WriteBatch()
        self._size = 0
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._flushing = 0
        self._retry_lock = threading.Lock()
        # model usage of the run's whole history (a resume starts from what its lineage already spent) and the
        # budgets it is compared with (§8.4); the first budget reached is kept in ``exhausted``
        self.limits = {k: v for k, v in (limits or {}).items() if v}
        self.usage: dict[str, float] = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
                                        "cost_usd": 0.0, "replayed": 0, **(usage or {})}
        # a continued run that had reached a budget starts exhausted: a resume must not buy one more call (§8.4)
        self.exhausted: str | None = next(
            (budget for budget, used in (("max_llm_calls", self.usage["calls"]),
                                         ("max_tokens", self.usage["total_tokens"]),
                                         ("max_cost_usd", self.usage["cost_usd"]))
             if self.limits.get(budget) and used >= self.limits[budget]), None)
        self._usage_lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name=f"ncd-store-{run_id}", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- the writer thread

    def _add(self, put: Callable[[WriteBatch], None]) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("recorder is closed")
            put(self._batch)
            self._size += 1
            if self._size == 1 or self._size >= LINGER_ROWS:  # wake the writer only when it matters
                self._cond.notify_all()

    def _drain(self) -> None:
        while True:
            with self._cond:
                while not self._size and not self._closed:
                    self._cond.wait()
                if not self._size and self._closed:
                    return
                # linger like a database's commit delay: fewer, larger transactions, fewer lock hand-overs
                deadline = time.monotonic() + LINGER_S
                while self._size < LINGER_ROWS and not self._closed and not self._flushing:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch, self._batch, self._size = self._batch, WriteBatch(), 0
                batch.lease = self.lease
                self._busy = True
            try:
                if self.failure is None:
                    self.store.write_batch(self.run_id, batch)
                    self.rows_written += len(batch.results)
            except Exception as exc:  # any failed write stops the run (§8.1); never lose the reason
                self.failure = f"{type(exc).__name__}: {exc}"
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def flush(self) -> None:
        """Wait until everything submitted so far is committed (or has failed)."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._size or self._busy:
                    self._cond.wait()
            finally:
                self._flushing -= 1

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    # ---------------------------------------------------------------- rows

    def result(self, row: dict[str, Any], *, attempts: list[Attempt] = (),  # type: ignore[assignment]
               execution: dict[str, Any] | None = None, durable: bool = False) -> None:
        """Append one result row (§8.3) with the finish of its successful attempts, or its one execution row.
        ``durable``: the row must be committed before the next ``barrier()`` returns (an expensive step)."""
        if durable:
            self._durable_pending = True
        value = row.pop("value", None)
        if isinstance(value, Reference):
            # insertion order, as a fresh run hands it to bindings; the hash alone is over canonical JSON (§2.5)
            text = json.dumps(value.encode(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            row["value_json"] = text
            row["value_hash"] = value.value_hash()
            self.bytes_written += len(text)
        checkpoint = False
        if self.checkpoint_every:
            self._since_checkpoint += 1
            if self._since_checkpoint >= self.checkpoint_every:
                self._since_checkpoint = 0
                checkpoint = True

        def put(b: WriteBatch) -> None:
            if execution is not None:
                b.executions.append(execution)
            b.finishes.extend((a.row, a.finish) for a in attempts if a.finish is not None)
            b.results.append(row)
            if checkpoint:
                b.markers.append(len(b.results))
            if self.on_row is not None:  # here, under the batch lock, so listeners see rows in seq order
                self.on_row(row)
        self._add(put)

    def barrier(self) -> None:
        """Before the scheduler starts more work: wait until every durable row handed over so far is committed.
        Cheap rows alone never wait here (group commit keeps them lingering)."""
        if self._durable_pending:
            self._durable_pending = False
            self.flush()

    def checkpoint(self) -> None:
        """A marker over the last row written so far (a wave closed, or the run ended)."""
        self._add(lambda b: b.markers.append(len(b.results)))

    def model_call(self, cell: Cell, attempt: int, row: dict[str, Any],
                   execution: dict[str, Any] | None = None) -> None:
        full = {"flow_index": cell.flow_index, "cell": json.dumps(list(cell.position)), "attempt": attempt,
                "created_at": now(), **row}
        with self._usage_lock:
            u = self.usage
            if row.get("status") != "replayed":  # a replayed answer costs nothing and counts against no budget
                u["calls"] += 1
                u["prompt_tokens"] += row.get("prompt_tokens") or 0
                u["completion_tokens"] += row.get("completion_tokens") or 0
                u["total_tokens"] += row.get("total_tokens") or 0
                u["cost_usd"] += row.get("cost_usd") or 0.0
            else:
                u["replayed"] += 1
            for budget, used in (("max_llm_calls", u["calls"]), ("max_tokens", u["total_tokens"]),
                                 ("max_cost_usd", u["cost_usd"])):
                limit = self.limits.get(budget)
                if limit and used >= limit and self.exhausted is None:
                    self.exhausted = budget
        self._add(lambda b: b.llm_calls.append((full, execution)))
        if row.get("status") != "replayed":  # a replayed answer is free to derive again; a paid one is not
            self.flush()

    def spend_retry(self) -> bool:
        with self._retry_lock:
            if self.max_retries_total and self.retries_spent >= self.max_retries_total:
                return False
            self.retries_spent += 1
            return True

    def journal(self) -> StepJournal:
        return StepJournal(self)

    def run_update(self, **fields: Any) -> None:
        def put(b: WriteBatch) -> None:
            b.run_update = {**(b.run_update or {}), **fields}
        self._add(put)
