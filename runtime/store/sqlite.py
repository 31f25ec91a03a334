"""The SQLite store (RUNTIME §8.1): one file holding many runs isolated by ``run_id``.

Each thread gets its own connection (SQLite connections are not safe to share); every connection sets WAL,
``busy_timeout``, foreign keys and ``synchronous=NORMAL``. Write transactions start with ``BEGIN IMMEDIATE`` so a
writer takes the lock up front and never fails half-way on a lock upgrade, and the Python module's implicit
transactions are switched off (``isolation_level=None``) so the SQL issued is exactly the SQL written here.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from runtime.store import lease as L
from runtime.store import rows as R
from runtime.store.base import StoreError
from runtime.store.batch import WriteBatch
from runtime.store.sqlite_batch import BatchWriter
from runtime.store.migrations import LATEST_VERSION, current_version, migrate, refuse_newer


class _ThreadConnection:
    """One thread's connection and its transaction depth. When the thread ends, its ``threading.local`` entry goes
    and a finalizer closes the connection, so a long-lived process with short-lived threads does not leak files."""

    __slots__ = ("__weakref__", "conn", "depth", "last_marks", "last_rows", "runs")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.depth = 0
        # run rows read inside the current write transaction: nobody else can change them while we hold the
        # write lock, and a batch of writes for one run would otherwise re-read its row for every write
        self.runs: dict[str, sqlite3.Row] = {}
        # the run's last result row and last marker as written in this transaction (same reasoning)
        self.last_rows: dict[str, dict[str, Any]] = {}
        self.last_marks: dict[str, tuple[int, int, int]] = {}
        weakref.finalize(self, _close_quietly, conn)

    def forget(self) -> None:
        self.runs.clear()
        self.last_rows.clear()
        self.last_marks.clear()


def _close_quietly(conn: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):
        conn.close()


class _FifoLock:
    """A lock handed over in the order it was asked for. ``threading.Lock`` is not fair: a thread that releases it
    and asks again at once usually wins over the waiting ones, which can then wait without bound."""

    __slots__ = ("_held", "_mutex", "_waiters")

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ended
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # stays held: ownership passes to the first waiter
            else:
                self._held = False


class SqliteStore:
    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000, readonly: bool = False) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = int(busy_timeout_ms)
        self.readonly = readonly
        self._label = str(self.path)
        self._local = threading.local()
        self._threads: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()
        self._threads_lock = threading.Lock()
        # this process's writers queue here, first come first served, for the file's write lock rather than in
        # SQLite's busy handler, which polls with sleeps of up to 100 ms: with many writer threads (a run server)
        # one can lose every round until busy_timeout and fail with "database is locked"
        self._writer = _FifoLock()
        self._closed = False
        self._batches = BatchWriter(self._label)
        if not readonly:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self._label}: cannot create the directory of the run store: "
                                 f"{exc.strerror or exc}") from None
        try:
            conn = self._connection()
            with self._errors("cannot open the run store"):
                if readonly:
                    version = current_version(conn)
                    refuse_newer(version, self._label)
                    if version != LATEST_VERSION:
                        raise StoreError(f"{self._label}: schema version {version} needs migrating; "
                                         f"open the run store for writing once")
                else:
                    migrate(conn, self._label)
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------- connections and transactions

    def _thread(self) -> _ThreadConnection:
        if self._closed:
            raise StoreError(f"{self._label}: the run store is closed")
        mine: _ThreadConnection | None = getattr(self._local, "mine", None)
        if mine is None:
            mine = self._local.mine = _ThreadConnection(self._open())
            with self._threads_lock:
                self._threads.add(mine)
        return mine

    def _connection(self) -> sqlite3.Connection:
        return self._thread().conn

    def _open(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = None
        timeout = self.busy_timeout_ms / 1000
        try:
            if self.readonly:
                uri = self.path.resolve().as_uri() + "?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None,
                                       check_same_thread=False)
            else:
                conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")  # before anything that may wait
            try:
                conn.execute("PRAGMA journal_mode = WAL").fetchall()
            except sqlite3.OperationalError:
                if not self.readonly:  # a reader cannot switch modes; our files are always WAL already
                    raise
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchall()  # a non-database file fails here
            return conn
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"{self._label}: cannot open the run store: {exc}") from None

    @contextmanager
    def _errors(self, doing: str = "") -> Iterator[None]:
        """SQLite errors leave as one-line StoreErrors naming the file (exit 2), never as tracebacks."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{self._label}: {doing + ': ' if doing else ''}{exc}") from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; nested blocks are savepoints, so a failed inner write (even one the
        caller catches) leaves nothing half-written behind."""
        if self.readonly:
            raise StoreError(f"{self._label}: the run store is open read-only")
        mine = self._thread()
        conn, depth = mine.conn, mine.depth
        savepoint = f"nested_{depth}"
        # past busy_timeout without the in-process lock, BEGIN IMMEDIATE decides as before (it waits or fails)
        queued = depth == 0 and self._writer.acquire(timeout=self.busy_timeout_ms / 1000)
        try:
            with self._errors("cannot start a write transaction"):
                conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {savepoint}")
            mine.depth = depth + 1
            try:
                yield
            except BaseException:
                mine.depth = depth
                mine.forget()  # a rolled-back write may be what a cache holds
                with suppress(sqlite3.Error):  # the error being raised is the one worth reporting
                    if depth == 0:
                        conn.execute("ROLLBACK")
                    else:
                        conn.execute(f"ROLLBACK TO {savepoint}")
                        conn.execute(f"RELEASE {savepoint}")
                raise
            mine.depth = depth
            if depth == 0:
                mine.forget()
            try:
                with self._errors("cannot commit"):
                    conn.execute("COMMIT" if depth == 0 else f"RELEASE {savepoint}")
            except StoreError:
                if depth == 0 and conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        finally:
            if queued:
                self._writer.release()

    @contextmanager
    def _single(self) -> Iterator[None]:
        """A write that is one statement once validated: inside a transaction it joins it without a savepoint
        (SQLite undoes a failed statement by itself, and nothing is written before validation); alone it is its
        own transaction. Savepoints cost two statements per write, most of a step's store time."""
        if self._thread().depth:
            yield
            return
        with self.transaction():
            yield

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction for a multi-query read (``state_rows``), unless a write transaction is open."""
        mine = self._thread()
        conn = mine.conn
        if mine.depth:
            yield conn
            return
        with self._errors():
            conn.execute("BEGIN")
        try:
            yield conn
        finally:
            with suppress(sqlite3.Error):
                conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        conn = self._connection()
        with self._errors():
            return conn.execute(sql, params).fetchall()  # always drained: an open cursor pins a read snapshot

    def _insert(self, table: str, values: dict[str, Any]) -> int:
        names = list(values)
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        with self._errors(f"cannot write {table}"):
            return int(self._connection().execute(sql, tuple(values.values())).lastrowid or 0)

    def _update(self, table: str, changes: dict[str, Any], where: dict[str, Any]) -> int:
        sets = ", ".join(f"{name} = ?" for name in changes)
        conds = " AND ".join(f"{name} = ?" for name in where)
        with self._errors(f"cannot update {table}"):
            cur = self._connection().execute(f"UPDATE {table} SET {sets} WHERE {conds}",
                                             (*changes.values(), *where.values()))
            return cur.rowcount

    def _require_run(self, run_id: str) -> sqlite3.Row:
        mine = self._thread()
        cached = mine.runs.get(run_id) if mine.depth else None
        if cached is not None:
            return cached
        found = self._query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not found:
            raise StoreError(f"{self._label}: no run '{run_id}'")
        if mine.depth:
            mine.runs[run_id] = found[0]
        return found[0]

    def _require_execution(self, run_id: str, execution_id: Any) -> None:
        if not isinstance(execution_id, int) or not self._query(
                "SELECT 1 FROM executions WHERE execution_id = ? AND run_id = ?", (execution_id, run_id)):
            raise StoreError(f"{self._label}: run '{run_id}' has no execution {execution_id!r}")

    # ---------------------------------------------------------------- runs

    def create_run(self, run: dict[str, Any]) -> None:
        with self.transaction():
            run_id = R.validate_run_id(run.get("run_id"))  # type: ignore[arg-type]
            if self._query("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)):
                raise StoreError(f"{self._label}: run '{run_id}' already exists")
            R.check_fork(run, self._last_seq_or_none)
            self._insert("runs", R.encode_row("runs", run, defaults=R.RUN_DEFAULTS | {"created_at": R.now()}))

    def update_run(self, run_id: str, *, status: str | None = None, finished_at: str | None = None,
                   outcome: dict[str, Any] | None = None) -> None:
        with self._single():
            self._require_run(run_id)
            changes = R.encode_row("runs", R.run_changes(status, finished_at, outcome), partial=True)
            if changes:
                self._update("runs", changes, {"run_id": run_id})
            self._thread().runs.pop(run_id, None)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        found = self._query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return R.decode_row("runs", found[0]) if found else None

    def list_runs(self) -> list[dict[str, Any]]:
        return [R.decode_row("runs", r) for r in self._query("SELECT * FROM runs ORDER BY created_at, run_id")]

    def put_inputs(self, run_id: str, inputs: dict[str, Any]) -> None:
        with self.transaction():
            self._require_run(run_id)
            for name, value in inputs.items():
                row = R.input_row(run_id, name, value)
                with self._errors("cannot write run_inputs"):
                    self._connection().execute(
                        "INSERT OR REPLACE INTO run_inputs (run_id, concept_name, value_json, value_hash) "
                        "VALUES (?, ?, ?, ?)", (row["run_id"], row["concept_name"], row["value_json"],
                                                row["value_hash"]))

    def get_inputs(self, run_id: str) -> dict[str, Any]:
        self._require_run(run_id)
        found = self._query("SELECT concept_name, value_json FROM run_inputs WHERE run_id = ? "
                            "ORDER BY concept_name", (run_id,))
        return {r["concept_name"]: R.loads(r["value_json"]) for r in found}

    # ---------------------------------------------------------------- results

    def append_results(self, run_id: str, rows: list[dict[str, Any]]) -> list[int]:
        # Seqs and counts are read and written under one BEGIN IMMEDIATE: two writers on one run id (threads or
        # processes) are serialised by SQLite's write lock and can never allocate the same seq. One row is encoded
        # (validated) before its one INSERT, so it needs no savepoint of its own.
        with self._single() if len(rows) == 1 else self.transaction():
            run = self._require_run(run_id)
            mine = self._thread()
            last = mine.last_rows.get(run_id)
            if last is not None:
                seq = last["seq"]
            else:
                found = self._query("SELECT seq, cycle, inference_count FROM results WHERE run_id = ? "
                                    "ORDER BY seq DESC LIMIT 1", (run_id,))
                seq = max(found[0]["seq"] if found else 0, run["parent_seq"] or 0)
                last = dict(found[0]) if found else (
                    R.covered_row(run_id, seq, self._run_links, self._own_row) if seq else None)
            seqs = []
            for row in rows:
                seq += 1
                stored = R.encode_row("results", row, fixed={"run_id": run_id, "seq": seq},
                                      defaults={"created_at": R.now(), "inference_count": 0})
                if row.get("inference_count") is None:
                    stored["inference_count"] = R.next_count(run_id, stored["cycle"], last, self._run_links,
                                                             self._count_own)
                self._insert("results", stored)
                last = stored
                seqs.append(seq)
            if last is not None:
                mine.last_rows[run_id] = {"seq": last["seq"], "cycle": last["cycle"],
                                          "inference_count": last["inference_count"]}
            return seqs

    def _count_own(self, run_id: str, cycle: int, upto: int | None) -> int:
        (count,) = self._query("SELECT count(*) FROM results WHERE run_id = ? AND cycle = ? AND seq <= ?",
                               (run_id, cycle, upto if upto is not None else 2**63 - 1))[0]
        return int(count)

    def results(self, run_id: str, upto: int | None = None) -> list[dict[str, Any]]:
        upto = R.seq_arg(upto, "upto", optional=True)
        self._require_run(run_id)
        if upto is None:
            found = self._query("SELECT * FROM results WHERE run_id = ? ORDER BY seq", (run_id,))
        else:
            found = self._query("SELECT * FROM results WHERE run_id = ? AND seq <= ? ORDER BY seq", (run_id, upto))
        return [R.decode_row("results", r) for r in found]

    def state_rows(self, run_id: str, upto: int | None = None) -> list[dict[str, Any]]:
        upto = R.seq_arg(upto, "upto", optional=True)
        with self._snapshot():
            return R.lineage_rows(run_id, upto, self.get_run, self.results)

    def last_seq(self, run_id: str) -> int:
        found = self._last_seq_or_none(run_id)
        if found is None:
            raise StoreError(f"{self._label}: no run '{run_id}'")
        return found

    def _last_seq_or_none(self, run_id: str) -> int | None:
        found = self._query("SELECT (SELECT max(seq) FROM results WHERE run_id = ?), parent_seq FROM runs "
                            "WHERE run_id = ?", (run_id, run_id))
        if not found:
            return None
        own, parent_seq = found[0]
        return max(own or 0, parent_seq or 0)

    # ---------------------------------------------------------------- executions and logs

    def start_execution(self, run_id: str, row: dict[str, Any]) -> int:
        with self._single():
            self._require_run(run_id)
            return self._insert("executions", R.encode_row("executions", row, fixed={"run_id": run_id},
                                                           defaults={"started_at": R.now(), "status": "running"}))

    def finish_execution(self, run_id: str, execution_id: int, *, status: str, finished_at: str,
                         error_kind: str | None = None, error_message: str | None = None) -> None:
        if not isinstance(execution_id, int):
            raise StoreError(f"{self._label}: run '{run_id}' has no execution {execution_id!r}")
        with self._single():
            self._require_run(run_id)
            changes = R.encode_row("executions", R.finish_changes(status, finished_at, error_kind, error_message),
                                   partial=True)
            if not self._update("executions", changes, {"execution_id": execution_id, "run_id": run_id}):
                raise StoreError(f"{self._label}: run '{run_id}' has no execution {execution_id!r}")

    def executions(self, run_id: str) -> list[dict[str, Any]]:
        return self._rows_of("executions", "execution_id", run_id)

    def add_log(self, run_id: str, row: dict[str, Any]) -> None:
        self._insert_linked("logs", run_id, row)

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        return self._rows_of("logs", "log_id", run_id)

    def _insert_linked(self, table: str, run_id: str, row: dict[str, Any]) -> int:
        """A logs or llm_calls row; its execution, if named, must be one of the same run."""
        with self._single():
            self._require_run(run_id)
            stored = R.encode_row(table, row, fixed={"run_id": run_id}, defaults={"created_at": R.now()})
            if stored["execution_id"] is not None:
                self._require_execution(run_id, stored["execution_id"])
            return self._insert(table, stored)

    def _rows_of(self, table: str, order: str, run_id: str) -> list[dict[str, Any]]:
        self._require_run(run_id)
        return [R.decode_row(table, r)
                for r in self._query(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY {order}", (run_id,))]

    # ---------------------------------------------------------------- checkpoints

    def add_checkpoint(self, run_id: str, seq: int) -> dict[str, Any] | None:
        seq = R.seq_arg(seq)  # type: ignore[assignment]
        with self._single():
            self._require_run(run_id)
            mine = self._thread()
            cached = mine.last_rows.get(run_id)
            found = cached if cached is not None and cached["seq"] == seq else \
                R.covered_row(run_id, seq, self._run_links, self._own_row)
            if found is None:
                raise StoreError(f"{self._label}: run '{run_id}' has no result row with seq {seq}")
            address = (found["cycle"], found["inference_count"])
            latest = mine.last_marks.get(run_id)
            if latest is None:
                row = self._query("SELECT seq, cycle, inference_count FROM checkpoints WHERE run_id = ? "
                                  "ORDER BY seq DESC LIMIT 1", (run_id,))
                latest = tuple(row[0]) if row else None  # type: ignore[assignment]
            if latest is not None and (latest[0] == seq or latest[1:] == address):
                return None
            if (latest is None or seq < latest[0]) and self._query(
                    "SELECT 1 FROM checkpoints WHERE run_id = ? AND seq = ?", (run_id, seq)):
                return None
            marker = R.encode_row("checkpoints", {"run_id": run_id, "seq": seq, "cycle": address[0],
                                                  "inference_count": address[1]}, defaults={"created_at": R.now()})
            try:
                self._connection().execute(
                    "INSERT INTO checkpoints (run_id, seq, cycle, inference_count, created_at) VALUES (?, ?, ?, ?, ?)",
                    (run_id, seq, address[0], address[1], marker["created_at"]))
            except sqlite3.IntegrityError:  # UNIQUE (run_id, cycle, inference_count): an older marker's address
                raise StoreError(f"{self._label}: run '{run_id}' already has a checkpoint at cycle {address[0]}, "
                                 f"inference count {address[1]}") from None
            except sqlite3.Error as exc:
                raise StoreError(f"{self._label}: cannot write checkpoints: {exc}") from None
            if latest is None or seq > latest[0]:
                mine.last_marks[run_id] = (seq, address[0], address[1])
            return marker

    def _run_links(self, run_id: str) -> dict[str, Any] | None:
        try:
            run = self._require_run(run_id)
        except StoreError:
            return None
        return {"parent_run_id": run["parent_run_id"], "parent_seq": run["parent_seq"]}

    def _own_row(self, run_id: str, seq: int) -> dict[str, Any] | None:
        found = self._query("SELECT seq, cycle, inference_count FROM results WHERE run_id = ? AND seq = ?",
                            (run_id, seq))
        return dict(found[0]) if found else None

    def checkpoints(self, run_id: str) -> list[dict[str, Any]]:
        return self._rows_of("checkpoints", "seq", run_id)

    # ---------------------------------------------------------------- model calls

    def add_llm_call(self, run_id: str, row: dict[str, Any]) -> int:
        return self._insert_linked("llm_calls", run_id, row)

    def llm_calls(self, run_id: str) -> list[dict[str, Any]]:
        return self._rows_of("llm_calls", "call_id", run_id)

    # ---------------------------------------------------------------- leases (runtime/store/lease.py)

    def acquire_lease(self, run_id: str, holder: dict[str, Any], lease_seconds: float) -> dict[str, Any]:
        with self.transaction():  # BEGIN IMMEDIATE: of two takers, the second reads the first's lease
            self._require_run(run_id)
            row = L.take(run_id, self._lease(run_id), holder, lease_seconds)
            self._put_lease(row)
            return row

    def renew_lease(self, run_id: str, holder_id: str) -> bool:
        with self.transaction():
            row = L.renewed(self._lease(run_id), holder_id)
            if row is not None:
                self._put_lease(row)
            return row is not None

    def release_lease(self, run_id: str, holder_id: str) -> None:
        with self._single():
            with self._errors("cannot write run_leases"):
                self._connection().execute("DELETE FROM run_leases WHERE run_id = ? AND holder_id = ?",
                                           (run_id, holder_id))

    def get_lease(self, run_id: str) -> dict[str, Any] | None:
        return self._lease(run_id)

    def _lease(self, run_id: str) -> dict[str, Any] | None:
        found = self._query("SELECT * FROM run_leases WHERE run_id = ?", (run_id,))
        return dict(found[0]) if found else None

    def _put_lease(self, row: dict[str, Any]) -> None:
        with self._errors("cannot write run_leases"):
            self._connection().execute(
                f"INSERT OR REPLACE INTO run_leases ({', '.join(L.LEASE_COLUMNS)}) VALUES "
                f"({', '.join('?' * len(L.LEASE_COLUMNS))})", tuple(row[c] for c in L.LEASE_COLUMNS))

    # ---------------------------------------------------------------- copies of ancestors (--runs-dir forks)

    def copy_lineage(self, chain: list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]]) -> None:
        """Insert ancestors' run rows, result rows and inputs exactly as read from another store, root first.

        ``RunsDirStore`` uses this when it creates a fork, so the fork's file holds everything its state is built
        from (RUNTIME §9.6); seqs, counts and times are kept, unlike ``append_results``.
        """
        with self.transaction():
            for run, results, inputs in chain:
                run_id = R.validate_run_id(run["run_id"])
                self._insert("runs", R.encode_row("runs", run))
                for row in results:
                    self._insert("results", R.encode_row("results", row, fixed={"run_id": run_id,
                                                                                 "seq": R.seq_arg(row.get("seq"))}))
                for name, value in inputs.items():
                    self._insert("run_inputs", R.input_row(run_id, name, value))

    # ---------------------------------------------------------------- lifetime

    def release_run(self, run_id: str) -> None:
        """The run has ended in this process: drop what is cached for it (its rows-per-cycle counts)."""
        self._batches.forget(run_id)

    def write_batch(self, run_id: str, batch: WriteBatch) -> None:
        """A run's group commit in one transaction, one statement per table (``runtime/store/sqlite_batch.py``)."""
        with self.transaction():
            run = self._require_run(run_id)
            if batch.lease is not None:
                L.fence(run_id, self._lease(run_id), batch.lease)
            try:
                self._batches.write(self._connection(), run, batch)
            except sqlite3.Error as exc:
                self._batches.forget(run_id)
                raise StoreError(f"{self._label}: cannot write the rows of run '{run_id}': {exc}") from None
            except BaseException:
                self._batches.forget(run_id)
                raise
            self._thread().last_rows.pop(run_id, None)
            self._thread().last_marks.pop(run_id, None)
            if batch.run_update:
                self.update_run(run_id, **batch.run_update)

    def close(self) -> None:
        with self._threads_lock:
            self._closed = True
            threads = list(self._threads)
        for mine in threads:
            _close_quietly(mine.conn)
