"""The RUNTIME §1 run options --timeout, --python-timeout, --max-executions, --on-cell-error, --fail-fast, --memory
and --interactive, through real `ncd-run` subprocesses against real SQLite stores under a temporary directory.

The plans live in tests/runtime_plans/options_*.ncd with their bindings in options_fns.py. Every subprocess runs
under a generous 60 s limit: a run that waited for a hanging binding (or a process kept alive by one) fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import one_line_error

PLANS = Path(__file__).parent / "runtime_plans"


def ncd_run(tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """``ncd-run ARGS`` in ``tmp`` with ``stdin`` as its input (never the terminal of the test)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_"))}
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], capture_output=True, text=True, cwd=tmp,
                          env=env, input=stdin, timeout=60)


def run_json(tmp: Path, plan: str, *args: str, stdin: str = "") -> tuple[int, dict, str]:
    """(exit status, the --json result, stderr) of ``ncd-run run`` (or ``resume`` with args) on a test plan."""
    command = ("resume", *args[1:]) if args[:1] == ("resume",) else ("run", *args)
    proc = ncd_run(tmp, command[0], str(PLANS / plan), *command[1:], "--db", str(tmp / "runs.db"), "--json",
                   stdin=stdin)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def show(tmp: Path, run_id: str) -> dict:
    proc = ncd_run(tmp, "show", "--run-id", run_id, "--db", str(tmp / "runs.db"), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def stored_runs(tmp: Path) -> list:
    proc = ncd_run(tmp, "list-runs", "--db", str(tmp / "runs.db"), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# ---------------------------------------------------------------- --python-timeout (§10.1)

def test_hanging_binding_becomes_a_timeout_error_and_the_process_still_exits(tmp_path):
    code, doc, err = run_json(tmp_path, "options_hang.ncd", "--python-timeout", "0.5", "--retries", "3",
                              "--backoff-base", "0", "--run-id", "h")
    assert code == 1 and doc["outcome"] == "failed"
    assert '"kind": "timeout"' in err and "--python-timeout 0.5 s" in err
    step = show(tmp_path, "h")["steps"][0]
    assert step["status"] == "failed"
    assert step["errors"][0]["kind"] == "timeout"
    # a binding that hung once is not called again: re-running deterministic author code that hangs only
    # abandons one more thread per retry
    assert step["attempts"] == 1


def test_python_timeout_is_stored_and_used_by_resume(tmp_path):
    code, _, _ = run_json(tmp_path, "options_hang.ncd", "--python-timeout", "0.5", "--run-id", "h")
    assert code == 1
    assert stored_runs(tmp_path)[0]["run_id"] == "h"
    code, doc, err = run_json(tmp_path, "options_hang.ncd", "resume", "--run-id", "h")  # no flag repeated
    assert code == 1 and doc["outcome"] == "failed"
    assert "--python-timeout 0.5 s" in err


# ---------------------------------------------------------------- --timeout (§6.4)

def test_timeout_cancels_a_waiting_cell_and_ends_the_run_budget_exhausted(tmp_path):
    # the binding hangs and --python-timeout stays at its 300 s default: only the run's deadline can end it
    code, doc, err = run_json(tmp_path, "options_hang.ncd", "--timeout", "1", "--run-id", "t")
    assert code == 4 and doc["outcome"] == "budget_exhausted"
    reasons = show(tmp_path, "t")["outcome"]["reasons"]
    assert reasons[0]["budget"] == "timeout"
    assert "--timeout 1 s" in reasons[0]["message"]
    assert "--timeout 1 s" in err
    assert stored_runs(tmp_path)[0]["status"] == "budget_exhausted"


def test_timeout_not_reached_leaves_the_run_completed(tmp_path):
    code, doc, _ = run_json(tmp_path, "options_chain.ncd", "--timeout", "60")
    assert code == 0 and doc["outcome"] == "completed"
    assert doc["final"]["{fourth}"]["data"] == ["s++++"]


def test_a_timed_out_run_stays_resumable(tmp_path):
    code, _, _ = run_json(tmp_path, "options_hang_once.ncd", "--timeout", "0.5", "--run-id", "t")
    assert code == 4
    # the cancelled cell was not recorded as a result: the resume (same plan, same run) runs it again
    code, doc, _ = run_json(tmp_path, "options_hang_once.ncd", "resume", "--run-id", "t", "--timeout", "0")
    assert code == 0 and doc["run_id"] == "t"
    assert doc["final"]["{result}"]["data"] == ["s+"]


def test_sigterm_wakes_a_cell_waiting_on_a_hanging_binding(tmp_path):
    # --python-timeout stays at 300 s: only the interrupt's cancel event can end the wait on the binding
    proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "run", str(PLANS / "options_hang_once.ncd"),
                             "--run-id", "i", "--db", str(tmp_path / "runs.db"), "--json"], cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "hang.marker").exists():  # the binding has started and now hangs
            assert proc.poll() is None and time.monotonic() < deadline, "the binding never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    code, doc, _ = run_json(tmp_path, "options_hang_once.ncd", "resume", "--run-id", "i")
    assert code == 0 and doc["final"]["{result}"]["data"] == ["s+"]


