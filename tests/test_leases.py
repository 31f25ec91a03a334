"""One runner per run (issue 13 rule 3): a run's lease in the store, taken with its status ``running``.

Real ``ncd-run`` and ``ncd-run serve`` subprocesses on real SQLite files. The plan is the run-server tests' gated
plan: each step waits until a file ``GO-<seed>`` exists next to its binding, so a test decides when a run may
progress and every race below is decided by the lease, not by timing:

* two ``ncd-run resume`` of one run started together: exactly one runs it, the other exits 2 with one line naming
  the holder (host, pid), and no item is committed twice (``--db`` and ``--runs-dir``);
* a resume right after ``kill -9`` takes the dead runner's lease over at once, even with a lease length that
  could never have expired during the test;
* the run server neither steals a live CLI runner's lease when it starts nor resumes the run on request (409
  naming the holder); once the CLI run ends, its lease is gone.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections import Counter
from pathlib import Path

import pytest
from crash_support.harness import Proc, query, try_query, wait_until
from server_support import SLOW_PLAN, SLOW_STEPS, Server, error_of, wait_status

TIMEOUT = 60  # seconds any child may take (liveness only)


def gated_plan(root: Path) -> Path:
    """``root/plans/slow.ncd`` (three gated steps) and its bindings; the gate files go to ``root/plans``."""
    plans = root / "plans"
    plans.mkdir()
    (plans / "slow.ncd").write_text(SLOW_PLAN)
    (plans / "steps.py").write_text(SLOW_STEPS)
    return plans / "slow.ncd"


def storage(root: Path, kind: str, run_id: str) -> tuple[list[str], Path]:
    """(the storage flags, the SQLite file that holds the run)."""
    if kind == "db":
        return ["--db", str(root / "runs.db")], root / "runs.db"
    return ["--runs-dir", str(root / "runs")], root / "runs" / run_id / "run.db"


def lease_of(db: Path, run_id: str) -> dict | None:
    rows = try_query(db, "SELECT * FROM run_leases WHERE run_id = ?", (run_id,))
    return dict(rows[0]) if rows else None


def start_then_kill(plan: Path, flags: list[str], db: Path, run_id: str, seed: str, logs: Path,
                    *extra: str) -> int:
    """A run started and ``kill -9``-ed while its first step waits at the gate; returns the dead runner's pid."""
    proc = Proc.start("run", plan, *flags, "--run-id", run_id, "--input", f"{{seed}}={json.dumps(seed)}", *extra,
                      cwd=plan.parent, logs=logs, name=f"{run_id}-run")
    try:
        assert wait_until(proc, lambda: lease_of(db, run_id) is not None, TIMEOUT), proc.stderr()
        proc.signal(signal.SIGKILL)
        assert proc.wait(TIMEOUT) == -signal.SIGKILL
    finally:
        proc.reap()
    return proc.pid


def committed_twice(db: Path, run_id: str) -> list[tuple]:
    rows = query(db, "SELECT kind, inference_id, iteration FROM results WHERE run_id = ? AND status = 'completed'",
                 (run_id,))
    return [key for key, n in Counter(tuple(r) for r in rows).items() if n > 1]


@pytest.mark.parametrize("kind", ["db", "runs-dir"])
def test_two_resumes_of_one_run_only_one_runs_it(tmp_path: Path, kind: str) -> None:
    plan = gated_plan(tmp_path)
    run_id = "twice"
    flags, db = storage(tmp_path, kind, run_id)
    logs = tmp_path / "logs"
    start_then_kill(plan, flags, db, run_id, "s1", logs)
    procs = [Proc.start("resume", plan, *flags, "--run-id", run_id, "--json", cwd=plan.parent, logs=logs,
                        name=f"resume-{i}") for i in range(2)]
    try:
        # the gate is closed: the winner holds the lease and waits at the first step, the loser must give up
        deadline = time.monotonic() + TIMEOUT
        while all(p.alive() for p in procs) and time.monotonic() < deadline:
            time.sleep(0.02)
        loser = next(p for p in procs if not p.alive())
        winner = next(p for p in procs if p is not loser)
        assert loser.wait(TIMEOUT) == 2, loser.stderr()
        err = loser.stderr().strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert f"pid {winner.pid}" in err and socket.gethostname() in err and run_id in err, err
        assert lease_of(db, run_id)["pid"] == winner.pid
        (plan.parent / "GO-s1").touch()
        assert winner.wait(TIMEOUT) == 0, winner.stderr()
        assert json.loads(winner.stdout())["final"]["{c}"]["data"] == ["s1+++"]
    finally:
        for p in procs:
            p.reap()
    assert committed_twice(db, run_id) == []
    completed = query(db, "SELECT flow_index, iteration, cell FROM executions WHERE run_id = ? AND "
                          "status = 'completed'", (run_id,))
    assert len(completed) == len({tuple(r) for r in completed}) == 3
    assert lease_of(db, run_id) is None  # released at the end
    assert query(db, "SELECT status FROM runs WHERE run_id = ?", (run_id,))[0][0] == "completed"


