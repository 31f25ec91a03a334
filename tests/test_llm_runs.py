"""Model-bound plans end to end (issue 7; RUNTIME §1, §6, §8.4, §10): real ``ncd-run`` subprocesses, the real
``openai`` client, a real local OpenAI-compatible HTTP server (tests/openai_server.py), real SQLite files.

Nothing is mocked. Every plan in tests/runtime_plans/llm/ has semantic steps with no Python binding and no
paradigm, so every step goes to the model (§10.6 rule 5). Each subprocess gets an environment without NCD_LLM_* /
OPENAI_* unless the test sets them, and a ``--db`` under ``tmp_path``. The concurrency tests print their measured
ratios (visible under ``pytest -s``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from openai_server import Hang, Malformed, OpenAIServer, Reply, Status

PLANS = Path(__file__).parent / "runtime_plans" / "llm"
KEY = "sk-test-SECRET-5d1c0ffee"
MODEL = "test-model"
LATENCY = 0.3   # seconds the slow server takes per answer in the concurrency tests
FAST_RETRY = ("--backoff-base", "0.01", "--backoff-max", "0.02")


# ---------------------------------------------------------------- helpers


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def model_env(server: OpenAIServer, **extra: str) -> dict[str, str]:
    return {"NCD_LLM_MODEL": MODEL, "NCD_LLM_BASE_URL": server.base_url, "NCD_LLM_API_KEY": KEY, **extra}


def ncd(*args: Any, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=clean_env(env), timeout=timeout, check=False)


def timed(*args: Any, cwd: Path, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    proc = ncd(*args, cwd=cwd, env=env)
    return time.monotonic() - started, proc


def result(proc: subprocess.CompletedProcess, exit_code: int = 0) -> dict[str, Any]:
    assert proc.returncode == exit_code, f"exit {proc.returncode}, expected {exit_code}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def query(db: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql, params)]


def llm_calls(db: Path, run_id: str) -> list[dict[str, Any]]:
    return query(db, "SELECT * FROM llm_calls WHERE run_id = ? ORDER BY call_id", run_id)


def user_message(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def input_block(body: dict[str, Any]) -> str:
    match = re.search(r"<input_1>\n(.*?)\n</input_1>", user_message(body), re.DOTALL)
    return match.group(1) if match else ""


def echo(body: dict[str, Any]) -> str:
    """An answer that depends only on the step's input, never on the instruction wording."""
    return f"re[{input_block(body)}]"


def words(body: dict[str, Any]) -> int:
    """The test server's prompt token count: words of every message."""
    return sum(len(str(m.get("content") or "").split()) for m in body["messages"])


class InFlight:
    """A responder that holds each request ``delay`` seconds and measures how many were answered at once."""

    def __init__(self, delay: float, answer: Any = echo) -> None:
        self.delay, self.answer = delay, answer
        self.now = self.peak = 0
        self.first_in: float | None = None
        self.last_out = 0.0
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> str:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            if self.first_in is None:
                self.first_in = time.monotonic()
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
            self.last_out = time.monotonic()
        return self.answer(body)

    @property
    def span(self) -> float:
        """Seconds from the first request received to the last answer sent (the model side's critical path)."""
        return self.last_out - (self.first_in or self.last_out)


@pytest.fixture
def server():
    with OpenAIServer(echo) as s:
        yield s


# ---------------------------------------------------------------- 1. configuration and secrets


def test_no_model_configured_refuses_before_the_first_step(tmp_path):
    db = tmp_path / "runs.db"
    # a key or a base URL alone is not a model: still no silent mock
    for env in ({}, {"OPENAI_API_KEY": KEY}, {"NCD_LLM_BASE_URL": "http://127.0.0.1:9/v1"}):
        proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", db, "--json", cwd=tmp_path, env=env)
        assert proc.returncode == 2, proc
        assert proc.stdout == "" and "Traceback" not in proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert line.startswith("ncd-run: ") and "needs a language model" in line and "{summary}" in line
        assert "NCD_LLM_MODEL" in line and "--llm-model" in line and KEY not in line
    if db.exists():  # nothing ran, nothing was recorded
        assert query(db, "SELECT count(*) AS n FROM runs")[0]["n"] == 0
        assert query(db, "SELECT count(*) AS n FROM executions")[0]["n"] == 0


