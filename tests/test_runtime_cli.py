"""`ncd-run run` through real subprocesses: exit codes, --json output, one-line bad-input messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from cli_support import one_line_error

PLANS = Path(__file__).parent / "runtime_plans"
EXAMPLES = Path(__file__).parent.parent / "examples"


def ncd_run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``ncd-run ARGS`` in ``cwd``, by default a fresh directory: the default store (``.ncd/runs.db`` under the
    current directory) then never lands in the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_"))}
    with tempfile.TemporaryDirectory(prefix="ncd-run-cli-") as scratch:
        return subprocess.run([sys.executable, "-m", "runtime.cli", *args], capture_output=True, text=True,
                              cwd=cwd or scratch, env=env, timeout=120)


def test_completed_run_prints_exactly_one_json_object():
    proc = ncd_run("run", str(PLANS / "gate.ncd"), "--input", '{ticket text}="free money inside"', "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"run_id", "outcome", "final", "cycles", "executed"}
    assert doc["outcome"] == "completed"
    assert doc["final"] == {"{reply}": {"axes": ["_none_axis"], "data": ["canned"]}}


def test_inputs_file_and_input_override(tmp_path):
    f = tmp_path / "in.json"
    f.write_text(json.dumps({"_comment": "x", "[chapters]": ["a", "b"]}))
    proc = ncd_run("run", str(PLANS / "carried.ncd"), "--inputs", str(f), "--input", '[chapters]=["z"]', "--json",
                   "--max-concurrency", "2")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["final"]["{summary}"]["data"] == [["z after (start)"]]


def test_failed_run_exits_1():
    proc = ncd_run("run", str(PLANS / "fails.ncd"), "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["outcome"] == "failed"
    assert "fns.py:boom raised ValueError" in proc.stderr


def test_blocked_run_exits_3():
    proc = ncd_run("run", str(PLANS / "gate.ncd"), "--json")
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["outcome"] == "blocked"
    assert "missing_ground_data" in proc.stderr


def test_budget_exhausted_exits_4():
    proc = ncd_run("run", str(PLANS / "loop_simple.ncd"), "--input", '[words]=["a","b"]', "--max-loop-iterations",
                   "1", "--json")
    assert proc.returncode == 4
    assert json.loads(proc.stdout)["outcome"] == "budget_exhausted"


def test_unknown_concept_in_inputs_is_named():
    err = one_line_error(ncd_run("run", str(PLANS / "identity.ncd"), "--input", '{nope}="x"'))
    assert "unknown concept '{nope}'" in err


def test_malformed_inputs_json_is_named(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text("{not json")
    err = one_line_error(ncd_run("run", str(PLANS / "identity.ncd"), "--inputs", str(f)))
    assert "bad.json" in err and "not valid JSON" in err
    err = one_line_error(ncd_run("run", str(PLANS / "identity.ncd"), "--input", "{original}=nope"))
    assert "--input {original}" in err


def test_missing_binding_file_and_function_are_named(tmp_path):
    shutil.copy(PLANS / "after.ncd", tmp_path / "p.ncd")
    err = one_line_error(ncd_run("run", str(tmp_path / "p.ncd")))
    assert "binding module fns.py not found" in err
    (tmp_path / "fns.py").write_text("x = 1\n")
    err = one_line_error(ncd_run("run", str(tmp_path / "p.ncd")))
    assert "has no function 'shout'" in err


def test_missing_plan_and_bad_usage_exit_2(tmp_path):
    one_line_error(ncd_run("run", str(tmp_path / "missing.ncd")))
    proc = ncd_run("run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_llm_step_without_model_fails_before_running():
    err = one_line_error(ncd_run("run", str(EXAMPLES / "ticket_triage" / "plan.ncd")))
    assert "needs a language model" in err and "NCD_LLM_MODEL" in err and "--binding 1.2=" in err


def test_ticket_triage_example_end_to_end_with_a_python_stand_in(tmp_path):
    plan_dir = tmp_path / "ticket_triage"
    shutil.copytree(EXAMPLES / "ticket_triage", plan_dir)
    (plan_dir / "stand_in.py").write_text("def draft(ticket):\n    return 'Re: ' + ticket.split(',')[0]\n")
    proc = ncd_run("run", str(plan_dir / "plan.ncd"), "--binding", "1.2=stand_in.py:draft", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["final"] == {"{reply}": {"axes": ["_none_axis"], "data": ["Re: Hello"]}}
    assert doc["executed"] == 4 and doc["cycles"] == 4
    (plan_dir / "data" / "ticket.txt").write_text("WINNER! click here for free money")
    proc = ncd_run("run", str(plan_dir / "plan.ncd"), "--binding", "1.2=stand_in.py:draft", "--json")
    assert json.loads(proc.stdout)["final"]["{reply}"]["data"] == ["Thanks, we got your message."]
