"""``ncd-run serve`` survives ``kill -9`` with 20 runs in progress (acceptance of the run-server issue).

A real server subprocess on a SQLite file (``--db``) runs 20 additions at once (``--max-runs 20``: every run is
executing, none queued) of a slowed copy of the addition example: its ``digits.py`` is a wrapper that sleeps a few
milliseconds before every digit operation (the plan text is the example's, unchanged), so the runs are genuinely
mid-way when the server is killed. Once every run has completed some steps and none has finished, the server gets
SIGKILL; the database must pass ``PRAGMA integrity_check``, and the executions each run had completed are recorded.
A new server on the same database and plans resumes the runs by itself (no client calls resume), and then

* every run's result (``GET /api/runs/{id}/result``) is Python's exact big-int sum of its own operands;
* no execution completed before the kill was executed again (only cells in flight at the kill may repeat);
* every (step, iteration, cell) has exactly one successful execution, and results stay append-only;
* a subscriber of a resumed run's events gets its whole history, numbered 1..n like its result rows, then the end.

The second test does the same under ``--runs-dir`` with, in addition, a run directory left by a create cut short by
the kill (its ``run.db`` without a schema): the restarted server must ignore it, not refuse to start.
"""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
from crash_support.harness import (
    SLOW_DIGITS,
    expected_sum,
    integrity,
    random_operand,
    ro_connect,
)
from server_support import ROOT, Server, read_events, wait_for

RUNS = 20
BASES = (2, 3, 7, 8, 10, 16, 36)
PLAN_ID = "slow_addition"
DIGITS = (45, 60)    # operand lengths: one loop iteration (4 executions) per digit of the longer operand
LOOP_DELAY = 0.04    # seconds slept before every sum_digit / carry_out call: a run takes about 3 s
OTHER_DELAY = 0.02   # before every other digit operation
MIN_DONE = 10        # completed executions every run must have at the kill (digit_pairs + two loop iterations)


def slow_addition(plans: Path, loop_delay: float = LOOP_DELAY, other_delay: float = OTHER_DELAY) -> Path:
    """``plans/slow_addition/``: the addition example whose ``digits.py`` sleeps before every operation and then
    calls the example's own functions (kept as ``digits_fast.py``). The plan text is not changed."""
    target = plans / PLAN_ID
    shutil.copytree(ROOT / "examples" / "base_x_addition", target,
                    ignore=shutil.ignore_patterns("__pycache__", ".ncd", "*.json"))
    (target / "digits.py").rename(target / "digits_fast.py")
    wrapper = SLOW_DIGITS.format(loop_delay=loop_delay, other_delay=other_delay)
    assert 'with_name("digits.py")' in wrapper
    (target / "digits.py").write_text(wrapper.replace('with_name("digits.py")', 'with_name("digits_fast.py")'))
    return target


def operands(rng: random.Random, n: int, digits: tuple[int, int]) -> list[tuple[str, str, int]]:
    """``n`` (a, b, base) triples whose sums are distinct strings, so no run can pass with another's answer."""
    out: list[tuple[str, str, int]] = []
    sums: set[str] = set()
    while len(out) < n:
        base = rng.choice(BASES)
        a = random_operand(rng, base, rng.randint(*digits))
        b = random_operand(rng, base, rng.randint(*digits))
        if expected_sum(a, b, base) not in sums:
            sums.add(expected_sum(a, b, base))
            out.append((a, b, base))
    return out


def execution_rows(db: Path) -> dict[str, list[dict[str, Any]]]:
    """Every run's executions rows (read-only), by run id, in execution order."""
    with closing(ro_connect(db)) as conn:
        rows = conn.execute("SELECT run_id, execution_id, inference_id, iteration, cell, attempt, status "
                            "FROM executions ORDER BY execution_id").fetchall()
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["run_id"]].append(dict(r))
    return out


def completed_steps(dbs: list[Path]) -> dict[str, int]:
    """Completed executions by run id, over one database or (``--runs-dir``) each run's own."""
    out: dict[str, int] = defaultdict(int)
    for db in dbs:
        if db.exists():
            for rid, rows in execution_rows(db).items():
                out[rid] += sum(1 for e in rows if e["status"] == "completed")
    return out


def submit_all(client: httpx.Client, run_ids: list[str], cases: list[tuple[str, str, int]]) -> None:
    """Every run submitted at once, one request thread per run."""
    def submit(i: int) -> None:
        a, b, base = cases[i]
        resp = client.post("/api/runs", json={"plan_id": PLAN_ID, "run_id": run_ids[i],
                                              "inputs": {"{number a}": a, "{number b}": b, "{base}": base}})
        assert resp.status_code == 201, resp.text

    with ThreadPoolExecutor(len(run_ids)) as pool:
        list(pool.map(submit, range(len(run_ids))))