def test_environment_configures_the_model_and_the_key_is_never_stored(tmp_path, server):
    db = tmp_path / "store" / "runs.db"
    db.parent.mkdir()
    # a proxy that echoes the key in its error body: the message is recorded, the key must not be
    server.script(Status(500, message="upstream hiccup"), Status(401, message=f"Incorrect API key provided: {KEY}"))
    proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="printer on fire"', "--db", db, "--run-id", "envrun",
               *FAST_RETRY, "--json", cwd=tmp_path, env=model_env(server))
    doc = result(proc, 1)  # the 500 is retried, the 401 is not: the run fails, with error messages recorded
    assert doc["outcome"] == "failed"
    server.script(Reply("all calm"))
    proc2 = ncd("run", PLANS / "one.ncd", "--input", '{notes}="printer on fire"', "--db", db, "--run-id", "envrun2",
                "--json", cwd=tmp_path, env=model_env(server))
    assert result(proc2)["final"] == {"{summary}": {"axes": ["_none_axis"], "data": ["all calm"]}}

    assert len(server.requests) == 3
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)  # the server sees it
    assert {r.body["model"] for r in server.requests} == {MODEL}
    env_json = json.loads(query(db, "SELECT env_json FROM runs WHERE run_id = 'envrun2'")[0]["env_json"])
    assert env_json["llm_model"] == MODEL and env_json["llm_base_url"] == server.base_url
    errors = query(db, "SELECT error_kind, error_message FROM executions WHERE run_id = 'envrun' ORDER BY attempt")
    assert [e["error_kind"] for e in errors] == ["transient", "executor_error"]
    assert "401" in errors[1]["error_message"] and "Incorrect API key provided" in errors[1]["error_message"]

    replay_file = tmp_path / "answers.jsonl"
    outputs = [proc, proc2,
               ncd("show", "--run-id", "envrun", "--db", db, cwd=tmp_path, env=model_env(server)),
               ncd("show", "--run-id", "envrun2", "--usage", "--json", "--db", db, cwd=tmp_path, env=model_env(server)),
               ncd("export-replay", "--run-id", "envrun2", "-o", replay_file, "--db", db, cwd=tmp_path,
                   env=model_env(server))]
    assert all(p.returncode in (0, 1) for p in outputs), [p.stderr for p in outputs]
    for p in outputs:
        assert KEY not in p.stdout and KEY not in p.stderr
    assert replay_file.read_text().strip() and KEY.encode() not in replay_file.read_bytes()
    files = [f for f in db.parent.iterdir() if f.is_file()]  # runs.db and any -wal / -shm left beside it
    assert db in files
    for f in files:
        assert KEY.encode() not in f.read_bytes(), f"the API key is stored in {f.name}"


def test_openai_variables_are_the_fallback_and_options_win(tmp_path, server):
    db = tmp_path / "runs.db"
    openai_key = "sk-openai-fallback-SECRET"
    proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", db, "--json", cwd=tmp_path,
               env={"NCD_LLM_MODEL": MODEL, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": openai_key})
    assert result(proc)["outcome"] == "completed"
    (first,) = server.requests
    assert first.headers["authorization"] == f"Bearer {openai_key}" and first.body["model"] == MODEL

    # env names a model and an endpoint where nothing listens; the command line names the real ones and wins.
    # NCD_LLM_API_KEY wins over OPENAI_API_KEY.
    proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", db, "--run-id", "cli", "--json",
               "--llm-model", "cli-model", "--llm-base-url", server.base_url, "--retries", "0",
               "--llm-system", "You are a terse test assistant.", cwd=tmp_path,
               env={"NCD_LLM_MODEL": "env-model", "NCD_LLM_BASE_URL": "http://127.0.0.1:9/v1",
                    "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "NCD_LLM_API_KEY": KEY,
                    "OPENAI_API_KEY": openai_key})
    assert result(proc)["outcome"] == "completed", proc.stderr
    second = server.requests[1]
    assert second.body["model"] == "cli-model" and second.headers["authorization"] == f"Bearer {KEY}"
    assert second.body["messages"][0] == {"role": "system", "content": "You are a terse test assistant."}
    (row,) = llm_calls(db, "cli")
    assert (row["model"], row["base_url"], row["status"]) == ("cli-model", server.base_url, "ok")


# ---------------------------------------------------------------- 2. retries, parse repairs, budgets