# ---------------------------------------------------------------- --max-executions (§6.4)

def test_max_executions_stops_scheduling_and_resume_keeps_the_budget(tmp_path):
    code, doc, err = run_json(tmp_path, "options_chain.ncd", "--max-executions", "1", "--run-id", "m")
    assert code == 4 and doc["outcome"] == "budget_exhausted"
    assert doc["executed"] == 1
    assert '"budget": "max_executions"' in err
    # the stored option bounds the resume too: one more inference, then the budget stops it again
    code, doc, _ = run_json(tmp_path, "options_chain.ncd", "resume", "--run-id", "m")
    assert code == 4 and doc["executed"] == 1
    # 0 lifts the bound (unlimited, like every budget)
    code, doc, _ = run_json(tmp_path, "options_chain.ncd", "resume", "--run-id", "m", "--max-executions", "0")
    assert code == 0 and doc["executed"] == 2
    assert doc["final"]["{fourth}"]["data"] == ["s++++"]


def test_max_executions_large_enough_completes(tmp_path):
    code, doc, _ = run_json(tmp_path, "options_chain.ncd", "--max-executions", "4")
    assert code == 0 and doc["executed"] == 4


# ---------------------------------------------------------------- --on-cell-error (§6.3)

def test_on_cell_error_fail_is_the_default(tmp_path):
    code, doc, err = run_json(tmp_path, "options_cells.ncd")
    assert code == 1 and doc["outcome"] == "failed"
    assert "cannot handle bad" in err


def test_on_cell_error_skip_turns_error_cells_into_skip_and_keeps_the_errors(tmp_path):
    code, doc, _ = run_json(tmp_path, "options_cells.ncd", "--on-cell-error", "skip", "--run-id", "s")
    assert code == 0 and doc["outcome"] == "completed"
    assert doc["final"]["{result}"]["data"] == ["OK", {"$ncd": "skip"}, "FINE"]
    status = show(tmp_path, "s")
    assert status["outcome"]["cell_errors"] == 1
    [error] = status["steps"][0]["errors"]
    assert error["kind"] == "executor_error" and "cannot handle bad" in error["message"]
    assert error["element"] == {"axes": ["item"], "cell": [1]}


# ---------------------------------------------------------------- --fail-fast (§6.4)

def test_fail_fast_starts_nothing_after_the_first_failure(tmp_path):
    # one inference at a time: the failing branch (flow order first) runs, then the independent one would
    code, doc, _ = run_json(tmp_path, "options_branches.ncd", "--max-concurrency", "1")
    assert code == 1 and doc["executed"] == 2
    code, doc, err = run_json(tmp_path, "options_branches.ncd", "--max-concurrency", "1", "--fail-fast",
                              "--run-id", "f")
    assert code == 1 and doc["outcome"] == "failed"
    assert doc["executed"] == 1
    assert '"waiting": "1.3"' in err
    assert [s["flow_index"] for s in show(tmp_path, "f")["steps"] if s["status"] != "pending"] == ["1.2"]


# ---------------------------------------------------------------- --memory (§2.6)

def test_memory_file_answers_memorized_parameters(tmp_path):
    (tmp_path / "memory.json").write_text(json.dumps({"user": "Ada"}))
    code, doc, _ = run_json(tmp_path, "options_memory.ncd", "--memory", "memory.json")
    assert code == 0 and doc["final"]["{greeting}"]["data"] == ["hello Ada"]


