"""Run storage behind one protocol (RUNTIME §8): in memory, one SQLite file (``--db``), or a directory per run
(``--runs-dir``)."""

from __future__ import annotations

from pathlib import Path

from runtime.store.base import Store, StoreError
from runtime.store.memory import MemoryStore
from runtime.store.rows import validate_run_id
from runtime.store.runsdir import RunsDirStore
from runtime.store.sqlite import SqliteStore

__all__ = ["MemoryStore", "RunsDirStore", "SqliteStore", "Store", "StoreError", "open_store", "validate_run_id"]


def open_store(db: str | Path | None = None, runs_dir: str | Path | None = None,
               busy_timeout_ms: int = 5000) -> Store:
    """The store the CLI options name; neither option means ``.ncd/runs.db`` under the current directory (§1)."""
    if db is not None and runs_dir is not None:
        raise StoreError("give --db or --runs-dir, not both")
    if runs_dir is not None:
        return RunsDirStore(runs_dir, busy_timeout_ms=busy_timeout_ms)
    return SqliteStore(db if db is not None else Path.cwd() / ".ncd" / "runs.db", busy_timeout_ms=busy_timeout_ms)
