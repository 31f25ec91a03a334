"""Schema migrations kept as data (RUNTIME §8.1): ``(version, [statements])`` in order, applied on open.

Version 1 is the schema of RUNTIME §8.2 verbatim plus the additions recorded in docs/decisions.md: ``runs.plan_json``
and ``runs.reconcile_json`` (what PATCH compares against; which ancestor rows a fork drops) and the ``run_inputs``
table (the ground data a run started from, so ``resume`` needs no inputs). Version 2 adds ``run_leases`` (one
runner per run, ``runtime/store/lease.py``). A later change is a new entry at the end;
released entries are never edited, because databases in the field have already recorded them as applied.
"""

from __future__ import annotations

import ast
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from runtime.store.base import StoreError

Migrations = tuple[tuple[int, tuple[str, ...]], ...]  # (version each entry brings the database to, statements)

MIGRATIONS: Migrations = (
    (1, (
        """CREATE TABLE runs (
  run_id          TEXT PRIMARY KEY,
  parent_run_id   TEXT REFERENCES runs(run_id),
  parent_seq      INTEGER,
  created_at      TEXT NOT NULL,
  finished_at     TEXT,
  plan_hash       TEXT NOT NULL,
  schedule_sha256 TEXT,
  runtime_version TEXT NOT NULL,
  env_json        TEXT NOT NULL,
  options_json    TEXT NOT NULL,
  resume_mode     TEXT,
  status          TEXT NOT NULL,
  outcome_json    TEXT,
  owner           TEXT,
  plan_json       TEXT,
  reconcile_json  TEXT
)""",
        """CREATE TABLE results (
  run_id          TEXT NOT NULL REFERENCES runs(run_id),
  seq             INTEGER NOT NULL,
  cycle           INTEGER NOT NULL,
  inference_count INTEGER NOT NULL,
  kind            TEXT NOT NULL,
  flow_index      TEXT NOT NULL,
  inference_id    TEXT NOT NULL,
  signature       TEXT NOT NULL,
  iteration       TEXT NOT NULL DEFAULT '',
  status          TEXT NOT NULL,
  concept_name    TEXT,
  value_json      TEXT,
  value_hash      TEXT,
  inputs_hash     TEXT,
  provision_hash  TEXT,
  meta_json       TEXT,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
)""",
        """CREATE TABLE checkpoints (
  run_id          TEXT NOT NULL REFERENCES runs(run_id),
  seq             INTEGER NOT NULL,
  cycle           INTEGER NOT NULL,
  inference_count INTEGER NOT NULL,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (run_id, seq),
  UNIQUE (run_id, cycle, inference_count)
)""",
        """CREATE TABLE executions (
  execution_id    INTEGER PRIMARY KEY,
  run_id          TEXT NOT NULL REFERENCES runs(run_id),
  flow_index      TEXT NOT NULL,
  inference_id    TEXT NOT NULL,
  iteration       TEXT NOT NULL DEFAULT '',
  cell            TEXT NOT NULL DEFAULT '[]',
  attempt         INTEGER NOT NULL DEFAULT 1,
  cycle           INTEGER NOT NULL,
  started_at      TEXT NOT NULL,
  finished_at     TEXT,
  status          TEXT NOT NULL,
  error_kind      TEXT,
  error_message   TEXT
)""",
        """CREATE TABLE logs (
  log_id          INTEGER PRIMARY KEY,
  run_id          TEXT NOT NULL REFERENCES runs(run_id),
  execution_id    INTEGER REFERENCES executions(execution_id),
  level           TEXT NOT NULL,
  logger          TEXT NOT NULL,
  message         TEXT NOT NULL,
  created_at      TEXT NOT NULL
)""",
        """CREATE TABLE llm_calls (
  call_id           INTEGER PRIMARY KEY,
  run_id            TEXT NOT NULL REFERENCES runs(run_id),
  execution_id      INTEGER REFERENCES executions(execution_id),
  flow_index        TEXT NOT NULL,
  cell              TEXT NOT NULL,
  attempt           INTEGER NOT NULL,
  model             TEXT NOT NULL,
  base_url          TEXT,
  replay_key        TEXT NOT NULL,
  request_json      TEXT,
  response_text     TEXT,
  finish_reason     TEXT,
  prompt_tokens     INTEGER,
  completion_tokens INTEGER,
  total_tokens      INTEGER,
  cost_usd          REAL,
  latency_ms        INTEGER,
  status            TEXT NOT NULL,
  error_kind        TEXT,
  created_at        TEXT NOT NULL
)""",
        """CREATE TABLE schema_version (
  version         INTEGER NOT NULL,
  applied_at      TEXT NOT NULL
)""",
        "CREATE INDEX results_by_item ON results(run_id, inference_id, iteration, seq)",
        "CREATE INDEX executions_by_run ON executions(run_id)",
        "CREATE INDEX llm_calls_by_run ON llm_calls(run_id)",
        # ours: inference_count of a new row counts the run's rows of its cycle; without this index each count
        # scans the run and a long run becomes quadratic
        "CREATE INDEX results_by_cycle ON results(run_id, cycle, seq)",
        """CREATE TABLE run_inputs (
  run_id          TEXT NOT NULL REFERENCES runs(run_id),
  concept_name    TEXT NOT NULL,
  value_json      TEXT NOT NULL,
  value_hash      TEXT,
  PRIMARY KEY (run_id, concept_name)
)""",
    )),
    # one runner per run (issue 13, runtime/store/lease.py): the run's lease, taken with its status ``running``,
    # renewed by a heartbeat, removed when the run ends; not history, so rows are replaced and deleted
    (2, (
        """CREATE TABLE run_leases (
  run_id          TEXT PRIMARY KEY REFERENCES runs(run_id),
  holder_id       TEXT NOT NULL,
  host            TEXT NOT NULL,
  pid             INTEGER NOT NULL,
  acquired_at     TEXT NOT NULL,
  heartbeat_at    TEXT NOT NULL,
  lease_seconds   REAL NOT NULL
)""",
    )),
)

