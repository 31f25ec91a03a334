"""``SqliteStore.write_batch``: a run's group commit with one statement per table (RUNTIME §8.3).

Each ``execute`` releases and re-takes the interpreter lock; row by row, the writer thread and the scheduler hand
it back and forth thousands of times per second and both slow down. Here a batch costs a handful of statements:
execution ids are allocated under the write lock, seqs follow the run's last row, and ``inference_count`` comes
from per-cycle counts kept with the run's last seq (re-read whenever another writer has appended in between).
Rows come from the recorder; values are checked as ``rows.encode_row`` does for the columns resume depends on.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

from runtime.store import rows as R
from runtime.store.base import StoreError
from runtime.store.batch import WriteBatch

_RESULT_COLUMNS = ("run_id", "seq", "cycle", "inference_count", "kind", "flow_index", "inference_id", "signature",
                   "iteration", "status", "concept_name", "value_json", "value_hash", "inputs_hash",
                   "provision_hash", "meta_json", "created_at")
_EXECUTION_COLUMNS = ("execution_id", "run_id", "flow_index", "inference_id", "iteration", "cell", "attempt",
                      "cycle", "started_at", "finished_at", "status", "error_kind", "error_message")


def _insert_sql(table: str, columns: tuple[str, ...], verb: str = "INSERT") -> str:
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


# rows per multi-row INSERT: one statement step (one release of the interpreter lock) per chunk rather than per row;
# 200 rows x 17 columns stays far below SQLite's limit on bound parameters
_CHUNK = 200


def _insert_many(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
                 verb: str = "INSERT") -> None:
    one = f"({', '.join('?' * len(columns))})"
    head = f"{verb} INTO {table} ({', '.join(columns)}) VALUES "
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        conn.execute(head + ", ".join([one] * len(chunk)), [x for row in chunk for x in row])


@dataclass
class RunCounts:
    """The run's own last seq when these counts were true, and rows per cycle along its whole history."""

    last_own_seq: int
    last_seq: int
    by_cycle: dict[int, int] = field(default_factory=dict)