def kill_midway(srv: Server, run_ids: list[str], dbs: list[Path],
                cases: list[tuple[str, str, int]]) -> dict[str, Any]:
    """Submit the runs, wait until each has completed ``MIN_DONE`` steps, ``kill -9`` the server; /healthz just
    before the kill."""
    try:
        with srv.client() as client:
            submit_all(client, run_ids, cases)
            wait_for(lambda: all(completed_steps(dbs).get(rid, 0) >= MIN_DONE for rid in run_ids), timeout=20,
                     what=f"every run to complete {MIN_DONE} steps")
            health = client.get("/healthz").json()
        assert srv.stop(signal.SIGKILL) == -signal.SIGKILL
    finally:
        reap(srv)
    return health


def wait_finished(client: httpx.Client, run_ids: list[str], timeout: float = 30) -> list[dict[str, Any]]:
    def finished() -> list[dict[str, Any]] | None:
        docs = [client.get(f"/api/runs/{rid}").json() for rid in run_ids]
        return docs if all(d["status"] != "running" and not d["active"] for d in docs) else None

    return wait_for(finished, timeout=timeout, what="every run to finish")


def check_results(client: httpx.Client, run_ids: list[str], cases: list[tuple[str, str, int]]) -> None:
    """Every run completed with Python's exact sum of its own operands."""
    for rid, (a, b, base) in zip(run_ids, cases):
        result = client.get(f"/api/runs/{rid}/result")
        assert result.status_code == 200, result.text
        doc = result.json()
        assert doc["outcome"] == "completed" and doc["reasons"] == [], doc
        assert doc["final"] == {"{sum}": {"axes": ["_none_axis"], "data": [expected_sum(a, b, base)]}}, (
            rid, a, b, base, doc["final"])


def reap(srv: Server) -> None:
    if srv.proc is not None and srv.proc.poll() is None:
        srv.proc.kill()
        srv.proc.wait(10)


def result_rows(db: Path, run_id: str) -> list[tuple]:
    with closing(ro_connect(db)) as conn:
        return [tuple(r) for r in conn.execute(
            "SELECT seq, kind, inference_id, iteration, status, value_hash FROM results WHERE run_id = ? "
            "ORDER BY seq", (run_id,)).fetchall()]


def statuses(db: Path) -> dict[str, str]:
    with closing(ro_connect(db)) as conn:
        return {r[0]: r[1] for r in conn.execute("SELECT run_id, status FROM runs").fetchall()}


def key(ex: dict[str, Any]) -> tuple[str, str, str]:
    return ex["inference_id"], ex["iteration"], ex["cell"]


def test_kill_9_with_20_runs_in_progress_then_restart(tmp_path: Path) -> None:
    started = time.monotonic()
    plans = tmp_path / "plans"
    plans.mkdir()
    slow_addition(plans)
    db = tmp_path / "runs.db"
    log = tmp_path / "server.log"
    rng = random.Random(20250611)
    cases = operands(rng, RUNS, DIGITS)
    run_ids = [f"restart-{i:02d}" for i in range(RUNS)]

    srv = Server(plans, ["--db", str(db)], None, log).start(max_runs=RUNS, per_run_concurrency=2)
    health = kill_midway(srv, run_ids, [db], cases)
    killed_at = time.monotonic()
    # all 20 were executing at once (none queued) right before the kill
    assert health["active_runs"] == RUNS and health["queued_runs"] == 0, health

    # ------------------------------------------------------------ the state the kill left
    assert integrity(db) == "ok"
    assert statuses(db) == {rid: "running" for rid in run_ids}, "every run must still be in progress at the kill"
    before = execution_rows(db)
    results_before = {rid: result_rows(db, rid) for rid in run_ids}
    progress = sorted(sum(1 for e in before[rid] if e["status"] == "completed") for rid in run_ids)
    assert progress[0] >= MIN_DONE, progress
    in_flight = sum(1 for rid in run_ids for e in before[rid] if e["status"] == "running")

    # ------------------------------------------------------------ restart: the server resumes every run itself
    again = Server(plans, ["--db", str(db)], None, log).start(max_runs=RUNS, per_run_concurrency=2)
    try:
        with again.client() as client:
            # a subscriber of a resumed run gets its whole history (stored before the kill, then live), then the end
            def watch() -> list[tuple[str, dict]]:
                with again.client() as own:
                    return read_events(own, run_ids[0])

            watcher = ThreadPoolExecutor(1)
            watching = watcher.submit(watch)
            docs = wait_finished(client, run_ids)
            assert [d["status"] for d in docs] == ["completed"] * RUNS, [(d["run_id"], d["status"], d["outcome"])
                                                                         for d in docs]
            check_results(client, run_ids, cases)
            watched = watching.result(timeout=30)
            watcher.shutdown()
            listed = client.get("/api/runs", params={"limit": 1000}).json()
            assert listed["total"] == RUNS, "a restart must continue the runs, never fork them"
            assert all(r["parent_run_id"] is None for r in listed["runs"])
        assert again.stop() == 0
    finally:
        reap(again)

    text = log.read_text()
    assert "Traceback" not in text and "database is locked" not in text, text

    # ------------------------------------------------------------ nothing completed before the kill ran again
    assert integrity(db) == "ok"
    after = execution_rows(db)
    repeated = 0
    for rid in run_ids:
        by_key: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for ex in after[rid]:
            by_key[key(ex)].append(ex)
        then: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for ex in before[rid]:
            then[key(ex)].append(ex["execution_id"])
        for ex in before[rid]:
            now = [e["execution_id"] for e in by_key[key(ex)]]
            if ex["status"] == "completed":
                assert now == then[key(ex)], (
                    f"run {rid}: execution {key(ex)} was completed before the kill (ids {then[key(ex)]}) but was "
                    f"executed again (now {now})")
            elif ex["status"] == "running" and len(now) > len(then[key(ex)]):
                repeated += 1
        for k, rows in by_key.items():
            done = [e for e in rows if e["status"] in ("completed", "skipped")]
            assert len(done) == 1, f"run {rid}, {k}: {len(done)} successful executions: {rows}"
            assert all(e["status"] == "running" for e in rows if e is not done[0]), rows
        # results are append-only: everything committed before the kill is unchanged, seqs stay 1..n
        rows = result_rows(db, rid)
        assert rows[:len(results_before[rid])] == results_before[rid]
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
        if rid == run_ids[0]:
            steps = [d for kind, d in watched if kind == "message"]
            assert watched[-1][0] == "end" and watched[-1][1]["status"] == "completed", watched[-1:]
            assert [d["n"] for d in steps] == list(range(1, len(rows) + 1))
            assert sorted((d["kind"], d["inference_id"], d["iteration"], d["status"]) for d in steps) == \
                sorted(r[1:5] for r in rows)
    elapsed = time.monotonic() - started
    print(f"\nrestart figures: {RUNS} runs, {in_flight} executions in flight at the kill ({repeated} ran again), "
          f"completed executions per run at the kill {progress[0]}..{progress[-1]}, "
          f"kill after {killed_at - started:.1f} s, total {elapsed:.1f} s")


