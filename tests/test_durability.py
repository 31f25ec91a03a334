"""Durability of finished work (issue 13 rule 12), through real subprocesses and real SQLite files.

* A loop of 40 slow additions (15 ms each) is killed with SIGKILL at random moments and resumed each time. The
  binding appends ``B x`` / ``E x`` to a marker file as it starts and ends (the kernel keeps what a killed process
  wrote). The loop's iterations run one after the other, so once iteration i+1's addition has begun, iteration i's
  is a finished step whose dependents started: it must have been durable and must never run again. Only the
  addition in flight at a kill (the last one begun) may run twice.
* Model calls: a chain of four model-bound steps whose third call hangs is killed once the third request arrives;
  the two answers already returned are durable, and the resume asks the model only for steps three and four.
* Cancelling a queued run on the server is stored at once: after ``kill -9`` and a restart it is not run.
* A second Ctrl-C still ends ``ncd-run`` with exit 130 and the stored status ``interrupted``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from crash_support.harness import Proc, clean_env, integrity, query, try_query, wait_until
from openai_server import Hang, OpenAIServer, Reply
from server_support import SLOW_PLAN, SLOW_STEPS, Server, wait_for, wait_status

TIMEOUT = 60  # seconds any child may take (liveness only)
N = 40

LOOP_PLAN = """\
:<:[sums]
    | %{ref_axes}: [number]
    <= *. %>([numbers]) %<({sum}) %:({number}) %@(1)
        <= $. %>({sum})
        <- {sum}
            <= ::(add a thousand to {1})
                | %{python}: slow_add.py:add
            <- {number}<:{1}>
    <- [numbers]
        | %{is_ground}: true
        | %{ref_axes}: [number]
    <* {number}<$([numbers])*>
