"""Model endpoints are untrusted (issue 13 rules 2, 4 and 5; RUNTIME §6.2, §10.2, §11): real ``ncd-run``
subprocesses (and one in-process Orchestrator), the real ``openai`` client, the real local OpenAI-compatible server
of tests/openai_server.py, real SQLite files. Nothing is mocked.

* Rule 2: a model answer is never perceived. A sign-shaped answer reaches later steps, the store, a resume, replay
  and the final output as the plain string the model wrote; a file behind it never goes to the provider.
* Rule 4: ``--llm-timeout`` is a total deadline per attempt; ``Retry-After`` is capped at ``--backoff-max``; every
  wait inside a cell wakes on SIGINT (exit 130) and on ``Orchestrator.cancel()``.
* Rule 5: ``--max-answer-bytes``: a longer answer is ``answer_too_large`` keeping its first 4 KiB and its length;
  the body is not read past the limit; repair requests resend at most 4 KiB of an answer.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from openai_server import Drip, Large, OpenAIServer, Reply, Status
from test_llm_runs import PLANS, clean_env, llm_calls, model_env, ncd, query, result, user_message

from runtime.orchestrator import Orchestrator

SECRET = "TOP-SECRET-7f3a: the operator's source code"
SIGN = "%{file_location}(sections.py)"
FAST_RETRY = ("--backoff-base", "0.01", "--backoff-max", "0.02")


def step_of(body: dict[str, Any]) -> str:
    """Which step of chain4.ncd asked: one, two, three or four."""
    text = user_message(body)
    return next(n for n in ("one", "two", "three", "four") if f"step {n} on" in text)


def first_step_answers(answer: str) -> Any:
    """Step one answers ``answer``; later steps answer their input block verbatim (so it reaches the output)."""
    def responder(body: dict[str, Any]) -> str:
        if step_of(body) == "one":
            return answer
        text = user_message(body)
        return text[text.index("<input_1>\n") + len("<input_1>\n"):text.index("\n</input_1>")]
    return responder


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    """chain4.ncd in a directory that also holds a file the provider must never see."""
    root = tmp_path / "plan"
    root.mkdir()
    shutil.copy(PLANS / "chain4.ncd", root / "chain4.ncd")
    (root / "sections.py").write_text(f"# {SECRET}\n", encoding="utf-8")
    return root


def never_sent(server: OpenAIServer) -> None:
    for body in server.chat_requests:
        assert SECRET not in json.dumps(body), "a file behind a model's answer was sent to the provider"


# ---------------------------------------------------------------- rule 2: answers are data


@pytest.mark.parametrize("answer, later_input", [
    (SIGN, SIGN),
    ("%{memorized_parameter}(k)", "%{memorized_parameter}(k)"),
    ("%([1, 2])", "%([1, 2])"),  # a literal wrapper is not unwrapped either: the model's text, as written
    (json.dumps({"where": SIGN}), json.dumps({"where": SIGN}, indent=2)),  # nested in a JSON answer
])
def test_a_sign_shaped_answer_is_a_plain_string(tmp_path, plan_dir, answer, later_input):
    db = tmp_path / "runs.db"
    with OpenAIServer(first_step_answers(answer)) as server:
        proc = ncd("run", plan_dir / "chain4.ncd", "--input", '{seed}="s"', "--db", db, "--json", cwd=tmp_path,
                   env=model_env(server))
        doc = result(proc)
        never_sent(server)
        asked = {step_of(b): user_message(b) for b in server.chat_requests}
    assert f"<input_1>\n{later_input}\n</input_1>" in asked["two"]
    # the final output shows the model's plain text (no escape), as JSON when the answer was JSON
    assert doc["final"]["{fourth}"]["data"] == [json.loads(answer) if answer.startswith("{") else answer]


def test_an_answer_stays_data_across_a_resume_and_a_replay(tmp_path, plan_dir):
    db = tmp_path / "runs.db"
    args = ("--input", '{seed}="s"', "--db", db, "--json", *FAST_RETRY)
    with OpenAIServer(first_step_answers(SIGN)) as server:
        # step one is answered, step two refused (HTTP 400, not retried): the run fails with step one's answer stored
        server.script(Reply(), Status(400, message="no"))
        assert result(ncd("run", plan_dir / "chain4.ncd", *args, "--run-id", "r", cwd=tmp_path,
                          env=model_env(server)), 1)["outcome"] == "failed"
        before = len(server.requests)
        proc = ncd("resume", plan_dir / "chain4.ncd", "--run-id", "r", *args, cwd=tmp_path, env=model_env(server))
        assert result(proc)["final"]["{fourth}"]["data"] == [SIGN]
        resumed = server.chat_requests[before:]
        assert [step_of(b) for b in resumed] == ["two", "three", "four"]  # step one came from the store
        assert f"<input_1>\n{SIGN}\n</input_1>" in user_message(resumed[0])

        # a recording of step one's answer, replayed into a new run: still the model's text, never the file
        replay = tmp_path / "answers.jsonl"
        assert ncd("export-replay", "--run-id", "r", "-o", replay, "--db", db, cwd=tmp_path).returncode == 0
        before = len(server.requests)
        proc = ncd("run", plan_dir / "chain4.ncd", *args, "--run-id", "replayed", "--replay", str(replay),
                   "--replay-fallback", "live", cwd=tmp_path, env=model_env(server))
        assert result(proc)["final"]["{fourth}"]["data"] == [SIGN]
        assert len(server.requests) == before  # every answer came from the recording
        never_sent(server)
    statuses = {r["flow_index"]: r["status"] for r in llm_calls(db, "replayed")}
    assert set(statuses.values()) == {"replayed"}


def test_a_binary_file_behind_an_operator_sign_is_a_typed_error_naming_it(tmp_path, plan_dir):
    (plan_dir / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary")
    db = tmp_path / "runs.db"
    with OpenAIServer(first_step_answers("x")) as server:
        proc = ncd("run", plan_dir / "chain4.ncd", "--input", '{seed}="%{file_location}(blob.bin)"', "--db", db,
                   "--run-id", "bin", "--json", cwd=tmp_path, env=model_env(server))
        doc = result(proc, 1)
        assert server.requests == []  # the step failed before calling the model
    assert doc["outcome"] == "failed"
    (failure,) = [json.loads(line[len("ncd-run: "):]) for line in proc.stderr.splitlines() if '"failed"' in line]
    assert failure["kind"] == "executor_error" and failure["failed"] == "1.2.2.2"
    assert "blob.bin" in failure["message"] and "not UTF-8" in failure["message"]
    assert query(db, "SELECT status FROM runs WHERE run_id = 'bin'") == [{"status": "failed"}]


# ---------------------------------------------------------------- rule 4: no wait is unbounded


def test_retry_after_is_capped_at_backoff_max(tmp_path):
    db = tmp_path / "runs.db"
    with OpenAIServer() as server:
        server.script(Status(429, retry_after="3600"), Reply("calm"))
        proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", db, "--backoff-max", "0.2",
                   "--json", cwd=tmp_path, env=model_env(server), timeout=30)
        assert result(proc)["final"]["{summary}"]["data"] == ["calm"]
        first, second = server.requests
    assert second.at - first.at < 10  # waited about --backoff-max, not the hour asked for


def test_llm_timeout_is_a_total_deadline_per_attempt(tmp_path):
    db = tmp_path / "runs.db"
    with OpenAIServer() as server:
        # each byte arrives well within the timeout; the whole body would take minutes
        server.script(Drip("dripped", interval=0.3), Reply("prompt"))
        proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", db, "--run-id", "d",
                   "--llm-timeout", "1.5", *FAST_RETRY, "--json", cwd=tmp_path, env=model_env(server), timeout=30)
        assert result(proc)["final"]["{summary}"]["data"] == ["prompt"]
    calls = llm_calls(db, "d")
    assert [(c["status"], c["error_kind"]) for c in calls] == [("error", "transient"), ("ok", None)]
    (failed,) = query(db, "SELECT error_kind, error_message FROM executions WHERE run_id = 'd' AND attempt = 1")
    assert failed["error_kind"] == "transient" and "--llm-timeout 1.5" in failed["error_message"]


def _interrupt_while_waiting(tmp_path: Path, server: OpenAIServer, *extra: str) -> tuple[float, Path]:
    """Start a one-step run, send SIGINT once the model has been asked, return (seconds to exit, db)."""
    db = tmp_path / "runs.db"
    args = ["run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", db, "--run-id", "w", *extra]
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        child = subprocess.Popen([sys.executable, "-m", "runtime.cli", *map(str, args)], stdout=out, stderr=err,
                                 stdin=subprocess.DEVNULL, cwd=tmp_path, env=clean_env(model_env(server)))
    try:
        deadline = time.monotonic() + 30
        while not server.requests and time.monotonic() < deadline:
            assert child.poll() is None, (tmp_path / "err").read_text()
            time.sleep(0.02)
        time.sleep(0.5)  # now waiting: in a backoff, or on the dripping body
        child.send_signal(signal.SIGINT)
        sent = time.monotonic()
        code = child.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert code == 130, (tmp_path / "err").read_text()
    assert "Traceback" not in (tmp_path / "err").read_text()
    return took, db


@pytest.mark.parametrize("action", [Status(429, retry_after="3600"), Drip("slow", interval=1.0)],
                         ids=["retry-after-backoff", "drip"])
def test_sigint_wakes_a_cell_waiting_on_the_model(tmp_path, action):
    with OpenAIServer() as server:
        server.script(action)
        took, db = _interrupt_while_waiting(tmp_path, server, "--llm-timeout", "600")
        print(f"\nSIGINT while waiting ({type(action).__name__}): exit 130 after {took:.2f} s")
        assert took < 15  # the backoff (60 s) or the drip (minutes) would have held it far longer
        assert query(db, "SELECT status FROM runs WHERE run_id = 'w'") == [{"status": "interrupted"}]
        assert query(db, "SELECT count(*) AS n FROM results WHERE run_id = 'w' AND status = 'failed'") == [{"n": 0}]
        server.script(Reply("resumed"))
        proc = ncd("resume", PLANS / "one.ncd", "--run-id", "w", "--db", db, "--json", cwd=tmp_path,
                   env=model_env(server))
        assert result(proc)["final"]["{summary}"]["data"] == ["resumed"]


def test_cancel_wakes_a_cell_in_backoff(tmp_path):
    with OpenAIServer() as server:
        server.rule(lambda body: Status(429, retry_after="3600"))
        orch = Orchestrator(PLANS / "one.ncd", inputs={"{notes}": "n"}, store=tmp_path / "runs.db", run_id="c",
                            options={"llm_model": "test-model", "llm_base_url": server.base_url})
        box: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: box.update(result=orch.run()), daemon=True)
        worker.start()
        deadline = time.monotonic() + 30
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        orch.cancel()
        worker.join(timeout=15)
        assert not worker.is_alive(), "the cell kept sleeping through the cancel"
    assert box["result"].outcome == "interrupted"
    assert len(server.requests) == 1  # no attempt started after the cancel


# ---------------------------------------------------------------- rule 5: answer size


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
def test_a_huge_answer_is_refused_without_being_read_or_stored_whole(tmp_path, declare_length):
    db = tmp_path / "runs.db"
    with OpenAIServer() as server:
        server.script(Large(30 << 20, declare_length=declare_length))
        proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", db, "--run-id", "big",
                   "--max-answer-bytes", "10000", "--json", cwd=tmp_path, env=model_env(server), timeout=60)
        assert result(proc, 1)["outcome"] == "failed"
        assert len(server.requests) == 1  # not retried: the same question gets the same answer
    (call,) = llm_calls(db, "big")
    assert call["error_kind"] == "answer_too_large" and 0 < len(call["response_text"].encode()) <= 4096
    (row,) = query(db, "SELECT error_kind, error_message FROM executions WHERE run_id = 'big'")
    assert row["error_kind"] == "answer_too_large" and "--max-answer-bytes 10000" in row["error_message"]
    if declare_length:  # the declared length is reported; the body itself was read no further than its head
        assert int(re.search(r"of (\d+) bytes", row["error_message"])[1]) > 30 << 20
    size = sum(p.stat().st_size for p in tmp_path.glob("runs.db*"))
    assert size < 2 << 20, f"the store grew to {size} bytes"


def test_an_answer_over_the_cap_keeps_its_head_and_length(tmp_path):
    db = tmp_path / "runs.db"
    answer = "é" * 6000  # 12000 bytes of UTF-8: the cap counts bytes, the kept head is cut on a character
    with OpenAIServer() as server:
        server.script(Reply(answer))
        proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", db, "--run-id", "big",
                   "--max-answer-bytes", "11999", "--json", cwd=tmp_path, env=model_env(server))
        result(proc, 1)
    (call,) = llm_calls(db, "big")
    assert call["response_text"] == "é" * 2048 and call["status"] == "ok"
    (row,) = query(db, "SELECT error_kind, error_message FROM executions WHERE run_id = 'big'")
    assert row["error_kind"] == "answer_too_large"
    assert "of 12000 bytes exceeds --max-answer-bytes 11999" in row["error_message"]


def test_a_repair_request_resends_at_most_4_kib_of_the_answer(tmp_path):
    db = tmp_path / "runs.db"
    prose = "not a boolean " * 20000  # 280 KB, under the default cap, unparsable as true/false
    with OpenAIServer() as server:
        server.script(Reply(prose), Reply("true"))
        proc = ncd("run", PLANS / "judge.ncd", "--input", '{notes}="n"', "--db", db, "--json", cwd=tmp_path,
                   env=model_env(server))
        assert result(proc)["outcome"] == "completed"
        first, repair = server.chat_requests
    resent = next(m["content"] for m in repair["messages"] if m["role"] == "assistant")
    assert resent.startswith(prose[:4000]) and len(resent.encode()) <= 4096 + 100
    assert len(json.dumps(repair)) < len(json.dumps(first)) + 8192


def test_max_answer_bytes_must_be_positive(tmp_path):
    proc = ncd("run", PLANS / "one.ncd", "--input", '{notes}="n"', "--db", tmp_path / "runs.db",
               "--max-answer-bytes", "0", cwd=tmp_path, env={"NCD_LLM_MODEL": "m"})
    assert proc.returncode == 2 and "--max-answer-bytes" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs.db").exists()
