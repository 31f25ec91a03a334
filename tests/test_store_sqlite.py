"""What only the SQLite-backed stores promise (RUNTIME §8.1, §9.6): connection settings, migrations, refusing bad
files, concurrent writers (threads and processes), run directories and their forks."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from runtime.store import MemoryStore, RunsDirStore, SqliteStore, StoreError, open_store, validate_run_id
from runtime.store.migrations import LATEST_VERSION, MIGRATIONS, current_version, migrate

PROJECT = Path(__file__).resolve().parents[1]


def run_row(run_id: str, **kw: Any) -> dict[str, Any]:
    return {"run_id": run_id, "plan_hash": "sha256:plan", "runtime_version": "0.1.0", "env": {}, "options": {},
            **kw}


def result(inference_id: str, cycle: int = 1, **kw: Any) -> dict[str, Any]:
    return {"kind": "item", "cycle": cycle, "flow_index": "1", "inference_id": inference_id,
            "signature": f"sig-{inference_id}", "status": "completed", **kw}


def integrity_ok(path: Path) -> bool:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def pragmas(store: SqliteStore) -> tuple[Any, ...]:
    conn = store._connection()  # the calling thread's own connection
    return tuple(conn.execute(f"PRAGMA {name}").fetchone()[0]
                 for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous"))


# ---------------------------------------------------------------- connections and migrations


def test_every_connection_sets_the_pragmas(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "deep" / "dir" / "runs.db", busy_timeout_ms=1234)
    try:
        assert pragmas(store) == ("wal", 1, 1234, 1)
        seen: list[tuple[Any, ...]] = []
        worker = threading.Thread(target=lambda: seen.append((pragmas(store), id(store._connection()))))
        worker.start()
        worker.join()
        assert seen[0][0] == ("wal", 1, 1234, 1)
        assert seen[0][1] != id(store._connection())  # each thread has its own connection
    finally:
        store.close()


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SqliteStore(path).close()
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    try:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
        runs_columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
    finally:
        conn.close()
    assert versions == [v for v, _ in MIGRATIONS] and versions[-1] == LATEST_VERSION
    assert {"runs", "results", "checkpoints", "executions", "logs", "llm_calls", "schema_version", "run_inputs",
            "results_by_item", "executions_by_run", "llm_calls_by_run"} <= tables
    assert runs_columns[-2:] == ["plan_json", "reconcile_json"]


def test_pending_migrations_apply_together_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SqliteStore(path).close()
    broken = (*MIGRATIONS, (LATEST_VERSION + 1, ("CREATE TABLE extra (x INTEGER)", "CREATE TABLE extra (y)")))
    fixed = (*MIGRATIONS, (LATEST_VERSION + 1, ("CREATE TABLE extra (x INTEGER)",)),
             (LATEST_VERSION + 2, ("ALTER TABLE extra ADD COLUMN y TEXT",)))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, str(path), broken)
        assert current_version(conn) == LATEST_VERSION
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'extra'").fetchall()
        assert migrate(conn, str(path), fixed) == LATEST_VERSION
        assert current_version(conn) == LATEST_VERSION + 2
        assert [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")][-2:] == [
            LATEST_VERSION + 1, LATEST_VERSION + 2]
    finally:
        conn.close()
    with pytest.raises(StoreError, match="newer"):  # this runtime knows fewer versions than the file has
        SqliteStore(path)


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="other.db"):
        SqliteStore(path)
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["runs"]  # left as it was
    conn.close()


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'later')", (LATEST_VERSION + 98,))
    conn.commit()
    conn.close()
    for readonly in (False, True):
        with pytest.raises(StoreError) as err:
            SqliteStore(path, readonly=readonly)
        message = str(err.value)
        assert str(path) in message and str(LATEST_VERSION + 98) in message and str(LATEST_VERSION) in message


@pytest.mark.parametrize("content", [b"this is not a database\n" * 200, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_garbage_file_is_a_store_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "runs.db"
    path.write_bytes(content)
    with pytest.raises(StoreError) as err:
        SqliteStore(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert path.read_bytes() == content


def test_an_unusable_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="file"):
        SqliteStore(blocker / "runs.db")
    with pytest.raises(StoreError, match="missing.db"):
        SqliteStore(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_a_read_only_store_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    writer = SqliteStore(path)
    writer.create_run(run_row("r"))
    writer.append_results("r", [result("i1")])
    writer.close()
    before = path.read_bytes()
    reader = SqliteStore(path, readonly=True)
    try:
        assert reader.results("r")[0]["inference_id"] == "i1"
        with pytest.raises(StoreError):
            reader.append_results("r", [result("i2")])
        with pytest.raises(StoreError):
            reader.create_run(run_row("s"))
    finally:
        reader.close()
    assert path.read_bytes() == before


# ---------------------------------------------------------------- concurrent writers


def test_threads_append_concurrently_without_lock_errors(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store = SqliteStore(path)
    runs = [f"t{n}" for n in range(8)]
    for run in [*runs, "shared"]:
        store.create_run(run_row(run))
    errors: list[BaseException] = []
    start = threading.Barrier(len(runs))

    def work(run: str) -> None:
        try:
            start.wait()
            for n in range(40):
                store.append_results(run, [result(f"i{n}")])
                store.append_results("shared", [result(f"{run}-{n}")])
                if n % 10 == 9:
                    store.add_checkpoint(run, store.last_seq(run))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        for run in runs:
            assert [r["seq"] for r in store.results(run)] == list(range(1, 41))
            assert [m["seq"] for m in store.checkpoints(run)] == [10, 20, 30, 40]
        assert [r["seq"] for r in store.results("shared")] == list(range(1, 8 * 40 + 1))
        assert [r["inference_count"] for r in store.results("shared")] == list(range(1, 8 * 40 + 1))
    finally:
        store.close()
    assert integrity_ok(path)


WRITER = """
import sys, time
from pathlib import Path
from runtime.store import SqliteStore
path, name, go, count = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
store = SqliteStore(path)
while not go.exists():
    time.sleep(0.005)