@pytest.mark.parametrize("kind", ["db", "runs-dir"])
def test_resume_right_after_kill_9_takes_the_lease_over_without_waiting(tmp_path: Path, kind: str) -> None:
    plan = gated_plan(tmp_path)
    run_id = "killed"
    flags, db = storage(tmp_path, kind, run_id)
    # a lease no test could outwait: only the dead pid can free it
    dead = start_then_kill(plan, flags, db, run_id, "s2", tmp_path / "logs", "--lease-seconds", "3600")
    left = lease_of(db, run_id)
    assert left is not None and left["pid"] == dead and left["host"] == socket.gethostname()
    (plan.parent / "GO-s2").touch()
    proc = Proc.start("resume", plan, *flags, "--run-id", run_id, "--json", "--lease-seconds", "3600",
                      cwd=plan.parent, logs=tmp_path / "logs", name="resume")
    try:
        assert proc.wait(TIMEOUT) == 0, proc.stderr()
    finally:
        proc.reap()
    assert json.loads(proc.stdout())["outcome"] == "completed"
    assert lease_of(db, run_id) is None


def test_a_bad_lease_length_is_one_line_and_exit_2(tmp_path: Path) -> None:
    plan = gated_plan(tmp_path)
    proc = Proc.start("run", plan, "--db", str(tmp_path / "runs.db"), "--lease-seconds", "0", cwd=tmp_path,
                      logs=tmp_path / "logs", name="bad")
    assert proc.wait(TIMEOUT) == 2
    err = proc.stderr().strip()
    assert len(err.splitlines()) == 1 and "--lease-seconds" in err, err
    assert not (tmp_path / "runs.db").exists()


def test_the_server_neither_steals_nor_resumes_a_run_a_live_cli_holds(tmp_path: Path) -> None:
    plan = gated_plan(tmp_path)
    db = tmp_path / "runs.db"
    run_id = "held"
    cli = Proc.start("run", plan, "--db", str(db), "--run-id", run_id, "--input", '{seed}="s3"', "--json",
                     cwd=plan.parent, logs=tmp_path / "logs", name="cli")
    srv = Server(plan.parent, ["--db", str(db)], None, tmp_path / "server.log")
    try:
        assert wait_until(cli, lambda: lease_of(db, run_id) is not None, TIMEOUT), cli.stderr()
        srv.start()  # its start-up resumes runs left `running`: not this one, whose holder is alive
        with srv.client() as client:
            resp = client.post(f"/api/runs/{run_id}/resume", json={"mode": "patch"})
            err = error_of(resp, 409)
            assert err["code"] == "run_leased" and f"pid {cli.pid}" in err["message"], err
            assert err["details"]["holder"]["pid"] == cli.pid
            assert err["details"]["holder"]["host"] == socket.gethostname()
            assert lease_of(db, run_id)["pid"] == cli.pid  # untouched
            (plan.parent / "GO-s3").touch()
            assert cli.wait(TIMEOUT) == 0, cli.stderr()
            doc = wait_status(client, run_id)
            assert doc["status"] == "completed" and doc["active"] is False
    finally:
        cli.reap()
        if srv.proc is not None:
            srv.stop()
    assert committed_twice(db, run_id) == []
    assert len(query(db, "SELECT 1 FROM executions WHERE run_id = ?", (run_id,))) == 3  # the CLI's only
    assert lease_of(db, run_id) is None


def test_a_server_restart_takes_over_the_dead_servers_leases(tmp_path: Path) -> None:
    plan = gated_plan(tmp_path)
    db = tmp_path / "runs.db"
    first = Server(plan.parent, ["--db", str(db)], None, tmp_path / "server.log").start()
    try:
        with first.client() as client:
            resp = client.post("/api/runs", json={"plan_id": "slow", "inputs": {"{seed}": "s4"}, "run_id": "srv"})
            assert resp.status_code == 201, resp.text
        dead = first.proc.pid
        assert lease_of(db, "srv")["pid"] == dead
        first.stop(signal.SIGKILL)
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
    (plan.parent / "GO-s4").touch()
    again = Server(plan.parent, ["--db", str(db)], None, tmp_path / "server.log").start(
        "--lease-seconds", "3600")
    try:
        with again.client() as client:
            assert wait_status(client, "srv")["status"] == "completed"
    finally:
        again.stop()
    assert lease_of(db, "srv") is None


def test_the_heartbeat_keeps_the_lease_through_a_step_longer_than_the_lease(tmp_path: Path) -> None:
    plan = gated_plan(tmp_path)
    db, run_id = tmp_path / "runs.db", "long"
    flags = ["--db", str(db), "--lease-seconds", "0.3"]
    first = Proc.start("run", plan, *flags, "--run-id", run_id, "--input", '{seed}="s5"', "--json",
                       cwd=plan.parent, logs=tmp_path / "logs", name="first")
    try:
        assert wait_until(first, lambda: lease_of(db, run_id) is not None, TIMEOUT), first.stderr()
        time.sleep(1.0)  # the first step is still waiting at its gate, several lease lengths later
        second = Proc.start("resume", plan, *flags, "--run-id", run_id, cwd=plan.parent, logs=tmp_path / "logs",
                            name="second")
        try:
            assert second.wait(TIMEOUT) == 2, second.stderr()
        finally:
            second.reap()
        assert f"pid {first.pid}" in second.stderr()
        (plan.parent / "GO-s5").touch()
        assert first.wait(TIMEOUT) == 0, first.stderr()
    finally:
        first.reap()
    assert committed_twice(db, run_id) == []