def test_429_500_and_timeouts_are_retried_through_the_cli(tmp_path, server):
    db = tmp_path / "runs.db"
    server.script(Status(429, retry_after="1"), Status(500), Hang(5), Reply("finally"))
    proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", db, "--run-id", "r", "--json",
               "--llm-timeout", "0.5", "--backoff-base", "0.01", "--backoff-max", "2", cwd=tmp_path,
               env=model_env(server))  # Retry-After is obeyed up to --backoff-max (issue 13 rule 4)
    assert result(proc)["final"]["{summary}"]["data"] == ["finally"]
    at = [r.at for r in server.requests]
    assert len(at) == 4
    assert at[1] - at[0] >= 1.0, "Retry-After: 1 was not honoured (the backoff alone is at most 0.02 s)"
    assert at[2] - at[1] < 0.9  # the 500 carried no hint: only the short backoff
    assert at[3] - at[2] >= 0.5  # the hung request was abandoned after --llm-timeout
    rows = llm_calls(db, "r")
    assert [(r["attempt"], r["status"], r["error_kind"]) for r in rows] == [
        (1, "error", "transient"), (2, "error", "transient"), (3, "error", "transient"), (4, "ok", None)]
    assert rows[2]["latency_ms"] >= 450 and rows[3]["response_text"] == "finally"
    attempts = query(db, "SELECT attempt, status, error_kind FROM executions WHERE run_id = 'r' ORDER BY attempt")
    assert [(a["attempt"], a["status"], a["error_kind"]) for a in attempts] == [
        (1, "failed", "transient"), (2, "failed", "transient"), (3, "failed", "transient"), (4, "completed", None)]


def test_400_is_not_retried(tmp_path, server):
    db = tmp_path / "runs.db"
    server.rule(lambda body: Status(400, message="unknown parameter"))
    proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", db, "--run-id", "r", "--json",
               *FAST_RETRY, cwd=tmp_path, env=model_env(server))
    assert result(proc, 1)["outcome"] == "failed"
    assert "executor_error" in proc.stderr and "400" in proc.stderr
    assert len(server.requests) == 1
    (row,) = llm_calls(db, "r")
    assert (row["status"], row["error_kind"]) == ("error", "executor_error")


def test_retry_budget_ends_the_run_budget_exhausted_and_a_resume_completes(tmp_path, server):
    db = tmp_path / "runs.db"
    failing = {"on": True}
    server.rule(lambda body: Status(503) if failing["on"] else None)
    proc = ncd("run", PLANS / "chain4.ncd", "--input", '{seed}="s"', "--db", db, "--run-id", "r", "--json",
               "--max-retries-total", "2", "--retries", "5", *FAST_RETRY, cwd=tmp_path, env=model_env(server))
    assert result(proc, 4)["outcome"] == "budget_exhausted"
    assert len(server.requests) == 3  # the first try and the two retries the budget allows
    assert query(db, "SELECT status FROM runs WHERE run_id = 'r'")[0]["status"] == "budget_exhausted"

    failing["on"] = False
    proc = ncd("resume", PLANS / "chain4.ncd", "--run-id", "r", "--db", db, "--json", "--max-retries-total", "10",
               cwd=tmp_path, env=model_env(server))
    doc = result(proc)
    assert doc["outcome"] == "completed" and doc["run_id"] == "r" and "forked" not in proc.stderr
    assert doc["final"]["{fourth}"]["data"] == ["re[re[re[re[s]]]]"]
    assert len(server.requests) == 3 + 4


def test_a_malformed_body_is_retried_and_an_unparsable_answer_repaired(tmp_path, server):
    db = tmp_path / "runs.db"
    server.script(Malformed(), Reply("maybe"), Reply("Yes."))
    proc = ncd("run", PLANS / "judge.ncd", "--input", '{notes}="server down"', "--db", db, "--run-id", "r",
               "--json", *FAST_RETRY, cwd=tmp_path, env=model_env(server))
    assert result(proc)["final"] == {"<notes are urgent>": {"axes": ["_none_axis"], "data": [True]}}
    bodies = server.chat_requests
    assert len(bodies) == 3
    repair = bodies[2]["messages"]
    assert repair[:2] == bodies[1]["messages"] and repair[2] == {"role": "assistant", "content": "maybe"}
    assert repair[3]["role"] == "user" and "true or false" in repair[3]["content"]
    rows = llm_calls(db, "r")
    assert [(r["attempt"], r["status"], r["error_kind"]) for r in rows] == [
        (1, "error", "transient"), (2, "ok", "parse_error"), (3, "ok", None)]