def test_memory_path_is_stored_and_reread_by_resume(tmp_path):
    memory = tmp_path / "memory.json"
    memory.write_text("{}")
    code, _, err = run_json(tmp_path, "options_memory.ncd", "--memory", "memory.json", "--run-id", "r")
    assert code == 3 and "memorized parameter 'user' is not in the memory file" in err
    memory.write_text(json.dumps({"user": "Bea"}))
    code, doc, _ = run_json(tmp_path, "options_memory.ncd", "resume", "--run-id", "r")
    assert code == 0 and doc["final"]["{greeting}"]["data"] == ["hello Bea"]


@pytest.mark.parametrize(("content", "expected"), [
    (None, "cannot read memory file"),
    ("{not json", "memory file is not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
])
def test_bad_memory_file_is_one_line_and_stores_nothing(tmp_path, content, expected):
    if content is not None:
        (tmp_path / "memory.json").write_text(content)
    proc = ncd_run(tmp_path, "run", str(PLANS / "options_memory.ncd"), "--memory", "memory.json", "--db",
                   str(tmp_path / "runs.db"))
    err = one_line_error(proc)
    assert "memory.json" in err and expected in err
    assert stored_runs(tmp_path) == []


# ---------------------------------------------------------------- --interactive (§10.4)

def test_interactive_asks_for_external_input_on_stdin(tmp_path):
    code, doc, err = run_json(tmp_path, "options_ask.ncd", "--interactive", stdin="Carol Smith\n")
    assert code == 0 and doc["final"]["{greeting}"]["data"] == ["hello Carol Smith"]
    assert "external input {user name}" in err
    code, doc, _ = run_json(tmp_path, "options_ask.ncd", "--interactive", stdin='"Dan"\n')  # JSON is read as JSON
    assert doc["final"]["{greeting}"]["data"] == ["hello Dan"]


def test_without_interactive_a_missing_external_input_blocks(tmp_path):
    code, doc, _ = run_json(tmp_path, "options_ask.ncd", stdin="Ada\n")
    assert code == 3 and doc["outcome"] == "blocked"


def test_interactive_with_stdin_closed_blocks_and_is_not_carried_into_a_resume(tmp_path):
    code, doc, err = run_json(tmp_path, "options_ask.ncd", "--interactive", "--run-id", "i")
    assert code == 3 and doc["outcome"] == "blocked"
    assert "stdin ended" in err
    # --interactive belongs to one invocation: a resume without it does not read the terminal
    code, _, _ = run_json(tmp_path, "options_ask.ncd", "resume", "--run-id", "i", stdin="Eve\n")
    assert code == 3
    code, doc, _ = run_json(tmp_path, "options_ask.ncd", "resume", "--run-id", "i", "--interactive", stdin="Eve\n")
    assert code == 0 and doc["final"]["{greeting}"]["data"] == ["hello Eve"]


def test_timeout_wakes_a_run_waiting_for_interactive_input(tmp_path):
    read_end, write_end = os.pipe()  # stdin stays open and silent: only the deadline can end the wait
    try:
        proc = subprocess.run([sys.executable, "-m", "runtime.cli", "run", str(PLANS / "options_ask.ncd"),
                               "--interactive", "--timeout", "1", "--db", str(tmp_path / "runs.db"), "--json"],
                              cwd=tmp_path, stdin=read_end, capture_output=True, text=True, timeout=60)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert proc.returncode == 4, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "budget_exhausted"


# ---------------------------------------------------------------- bad values

@pytest.mark.parametrize("args", [
    ("--timeout", "-1"), ("--timeout", "nan"), ("--timeout", "inf"), ("--max-executions", "-2"),
    ("--max-executions", "1.5"),
    ("--python-timeout", "0"), ("--python-timeout", "-3"), ("--on-cell-error", "ignore"),
])
def test_bad_option_values_are_one_line_and_store_nothing(tmp_path, args):
    proc = ncd_run(tmp_path, "run", str(PLANS / "options_chain.ncd"), *args, "--db", str(tmp_path / "runs.db"))
    assert args[0] in one_line_error(proc)
    assert not (tmp_path / "runs.db").exists()