class BatchWriter:
    def __init__(self, label: str) -> None:
        self.label = label
        self._counts: dict[str, RunCounts] = {}
        self._lock = threading.Lock()

    def write(self, conn: sqlite3.Connection, run: sqlite3.Row, batch: WriteBatch) -> None:
        run_id = run["run_id"]
        if batch.executions:
            (top,) = conn.execute("SELECT coalesce(max(execution_id), 0) FROM executions").fetchone()
            rows = []
            for ex in batch.executions:
                top += 1
                ex["execution_id"] = top
                rows.append((top, run_id, ex["flow_index"], ex["inference_id"], ex.get("iteration", ""),
                             ex.get("cell", "[]"), ex.get("attempt", 1), ex["cycle"],
                             ex.get("started_at") or R.now(), ex.get("finished_at"), ex.get("status", "running"),
                             ex.get("error_kind"), ex.get("error_message")))
            _insert_many(conn, "executions", _EXECUTION_COLUMNS, rows)
        if batch.finishes:
            updates = [(f["status"], f["finished_at"], f.get("error_kind"), f.get("error_message"),
                        ex["execution_id"], run_id) for ex, f in batch.finishes]
            cur = conn.executemany("UPDATE executions SET status = ?, finished_at = ?, error_kind = ?, "
                                   "error_message = ? WHERE execution_id = ? AND run_id = ?", updates)
            if cur.rowcount != len(updates):
                raise StoreError(f"{self.label}: run '{run_id}' has no execution for some finished attempt")
        counts = self._run_counts(conn, run)
        base = counts.last_seq
        if batch.results:
            rows = []
            seq = base
            for row in batch.results:
                seq += 1
                cycle = row["cycle"]
                count = counts.by_cycle.get(cycle, 0) + 1
                counts.by_cycle[cycle] = count
                row["seq"], row["inference_count"] = seq, count
                if row["kind"] not in ("item", "loop_iteration") or row["status"] not in R.CHOICES[
                        ("results", "status")]:
                    raise StoreError(f"{self.label}: bad result row kind/status {row['kind']!r}/{row['status']!r}")
                meta = row.get("meta")
                rows.append((run_id, seq, cycle, count, row["kind"], row["flow_index"], row["inference_id"],
                             row["signature"], row.get("iteration", ""), row["status"], row.get("concept_name"),
                             row.get("value_json"), row.get("value_hash"), row.get("inputs_hash"),
                             row.get("provision_hash"), None if meta is None else R.dumps(meta, "results.meta"),
                             row.get("created_at") or R.now()))
            _insert_many(conn, "results", _RESULT_COLUMNS, rows)
            counts.last_seq = counts.last_own_seq = seq
        if batch.markers:
            marks = []
            for before in batch.markers:
                seq = base + before
                if seq <= 0:
                    continue
                found = self._address(conn, run_id, seq, batch, base)
                if found is not None:
                    marks.append((run_id, seq, found[0], found[1], R.now()))
            # a marker over the same address as the previous one is not written again (§8.3)
            latest = conn.execute("SELECT seq, cycle, inference_count FROM checkpoints WHERE run_id = ? "
                                  "ORDER BY seq DESC LIMIT 1", (run_id,)).fetchone()
            kept, previous = [], (tuple(latest) if latest else None)
            for mark in marks:
                if previous is not None and (previous[0] >= mark[1] or previous[1:] == mark[2:4]):
                    continue
                kept.append(mark)
                previous = (mark[1], mark[2], mark[3])
            if kept:
                _insert_many(conn, "checkpoints", ("run_id", "seq", "cycle", "inference_count", "created_at"), kept,
                             "INSERT OR IGNORE")
        if batch.llm_calls:
            calls = []
            for row, ex in batch.llm_calls:
                stored = R.encode_row("llm_calls", {**row, "execution_id": ex.get("execution_id") if ex else None},
                                      fixed={"run_id": run_id}, defaults={"created_at": R.now()})
                stored.pop("call_id", None)
                calls.append(stored)
            names = tuple(calls[0])
            conn.executemany(_insert_sql("llm_calls", names), [tuple(c[n] for n in names) for c in calls])

    def _address(self, conn: sqlite3.Connection, run_id: str, seq: int, batch: WriteBatch,
                 base: int) -> tuple[int, int] | None:
        if seq > base:
            row = batch.results[seq - base - 1]
            return row["cycle"], row["inference_count"]
        found = conn.execute("SELECT cycle, inference_count FROM results WHERE run_id = ? AND seq = ?",
                             (run_id, seq)).fetchone()
        return (found[0], found[1]) if found else None

    def _run_counts(self, conn: sqlite3.Connection, run: sqlite3.Row) -> RunCounts:
        run_id = run["run_id"]
        (own,) = conn.execute("SELECT max(seq) FROM results WHERE run_id = ?", (run_id,)).fetchone()
        own = own or 0
        with self._lock:
            counts = self._counts.get(run_id)
            if counts is not None and counts.last_own_seq == own:
                return counts
            counts = RunCounts(own, max(own, run["parent_seq"] or 0))
            cap: int | None = None
            current: Any = run_id
            seen: set[str] = set()
            while current is not None and current not in seen:  # this run, then each ancestor up to its fork
                seen.add(current)
                for cycle, n in conn.execute("SELECT cycle, count(*) FROM results WHERE run_id = ? AND seq <= ? "
                                             "GROUP BY cycle", (current, cap if cap is not None else 2**62)):
                    counts.by_cycle[cycle] = counts.by_cycle.get(cycle, 0) + n
                link = conn.execute("SELECT parent_run_id, parent_seq FROM runs WHERE run_id = ?",
                                    (current,)).fetchone()
                if link is None or link[0] is None:
                    break
                cap = int(link[1] or 0) if cap is None else min(cap, int(link[1] or 0))
                current = link[0]
            self._counts[run_id] = counts
            return counts

    def forget(self, run_id: str | None = None) -> None:
        """After a rolled-back batch the counts may be ahead of the database."""
        with self._lock:
            if run_id is None:
                self._counts.clear()
            else:
                self._counts.pop(run_id, None)