def test_parse_retries_exhausted_fail_with_the_raw_answer_stored(tmp_path, server):
    db = tmp_path / "runs.db"
    server.rule(lambda body: Reply("maybe"))
    proc = ncd("run", PLANS / "judge.ncd", "--input", '{notes}="n"', "--db", db, "--run-id", "r", "--json",
               "--parse-retries", "2", cwd=tmp_path, env=model_env(server))
    assert result(proc, 1) == {"run_id": "r", "outcome": "failed", "final": {}, "cycles": 1, "executed": 1}
    assert "parse_error" in proc.stderr
    assert len(server.requests) == 3  # the answer and two repair requests
    rows = llm_calls(db, "r")
    assert [(r["response_text"], r["status"], r["error_kind"]) for r in rows] == [("maybe", "ok", "parse_error")] * 3
    last = query(db, "SELECT error_kind FROM executions WHERE run_id = 'r' ORDER BY attempt DESC LIMIT 1")
    assert last[0]["error_kind"] == "parse_error"
    item = query(db, "SELECT status, meta_json FROM results WHERE run_id = 'r' AND kind = 'item'")
    assert [i["status"] for i in item] == ["failed"]
    assert json.loads(item[0]["meta_json"])["errors"][0]["kind"] == "parse_error"


def test_incorrect_never_counts_as_true(tmp_path, server):
    db = tmp_path / "runs.db"
    server.rule(lambda body: Reply("incorrect"))  # contains "correct": the reference read it as true
    proc = ncd("run", PLANS / "judge.ncd", "--input", '{notes}="n"', "--db", db, "--run-id", "no-repair",
               "--json", "--parse-retries", "0", cwd=tmp_path, env=model_env(server))
    doc = result(proc, 1)
    assert doc["outcome"] == "failed" and doc["final"] == {} and "parse_error" in proc.stderr
    assert len(server.requests) == 1

    server.script(Reply("incorrect"), Reply("no"))
    proc = ncd("run", PLANS / "judge.ncd", "--input", '{notes}="n"', "--db", db, "--run-id", "repaired",
               "--json", cwd=tmp_path, env=model_env(server))
    assert result(proc)["final"]["<notes are urgent>"]["data"] == [False]
    assert len(server.requests) == 3


# ---------------------------------------------------------------- 3. usage rows, show --usage, budgets


def test_usage_rows_and_show_usage_totals_with_prices(tmp_path, server):
    db = tmp_path / "runs.db"
    server.rule(lambda body: Reply(delay=0.05))
    price_in, price_out = 2.5, 10.0
    proc = ncd("run", PLANS / "chain4.ncd", "--input", '{seed}="a few words here"', "--db", db, "--run-id", "r",
               "--json", "--price", f"{MODEL}={price_in}/{price_out}", "--price", "other-model=100/100",
               cwd=tmp_path, env=model_env(server))
    assert result(proc)["outcome"] == "completed"
    rows = llm_calls(db, "r")
    bodies = server.chat_requests  # a chain: requests and rows in the same order
    assert len(rows) == len(bodies) == 4
    for row, body in zip(rows, bodies):
        answer = echo(body)
        pt, ct = words(body), len(answer.split())
        assert (row["model"], row["base_url"], row["attempt"], row["status"]) == (MODEL, server.base_url, 1, "ok")
        assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (pt, ct, pt + ct)
        assert row["cost_usd"] == pytest.approx((pt * price_in + ct * price_out) / 1_000_000)
        assert row["latency_ms"] >= 50 and row["response_text"] == answer
        assert json.loads(row["request_json"])["messages"] == body["messages"]
        assert row["replay_key"].startswith("sha256:") and row["execution_id"] is not None
    assert [r["flow_index"] for r in rows] == ["1.2.2.2", "1.2.2", "1.2", "1"]

    usage = json.loads(ncd("show", "--run-id", "r", "--usage", "--json", "--db", db, cwd=tmp_path).stdout)
    total_pt, total_ct = sum(r["prompt_tokens"] for r in rows), sum(r["completion_tokens"] for r in rows)
    expected_cost = (total_pt * price_in + total_ct * price_out) / 1_000_000
    total = usage["total"]
    assert (total["calls"], total["replayed"], total["errors"]) == (4, 0, 0)
    assert (total["prompt_tokens"], total["completion_tokens"], total["total_tokens"]) == (
        total_pt, total_ct, total_pt + total_ct)
    assert total["cost_usd"] == pytest.approx(expected_cost)
    assert set(usage["by_model"]) == {MODEL}
    assert usage["by_model"][MODEL]["cost_usd"] == pytest.approx(expected_cost)
    assert set(usage["by_step"]) == {"1", "1.2", "1.2.2", "1.2.2.2"}
    for row in rows:
        step = usage["by_step"][row["flow_index"]]
        assert (step["calls"], step["prompt_tokens"], step["completion_tokens"]) == (
            1, row["prompt_tokens"], row["completion_tokens"])
        assert step["cost_usd"] == pytest.approx(row["cost_usd"])
    assert sum(s["total_tokens"] for s in usage["by_step"].values()) == total["total_tokens"]
    text = ncd("show", "--run-id", "r", "--usage", "--db", db, cwd=tmp_path).stdout
    assert f"${expected_cost:.6f}" in text and MODEL in text

    # without --price the cost is unknown (NULL), never 0; --no-store-prompts keeps the request body out
    proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", db, "--run-id", "noprice", "--json",
               "--no-store-prompts", cwd=tmp_path, env=model_env(server))
    assert result(proc)["outcome"] == "completed"
    (row,) = llm_calls(db, "noprice")
    assert (row["cost_usd"], row["request_json"], row["response_text"]) == (None, None, "re[n]")
    assert row["prompt_tokens"] == words(server.chat_requests[-1])