def test_kill_9_under_runs_dir_then_restart_ignores_a_run_directory_cut_short(tmp_path: Path) -> None:
    """``--runs-dir``: a ``kill -9`` while runs execute and another is being created. Creating a run makes its
    directory and ``run.db`` (SQLite writes the header when the store switches to WAL) and then commits the schema
    and the run row; a kill in between leaves a run directory whose database has no schema. The restarted server
    must not take it for a run (it used to refuse to start: "schema version 0 needs migrating"), must resume the
    real runs, and the id must stay usable."""
    plans = tmp_path / "plans"
    plans.mkdir()
    slow_addition(plans)
    runs = tmp_path / "runs"
    log = tmp_path / "server.log"
    cases = operands(random.Random(7), 5, (20, 30))
    run_ids = [f"dir-{i}" for i in range(4)]

    srv = Server(plans, ["--runs-dir", str(runs)], None, log).start(max_runs=4, per_run_concurrency=2)
    health = kill_midway(srv, run_ids, [runs / rid / "run.db" for rid in run_ids], cases)
    assert health["active_runs"] == 4, health
    # what the kill leaves of a create cut short: the directories, and run.db as SQLite made it before migrating
    ghost = runs / "cut-short"
    for sub in ("artifacts", "outputs"):
        (ghost / sub).mkdir(parents=True)
    with closing(sqlite3.connect(ghost / "run.db")) as conn:
        assert conn.execute("PRAGMA journal_mode = WAL").fetchone() == ("wal",)
    empty = runs / "cut-shorter"
    empty.mkdir()
    (empty / "run.db").touch()
    for rid in run_ids:
        assert integrity(runs / rid / "run.db") == "ok"

    again = Server(plans, ["--runs-dir", str(runs)], None, log).start(max_runs=4, per_run_concurrency=2)
    try:
        with again.client() as client:
            docs = wait_finished(client, run_ids)
            assert [d["status"] for d in docs] == ["completed"] * 4, [(d["run_id"], d["outcome"]) for d in docs]
            check_results(client, run_ids, cases)
            listed = client.get("/api/runs").json()
            assert sorted(r["run_id"] for r in listed["runs"]) == run_ids, listed
            assert client.get("/api/runs/cut-short").status_code == 404
            # the id of the run cut short can be created afresh
            submit_all(client, ["cut-short"], cases[4:])
            wait_finished(client, ["cut-short"])
            check_results(client, ["cut-short"], cases[4:])
        assert again.stop() == 0
    finally:
        reap(again)
    assert "Traceback" not in log.read_text(), log.read_text()
