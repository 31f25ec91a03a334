"""``ncd-run serve`` through real HTTP: uvicorn on 127.0.0.1 in a subprocess, requests with httpx (issue #8).

Two servers per module: one with a token file and ``--db`` (every endpoint, every error path, token isolation,
live events, cancel/resume/fork, a crashed run next to healthy ones), one open with ``--runs-dir`` (owner NULL,
graceful shutdown leaves a resumable ``interrupted`` run that is not resumed behind the user's back).

The plans directory holds the addition example, small plans of tests/runtime_plans, a broken plan, and ``slow/``:
three chained steps whose binding waits until the file ``GO-<seed>`` exists next to it, so the tests decide when
a run may progress (no sleeps standing in for synchronisation).
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from openai_server import OpenAIServer
from server_support import (
    ROOT,
    SLOW_PLAN,
    SLOW_STEPS,
    Server,
    db_counts,
    error_of,
    read_events,
    wait_for,
    wait_status,
)

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-fedcba9876543210xyz"
ADDITION = {"{number a}": "ffff", "{number b}": "1", "{base}": 16}

# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plans")
    shutil.copytree(ROOT / "examples" / "base_x_addition", root / "base_x_addition")
    for name in ("identity.ncd", "fails.ncd", "gate.ncd", "fns.py"):
        shutil.copy(ROOT / "tests" / "runtime_plans" / name, root / name)
    shutil.copy(ROOT / "tests" / "runtime_plans" / "llm" / "one.ncd", root / "summarize.ncd")
    (root / "slow").mkdir()
    (root / "slow" / "plan.ncd").write_text(SLOW_PLAN)
    (root / "slow" / "steps.py").write_text(SLOW_STEPS)
    (root / "broken.ncd").write_text(":<:{x}\n    <= ::(nothing\n")
    (root / "notes.txt").write_text("not a plan")
    return root


@pytest.fixture(scope="module")
def llm():
    with OpenAIServer(lambda request: "a short summary") as fake:
        yield fake


@pytest.fixture(scope="module")
def server(plans, llm, tmp_path_factory):
    work = tmp_path_factory.mktemp("server")
    tokens = work / "tokens.txt"
    tokens.write_text(f"# token owner\n{ALICE} alice\n\n{BOB} bob\n")
    srv = Server(plans, ["--db", str(work / "runs.db")], tokens, work / "server.log",
                 env={"NCD_LLM_BASE_URL": llm.base_url, "NCD_LLM_API_KEY": "test-key"}).start()
    srv.db = work / "runs.db"
    yield srv
    srv.stop()


@pytest.fixture()
def alice(server):
    with server.client(ALICE) as c:
        yield c


@pytest.fixture()
def bob(server):
    with server.client(BOB) as c:
        yield c


def create(client: httpx.Client, plan_id: str, inputs: dict, **extra) -> dict:
    resp = client.post("/api/runs", json={"plan_id": plan_id, "inputs": inputs, **extra})
    assert resp.status_code == 201, resp.text
    doc = resp.json()
    assert resp.headers["location"] == f"/api/runs/{doc['run_id']}"
    return doc


# ---------------------------------------------------------------- server, page, OpenAPI


def test_healthz_openapi_and_page(server):
    with server.client() as anon:
        health = anon.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        spec = anon.get("/openapi.json").json()
        paths = spec["paths"]
        for path, method in [("/api/runs", "post"), ("/api/runs", "get"), ("/api/runs/{run_id}", "get"),
                             ("/api/runs/{run_id}/result", "get"), ("/api/runs/{run_id}/cancel", "post"),
                             ("/api/runs/{run_id}/resume", "post"), ("/api/runs/{run_id}/fork", "post"),
                             ("/api/runs/{run_id}/events", "get"), ("/api/plans", "get"),
                             ("/api/plans/{plan_id}", "get"), ("/healthz", "get")]:
            assert method in paths[path], (path, method)
        assert "201" in paths["/api/runs"]["post"]["responses"]
        assert "text/event-stream" in paths["/api/runs/{run_id}/events"]["get"]["responses"]["200"]["content"]
        assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        assert anon.get("/docs").status_code == 200
        page = anon.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "/static/app.js" in page.text
        script = anon.get("/static/app.js")
        assert script.status_code == 200
        assert "/events" in script.text and "text/event-stream" in script.text
        assert "Authorization" in script.text  # the token travels in a header, never in the URL
        assert anon.get("/static/style.css").status_code == 200
        error_of(anon.get("/no/such/page"), 404)


# ---------------------------------------------------------------- plans


def test_plans(alice):
    plans = {p["plan_id"]: p for p in alice.get("/api/plans").json()["plans"]}
    assert {"base_x_addition", "identity", "fails", "gate", "slow", "broken"} <= set(plans)
    assert "notes" not in plans
    assert plans["broken"]["ok"] is False and plans["broken"]["error"]
    addition = plans["base_x_addition"]
    assert addition["ok"] and addition["kind"] == "ncd" and addition["plan_hash"].startswith("sha256:")
    assert addition["inference_count"] > 5
    required = {g["name"] for g in addition["ground"] if g["required"]}
    assert required == {"{number a}", "{number b}", "{base}"}
    detail = alice.get("/api/plans/base_x_addition").json()
    assert detail["final_concepts"] == ["{sum}"]
    flows = [i["flow_index"] for i in detail["inferences"]]
    assert flows[0] == "1" and len(flows) == len(set(flows)) > 5
    kinds = {n["kind"] for n in detail["graph"]["nodes"]}
    assert kinds == {"inference", "concept"}
    node_ids = {n["id"] for n in detail["graph"]["nodes"]}
    assert all(e["from"] in node_ids and e["to"] in node_ids for e in detail["graph"]["edges"])
    assert {"reads", "writes", "depends"} <= {e["kind"] for e in detail["graph"]["edges"]}
    assert error_of(alice.get("/api/plans/nope"), 404)["code"] == "plan_not_found"
    error_of(alice.get("/api/plans/..bad"), 422)


# ---------------------------------------------------------------- a run end to end


def test_run_lifecycle(alice, server):
    doc = create(alice, "base_x_addition", ADDITION, run_id="add-1")
    assert doc["run_id"] == "add-1" and doc["status"] == "running" and doc["owner"] == "alice"
    assert doc["plan_id"] == "base_x_addition"
    run = wait_status(alice, "add-1")
    assert run["status"] == "completed" and run["outcome"]["executed"] == 24
    assert run["counts"] == {"completed": 24} and len(run["steps"]) == 24
    assert all(s["status"] == "completed" for s in run["steps"])
    assert run["usage"]["total"]["calls"] == 0
    result = alice.get("/api/runs/add-1/result").json()
    assert result == {"run_id": "add-1", "outcome": "completed", "final": {
        "{sum}": {"axes": ["_none_axis"], "data": ["10000"]}}, "cycles": result["cycles"], "executed": 24,
        "reasons": []}
    # a late subscriber gets every event from the store, then the end
    events = read_events(alice, "add-1")
    steps = [d for k, d in events if k == "message"]
    assert events[-1][0] == "end" and events[-1][1]["status"] == "completed"
    items = [d for d in steps if d["kind"] == "item"]
    assert len(items) == 24 and [d["n"] for d in steps] == list(range(1, len(steps) + 1))
    assert {d["flow_index"] for d in items} == {s["flow_index"] for s in run["steps"]}
    # Last-Event-ID: only later events
    again = read_events(alice, "add-1", headers={"Last-Event-ID": str(len(steps) - 2)})
    assert [d["n"] for k, d in again if k == "message"] == [len(steps) - 1, len(steps)]
    # stored with its owner (RUNTIME §8.2)
    with closing(sqlite3.connect(f"file:{server.db}?mode=ro", uri=True)) as conn:
        assert conn.execute("SELECT owner FROM runs WHERE run_id = 'add-1'").fetchone() == ("alice",)


def test_model_runs_and_usage(alice, llm):
    err = error_of(alice.post("/api/runs", json={"plan_id": "summarize", "inputs": {"{notes}": "n"}}), 422)
    assert err["code"] == "invalid_run" and "model" in err["message"]  # no model configured, none given
    doc = create(alice, "summarize", {"{notes}": "meeting notes"}, model="test-model", run_id="llm-1")
    assert doc["model"] == "test-model"
    run = wait_status(alice, "llm-1")
    assert run["status"] == "completed", run["outcome"]
    usage = run["usage"]
    assert usage["total"]["calls"] == 1 and usage["total"]["total_tokens"] > 0
    assert set(usage["by_model"]) == {"test-model"}
    assert [r["model"] for r in llm.chat_requests] == ["test-model"]
    assert alice.get("/api/runs/llm-1/result").json()["final"]["{summary}"]["data"] == ["a short summary"]


def test_list_runs_filters(alice):
    create(alice, "identity", {}, run_id="ident-1")
    wait_status(alice, "ident-1")
    listed = alice.get("/api/runs").json()
    ids = [r["run_id"] for r in listed["runs"]]
    assert "ident-1" in ids and listed["total"] == len(ids)
    by_plan = alice.get("/api/runs", params={"plan_id": "identity"}).json()["runs"]
    assert by_plan and all(r["plan_id"] == "identity" for r in by_plan)
    done = alice.get("/api/runs", params={"status": "completed"}).json()["runs"]
    assert "ident-1" in [r["run_id"] for r in done] and all(r["status"] == "completed" for r in done)
    assert alice.get("/api/runs", params={"status": "failed", "plan_id": "identity"}).json()["runs"] == []
    page = alice.get("/api/runs", params={"limit": 1}).json()
    assert len(page["runs"]) == 1 and page["total"] >= 1 and page["limit"] == 1
    error_of(alice.get("/api/runs", params={"status": "sleeping"}), 422)
    error_of(alice.get("/api/runs", params={"limit": 0}), 422)
    error_of(alice.get("/api/runs", params={"plan_id": "../x"}), 422)


# ---------------------------------------------------------------- bad input: 4xx, JSON error, nothing written


def test_rejected_requests_write_nothing(alice, server):
    create(alice, "identity", {}, run_id="taken")
    wait_status(alice, "taken")
    before = db_counts(server.db)
    runs_before = alice.get("/api/runs").json()["total"]

    def post(body, status, **kw):
        kw.setdefault("headers", {"Content-Type": "application/json"})
        data = body if isinstance(body, (bytes, str)) or hasattr(body, "__next__") else json.dumps(body)
        return error_of(alice.post("/api/runs", content=data, **kw), status)

    assert post({"plan_id": "nope", "inputs": {}}, 422)["code"] == "unknown_plan"
    assert "broken" in post({"plan_id": "broken", "inputs": {}}, 422)["message"]
    err = post({"plan_id": "base_x_addition", "inputs": {**ADDITION, "{bogus}": 1}}, 422)
    assert err["code"] == "unknown_input" and "{bogus}" in err["message"]
    err = post({"plan_id": "base_x_addition", "inputs": {**ADDITION, "{sum}": "1"}}, 422)
    assert err["code"] == "unknown_input" and "{sum}" in err["message"] and "produced" in err["message"]
    err = post({"plan_id": "base_x_addition", "inputs": {"{number a}": "1"}}, 422)
    assert err["code"] == "missing_input" and "{base}" in err["message"] and "{number b}" in err["message"]
    err = post({"plan_id": "base_x_addition", "inputs": {**ADDITION, "{base}": {"data": 1, "axes": "x"}}}, 422)
    assert err["code"] == "invalid_input" and "{base}" in err["message"]
    assert post({"plan_id": "identity"}, 422)["code"] == "invalid_request"  # inputs missing
    assert "inputs" in post({"plan_id": "identity", "inputs": [1]}, 422)["message"]
    assert "extra" in post({"plan_id": "identity", "inputs": {}, "extra": 1}, 422)["message"]
    assert "run_id" in post({"plan_id": "identity", "inputs": {}, "run_id": "../evil"}, 422)["message"]
    assert "run_id" in post({"plan_id": "identity", "inputs": {}, "run_id": "a/b"}, 422)["message"]
    assert post({"plan_id": "identity", "inputs": {}, "run_id": "taken"}, 409)["code"] == "run_id_unavailable"
    assert post(b'{"plan_id": "identity", "inputs": {', 400)["code"] == "malformed_json"
    assert post(b"\xff\xfe", 400)["code"] == "malformed_json"
    assert post(b"[" * 100000 + b"]" * 100000, 400)["code"] == "malformed_json"  # nesting beyond the parser
    assert post([1, 2], 422)["code"] == "invalid_request"
    assert post("null", 422)["code"] == "invalid_request"
    big = {"plan_id": "identity", "inputs": {"{original}": "x" * (1 << 20)}}
    assert post(big, 413)["code"] == "body_too_large"

    def chunks():
        for _ in range(70):
            yield b" " * 16384

    assert post(chunks(), 413)["code"] == "body_too_large"  # chunked: counted, not declared
    body = json.dumps({"plan_id": "identity", "inputs": {}})
    assert post(body, 415, headers={"Content-Type": "text/plain"})["code"] == "unsupported_media_type"
    # bad ids and bodies on the other endpoints
    error_of(alice.get("/api/runs/..x"), 422)
    error_of(alice.get("/api/runs/" + "a" * 200), 422)
    error_of(alice.post("/api/runs/taken/resume", json={"mode": "sideways"}), 422)
    error_of(alice.post("/api/runs/taken/resume", json={}), 422)
    error_of(alice.post("/api/runs/taken/resume", json={"mode": "patch", "cycle": -1}), 422)
    error_of(alice.post("/api/runs/taken/resume", json={"mode": "patch", "cycle": "1"}), 422)
    error_of(alice.post("/api/runs/taken/fork", json={"run_id": "../x"}), 422)
    error_of(alice.post("/api/runs/taken/fork", content=b"{", headers={"Content-Type": "application/json"}), 400)
    error_of(alice.delete("/api/runs/taken"), 405)
    # nothing was written
    assert db_counts(server.db) == before
    assert alice.get("/api/runs").json()["total"] == runs_before


# ---------------------------------------------------------------- tokens


def test_token_isolation(server, alice, bob):
    with server.client() as anon:
        err = error_of(anon.get("/api/runs"), 401)
        assert err["code"] == "unauthorized"
        assert anon.get("/api/runs").headers["www-authenticate"].startswith("Bearer")
        error_of(anon.post("/api/runs", json={"plan_id": "identity", "inputs": {}}), 401)
        error_of(anon.get("/api/plans"), 401)
    with server.client("not-a-token-of-this-server") as stranger:
        error_of(stranger.get("/api/runs"), 401)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Basic {ALICE}"}) as basic:
        error_of(basic.get("/api/runs"), 401)
    create(alice, "identity", {}, run_id="alice-own")
    wait_status(alice, "alice-own")
    mine = create(bob, "identity", {}, run_id="bob-own")
    assert mine["owner"] == "bob"
    wait_status(bob, "bob-own")
    assert bob.get("/api/plans").status_code == 200  # plans are shared
    missing = error_of(bob.get("/api/runs/no-such-run"), 404)
    other = error_of(bob.get("/api/runs/alice-own"), 404)
    assert other["code"] == missing["code"] == "run_not_found"
    assert other["message"] == missing["message"].replace("no-such-run", "alice-own")
    error_of(bob.get("/api/runs/alice-own/result"), 404)
    error_of(bob.get("/api/runs/alice-own/events"), 404)
    error_of(bob.post("/api/runs/alice-own/cancel", headers={"Content-Type": "application/json"}), 404)
    error_of(bob.post("/api/runs/alice-own/resume", json={"mode": "patch"}), 404)
    error_of(bob.post("/api/runs/alice-own/fork", json={}), 404)
    bob_ids = {r["run_id"] for r in bob.get("/api/runs").json()["runs"]}
    alice_ids = {r["run_id"] for r in alice.get("/api/runs").json()["runs"]}
    assert "bob-own" in bob_ids and "alice-own" not in bob_ids
    assert "alice-own" in alice_ids and "bob-own" not in alice_ids
    assert all(r["owner"] == "bob" for r in bob.get("/api/runs").json()["runs"])
    error_of(alice.get("/api/runs/bob-own"), 404)


# ---------------------------------------------------------------- live events, cancel, resume


def test_cancel_resume_and_live_events(alice, plans):
    gate = plans / "slow" / "GO-c1"
    create(alice, "slow", {"{seed}": "c1"}, run_id="slow-c1")
    live: list[tuple[str, dict]] = []
    reader = threading.Thread(target=lambda: live.extend(read_events(alice, "slow-c1")), daemon=True)
    reader.start()
    wait_for(lambda: alice.get("/api/runs/slow-c1").json()["counts"].get("running"), what="the first step")
    error_of(alice.get("/api/runs/slow-c1/result"), 409)
    error_of(alice.post("/api/runs/slow-c1/resume", json={"mode": "patch"}), 409)
    cancel = alice.post("/api/runs/slow-c1/cancel", headers={"Content-Type": "application/json"})
    assert cancel.status_code == 202 and cancel.json()["run_id"] == "slow-c1"
    gate.touch()  # the running step may finish; nothing new starts
    run = wait_status(alice, "slow-c1")
    assert run["status"] == "interrupted"
    reader.join(10)
    assert live and live[-1][0] == "end" and live[-1][1]["status"] == "interrupted"
    first = [d for k, d in live if k == "message"]
    assert [(d["flow_index"], d["status"]) for d in first] == [("1.2.2", "completed")]
    # a step's state changes, in order: it starts (an `attempt` event, no id), then its result
    changes = [(k, d["flow_index"], d["status"]) for k, d in live if k != "end"]
    assert changes == [("attempt", "1.2.2", "running"), ("message", "1.2.2", "completed")]
    started = next(d for k, d in live if k == "attempt")
    assert started["attempt"] == 1 and started["cell"] == [0] and "n" not in started
    assert alice.get("/api/runs/slow-c1/result").json()["outcome"] == "interrupted"
    assert error_of(alice.post("/api/runs/slow-c1/cancel", json={}), 409)["code"] == "run_not_active"
    resumed = alice.post("/api/runs/slow-c1/resume", json={"mode": "patch"})
    assert resumed.status_code == 202 and resumed.json()["run_id"] == "slow-c1"
    run = wait_status(alice, "slow-c1")
    assert run["status"] == "completed" and run["parent_run_id"] is None
    assert alice.get("/api/runs/slow-c1/result").json()["final"]["{c}"]["data"] == ["c1+++"]
    events = read_events(alice, "slow-c1")
    assert [d["flow_index"] for k, d in events if k == "message"] == ["1.2.2", "1.2", "1"]
    assert [d["n"] for k, d in events if k == "message"] == [1, 2, 3]


def test_queued_run_cancelled_before_it_starts(alice, plans):
    # --max-runs 3: three blocked runs fill the pool, a fourth waits in the queue
    seeds = ["q1", "q2", "q3"]
    for seed in seeds:
        create(alice, "slow", {"{seed}": seed}, run_id=f"slow-{seed}")
    assert create(alice, "identity", {}, run_id="queued-1")["queued"] is True
    assert alice.get("/api/runs/queued-1").json()["queued"] is True
    assert alice.get("/healthz").json()["queued_runs"] >= 1
    assert alice.post("/api/runs/queued-1/cancel", headers={"Content-Type": "application/json"}).status_code == 202
    for seed in seeds:
        (plans / "slow" / f"GO-{seed}").touch()
    assert wait_status(alice, "queued-1")["status"] == "interrupted"
    for seed in seeds:
        assert wait_status(alice, f"slow-{seed}")["status"] == "completed"
    assert alice.post("/api/runs/queued-1/resume", json={"mode": "patch"}).status_code == 202
    assert wait_status(alice, "queued-1")["status"] == "completed"


def test_fork(alice):
    create(alice, "base_x_addition", ADDITION, run_id="fork-src")
    wait_status(alice, "fork-src")
    resp = alice.post("/api/runs/fork-src/fork", json={"cycle": 3, "run_id": "fork-1"})
    assert resp.status_code == 201, resp.text
    doc = resp.json()
    assert doc["run_id"] == "fork-1" and doc["parent_run_id"] == "fork-src" and doc["owner"] == "alice"
    run = wait_status(alice, "fork-1")
    assert run["status"] == "completed"
    assert alice.get("/api/runs/fork-1/result").json()["final"] == alice.get("/api/runs/fork-src/result").json()[
        "final"]
    # a fork without a body: from the latest checkpoint, a fresh id
    latest = alice.post("/api/runs/fork-src/fork", headers={"Content-Type": "application/json"})
    assert latest.status_code == 201 and latest.json()["parent_run_id"] == "fork-src"
    assert wait_status(alice, latest.json()["run_id"])["status"] == "completed"
    assert error_of(alice.post("/api/runs/fork-src/fork", json={"run_id": "fork-1"}), 409)["code"] \
        == "run_id_unavailable"
    assert "checkpoint" in error_of(alice.post("/api/runs/fork-src/fork", json={"cycle": 999}), 422)["message"]
    assert error_of(alice.post("/api/runs/fork-src/fork", json={"plan_id": "nope"}), 422)["code"] == "unknown_plan"
    # a resume from an earlier checkpoint forks (RUNTIME §9.1): 201 and a new id
    resumed = alice.post("/api/runs/fork-src/resume", json={"mode": "patch", "cycle": 4})
    assert resumed.status_code == 201 and resumed.json()["run_id"] != "fork-src"
    assert resumed.json()["parent_run_id"] == "fork-src"
    assert wait_status(alice, resumed.json()["run_id"])["status"] == "completed"
    forks = alice.get("/api/runs", params={"parent_run_id": "fork-src"}).json()["runs"]
    assert len(forks) == 3


def test_failing_run_does_not_affect_others(alice, plans):
    create(alice, "slow", {"{seed}": "iso"}, run_id="iso-slow")
    create(alice, "fails", {}, run_id="iso-fails")
    create(alice, "identity", {}, run_id="iso-ident")
    failed = wait_status(alice, "iso-fails")
    assert failed["status"] == "failed" and failed["counts"].get("failed") == 1
    reasons = alice.get("/api/runs/iso-fails/result").json()["reasons"]
    assert any(r.get("kind") == "executor_error" for r in reasons)
    assert wait_status(alice, "iso-ident")["status"] == "completed"
    assert alice.get("/api/runs/iso-slow").json()["status"] == "running"
    (plans / "slow" / "GO-iso").touch()
    assert wait_status(alice, "iso-slow")["status"] == "completed"
    assert alice.get("/api/runs/iso-slow/result").json()["final"]["{c}"]["data"] == ["iso+++"]


# ---------------------------------------------------------------- open server, graceful shutdown


def test_open_server_and_graceful_shutdown(plans, tmp_path):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    srv = Server(plans, ["--runs-dir", str(runs_dir)], None, tmp_path / "open.log").start()
    try:
        with srv.client() as c:
            doc = create(c, "identity", {}, run_id="open-1")
            assert doc["owner"] is None
            assert wait_status(c, "open-1")["status"] == "completed"
            assert (runs_dir / "open-1" / "run.db").is_file()
            create(c, "slow", {"{seed}": "shut"}, run_id="open-slow")
            wait_for(lambda: c.get("/api/runs/open-slow").json()["counts"].get("running"), what="a running step")
        live: list[tuple[str, dict]] = []
        watcher = srv.client()
        opened = threading.Event()
        reader = threading.Thread(target=lambda: live.extend(read_events(watcher, "open-slow", opened=opened)),
                                  daemon=True)
        reader.start()
        assert opened.wait(10)  # subscribed before the shutdown
    finally:
        srv.proc.send_signal(signal.SIGTERM)
        # the signal cancels the run at once (logged); only then may its running step finish
        wait_for(lambda: "cancelling 1 active run" in srv.log.read_text(), what="the shutdown to cancel the run")
        (plans / "slow" / "GO-shut").touch()
        assert srv.stop() == 0
    reader.join(10)
    watcher.close()
    assert live[-1][0] == "end" and live[-1][1]["status"] == "interrupted"  # the stream ended with the run
    with closing(sqlite3.connect(f"file:{runs_dir / 'open-slow' / 'run.db'}?mode=ro", uri=True)) as conn:
        assert conn.execute("SELECT status FROM runs WHERE run_id = 'open-slow'").fetchone() == ("interrupted",)
    again = Server(plans, ["--runs-dir", str(runs_dir)], None, tmp_path / "open2.log").start()
    try:
        with again.client() as c:
            assert c.get("/api/runs/open-slow").json()["status"] == "interrupted"  # not resumed by itself
            assert c.post("/api/runs/open-slow/resume", json={"mode": "patch"}).status_code == 202
            assert wait_status(c, "open-slow")["status"] == "completed"
            assert c.get("/api/runs/open-slow/result").json()["final"]["{c}"]["data"] == ["shut+++"]
            assert {r["run_id"] for r in c.get("/api/runs").json()["runs"]} == {"open-1", "open-slow"}
    finally:
        again.stop()