@pytest.mark.parametrize("budget", ["tokens", "cost", "calls"])
def test_token_cost_and_call_budgets_end_the_run_and_a_resume_completes(tmp_path, server, budget):
    db = tmp_path / "runs.db"
    price = ("--price", f"{MODEL}=1000/1000")  # USD 0.001 per token
    # one call of this plan uses about 75 tokens (USD 0.075): each budget is reached by the second call
    limits = {"tokens": ("--max-tokens", "100"), "cost": ("--max-cost-usd", "0.1"),
              "calls": ("--max-llm-calls", "2")}[budget]
    higher = {"tokens": ("--max-tokens", "100000"), "cost": ("--max-cost-usd", "100"),
              "calls": ("--max-llm-calls", "100")}[budget]
    proc = ncd("run", PLANS / "chain4.ncd", "--input", '{seed}="s"', "--db", db, "--run-id", "r", "--json",
               *price, *limits, cwd=tmp_path, env=model_env(server))
    doc = result(proc, 4)
    assert doc["outcome"] == "budget_exhausted" and doc["final"] == {}
    spent = llm_calls(db, "r")
    assert len(spent) == 2 and len(server.requests) == 2  # 75 + 75 tokens: the budget is reached exactly here
    totals = [r["total_tokens"] for r in spent]
    assert totals[0] < 100 <= sum(totals) and sum(r["cost_usd"] for r in spent) == pytest.approx(sum(totals) / 1000)
    outcome = json.loads(query(db, "SELECT outcome_json FROM runs WHERE run_id = 'r'")[0]["outcome_json"])
    assert outcome["reasons"][0] == {"budget": limits[0][2:].replace("-", "_")}
    assert query(db, "SELECT status FROM runs WHERE run_id = 'r'")[0]["status"] == "budget_exhausted"

    proc = ncd("resume", PLANS / "chain4.ncd", "--run-id", "r", "--db", db, "--json", *higher, cwd=tmp_path,
               env=model_env(server))
    doc = result(proc)
    assert doc["outcome"] == "completed" and doc["final"]["{fourth}"]["data"] == ["re[re[re[re[s]]]]"]
    assert len(server.requests) == 4  # nothing already answered was asked again
    assert [r["status"] for r in llm_calls(db, "r")].count("ok") == 4


def test_a_call_budget_bounds_the_cells_of_one_step(tmp_path):
    """The budget is what the run may spend: the cells of one model-bound step must not run past it (§6.4)."""
    db = tmp_path / "runs.db"
    items = json.dumps([f"question {i}" for i in range(16)])
    limit, width = 4, 2
    with OpenAIServer(InFlight(0.05)) as server:
        proc = ncd("run", PLANS / "axis16.ncd", "--input", f"[items]={items}", "--db", db, "--run-id", "r", "--json",
                   "--llm-concurrency", str(width), "--max-llm-calls", str(limit), cwd=tmp_path,
                   env=model_env(server))
        calls = len(server.requests)
        assert calls <= limit + width, (
            f"--max-llm-calls {limit} let one step make {calls} model calls (outcome "
            f"{json.loads(proc.stdout)['outcome'] if proc.stdout else proc.returncode})")
        assert result(proc, 4)["outcome"] == "budget_exhausted"
        proc = ncd("resume", PLANS / "axis16.ncd", "--run-id", "r", "--db", db, "--json", "--max-llm-calls", "100",
                   cwd=tmp_path, env=model_env(server))
        assert result(proc)["final"]["{answers}"]["data"] == [f"re[question {i}]" for i in range(16)]
        assert len(server.requests) == 16  # every question asked once, across both processes