"""
SLOW_ADD = '''"""add(): 15 ms, with a marker line as it begins and as it ends (O_APPEND: whole lines, kept after SIGKILL)."""

import os
import time
from pathlib import Path

MARKS = Path(__file__).with_name("marks.log")


def _mark(text):
    fd = os.open(MARKS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{text}\\n".encode())
    finally:
        os.close(fd)


def add(x):
    _mark(f"B {x}")
    time.sleep(0.015)
    _mark(f"E {x}")
    return int(x) + 1000
'''


def marks(plan_dir: Path) -> list[tuple[str, int]]:
    path = plan_dir / "marks.log"
    if not path.exists():
        return []
    return [(kind, int(x)) for kind, x in (line.split() for line in path.read_text().splitlines())]


def begun(plan_dir: Path) -> int:
    return sum(1 for kind, _ in marks(plan_dir) if kind == "B")


@pytest.mark.parametrize("seed", [12, 34])
def test_finished_slow_steps_never_run_again_after_kill_9(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    plan_dir = tmp_path / "plan"
    plan_dir.mkdir()
    (plan_dir / "loop.ncd").write_text(LOOP_PLAN)
    (plan_dir / "slow_add.py").write_text(SLOW_ADD)
    db, run_id = tmp_path / "runs.db", "adds"
    common = ["--db", str(db), "--run-id", run_id, "--json"]
    allowed = Counter()  # per number: re-executions a kill may cause (it was the one in flight)
    kills = 0
    for round_ in range(5):
        verb = ["resume", plan_dir / "loop.ncd"] if round_ else [
            "run", plan_dir / "loop.ncd", "--input", f"[numbers]={json.dumps(list(range(1, N + 1)))}"]
        proc = Proc.start(*verb, *common, cwd=tmp_path, logs=tmp_path / "logs", name=f"round-{round_}")
        try:
            target = begun(plan_dir) + rng.randint(2, 7)
            wait_until(proc, lambda: begun(plan_dir) >= target, TIMEOUT)
            time.sleep(rng.uniform(0, 0.02))  # anywhere inside a step, or between two
            killed = proc.signal(signal.SIGKILL)
            rc = proc.wait(TIMEOUT)
        finally:
            proc.reap()
        if not killed or rc != -signal.SIGKILL:
            assert rc == 0, proc.stderr()
            break
        kills += 1
        assert integrity(db) == "ok"
        starts = [x for kind, x in marks(plan_dir) if kind == "B"]
        if starts:
            allowed[starts[-1]] += 1  # the last one begun: its dependents cannot have started
    else:
        proc = Proc.start("resume", plan_dir / "loop.ncd", *common, cwd=tmp_path, logs=tmp_path / "logs",
                          name="final")
        try:
            assert proc.wait(TIMEOUT) == 0, proc.stderr()
        finally:
            proc.reap()
    assert kills >= 2, "the runs must have been killed mid-loop"
    doc = json.loads(proc.stdout())
    assert doc["outcome"] == "completed" and json.dumps(doc["final"]["[sums]"]["data"]) == json.dumps(
        [[1000 + n] for n in range(1, N + 1)]), doc
    runs = Counter(x for kind, x in marks(plan_dir) if kind == "B")
    assert set(runs) == set(range(1, N + 1))
    again = {x: n - 1 for x, n in runs.items() if n > 1}
    assert all(n <= allowed[x] for x, n in again.items()), (
        f"finished additions ran again after a kill: {again}; only the one in flight may ({dict(allowed)})")
    assert sum(runs.values()) <= N + kills


def test_answered_model_calls_are_durable_before_the_next_step_starts(tmp_path: Path) -> None:
    plan = Path(__file__).parent / "runtime_plans" / "llm" / "chain4.ncd"
    db = tmp_path / "runs.db"
    with OpenAIServer(lambda body: "an answer") as server:
        env = {**clean_env(), "NCD_LLM_MODEL": "test-model", "NCD_LLM_BASE_URL": server.base_url,
               "NCD_LLM_API_KEY": "test-key"}
        server.script(Reply(), Reply(), Hang(30))  # steps one and two answer, step three waits
        args = [sys.executable, "-m", "runtime.cli", "run", str(plan), "--input", '{seed}="s"', "--db", str(db),
                "--run-id", "chain", "--json"]
        with open(tmp_path / "run.err", "wb") as err:
            proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_for(lambda: len(server.chat_requests) >= 3 or proc.poll() is not None, TIMEOUT, "step three")
            os.kill(proc.pid, signal.SIGKILL)  # the moment step three started: step two's answer was returned
            assert proc.wait(TIMEOUT) == -signal.SIGKILL, (tmp_path / "run.err").read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(TIMEOUT)
        assert [r[0] for r in query(db, "SELECT status FROM llm_calls WHERE run_id = 'chain' ORDER BY call_id")] \
            == ["ok", "ok"]
        resumed = subprocess.run([*args[:3], "resume", str(plan), "--db", str(db), "--run-id", "chain", "--json"],
                                 cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        assert resumed.returncode == 0, resumed.stderr
        asked = [m["content"] for body in server.chat_requests for m in body["messages"] if m["role"] == "user"]
    steps = [next(w for w in ("one", "two", "three", "four") if f"step {w} on" in text) for text in asked]
    assert steps == ["one", "two", "three", "three", "four"], steps  # only the call in flight is asked again


def test_a_cancelled_queued_run_stays_cancelled_after_kill_9(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "slow.ncd").write_text(SLOW_PLAN)
    (plans / "steps.py").write_text(SLOW_STEPS)
    db = tmp_path / "runs.db"
    srv = Server(plans, ["--db", str(db)], None, tmp_path / "server.log").start(max_runs=1)
    try:
        with srv.client() as client:
            for rid, seed in (("first", "a"), ("queued", "b")):
                resp = client.post("/api/runs", json={"plan_id": "slow", "inputs": {"{seed}": seed}, "run_id": rid})
                assert resp.status_code == 201, resp.text
            assert client.get("/api/runs/queued").json()["queued"] is True  # one slot, taken by `first`
            assert client.post("/api/runs/queued/cancel", json={}).status_code == 202
        # stored at once, before anything else happens to the server
        wait_for(lambda: query(db, "SELECT status FROM runs WHERE run_id = 'queued'")[0][0] == "interrupted",
                 what="the cancel to be stored")
        srv.stop(signal.SIGKILL)
    finally:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.proc.kill()
    (plans / "GO-a").touch()
    (plans / "GO-b").touch()
    again = Server(plans, ["--db", str(db)], None, tmp_path / "server.log").start(max_runs=1)
    try:
        with again.client() as client:
            assert wait_status(client, "first")["status"] == "completed"
            doc = client.get("/api/runs/queued").json()
            assert doc["status"] == "interrupted" and doc["active"] is False, doc
    finally:
        again.stop()
    assert query(db, "SELECT count(*) FROM executions WHERE run_id = 'queued'")[0][0] == 0
    reasons = json.loads(query(db, "SELECT outcome_json FROM runs WHERE run_id = 'queued'")[0][0])["reasons"]
    assert reasons == [{"reason": "cancelled"}]


@pytest.mark.parametrize("gap", [0.02, 0.3])
def test_a_second_ctrl_c_still_records_interrupted_and_exits_130(tmp_path: Path, gap: float) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "slow.ncd").write_text(SLOW_PLAN)
    (plans / "steps.py").write_text(SLOW_STEPS)
    db = tmp_path / "runs.db"
    proc = Proc.start("run", plans / "slow.ncd", "--db", str(db), "--run-id", "ctrlc", "--input", '{seed}="c"',
                      cwd=tmp_path, logs=tmp_path / "logs", name="ctrlc")
    try:
        assert wait_until(proc, lambda: bool(try_query(
            db, "SELECT 1 FROM executions WHERE run_id = 'ctrlc' AND status = 'running'")), TIMEOUT), proc.stderr()
        proc.signal(signal.SIGINT)
        time.sleep(gap)
        proc.signal(signal.SIGINT)
        rc = proc.wait(TIMEOUT)
    finally:
        (plans / "GO-c").touch()  # never leave a binding waiting
        proc.reap()
    assert rc == 130, proc.stderr()
    assert "Traceback" not in proc.stderr(), proc.stderr()
    assert query(db, "SELECT status FROM runs WHERE run_id = 'ctrlc'")[0][0] == "interrupted"
    assert try_query(db, "SELECT 1 FROM run_leases WHERE run_id = 'ctrlc'") == []
