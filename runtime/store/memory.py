"""The whole store protocol in memory, for tests, benchmarks and API callers that keep nothing on disk.

Rows are kept in their stored form (``rows.encode_row``: JSON columns as text) and decoded on every read, so a caller
gets exactly what a database would return and mutating a returned row never changes the store. Writes are atomic
like SQLite transactions: each write method and each ``transaction()`` block records undo steps and replays them if
it raises; one lock serialises writers (like ``BEGIN IMMEDIATE``) and keeps readers off half-done transactions.
"""

from __future__ import annotations

import itertools
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from runtime.store import lease as L
from runtime.store import rows as R
from runtime.store.batch import WriteBatch, apply_batch
from runtime.store.base import StoreError


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._undo: list[Callable[[], None]] = []
        self._closed = False
        self._runs: dict[str, dict[str, Any]] = {}
        self._results: dict[str, list[dict[str, Any]]] = {}
        self._inputs: dict[str, dict[str, dict[str, Any]]] = {}
        self._checkpoints: dict[str, list[dict[str, Any]]] = {}
        self._cycle_indexes: dict[str, dict[int, list[int]]] = {}
        self._marker_indexes: dict[str, tuple[set[int], set[tuple[int, int]]]] = {}
        self._executions: dict[int, dict[str, Any]] = {}
        self._execution_ids = itertools.count(1)  # ids stay unique even across rolled-back inserts
        self._logs: list[dict[str, Any]] = []
        self._llm_calls: list[dict[str, Any]] = []
        self._leases: dict[str, dict[str, Any]] = {}

    # ---------------------------------------------------------------- transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._check_open()
            mark = len(self._undo)
            self._depth += 1
            try:
                yield
            except BaseException:
                while len(self._undo) > mark:  # like ROLLBACK (TO SAVEPOINT): only this block's writes
                    self._undo.pop()()
                raise
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._undo.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("memory store: the store is closed")

    def _run(self, run_id: str) -> dict[str, Any]:
        run = self._runs.get(run_id)
        if run is None:
            raise StoreError(f"memory store: no run '{run_id}'")
        return run

    # ---------------------------------------------------------------- runs

    def create_run(self, run: dict[str, Any]) -> None:
        with self.transaction():
            run_id = R.validate_run_id(run.get("run_id"))  # type: ignore[arg-type]
            if run_id in self._runs:
                raise StoreError(f"memory store: run '{run_id}' already exists")
            R.check_fork(run, lambda parent: self._last_seq(parent) if parent in self._runs else None)
            self._runs[run_id] = R.encode_row("runs", run, defaults=R.RUN_DEFAULTS | {"created_at": R.now()})
            self._results[run_id] = []
            self._inputs[run_id] = {}
            self._checkpoints[run_id] = []
            self._undo.append(lambda: self._forget(run_id))

    def _forget(self, run_id: str) -> None:
        for table in (self._runs, self._results, self._inputs, self._checkpoints):
            table.pop(run_id, None)  # type: ignore[attr-defined]

    def update_run(self, run_id: str, *, status: str | None = None, finished_at: str | None = None,
                   outcome: dict[str, Any] | None = None) -> None:
        with self.transaction():
            stored = self._run(run_id)
            self._update(stored, R.encode_row("runs", R.run_changes(status, finished_at, outcome), partial=True))

    def _update(self, stored: dict[str, Any], changes: dict[str, Any]) -> None:
        """Apply ``changes`` to a stored dict, with the undo step that restores it exactly."""
        before = {k: stored[k] for k in changes if k in stored}
        added = [k for k in changes if k not in stored]
        stored.update(changes)

        def undo() -> None:
            stored.update(before)
            for key in added:
                del stored[key]
        self._undo.append(undo)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._check_open()
            stored = self._runs.get(run_id)
            return None if stored is None else R.decode_row("runs", stored)

    def list_runs(self) -> list[dict[str, Any]]:
        with self._lock:
            self._check_open()
            runs = [R.decode_row("runs", r) for r in self._runs.values()]
        return sorted(runs, key=lambda r: (r["created_at"], r["run_id"]))

    def put_inputs(self, run_id: str, inputs: dict[str, Any]) -> None:
        with self.transaction():
            self._run(run_id)
            table = self._inputs[run_id]
            encoded = {name: R.input_row(run_id, name, value) for name, value in inputs.items()}
            self._update(table, encoded)

    def get_inputs(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            self._check_open()
            self._run(run_id)
            return {name: R.loads(row["value_json"]) for name, row in sorted(self._inputs[run_id].items())}

    # ---------------------------------------------------------------- results

    def append_results(self, run_id: str, rows: list[dict[str, Any]]) -> list[int]:
        with self.transaction():
            self._run(run_id)
            own = self._results[run_id]
            mark = len(own)
            self._undo.append(lambda: (own.__delitem__(slice(mark, None)), self._cycle_indexes.pop(run_id, None)))
            seqs = []
            start = self._last_seq(run_id)
            last = own[-1] if own else (
                R.covered_row(run_id, start, self._runs.get, self._own_row) if start else None)
            for row in rows:
                seq = self._last_seq(run_id) + 1
                stored = R.encode_row("results", row, fixed={"run_id": run_id, "seq": seq},
                                      defaults={"created_at": R.now(), "inference_count": 0})
                if row.get("inference_count") is None:
                    stored["inference_count"] = R.next_count(run_id, stored["cycle"], last, self._runs.get,
                                                             self._count_own)
                index = self._cycle_index(run_id)  # built before the append: the new row is added once
                own.append(stored)
                index.setdefault(stored["cycle"], []).append(seq)
                last = stored
                seqs.append(seq)
            return seqs

    def results(self, run_id: str, upto: int | None = None) -> list[dict[str, Any]]:
        upto = R.seq_arg(upto, "upto", optional=True)
        with self._lock:
            self._check_open()
            self._run(run_id)
            return [R.decode_row("results", r) for r in self._results[run_id] if upto is None or r["seq"] <= upto]

    def state_rows(self, run_id: str, upto: int | None = None) -> list[dict[str, Any]]:
        upto = R.seq_arg(upto, "upto", optional=True)
        with self._lock:
            return R.lineage_rows(run_id, upto, self.get_run, self.results)

    def last_seq(self, run_id: str) -> int:
        with self._lock:
            self._check_open()
            self._run(run_id)
            return self._last_seq(run_id)

    def _last_seq(self, run_id: str) -> int:
        own = self._results[run_id]
        return own[-1]["seq"] if own else int(self._runs[run_id]["parent_seq"] or 0)

    # ---------------------------------------------------------------- executions and logs

    def start_execution(self, run_id: str, row: dict[str, Any]) -> int:
        with self.transaction():
            self._run(run_id)
            execution_id = next(self._execution_ids)
            stored = R.encode_row("executions", row, fixed={"run_id": run_id},
                                  defaults={"started_at": R.now(), "status": "running"})
            self._executions[execution_id] = {"execution_id": execution_id, **stored}
            self._undo.append(lambda: self._executions.pop(execution_id, None))
            return execution_id

    def finish_execution(self, run_id: str, execution_id: int, *, status: str, finished_at: str,
                         error_kind: str | None = None, error_message: str | None = None) -> None:
        with self.transaction():
            stored = self._execution(run_id, execution_id)
            self._update(stored, R.encode_row("executions", R.finish_changes(
                status, finished_at, error_kind, error_message), partial=True))

    def _execution(self, run_id: str, execution_id: Any) -> dict[str, Any]:
        self._run(run_id)
        stored = self._executions.get(execution_id) if isinstance(execution_id, int) else None
        if stored is None or stored["run_id"] != run_id:
            raise StoreError(f"memory store: run '{run_id}' has no execution {execution_id!r}")
        return stored

    def executions(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._check_open()
            self._run(run_id)
            return [R.decode_row("executions", r) for _, r in sorted(self._executions.items())
                    if r["run_id"] == run_id]

    def add_log(self, run_id: str, row: dict[str, Any]) -> None:
        self._insert_numbered(self._logs, "logs", "log_id", run_id, row)

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        return self._numbered(self._logs, "logs", run_id)

    # ---------------------------------------------------------------- checkpoints

    def add_checkpoint(self, run_id: str, seq: int) -> dict[str, Any] | None:
        with self.transaction():
            self._run(run_id)
            markers = self._checkpoints[run_id]
            result = R.covered_row(run_id, R.seq_arg(seq), self._runs.get, self._own_row)  # type: ignore[arg-type]
            if result is None:
                raise StoreError(f"memory store: run '{run_id}' has no result row with seq {seq!r}")
            address = (result["cycle"], result["inference_count"])
            # markers arrive in seq order in practice; the indexes keep each check O(1) whatever the order
            seqs, addresses = self._marker_index(run_id)
            latest = markers[-1] if markers and markers[-1]["seq"] == max(seqs) else \
                max(markers, key=lambda m: m["seq"], default=None)
            if seq in seqs or (latest is not None and (latest["cycle"], latest["inference_count"]) == address):
                return None
            if address in addresses:
                raise StoreError(f"memory store: run '{run_id}' already has a checkpoint at cycle {address[0]}, "
                                 f"inference count {address[1]}")
            marker = R.encode_row("checkpoints", {"run_id": run_id, "seq": seq, "cycle": address[0],
                                                  "inference_count": address[1]}, defaults={"created_at": R.now()})
            markers.append(marker)
            seqs.add(seq)
            addresses.add(address)

            def undo() -> None:
                markers.pop()
                seqs.discard(seq)
                addresses.discard(address)
            self._undo.append(undo)
            return dict(marker)

    def _marker_index(self, run_id: str) -> tuple[set[int], set[tuple[int, int]]]:
        found = self._marker_indexes.get(run_id)
        if found is None:
            markers = self._checkpoints[run_id]
            found = self._marker_indexes[run_id] = ({m["seq"] for m in markers},
                                                     {(m["cycle"], m["inference_count"]) for m in markers})
        return found

    def _count_own(self, run_id: str, cycle: int, upto: int | None) -> int:
        seqs = self._cycle_index(run_id).get(cycle, [])
        return len(seqs) if upto is None else bisect_right(seqs, upto)

    def _cycle_index(self, run_id: str) -> dict[int, list[int]]:
        """cycle -> seqs of the run's own rows, ascending; kept in step with appends (rows are never removed
        except by a rollback, which drops the index so it is rebuilt)."""
        found = self._cycle_indexes.get(run_id)
        if found is None:
            found = self._cycle_indexes[run_id] = {}
            for r in self._results[run_id]:
                found.setdefault(r["cycle"], []).append(r["seq"])
        return found

    def _own_row(self, run_id: str, seq: int) -> dict[str, Any] | None:
        own = self._results[run_id]
        at = bisect_left(own, seq, key=lambda r: r["seq"])
        return own[at] if at < len(own) and own[at]["seq"] == seq else None

    def checkpoints(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._check_open()
            self._run(run_id)
            return [R.decode_row("checkpoints", m) for m in sorted(self._checkpoints[run_id],
                                                                    key=lambda m: m["seq"])]

    # ---------------------------------------------------------------- model calls

    def add_llm_call(self, run_id: str, row: dict[str, Any]) -> int:
        return self._insert_numbered(self._llm_calls, "llm_calls", "call_id", run_id, row)

    def llm_calls(self, run_id: str) -> list[dict[str, Any]]:
        return self._numbered(self._llm_calls, "llm_calls", run_id)

    def _insert_numbered(self, table: list[dict[str, Any]], name: str, id_column: str, run_id: str,
                         row: dict[str, Any]) -> int:
        with self.transaction():
            self._run(run_id)
            stored = R.encode_row(name, row, fixed={"run_id": run_id}, defaults={"created_at": R.now()})
            if stored["execution_id"] is not None:
                self._execution(run_id, stored["execution_id"])
            new_id = (table[-1][id_column] + 1) if table else 1
            table.append({id_column: new_id, **stored})
            self._undo.append(table.pop)
            return new_id

    def _numbered(self, table: list[dict[str, Any]], name: str, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._check_open()
            self._run(run_id)
            return [R.decode_row(name, r) for r in table if r["run_id"] == run_id]

    # ---------------------------------------------------------------- leases (runtime/store/lease.py)

    def acquire_lease(self, run_id: str, holder: dict[str, Any], lease_seconds: float) -> dict[str, Any]:
        with self.transaction():
            self._run(run_id)
            row = L.take(run_id, self._leases.get(run_id), holder, lease_seconds)
            self._set_lease(run_id, row)
            return dict(row)

    def renew_lease(self, run_id: str, holder_id: str) -> bool:
        with self.transaction():
            row = L.renewed(self._leases.get(run_id), holder_id)
            if row is not None:
                self._set_lease(run_id, row)
            return row is not None

    def release_lease(self, run_id: str, holder_id: str) -> None:
        with self.transaction():
            found = self._leases.get(run_id)
            if found is not None and found["holder_id"] == holder_id:
                self._set_lease(run_id, None)

    def get_lease(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._check_open()
            found = self._leases.get(run_id)
            return dict(found) if found is not None else None

    def _set_lease(self, run_id: str, row: dict[str, Any] | None) -> None:
        before = self._leases.get(run_id)
        if row is None:
            self._leases.pop(run_id, None)
        else:
            self._leases[run_id] = dict(row)

        def undo() -> None:
            if before is None:
                self._leases.pop(run_id, None)
            else:
                self._leases[run_id] = before
        self._undo.append(undo)

    # ---------------------------------------------------------------- lifetime

    def write_batch(self, run_id: str, batch: WriteBatch) -> None:
        apply_batch(self, run_id, batch)

    def release_run(self, run_id: str) -> None:
        """Nothing to drop: a memory store is the runs' data itself."""

    def close(self) -> None:
        with self._lock:
            self._closed = True