# ---------------------------------------------------------------- 4. concurrency


TRIES = 3  # wall-clock bounds are re-measured on a noisy machine; a real serialization fails every try


def _measure(plan: str, inputs: str, tmp_path: Path, name: str, *options: str,
             delay: float) -> tuple[float, InFlight, dict[str, Any]]:
    responder = InFlight(delay)
    with OpenAIServer(responder) as server:
        wall, proc = timed("run", PLANS / plan, "--input", inputs, "--db", tmp_path / f"{name}.db", "--json",
                           *options, cwd=tmp_path, env=model_env(server))
    return wall, responder, result(proc)


def _against_start_up(plan: str, inputs: str, tmp_path: Path, *options: str, extra: float,
                      ) -> tuple[float, float, InFlight, dict[str, Any], dict[str, Any], int]:
    """(start-up, wall, slow server's view, instant result, slow result, tries): start-up is the wall time of the
    same plan against an instant server; each is the minimum over tries, stopping once wall - start-up < extra."""
    start_up = wall = float("inf")
    for attempt in range(1, TRIES + 1):
        s, _, fast = _measure(plan, inputs, tmp_path, f"instant{attempt}", *options, delay=0.0)
        w, inflight, slow = _measure(plan, inputs, tmp_path, f"slow{attempt}", *options, delay=LATENCY)
        start_up, wall = min(start_up, s), min(wall, w)
        if wall - start_up < extra:
            break
    return start_up, wall, inflight, fast, slow, attempt


def test_independent_steps_run_concurrently(tmp_path):
    opts = ("--max-concurrency", "16", "--llm-concurrency", "16")
    start_up, wall, inflight, fast, slow, tries = _against_start_up("fan16.ncd", '{topic}="t"', tmp_path, *opts,
                                                                    extra=2 * LATENCY)
    assert slow["final"] == fast["final"] and len(slow["final"]["[all answers]"]["data"][0]) == 16
    print(f"\n16 independent steps, {LATENCY * 1000:.0f} ms each ({tries} tries): wall {wall:.3f} s, start-up "
          f"(instant server) {start_up:.3f} s; (wall - start-up) / critical path {LATENCY:.1f} s = "
          f"{(wall - start_up) / LATENCY:.2f}; model side {inflight.span:.3f} s = {inflight.span / LATENCY:.2f} x; "
          f"peak in flight {inflight.peak}")
    assert inflight.peak <= 16 and inflight.span < 2 * LATENCY
    assert wall - start_up < 2 * LATENCY, "16 independent model calls did not overlap"


def test_a_chain_takes_its_critical_path(tmp_path):
    path = 4 * LATENCY
    start_up, wall, inflight, fast, slow, tries = _against_start_up("chain4.ncd", '{seed}="s"', tmp_path,
                                                                    extra=path + 2 * LATENCY)
    assert slow["final"] == fast["final"] == {"{fourth}": {"axes": ["_none_axis"], "data": ["re[re[re[re[s]]]]"]}}
    print(f"\nchain of 4 steps, {LATENCY * 1000:.0f} ms each ({tries} tries): wall {wall:.3f} s, start-up "
          f"{start_up:.3f} s; (wall - start-up) / critical path {path:.1f} s = {(wall - start_up) / path:.2f}; "
          f"model side {inflight.span:.3f} s = {inflight.span / path:.2f} x; peak in flight {inflight.peak}")
    assert inflight.peak == 1 and inflight.span >= path
    assert path <= wall < path + start_up + 2 * LATENCY


