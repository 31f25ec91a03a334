"""``--runs-dir DIR``: one directory per run, ``DIR/<run_id>/{run.db, artifacts/, outputs/}`` (RUNTIME §1, §9.6).

Every call is routed by run id to that run's own ``SqliteStore``. A fork's ``run.db`` is created holding copies of
its ancestors' run rows, inputs and result rows up to each fork point, read from the parent's file opened read-only,
so foreign keys hold and the fork's state is rebuilt from its own file even after the parent's directory is gone.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

from runtime.store import rows as R
from runtime.store.base import StoreError
from runtime.store.batch import WriteBatch
from runtime.store.migrations import current_version
from runtime.store.sqlite import SqliteStore

DB_NAME = "run.db"
RUN_SUBDIRS = ("artifacts", "outputs")


class RunsDirStore:
    def __init__(self, directory: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.directory = Path(directory)
        self._root = self.directory.resolve()  # once: later chdir or symlink changes cannot move the store
        self.busy_timeout_ms = int(busy_timeout_ms)
        self._stores: dict[str, SqliteStore] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._closed = False

    # ---------------------------------------------------------------- routing

    def run_dir(self, run_id: str) -> Path:
        """``DIR/<run_id>``, refusing ids that are not plain names and paths that resolve outside DIR (symlinks)."""
        R.validate_run_id(run_id)
        path = (self._root / run_id).resolve()
        if path.parent != self._root:
            raise StoreError(f"{self.directory}: run directory of '{run_id}' resolves outside the runs directory "
                             f"({path})")
        return path

    def _store(self, run_id: str) -> SqliteStore:
        """The run's store; inside a ``transaction()`` not yet bound to a run, this run becomes the bound one."""
        store = self._open(run_id)
        levels: list[ExitStack] = getattr(self._local, "levels", [])
        if levels and getattr(self._local, "bound", None) is None:
            for level in levels:  # outermost: BEGIN IMMEDIATE; each open inner level: a SAVEPOINT
                level.enter_context(store.transaction())
            self._local.bound = store
        return store

    def _open(self, run_id: str) -> SqliteStore:
        db = self.run_dir(run_id) / DB_NAME
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.directory}: the run store is closed")
            store = self._stores.get(run_id)
            if not db.is_file():
                # checked even for an open store: a removed run directory must not be written on as a ghost
                if store is not None:
                    store.close()
                    del self._stores[run_id]
                raise StoreError(f"{self.directory}: no run '{run_id}' (no {db})")
            if store is None:
                store = self._stores[run_id] = SqliteStore(db, busy_timeout_ms=self.busy_timeout_ms)
            return store

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Bound to the first run written or read inside it: that run's writes commit together, in one
        ``BEGIN IMMEDIATE`` on its file (nested blocks are savepoints, as in SqliteStore). Writes to any other run
        inside the block go to their own files in their own transactions, because a transaction cannot span files:
        group one run's writes, as the recorder does."""
        if not hasattr(self._local, "levels"):
            self._local.levels, self._local.bound = [], None
        levels: list[ExitStack] = self._local.levels
        level = ExitStack()
        if self._local.bound is not None:
            level.enter_context(self._local.bound.transaction())
        levels.append(level)
        try:
            yield
        except BaseException as exc:
            self._leave(levels)
            level.__exit__(type(exc), exc, exc.__traceback__)  # ROLLBACK (TO SAVEPOINT) on the bound run's file
            raise
        self._leave(levels)
        level.close()  # COMMIT, or RELEASE of the savepoint

    def _leave(self, levels: list[ExitStack]) -> None:
        levels.pop()
        if not levels:
            self._local.bound = None

    # ---------------------------------------------------------------- runs

    def create_run(self, run: dict[str, Any]) -> None:
        run_id = R.validate_run_id(run.get("run_id"))  # type: ignore[arg-type]
        run_dir = self.run_dir(run_id)
        chain = self._ancestry(run)
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            run_dir.mkdir()  # atomic: of two processes creating one id, only one may later remove the directory
            created = True
        except FileExistsError:
            created = False  # a directory left by a failed create, or another creator: never removed here
        except OSError as exc:
            raise StoreError(f"{run_dir}: cannot create the run directory: {exc.strerror or exc}") from None
        try:
            for sub in RUN_SUBDIRS:
                (run_dir / sub).mkdir(exist_ok=True)
            store = self._open_new(run_id, run_dir)
            with store.transaction():
                if store.get_run(run_id) is not None:
                    raise StoreError(f"{self.directory}: run '{run_id}' already exists")
                store.copy_lineage(chain)
                store.create_run(run)
        except BaseException:
            if created:  # only what this call made; an existing run's open store is left alone
                self._discard(run_id)
                shutil.rmtree(run_dir, ignore_errors=True)
            raise

    def _open_new(self, run_id: str, run_dir: Path) -> SqliteStore:
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.directory}: the run store is closed")
            store = self._stores.get(run_id)
        if store is not None:
            return store
        # outside the lock: creating a file and migrating it takes tens of milliseconds (fsyncs), during which
        # every other run's store call would wait on the lock (a server creating runs while others execute)
        fresh = SqliteStore(run_dir / DB_NAME, busy_timeout_ms=self.busy_timeout_ms)
        with self._lock:
            store = None if self._closed else self._stores.setdefault(run_id, fresh)
        if store is not fresh:
            fresh.close()
        if store is None:
            raise StoreError(f"{self.directory}: the run store is closed")
        return store

    def _discard(self, run_id: str) -> None:
        with self._lock:
            store = self._stores.pop(run_id, None)
        if store is not None:
            store.close()

    def _ancestry(self, run: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]]:
        """What a fork's file must hold, root first: each ancestor's run row, inputs and result rows up to the
        seq its child forked at. The parent's file already holds copies of its own ancestors, so it is the only
        file read, opened read-only; a grandparent's directory may be gone."""
        parent_id = run.get("parent_run_id")
        if parent_id is None:
            R.check_fork(run, lambda _: None)
            return []
        db = self.run_dir(parent_id) / DB_NAME
        if not db.is_file():
            raise StoreError(f"cannot fork run '{run.get('run_id')}': parent run '{parent_id}' does not exist "
                             f"in {self.directory}")
        source = SqliteStore(db, busy_timeout_ms=self.busy_timeout_ms, readonly=True)
        try:
            R.check_fork(run, lambda p: source.last_seq(p) if source.get_run(p) is not None else None)
            chain = []
            current, cap = parent_id, run["parent_seq"]
            while current is not None:
                ancestor = source.get_run(current)
                if ancestor is None:
                    raise StoreError(f"{db}: ancestor run '{current}' is missing")
                if any(a["run_id"] == current for a, _, _ in chain):
                    raise StoreError(f"{db}: cycle in the ancestry of '{parent_id}' at '{current}'")
                chain.append((ancestor, source.results(current, cap), source.get_inputs(current)))
                current, cap = ancestor["parent_run_id"], ancestor["parent_seq"]
            return chain[::-1]
        finally:
            source.close()

    def update_run(self, run_id: str, *, status: str | None = None, finished_at: str | None = None,
                   outcome: dict[str, Any] | None = None) -> None:
        self._store(run_id).update_run(run_id, status=status, finished_at=finished_at, outcome=outcome)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        try:
            store = self._store(run_id)
        except StoreError:
            if (self.run_dir(run_id) / DB_NAME).is_file():
                raise
            return None
        return store.get_run(run_id)

    def list_runs(self) -> list[dict[str, Any]]:
        """Each run as its own directory reports it; copies of ancestors inside forks' files are not listed."""
        runs = []
        for db in sorted(self._root.glob(f"*/{DB_NAME}")):
            run_id = db.parent.name
            try:
                R.validate_run_id(run_id)
            except StoreError:
                continue  # not a directory this store made
            with self._lock:
                cached = self._stores.get(run_id)
            if cached is not None:
                found = cached.get_run(run_id)
            else:  # read without keeping every run's file open
                try:
                    reader = SqliteStore(db, busy_timeout_ms=self.busy_timeout_ms, readonly=True)
                except StoreError:
                    if _never_migrated(db):
                        continue  # a create_run cut short (kill -9) before its schema committed: it holds no run
                    raise
                try:
                    found = reader.get_run(run_id)
                finally:
                    reader.close()
            if found is not None:
                runs.append(found)
        return sorted(runs, key=lambda r: (r["created_at"], r["run_id"]))

    def put_inputs(self, run_id: str, inputs: dict[str, Any]) -> None:
        self._store(run_id).put_inputs(run_id, inputs)

    def get_inputs(self, run_id: str) -> dict[str, Any]:
        return self._store(run_id).get_inputs(run_id)

    # ---------------------------------------------------------------- results

    def append_results(self, run_id: str, rows: list[dict[str, Any]]) -> list[int]:
        return self._store(run_id).append_results(run_id, rows)

    def results(self, run_id: str, upto: int | None = None) -> list[dict[str, Any]]:
        return self._store(run_id).results(run_id, upto)

    def state_rows(self, run_id: str, upto: int | None = None) -> list[dict[str, Any]]:
        return self._store(run_id).state_rows(run_id, upto)

    def last_seq(self, run_id: str) -> int:
        return self._store(run_id).last_seq(run_id)

    # ---------------------------------------------------------------- executions and logs

    def start_execution(self, run_id: str, row: dict[str, Any]) -> int:
        return self._store(run_id).start_execution(run_id, row)

    def finish_execution(self, run_id: str, execution_id: int, *, status: str, finished_at: str,
                         error_kind: str | None = None, error_message: str | None = None) -> None:
        self._store(run_id).finish_execution(run_id, execution_id, status=status, finished_at=finished_at,
                                             error_kind=error_kind, error_message=error_message)

    def executions(self, run_id: str) -> list[dict[str, Any]]:
        return self._store(run_id).executions(run_id)

    def add_log(self, run_id: str, row: dict[str, Any]) -> None:
        self._store(run_id).add_log(run_id, row)

    def logs(self, run_id: str) -> list[dict[str, Any]]:
        return self._store(run_id).logs(run_id)

    # ---------------------------------------------------------------- checkpoints

    def add_checkpoint(self, run_id: str, seq: int) -> dict[str, Any] | None:
        return self._store(run_id).add_checkpoint(run_id, seq)

    def checkpoints(self, run_id: str) -> list[dict[str, Any]]:
        return self._store(run_id).checkpoints(run_id)

    # ---------------------------------------------------------------- model calls

    def add_llm_call(self, run_id: str, row: dict[str, Any]) -> int:
        return self._store(run_id).add_llm_call(run_id, row)

    def llm_calls(self, run_id: str) -> list[dict[str, Any]]:
        return self._store(run_id).llm_calls(run_id)

    # ---------------------------------------------------------------- leases (in the run's own file)

    def acquire_lease(self, run_id: str, holder: dict[str, Any], lease_seconds: float) -> dict[str, Any]:
        return self._store(run_id).acquire_lease(run_id, holder, lease_seconds)

    def renew_lease(self, run_id: str, holder_id: str) -> bool:
        return self._store(run_id).renew_lease(run_id, holder_id)

    def release_lease(self, run_id: str, holder_id: str) -> None:
        self._store(run_id).release_lease(run_id, holder_id)

    def get_lease(self, run_id: str) -> dict[str, Any] | None:
        return self._store(run_id).get_lease(run_id)

    # ---------------------------------------------------------------- lifetime

    def write_batch(self, run_id: str, batch: WriteBatch) -> None:
        self._store(run_id).write_batch(run_id, batch)

    def release_run(self, run_id: str) -> None:
        """The run has ended in this process: stop keeping its file open (a long-lived server would otherwise
        hold one store, with a connection per thread that used it, for every run it ever ran). Dropped, not
        closed: a request reading it at this moment keeps its reference, the connections close when it is
        collected, and the next use opens the file again."""
        with self._lock:
            self._stores.pop(run_id, None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()


def _never_migrated(db: Path) -> bool:
    """Whether ``db`` has no schema at all: the file ``create_run`` makes (SQLite writes its header when the store
    switches to WAL) before the migration that creates the tables commits. A process killed in between leaves it."""
    try:
        with closing(sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True, timeout=5)) as conn:
            return current_version(conn) == 0
    except sqlite3.Error:
        return False
