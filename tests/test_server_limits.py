"""Limits between tenants of ``ncd-run serve`` (issue 13 rules 6 and 7), through real HTTP on 127.0.0.1.

One server for the module: ``--max-runs 1`` (one slot, so queueing and its order are visible), ``--max-queued-per-owner
3``, ``--allowed-models``, ``--max-calls-per-run 2``, the default ``--max-streams-per-owner`` (16), and the real local
OpenAI-compatible server as its model endpoint. Each test uses its own owners, and leaves no run executing.

Runs of the ``slow`` plan wait for a gate file (``GO-<seed>``), so a test decides when its run progresses; the
order in which runs start is observed through run states, never through times.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from contextlib import ExitStack, closing
from pathlib import Path

import httpx
import pytest
from openai_server import OpenAIServer
from server_support import ROOT, SLOW_PLAN, SLOW_STEPS, Server, db_server, error_of, wait_for, wait_status

OWNERS = ("ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal")
TOKENS = {owner: f"{owner}-token-0123456789abcdef" for owner in OWNERS}
ALLOWED = ("model-small", "model-large")


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plans")
    shutil.copy(ROOT / "tests" / "runtime_plans" / "identity.ncd", root / "identity.ncd")
    shutil.copy(ROOT / "tests" / "runtime_plans" / "llm" / "chain4.ncd", root / "chain4.ncd")
    (root / "slow").mkdir()
    (root / "slow" / "plan.ncd").write_text(SLOW_PLAN)
    (root / "slow" / "steps.py").write_text(SLOW_STEPS)
    return root


@pytest.fixture(scope="module")
def llm():
    with OpenAIServer(lambda request: "an answer") as fake:
        yield fake


@pytest.fixture(scope="module")
def server(plans, llm, tmp_path_factory):
    work = tmp_path_factory.mktemp("server")
    srv = db_server(plans, work, TOKENS, llm.base_url, model="model-small")
    srv.start("--max-queued-per-owner", "3", "--allowed-models", ",".join(ALLOWED), "--max-calls-per-run", "2",
              max_runs=1, per_run_concurrency=1)
    yield srv
    srv.stop()


@pytest.fixture()
def clients(server):
    with ExitStack() as stack:
        yield {owner: stack.enter_context(server.client(token)) for owner, token in TOKENS.items()}


def create(client: httpx.Client, plan_id: str, inputs: dict, **extra) -> dict:
    resp = client.post("/api/runs", json={"plan_id": plan_id, "inputs": inputs, **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()


def health(server: Server) -> dict:
    return httpx.get(server.url + "/healthz", timeout=10).json()


def open_gate(plans: Path, seed: str) -> None:
    (plans / "slow" / f"GO-{seed}").touch()


def raw_stream(server: Server, owner: str, run_id: str) -> socket.socket:
    """A client of the event stream on its own socket, past the response headers (the stream is open)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(f"GET /api/runs/{run_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                 f"Authorization: Bearer {TOKENS[owner]}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return sock


# ---------------------------------------------------------------- rule 6: event streams


def test_stream_ends_when_its_client_goes(server, plans, clients):
    create(clients["ann"], "slow", {"{seed}": "gone"}, run_id="gone-1")
    wait_for(lambda: clients["ann"].get("/api/runs/gone-1").json()["counts"].get("running"), what="a running step")
    base = health(server)["open_streams"]
    socks = [raw_stream(server, "ann", "gone-1") for _ in range(3)]
    wait_for(lambda: health(server)["open_streams"] == base + 3, what="three open streams")
    for sock in socks:
        sock.close()
    # the run is still running (its gate is closed): only the clients' going can end these streams
    wait_for(lambda: health(server)["open_streams"] == base, what="the streams of gone clients to end")
    assert clients["ann"].get("/api/runs/gone-1").json()["status"] == "running"
    open_gate(plans, "gone")
    assert wait_status(clients["ann"], "gone-1")["status"] == "completed"
    assert "socket.send() raised exception" not in server.log.read_text()


def test_seventeenth_stream_of_one_owner_gets_429(server, plans, clients):
    create(clients["ben"], "slow", {"{seed}": "many"}, run_id="many-1")
    with ExitStack() as stack:
        socks = [stack.enter_context(closing(raw_stream(server, "ben", "many-1"))) for _ in range(16)]
        wait_for(lambda: health(server)["open_streams"] >= 16, what="16 open streams")
        refused = clients["ben"].get("/api/runs/many-1/events")
        err = error_of(refused, 429)
        assert err["code"] == "too_many_streams" and "--max-streams-per-owner" in err["message"]
        assert refused.headers["retry-after"].isdigit()
        # the limit is per owner: another owner of the server still gets a stream (here: of its own run)
        create(clients["cat"], "identity", {}, run_id="many-cat")
        with clients["cat"].stream("GET", "/api/runs/many-cat/events") as resp:
            assert resp.status_code == 200
        socks.pop().close()  # one of ben's streams ends: ben may open one again
        wait_for(lambda: health(server)["open_streams"] <= 15, what="a stream to end")
        with clients["ben"].stream("GET", "/api/runs/many-cat/events") as resp:
            assert resp.status_code == 404  # not his run: the limit is not what refuses it
        with clients["ben"].stream("GET", "/api/runs/many-1/events") as resp:
            assert resp.status_code == 200
    open_gate(plans, "many")
    assert wait_status(clients["ben"], "many-1")["status"] == "completed"


# ---------------------------------------------------------------- rule 7: fairness and limits


def test_queue_cap_gives_429_with_retry_after_and_stores_nothing(server, plans, clients):
    dan = clients["dan"]
    create(dan, "slow", {"{seed}": "cap0"}, run_id="cap-0")  # takes the one slot
    wait_for(lambda: dan.get("/api/runs/cap-0").json()["counts"].get("running"), what="cap-0 to start")
    for i in (1, 2, 3):
        assert create(dan, "slow", {"{seed}": f"cap{i}"}, run_id=f"cap-{i}")["queued"] is True
    refused = dan.post("/api/runs", json={"plan_id": "identity", "inputs": {}, "run_id": "cap-4"})
    err = error_of(refused, 429)
    assert err["code"] == "queue_full" and "--max-queued-per-owner" in err["message"]
    assert int(refused.headers["retry-after"]) >= 1
    assert dan.get("/api/runs/cap-4").status_code == 404  # nothing stored for a refused request
    # a fork queues too: refused alike
    assert error_of(dan.post("/api/runs/cap-0/fork", json={"run_id": "cap-fork"}), 429)["code"] == "queue_full"
    # the cap is per owner: another owner still queues
    assert create(clients["eve"], "identity", {}, run_id="cap-eve")["queued"] is True
    for i in range(4):
        open_gate(plans, f"cap{i}")
    for run_id in ("cap-0", "cap-1", "cap-2", "cap-3", "cap-eve"):
        assert wait_status(dan if run_id != "cap-eve" else clients["eve"], run_id)["status"] == "completed"
    create(dan, "identity", {}, run_id="cap-4")  # the backlog drained: accepted again
    assert wait_status(dan, "cap-4")["status"] == "completed"


def test_another_owners_run_starts_before_one_owners_backlog_drains(server, plans, clients):
    fay, gus = clients["fay"], clients["gus"]
    create(fay, "slow", {"{seed}": "fair0"}, run_id="fair-0")
    wait_for(lambda: fay.get("/api/runs/fair-0").json()["counts"].get("running"), what="fair-0 to start")
    for i in (1, 2, 3):
        create(fay, "slow", {"{seed}": f"fair{i}"}, run_id=f"fair-{i}")
    assert create(gus, "identity", {}, run_id="fair-gus")["queued"] is True  # queued after fay's whole backlog
    open_gate(plans, "fair0")  # fair-0 ends: the freed slot goes to gus, not to fay's next run
    assert wait_status(gus, "fair-gus")["status"] == "completed"
    # gus's run finished while fay's next runs could not have (their gates are closed): at most one of them started
    queued = [fay.get(f"/api/runs/fair-{i}").json()["queued"] for i in (1, 2, 3)]
    assert queued.count(True) >= 2, queued
    for i in (1, 2, 3):
        open_gate(plans, f"fair{i}")
    for i in (1, 2, 3):
        assert wait_status(fay, f"fair-{i}")["status"] == "completed"


def test_model_outside_allowed_models_gets_422(server, clients):
    hal = clients["hal"]
    resp = hal.post("/api/runs", json={"plan_id": "identity", "inputs": {}, "run_id": "model-x",
                                       "model": "someone-elses-model"})
    err = error_of(resp, 422)
    assert err["code"] == "model_not_allowed" and "someone-elses-model" in err["message"]
    assert hal.get("/api/runs/model-x").status_code == 404
    doc = create(hal, "identity", {}, run_id="model-ok", model="model-large")
    assert doc["model"] == "model-large"
    assert wait_status(hal, "model-ok")["status"] == "completed"


def test_operator_caps_hold_against_a_request_asking_for_more(server, llm, clients):
    ann = clients["ann"]
    plan = ann.get("/api/plans/chain4").json()
    inputs = {g["name"]: "seed text" for g in plan["ground"]}
    before = len(llm.chat_requests)
    err = error_of(ann.post("/api/runs", json={"plan_id": "chain4", "inputs": inputs, "run_id": "caps-more",
                                               "max_llm_calls": 100}), 422)
    assert err["code"] == "over_operator_cap" and "--max-calls-per-run" in err["message"]
    assert ann.get("/api/runs/caps-more").status_code == 404
    assert len(llm.chat_requests) == before
    # a run that asks nothing gets the cap: 2 of its 4 model steps run, then the budget stops it
    create(ann, "chain4", inputs, run_id="caps-default")
    run = wait_status(ann, "caps-default")
    assert run["status"] == "budget_exhausted", run
    assert len(llm.chat_requests) == before + 2
    # a resume cannot lift it: the run has spent its budget
    assert ann.post("/api/runs/caps-default/resume", json={"mode": "patch"}).status_code == 202
    assert wait_status(ann, "caps-default")["status"] == "budget_exhausted"
    assert len(llm.chat_requests) == before + 2
    # asking less than the cap is honoured
    create(ann, "chain4", inputs, run_id="caps-less", max_llm_calls=1)
    assert wait_status(ann, "caps-less")["status"] == "budget_exhausted"
    assert len(llm.chat_requests) == before + 3


def test_limits_flags_are_checked_at_start(plans, tmp_path):
    for flags, named in ((["--max-streams-per-owner", "0"], "--max-streams-per-owner"),
                         (["--max-queued-per-owner", "-1"], "--max-queued-per-owner"),
                         (["--max-calls-per-run", "-2"], "--max-calls-per-run"),
                         (["--allowed-models", " , "], "--allowed-models")):
        srv = Server(plans, ["--db", str(tmp_path / "bad.db")], None, tmp_path / "bad.log")
        done = subprocess.run([sys.executable, "-m", "runtime.cli", "serve", "--port", str(srv.port),
                               "--plans-dir", str(plans), "--db", str(tmp_path / "bad.db"), *flags],
                              cwd=ROOT, env=srv.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (flags, done.stderr)
        assert named in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "bad.db").exists()  # refused before the store is opened