def test_cells_of_one_step_run_concurrently_up_to_llm_concurrency(tmp_path):
    items = json.dumps([f"question {i}" for i in range(16)])
    start_up, wide, wide_flight, fast, slow, tries = _against_start_up(
        "axis16.ncd", f"[items]={items}", tmp_path, "--llm-concurrency", "16", extra=2 * LATENCY)
    narrow, narrow_flight, slow4 = _measure("axis16.ncd", f"[items]={items}", tmp_path, "c4",
                                            "--llm-concurrency", "4", delay=LATENCY)
    assert slow["final"] == slow4["final"] == fast["final"]
    assert fast["final"]["{answers}"]["data"] == [f"re[question {i}]" for i in range(16)]
    print(f"\none step over 16 elements, {LATENCY * 1000:.0f} ms per call, start-up {start_up:.3f} s:"
          f"\n  --llm-concurrency 16 ({tries} tries): wall {wide:.3f} s, (wall - start-up) / {LATENCY:.1f} s = "
          f"{(wide - start_up) / LATENCY:.2f}; model side {wide_flight.span:.3f} s = "
          f"{wide_flight.span / LATENCY:.2f} x; peak in flight {wide_flight.peak}"
          f"\n  --llm-concurrency 4: wall {narrow:.3f} s, (wall - start-up) / {4 * LATENCY:.1f} s = "
          f"{(narrow - start_up) / (4 * LATENCY):.2f}; model side {narrow_flight.span:.3f} s = "
          f"{narrow_flight.span / (4 * LATENCY):.2f} x; peak in flight {narrow_flight.peak}")
    assert wide_flight.peak <= 16 and wide_flight.span < 2 * LATENCY
    assert wide - start_up < 2 * LATENCY, "the cells of one step did not overlap"
    # 16 calls of 0.3 s, at most 4 at once: at least 4 rounds, on the model side and on the wall clock
    assert narrow_flight.peak <= 4 and narrow_flight.span >= 4 * LATENCY and narrow >= 4 * LATENCY


# ---------------------------------------------------------------- 5. replay


DOCS = json.dumps(["alpha", "beta", "gamma"])


def _recorded_run(tmp_path: Path, server: OpenAIServer, db: Path) -> dict[str, Any]:
    proc = ncd("run", PLANS / "digest.ncd", "--input", f"[docs]={DOCS}", "--db", db, "--run-id", "rec", "--json",
               cwd=tmp_path, env=model_env(server))
    return result(proc)


def test_export_replay_then_replay_offline(tmp_path, server):
    db = tmp_path / "runs.db"
    recorded = _recorded_run(tmp_path, server, db)
    assert recorded["final"]["{digest}"]["data"] == ['re[[\n  "re[alpha]",\n  "re[beta]",\n  "re[gamma]"\n]]']
    assert len(server.requests) == 4
    replay_file = tmp_path / "rec.jsonl"
    proc = ncd("export-replay", "--run-id", "rec", "-o", replay_file, "--db", db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in replay_file.read_text().splitlines()]
    keys = {r["replay_key"] for r in llm_calls(db, "rec")}
    assert len(lines) == 4 and {ln["key"] for ln in lines} == keys
    assert all(ln["kind"] == "llm" and ln["response_text"].startswith("re[") for ln in lines)

    # no model, no endpoint: only the recording answers
    for source, run_id in ((replay_file, "from-file"), ("run:rec", "from-run")):
        proc = ncd("run", PLANS / "digest.ncd", "--input", f"[docs]={DOCS}", "--db", db, "--run-id", run_id,
                   "--json", "--replay", source, cwd=tmp_path)
        doc = result(proc)
        assert doc["final"] == recorded["final"] and doc["outcome"] == "completed"
        rows = llm_calls(db, run_id)
        assert len(rows) == 4 and {r["status"] for r in rows} == {"replayed"}
        assert {r["replay_key"] for r in rows} == keys
    assert len(server.requests) == 4, "a replayed run made HTTP requests"
    usage = json.loads(ncd("show", "--run-id", "from-file", "--usage", "--json", "--db", db, cwd=tmp_path).stdout)
    assert (usage["total"]["calls"], usage["total"]["replayed"]) == (0, 4)