row = {"kind": "item", "cycle": 1, "flow_index": "1", "signature": "s", "status": "completed"}
for n in range(count):
    store.append_results(name, [dict(row, inference_id=f"{name}-{n}")])
    store.append_results("shared", [dict(row, inference_id=f"{name}-{n}")])
store.close()
"""


def test_processes_append_to_one_file_without_lock_errors(tmp_path: Path) -> None:
    path, go, count = tmp_path / "runs.db", tmp_path / "go", 50
    store = SqliteStore(path)
    names = [f"p{n}" for n in range(4)]
    for run in [*names, "shared"]:
        store.create_run(run_row(run))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(go), str(count)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for name in names]
    time.sleep(0.2)  # let them open the file, then release them together
    go.touch()
    outputs = [p.communicate(timeout=60) for p in procs]
    try:
        assert [p.returncode for p in procs] == [0] * 4, [err.decode() for _, err in outputs]
        assert not any(b"locked" in err for _, err in outputs)
        for name in names:
            assert [r["seq"] for r in store.results(name)] == list(range(1, count + 1))
        shared = store.results("shared")
        assert [r["seq"] for r in shared] == list(range(1, 4 * count + 1))
        assert len({r["inference_id"] for r in shared}) == 4 * count
    finally:
        store.close()
    assert integrity_ok(path)


# ---------------------------------------------------------------- --runs-dir


@pytest.mark.parametrize("bad", ["../x", "a/b", "a\\b", "..", "", ".", ".hidden", "a\x00b", "/abs", "x" * 200,
                                 "naïve", " pad"])
def test_run_ids_that_are_not_plain_names_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(StoreError, match="is not valid"):
        validate_run_id(bad)
    store = RunsDirStore(tmp_path / "runs")
    try:
        with pytest.raises(StoreError, match="is not valid"):
            store.create_run(run_row(bad))
        with pytest.raises(StoreError, match="is not valid"):
            store.get_run(bad)
    finally:
        store.close()
    assert not (tmp_path / "x").exists() and list(tmp_path.iterdir()) in ([], [tmp_path / "runs"])


def test_good_run_ids_pass() -> None:
    for good in ("a", "run-1", "2026-01-01T00.00_x", "A.b.c", "_", "-x"):
        assert validate_run_id(good) == good


def test_a_run_directory_that_escapes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "runs" / "escape").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    store = RunsDirStore(tmp_path / "runs")
    try:
        with pytest.raises(StoreError, match="outside"):
            store.create_run(run_row("escape"))
    finally:
        store.close()
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_each_run_has_its_own_directory(tmp_path: Path) -> None:
    store = RunsDirStore(tmp_path / "runs")
    try:
        store.create_run(run_row("a"))
        for name in ("run.db", "artifacts", "outputs"):
            assert (tmp_path / "runs" / "a" / name).exists()
        with pytest.raises(StoreError):
            store.create_run(run_row("b", plan_hash=None))
        assert not (tmp_path / "runs" / "b").exists()  # a failed create leaves nothing behind
        with pytest.raises(StoreError):
            store.results("b")
        with pytest.raises(StoreError, match="already exists"):
            store.create_run(run_row("a"))
        assert store.append_results("a", [result("i1")]) == [1]  # the existing run is untouched
        (tmp_path / "runs" / "c" / "outputs").mkdir(parents=True)  # a directory someone else made first
        store.create_run(run_row("c"))
        assert store.get_run("c") is not None
    finally:
        store.close()


def test_a_fork_survives_its_ancestors_directories(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    store = RunsDirStore(root)
    store.create_run(run_row("a", created_at="2026-01-01T00:00:00+00:00"))
    store.append_results("a", [result(f"i{n}") for n in range(1, 6)])
    store.put_inputs("a", {"{x}": {"k": "ü"}})
    store.create_run(run_row("b", parent_run_id="a", parent_seq=3, reconcile={"invalidated": ["i2"]},
                             created_at="2026-01-01T00:00:01+00:00"))
    store.append_results("b", [result("i6"), result("i7")])
    store.create_run(run_row("c", parent_run_id="b", parent_seq=4, created_at="2026-01-01T00:00:02+00:00"))
    store.append_results("c", [result("i8")])
    expected = store.state_rows("c")
    assert [(r["run_id"], r["seq"]) for r in expected] == [("a", 1), ("a", 3), ("b", 4), ("c", 5)]
    assert [r["run_id"] for r in store.list_runs()] == ["a", "b", "c"]  # ancestor copies are not listed again
    store.close()

    shutil.rmtree(root / "a")
    shutil.rmtree(root / "b")
    again = RunsDirStore(root)
    try:
        assert again.state_rows("c") == expected
        assert again.get_run("a") is None and [r["run_id"] for r in again.list_runs()] == ["c"]
        assert again.append_results("c", [result("i9")]) == [6]
    finally:
        again.close()
    for db in root.glob("*/run.db"):
        assert integrity_ok(db)
    conn = sqlite3.connect(root / "c" / "run.db")
    try:
        copied = conn.execute("SELECT run_id, count(*) FROM results GROUP BY run_id ORDER BY run_id").fetchall()
        inputs = conn.execute("SELECT run_id, concept_name FROM run_inputs").fetchall()
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    assert copied == [("a", 3), ("b", 1), ("c", 2)] and inputs == [("a", "{x}")]


def test_a_fork_leaves_its_parents_file_untouched(tmp_path: Path) -> None:
    store = RunsDirStore(tmp_path / "runs")
    store.create_run(run_row("a"))
    store.append_results("a", [result("i1"), result("i2")])
    store.close()
    parent_db = tmp_path / "runs" / "a" / "run.db"
    before = parent_db.read_bytes()
    store = RunsDirStore(tmp_path / "runs")
    try:
        store.create_run(run_row("b", parent_run_id="a", parent_seq=1))
    finally:
        store.close()
    assert parent_db.read_bytes() == before


def test_a_runs_dir_transaction_groups_the_writes_of_its_run(tmp_path: Path) -> None:
    store = RunsDirStore(tmp_path / "runs")
    try:
        store.create_run(run_row("a"))
        with pytest.raises(RuntimeError), store.transaction():
            store.append_results("a", [result("i1")])
            eid = store.start_execution("a", {"flow_index": "1", "inference_id": "i1", "cycle": 1})
            store.finish_execution("a", eid, status="completed", finished_at="x")
            raise RuntimeError("crash between the writes")
        assert store.results("a") == [] and store.executions("a") == []
        with store.transaction():
            store.append_results("a", [result("i1")])
            store.add_checkpoint("a", 1)
            with pytest.raises(RuntimeError), store.transaction():  # an inner block rolls back alone
                store.append_results("a", [result("i2")])
                raise RuntimeError("inner")
            store.create_run(run_row("b"))  # another run: its own file, its own transaction
            store.append_results("b", [result("x")])
        assert store.last_seq("a") == 1 and len(store.checkpoints("a")) == 1 and store.last_seq("b") == 1
        with pytest.raises(RuntimeError), store.transaction():
            store.append_results("b", [result("y")])  # b is bound now; a's write commits on its own
            store.append_results("a", [result("i2")])
            raise RuntimeError("stop")
        assert store.last_seq("b") == 1 and store.last_seq("a") == 2
    finally:
        store.close()


# ---------------------------------------------------------------- choosing a store


def test_open_store_follows_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StoreError, match="not both"):
        open_store(db=tmp_path / "x.db", runs_dir=tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    default = open_store()
    try:
        assert isinstance(default, SqliteStore) and default.path == tmp_path / ".ncd" / "runs.db"
        assert default.path.is_file()
    finally:
        default.close()
    chosen = open_store(runs_dir=tmp_path / "runs", busy_timeout_ms=10)
    assert isinstance(chosen, RunsDirStore) and chosen.busy_timeout_ms == 10
    chosen.close()
    assert not isinstance(open_store(db=tmp_path / "y.db"), (RunsDirStore, MemoryStore))