LATEST_VERSION = MIGRATIONS[-1][0]


def current_version(conn: sqlite3.Connection) -> int:
    """The highest version recorded in ``schema_version``; 0 for a database that has never been migrated."""
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchall()
    if not found:
        return 0
    (version,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(version)


def refuse_newer(version: int, path: str, latest: int = LATEST_VERSION) -> None:
    if version > latest:
        raise StoreError(f"{path}: schema version {version} is newer than this runtime supports "
                         f"(version {latest}); use a newer ncd-run")


def migrate(conn: sqlite3.Connection, path: str, migrations: Migrations = MIGRATIONS) -> int:
    """Bring the database to the newest version of ``migrations`` in one write transaction; returns the version it
    was at. Either every pending statement is applied and recorded, or (on any error) none is.

    ``conn`` must be in autocommit mode (``isolation_level=None``). The version is read again after ``BEGIN
    IMMEDIATE`` because another process may have migrated the same file between our first look and the lock.
    """
    latest = migrations[-1][0]
    version = current_version(conn)
    refuse_newer(version, path, latest)
    if version == latest:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = current_version(conn)
        refuse_newer(version, path, latest)
        for target, statements in migrations:
            if target <= version:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                         (target, datetime.now(timezone.utc).isoformat(timespec="microseconds")))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return version


# ---------------------------------------------------------------- the schema as the other modules see it


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str          # declared type: TEXT, INTEGER or REAL
    notnull: bool
    default: object    # the column's DEFAULT as a Python value, None when it has none
    auto: bool         # INTEGER PRIMARY KEY: assigned by the database


@lru_cache(maxsize=1)
def schema() -> dict[str, tuple[Column, ...]]:
    """Every table's columns, read back from the migrations applied to an in-memory database.

    The SQL above is the single source of truth: the row codec and the in-memory store take their column lists,
    NOT NULL constraints and defaults from here, so they cannot drift from what SQLite enforces.
    """
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn, ":memory:")
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()]
        out: dict[str, tuple[Column, ...]] = {}
        for table in tables:
            info = conn.execute(f"PRAGMA table_info({table})").fetchall()
            single_pk = sum(1 for row in info if row[5]) == 1
            out[table] = tuple(
                Column(name=name, type=decl.upper(), notnull=bool(notnull),
                       default=None if default is None else ast.literal_eval(default),
                       auto=bool(pk) and single_pk and decl.upper() == "INTEGER")
                for _, name, decl, notnull, default, pk in info)
        return out
    finally:
        conn.close()