def test_replay_miss_names_the_step_and_fallback_live_calls_only_it(tmp_path, server):
    db = tmp_path / "runs.db"
    recorded = _recorded_run(tmp_path, server, db)
    replay_file = tmp_path / "rec.jsonl"
    assert ncd("export-replay", "--run-id", "rec", "-o", replay_file, "--db", db, cwd=tmp_path).returncode == 0
    edited_dir = tmp_path / "edited"
    edited_dir.mkdir()
    edited = edited_dir / "digest.ncd"
    text = (PLANS / "digest.ncd").read_text()
    assert "::(summarize {1})" in text
    edited.write_text(text.replace("::(summarize {1})", "::(summarize {1} in one line)"))
    requests_before = len(server.requests)

    proc = ncd("run", edited, "--input", f"[docs]={DOCS}", "--db", db, "--run-id", "miss", "--json",
               "--replay", replay_file, cwd=tmp_path)
    doc = result(proc, 1)
    assert doc["outcome"] == "failed"
    assert "replay_miss" in proc.stderr and "1.2" in proc.stderr and "{summaries}" in proc.stderr
    assert len(server.requests) == requests_before

    # live fallback: only the edited step reaches the model; its answers equal the recorded ones (the responder
    # depends on the input only), so the digest step is answered from the recording
    proc = ncd("run", edited, "--input", f"[docs]={DOCS}", "--db", db, "--run-id", "live", "--json",
               "--replay", replay_file, "--replay-fallback", "live", cwd=tmp_path, env=model_env(server))
    assert result(proc)["final"] == recorded["final"]
    fresh = server.chat_requests[requests_before:]
    assert len(fresh) == 3 and all("summarize [input 1] in one line" in user_message(b) for b in fresh)
    rows = llm_calls(db, "live")
    assert sorted((r["flow_index"], r["status"]) for r in rows) == [("1", "replayed")] + [("1.2", "ok")] * 3


# ---------------------------------------------------------------- 6. resume after a kill


def _wait_for(predicate, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert proc.poll() is None, "the run ended before the kill"
        time.sleep(0.01)
    raise AssertionError("timed out waiting for the kill moment")


def test_resume_after_sigkill_never_repeats_a_completed_model_call(tmp_path):
    db = tmp_path / "runs.db"
    docs = [f"doc {i}" for i in range(12)]
    responder = InFlight(0.2)
    with OpenAIServer(responder) as server:
        env = clean_env(model_env(server))
        args = ["run", PLANS / "digest.ncd", "--input", f"[docs]={json.dumps(docs)}", "--db", db, "--run-id", "r",
                "--llm-concurrency", "2"]
        with open(tmp_path / "killed.out", "wb") as out, open(tmp_path / "killed.err", "wb") as err:
            child = subprocess.Popen([sys.executable, "-m", "runtime.cli", *map(str, args)], stdout=out, stderr=err,
                                     stdin=subprocess.DEVNULL, cwd=tmp_path, env=env, start_new_session=True)
        try:
            def some_answers() -> bool:
                try:
                    return query(db, "SELECT count(*) AS n FROM llm_calls WHERE status = 'ok'")[0]["n"] >= 4
                except sqlite3.Error:  # not created yet
                    return False
            _wait_for(some_answers, 30, child)
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        before = llm_calls(db, "r")
        done_keys = {r["replay_key"] for r in before if r["status"] == "ok"}
        done_inputs = {input_block(json.loads(r["request_json"])) for r in before if r["status"] == "ok"}
        assert 4 <= len(done_keys) < len(docs)
        summarized = query(db, "SELECT status FROM results WHERE run_id = 'r' AND flow_index = '1.2'")
        assert summarized == [], "the step finished before the kill: nothing for the resume to prove"
        requests_at_kill = len(server.requests)

        proc = ncd("resume", PLANS / "digest.ncd", "--run-id", "r", "--db", db, "--json", cwd=tmp_path,
                   env=model_env(server))
        doc = result(proc)
        assert doc["outcome"] == "completed" and "forked" not in proc.stderr
        assert doc["final"]["{digest}"]["data"] == [echo({"messages": [{"role": "user", "content": (
            "<input_1>\n" + json.dumps([f"re[{d}]" for d in docs], indent=2) + "\n</input_1>")}]})]
        resumed = server.chat_requests[requests_at_kill:]
        asked = {input_block(b) for b in resumed}
        assert not asked & done_inputs, f"completed model calls were repeated: {sorted(asked & done_inputs)}"
        assert len(resumed) == len(docs) - len(done_inputs) + 1  # the rest of the cells and the digest
        after = llm_calls(db, "r")[len(before):]
        assert all(r["status"] == "replayed" for r in after if r["replay_key"] in done_keys)
        assert {r["replay_key"] for r in after if r["status"] == "ok"}.isdisjoint(done_keys)
        print(f"\nkilled after {len(done_keys)} of {len(docs)} answers; the resume asked {len(resumed)} "
              f"questions and replayed {sum(r['status'] == 'replayed' for r in after)}")
