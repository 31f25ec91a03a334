"""Isolation and load (RUNTIME §8.1): many ``ncd-run`` processes, one SQLite file, no interference.

16 processes started together each run their own run (own run id, own operands) of the addition example against one
``--db`` file. To make sure they really run at the same time, the first step (``digit_pairs``) is bound to a gate
that waits until every process has created its run row and entered that step; the test then opens the gate and all
16 runs write their results concurrently (the overlap is then checked from the stored ``created_at`` /
``finished_at``). Everything else is the example's own digits.py. Then: exact answers, no "database is locked", no
traceback, 16 completed runs, every row of every table with a ``run_id`` belongs to one of the 16 runs and only
describes that run, ``PRAGMA integrity_check`` ok.

A ``--runs-dir`` variant runs 8 processes, one directory per run, and refuses crafted run ids (``../evil``,
``a/b``, ``..``, an absolute path) with exit 2 and one line, creating nothing outside the runs directory.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from crash_support.harness import (
    RUN_TABLES,
    PlanCopy,
    Proc,
    contains_value,
    copy_example,
    expected_sum,
    integrity,
    iso,
    loop_iterations,
    ncd_json,
    ncd_run,
    random_operand,
    try_query,
)

BASES = (2, 3, 5, 8, 10, 12, 16, 36)
PROC_TIMEOUT = 120

GATE = '''"""digit_pairs behind a gate: wait (at most 60 s) until the test creates GO, so that every run overlaps."""

import importlib.util
import time
from pathlib import Path

_spec = importlib.util.spec_from_file_location("gate_digits_base", Path(__file__).with_name("digits.py"))
_digits = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_digits)
_GO = Path(__file__).with_name("GO")


def digit_pairs(a, b, base):
    deadline = time.monotonic() + 60
    while not _GO.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    return _digits.digit_pairs(a, b, base)
'''


@pytest.fixture(scope="module")
def store_ready() -> None:
    from runtime.store import SqliteStore  # noqa: F401  (the store of issue 6 must exist for these tests)


def _operands(rng: random.Random, i: int) -> tuple[str, str, int]:
    """Different operands per run, with a different digit count each so that every run has its own loop length."""
    base = BASES[i % len(BASES)]
    n = 12 + 3 * i
    return random_operand(rng, base, n), random_operand(rng, base, rng.randint(1, n)), base


def _check_run_rows(conn: sqlite3.Connection, plan: PlanCopy, rid: str, spec: tuple[str, str, int],
                    executed: int) -> None:
    """The rows of run ``rid`` describe that run only: its plan, its loop length, its operands, its answer."""
    a, b, base = spec
    n_iter = loop_iterations(a, b, base)
    plan_ids = set(plan.ids.values())
    paths = {""} | {f"{plan.loop_id}#{k}" for k in range(1, n_iter + 1)}

    rows = [dict(r) for r in conn.execute("SELECT * FROM results WHERE run_id = ? ORDER BY seq", (rid,))]
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1)), f"{rid}: result seqs are not 1..n"
    assert {r["inference_id"] for r in rows} <= plan_ids, rid
    assert {r["iteration"] for r in rows} <= paths, f"{rid}: iteration paths beyond its own loop"
    iterations = sorted(r["iteration"] for r in rows if r["kind"] == "loop_iteration")
    assert iterations == sorted(f"{plan.loop_id}#{k}" for k in range(1, n_iter + 1)), f"{rid}: loop iterations"
    assert all(r["status"] in ("completed", "skipped") for r in rows), rid
    (total,) = [r for r in rows if r["inference_id"] == plan.ids["1"] and r["kind"] == "item"]
    assert contains_value(json.loads(total["value_json"]), expected_sum(a, b, base)), (rid, total["value_json"])

    exe = [dict(r) for r in conn.execute("SELECT * FROM executions WHERE run_id = ? ORDER BY execution_id", (rid,))]
    assert len(exe) == executed, f"{rid}: {len(exe)} executions rows, the run reported {executed} executed"
    keys = [(e["inference_id"], e["iteration"], e["cell"]) for e in exe]
    assert len(set(keys)) == len(keys), f"{rid}: an execution was recorded twice"
    assert all(e["status"] in ("completed", "skipped") and e["finished_at"] for e in exe), rid
    assert {e["inference_id"] for e in exe} <= plan_ids and {e["iteration"] for e in exe} <= paths, rid
    done = {(e["inference_id"], e["iteration"]) for e in exe}
    missing = [r for r in rows if r["kind"] == "item" and (r["inference_id"], r["iteration"]) not in done
               and r["status"] == "completed"]
    assert not missing, f"{rid}: results without an execution: {missing[:3]}"

    by_seq = {r["seq"]: r for r in rows}
    marks = [dict(r) for r in conn.execute("SELECT * FROM checkpoints WHERE run_id = ? ORDER BY seq", (rid,))]
    assert marks, rid
    for m in marks:
        assert m["seq"] in by_seq, f"{rid}: checkpoint at seq {m['seq']} names no row of this run"
        assert (m["cycle"], m["inference_count"]) == (by_seq[m["seq"]]["cycle"], by_seq[m["seq"]]["inference_count"])

    inputs = {r["concept_name"]: json.loads(r["value_json"])
              for r in conn.execute("SELECT concept_name, value_json FROM run_inputs WHERE run_id = ?", (rid,))}
    assert contains_value(inputs.get("{number a}"), a), (rid, inputs)
    assert contains_value(inputs.get("{number b}"), b), (rid, inputs)
    assert contains_value(inputs.get("{base}"), base), (rid, inputs)

    ids = {e["execution_id"] for e in exe}
    for table in ("logs", "llm_calls"):
        for (ex,) in conn.execute(f"SELECT execution_id FROM {table} WHERE run_id = ?", (rid,)):
            assert ex is None or ex in ids, f"{rid}: {table} row points at another run's execution {ex}"


def _table_run_ids(conn: sqlite3.Connection) -> dict[str, set[str]]:
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    out = {}
    for table in RUN_TABLES:
        assert table in tables, f"table {table} is missing"
        out[table] = {rid for (rid,) in conn.execute(f"SELECT DISTINCT run_id FROM {table}")}
    return out


def test_sixteen_processes_share_one_db(tmp_path: Path, store_ready: None) -> None:
    rng = random.Random(16)
    plan = copy_example(tmp_path, extra=GATE)
    db = tmp_path / "shared" / "runs.db"
    db.parent.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    specs = {f"iso-{i:02d}": _operands(rng, i) for i in range(16)}
    gate = ["--binding", f"{plan.flow_of_function['digit_pairs']}=extra_bindings.py:digit_pairs"]
    procs: dict[str, Proc] = {}
    try:
        for rid, (a, b, base) in specs.items():
            inputs = plan.write_inputs(rid, a, b, base)
            procs[rid] = Proc.start("run", plan.plan, "--inputs", inputs, "--db", db, "--run-id", rid, "--json",
                                    *gate, cwd=cwd, logs=tmp_path / "logs", name=rid)

        def parked() -> bool:  # every run exists and sits in its first step
            rows = try_query(db, "SELECT COUNT(DISTINCT run_id) FROM executions WHERE flow_index = ? AND "
                                 "status = 'running'", (plan.flow_of_function["digit_pairs"],))
            return bool(rows) and rows[0][0] == len(specs)

        deadline = time.monotonic() + 90
        while not parked() and time.monotonic() < deadline and all(p.alive() for p in procs.values()):
            time.sleep(0.02)
        assert parked(), {rid: (p.popen.poll(), p.stderr()[-300:]) for rid, p in procs.items()}
        (plan.dir / "GO").touch()
        codes = {rid: p.wait(PROC_TIMEOUT) for rid, p in procs.items()}
    finally:
        (plan.dir / "GO").touch()
        for p in procs.values():
            p.reap()

    executed = {}
    for rid, p in procs.items():
        err = p.stderr()
        assert "database is locked" not in err.lower(), f"{rid}: {err}"
        assert "Traceback" not in err and "internal error" not in err, f"{rid}: {err}"
        assert codes[rid] == 0, f"{rid}: exit {codes[rid]}: {err}"
        doc = json.loads(p.stdout())
        a, b, base = specs[rid]
        assert doc["run_id"] == rid and doc["outcome"] == "completed", doc
        assert doc["final"]["{sum}"]["data"] == [expected_sum(a, b, base)], (rid, doc["final"])
        executed[rid] = doc["executed"]

    runs = ncd_json("list-runs", "--db", db, cwd=cwd)
    assert len(runs) == 16 and {r["run_id"] for r in runs} == set(specs), runs
    assert all(r["status"] == "completed" and r["parent_run_id"] is None for r in runs), runs

    with closing(sqlite3.connect(db, timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        for table, ids in _table_run_ids(conn).items():
            assert ids <= set(specs), f"{table} holds rows of unknown runs {ids - set(specs)}"
        for rid, spec in specs.items():
            _check_run_rows(conn, plan, rid, spec, executed[rid])
        # they really overlapped: every run was created before any run finished
        rows = conn.execute("SELECT created_at, finished_at FROM runs").fetchall()
        assert max(iso(r["created_at"]) for r in rows) < min(iso(r["finished_at"]) for r in rows), \
            [tuple(r) for r in rows]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert integrity(db) == "ok"
    assert not (cwd / ".ncd").exists(), "--db was given: nothing may be written to the default store"


def _tree(root: Path, skip: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if skip != p and skip not in p.parents}


def test_runs_dir_one_directory_per_run_and_crafted_ids(tmp_path: Path, store_ready: None) -> None:
    rng = random.Random(8)
    plan = copy_example(tmp_path)
    runs_dir = tmp_path / "area" / "runs"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    specs = {f"dir-{i}": _operands(rng, i) for i in range(8)}
    procs: dict[str, Proc] = {}
    try:
        for rid, (a, b, base) in specs.items():
            inputs = plan.write_inputs(rid, a, b, base)
            procs[rid] = Proc.start("run", plan.plan, "--inputs", inputs, "--runs-dir", runs_dir, "--run-id", rid,
                                    "--json", cwd=cwd, logs=tmp_path / "logs", name=rid)
        codes = {rid: p.wait(PROC_TIMEOUT) for rid, p in procs.items()}
    finally:
        for p in procs.values():
            p.reap()

    for rid, p in procs.items():
        err = p.stderr()
        assert codes[rid] == 0 and "Traceback" not in err and "locked" not in err.lower(), f"{rid}: {err}"
        doc = json.loads(p.stdout())
        assert doc["run_id"] == rid and doc["final"]["{sum}"]["data"] == [expected_sum(*specs[rid])], doc
        here = runs_dir / rid
        assert (here / "run.db").is_file() and (here / "artifacts").is_dir() and (here / "outputs").is_dir(), \
            sorted(str(x.relative_to(runs_dir)) for x in runs_dir.rglob("*"))
        with closing(sqlite3.connect(here / "run.db", timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            for table, ids in _table_run_ids(conn).items():
                assert ids <= {rid}, f"{here}/run.db: {table} holds rows of {ids - {rid}}"
            assert [r[0] for r in conn.execute("SELECT run_id FROM runs")] == [rid]
            _check_run_rows(conn, plan, rid, specs[rid], doc["executed"])
        assert integrity(here / "run.db") == "ok"
    listed = ncd_json("list-runs", "--runs-dir", runs_dir, cwd=cwd)
    assert sorted(r["run_id"] for r in listed) == sorted(specs), listed
    assert all(r["status"] == "completed" for r in listed), listed

    # crafted run ids: refused with exit 2 and one line; nothing is created outside the runs directory
    inputs = plan.write_inputs("crafted", "10", "1", 10)
    before = _tree(tmp_path, runs_dir)
    inside = _tree(runs_dir, tmp_path / "-nothing-")
    for crafted in ("../evil", "a/b", "..", str(tmp_path / "abs-evil")):
        for verb in ("run", "resume"):
            args = [verb, plan.plan, "--runs-dir", runs_dir, "--run-id", crafted, "--json"]
            if verb == "run":
                args[2:2] = ["--inputs", inputs]
            proc = ncd_run(*args, cwd=cwd, timeout=60)
            assert proc.returncode == 2, (crafted, verb, proc.returncode, proc.stdout, proc.stderr)
            assert proc.stdout == "", (crafted, verb, proc.stdout)
            assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, \
                (crafted, verb, proc.stderr)
            assert _tree(tmp_path, runs_dir) == before, (crafted, verb, _tree(tmp_path, runs_dir) - before)
    assert not (tmp_path / "area" / "evil").exists() and not (tmp_path / "abs-evil").exists()
    assert not (tmp_path / "area" / "run.db").exists()
    new_inside = _tree(runs_dir, tmp_path / "-nothing-") - inside
    assert not new_inside, f"a refused run id created {sorted(new_inside)} inside the runs directory"
    listed = ncd_json("list-runs", "--runs-dir", runs_dir, cwd=cwd)
    assert sorted(r["run_id"] for r in listed) == sorted(specs), listed
