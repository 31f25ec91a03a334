"""Error hygiene (issue 13, rule 11) through the real command lines: bad input is one stderr line naming it, exit 2,
no traceback and nothing stored; a genuine internal error shows its traceback only with --debug / NCD_DEBUG=1;
a sequence bug fails its step with a typed error and its traceback is logged, not dropped."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.reference import MAX_NESTING

TESTS = Path(__file__).parent
PLANS = TESTS / "runtime_plans"
ADDITION = TESTS.parent / "examples" / "base_x_addition" / "plan.ncd"
GOOD = ("--input", '{number a}="19"', "--input", "{base}=10")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_", "NCD_DEBUG"))}
    return env | extra


def _cli(module: str, *args: str, cwd: Path, env: dict[str, str] | None = None,
         stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], stdout=stdout, stderr=subprocess.PIPE, text=True,
                          cwd=cwd, env=env or _env(), timeout=120)


def ncd_run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return _cli("runtime.cli", *args, cwd=cwd, env=env)


def ncdc(*args: str, cwd: Path, env: dict[str, str] | None = None,
         stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess:
    return _cli("ncdc", *args, cwd=cwd, env=env, stdout=stdout)


def refused(proc: subprocess.CompletedProcess, *names: str) -> str:
    """Exit 2, one stderr line naming every one of ``names``, no traceback, nothing on stdout."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def stored_runs(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone() is None:
            return 0
        return conn.execute("SELECT count(*) FROM runs").fetchone()[0]


def run_addition(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    db = tmp_path / "runs.db"
    return ncd_run("run", str(ADDITION), "--db", str(db), *args, cwd=tmp_path), db


# ---------------------------------------------------------------- input values that cannot fit the concept

@pytest.mark.parametrize(("value", "got"), [("[1, 2]", "a list of 2 items"), ("[]", "an empty list")])
def test_a_list_for_a_single_valued_concept_is_refused(tmp_path, value, got):
    proc, db = run_addition(tmp_path, *GOOD, "--input", f"{{number b}}={value}")
    line = refused(proc, "{number b}", "expected a single value", got)
    assert "wrap it" in line
    assert stored_runs(db) == 0


def test_the_same_value_in_an_inputs_file_and_in_object_form_is_refused(tmp_path):
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"{number a}": "1", "{base}": 10, "{number b}": {"data": [1, 2]}}))
    proc, db = run_addition(tmp_path, "--inputs", str(inputs))
    refused(proc, "{number b}", "a list of 2 items")
    assert stored_runs(db) == 0


def test_a_wrapped_list_is_one_value_and_a_one_element_list_is_unwrapped(tmp_path):
    proc, _ = run_addition(tmp_path, *GOOD, "--input", '{number b}=["3"]', "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["final"]["{sum}"]["data"] == ["22"]
    # `[[1, 2]]` fits (one value that is a list); the binding then rejects it as a digit string, in its own words
    proc, _ = run_addition(tmp_path, *GOOD, "--input", "{number b}=[[1, 2]]")
    assert proc.returncode == 1 and "digits.py:digit_pairs raised" in proc.stderr, proc.stderr


# ---------------------------------------------------------------- nesting limit

def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _two_wide(depth: int) -> str:
    """``[1, [1, [...]]]``: ``depth`` levels that no one-element unwrapping (RUNTIME §3.3) can shorten."""
    text = "[]"
    for _ in range(depth - 1):
        text = f"[1, {text}]"
    return text


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 100_000])
def test_deeply_nested_inputs_file_is_refused(tmp_path, depth):
    inputs = tmp_path / "deep.json"
    inputs.write_text('{"{number b}": ' + _nested(depth) + "}")
    proc, db = run_addition(tmp_path, *GOOD, "--inputs", str(inputs))
    refused(proc, "deep" if depth > 1000 else "{number b}", f"deeper than {MAX_NESTING} levels")
    assert stored_runs(db) == 0


def test_deeply_nested_input_option_is_refused(tmp_path):
    proc, db = run_addition(tmp_path, *GOOD, "--input", "{number b}=" + _nested(50_000))
    refused(proc, "--input {number b}", f"deeper than {MAX_NESTING} levels")
    assert stored_runs(db) == 0


def test_nesting_at_the_limit_is_accepted_and_stored(tmp_path):
    """A value right at the limit passes every later stage (copying, encoding, hashing, storing)."""
    plan = tmp_path / "deep.ncd"
    plan.write_text(":<:{copy}\n    <= $= %>({x})\n    <- {x}\n        | %{is_ground}: true\n")
    value = _two_wide(MAX_NESTING - 1)  # the one-element list around it makes MAX_NESTING
    proc = ncd_run("run", str(plan), "--db", str(tmp_path / "runs.db"), "--input", f"{{x}}=[{value}]", "--json",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["final"]["{copy}"]["data"] == [json.loads(value)]


def test_a_binding_result_nested_too_deep_fails_its_step_typed(tmp_path):
    (tmp_path / "deep_fns.py").write_text(f"def deep(x):\n    return {_nested(MAX_NESTING + 5)}\n")
    plan = tmp_path / "deep_out.ncd"
    plan.write_text(":<:{result}\n    <= ::(nest {1})\n        | %{python}: deep_fns.py:deep\n"
                    "    <- {x}<:{1}>\n        | %{literal_value}: 1\n")
    proc = ncd_run("run", str(plan), "--db", str(tmp_path / "runs.db"), "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "contract_error" in proc.stderr and f"deeper than {MAX_NESTING} levels" in proc.stderr


# ---------------------------------------------------------------- replay file, numeric options

def test_non_utf8_replay_file_is_refused(tmp_path):
    replay = tmp_path / "answers.jsonl"
    replay.write_bytes(b'\xff\xfe{"key": "k"}\n')
    proc, db = run_addition(tmp_path, *GOOD, "--input", '{number b}="1"', "--replay", str(replay))
    refused(proc, "--replay", "answers.jsonl", "not UTF-8")
    assert stored_runs(db) == 0


@pytest.mark.parametrize(("option", "value"), [
    ("--retries", "-1"), ("--checkpoint-every", "-3"), ("--busy-timeout", "-5"), ("--max-concurrency", "0"),
    ("--max-cycles", "-1"), ("--max-retries-total", "-2"), ("--backoff-base", "-0.5"), ("--backoff-max", "nan"),
    ("--llm-timeout", "0"), ("--llm-concurrency", "0"), ("--parse-retries", "-1"), ("--max-tokens", "-10"),
    ("--max-cost-usd", "-1"), ("--max-llm-calls", "-1"), ("--max-loop-iterations", "0"),
])
def test_negative_or_zero_invalid_numeric_options_are_refused(tmp_path, option, value):
    proc, db = run_addition(tmp_path, *GOOD, "--input", '{number b}="1"', option, value)
    refused(proc, option, repr(value))
    assert not db.exists()


def test_negative_checkpoint_address_is_refused(tmp_path):
    proc = ncd_run("export", "--run-id", "r1", "--db", str(tmp_path / "runs.db"), "--cycle", "-1", cwd=tmp_path)
    refused(proc, "--cycle")


# ---------------------------------------------------------------- a legacy tag inside %{value_order}

VALUE_ORDER_PLAN = """\
:<:{sum}
    <= ::(add {1} and {2})
        | %{value_order}: [{a}<--x>, {b}]
        | %{python}: fns.py:add
    <- {a}<:{1}>
        | %{is_ground}: true
    <- {b}<:{2}>
        | %{is_ground}: true
"""
VALUE_ORDER_DIAGNOSTIC = "value_order.ncd:3:31: NCD128 `%{value_order}` entry: legacy tag `<--x>`"


@pytest.mark.parametrize("command", ["check", "compile"])
def test_legacy_tag_in_value_order_is_an_ordinary_ncdc_diagnostic(tmp_path, command):
    (tmp_path / "value_order.ncd").write_text(VALUE_ORDER_PLAN)
    args = [command, "value_order.ncd"] + (["-o", str(tmp_path / "out")] if command == "compile" else [])
    proc = ncdc(*args, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert VALUE_ORDER_DIAGNOSTIC in proc.stdout
    assert not (tmp_path / "out").exists()


def test_legacy_tag_in_value_order_stops_ncd_run_with_the_diagnostic(tmp_path):
    (tmp_path / "value_order.ncd").write_text(VALUE_ORDER_PLAN)
    db = tmp_path / "runs.db"
    proc = ncd_run("run", "value_order.ncd", "--db", str(db), "--input", "{a}=1", "--input", "{b}=2", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert VALUE_ORDER_DIAGNOSTIC in proc.stderr
    assert stored_runs(db) == 0


# ---------------------------------------------------------------- `$%` face value grouped with a scalar

def test_abstraction_list_grouped_with_a_scalar_is_one_element(tmp_path):
    """`$% %>([1, 2, 3])` without `%:` used to lay three values on `_none_axis` and crash `align` when grouped with
    a single value. FIDELITY §5: without `%:` or a declared axis the face value is one element, so the grouping
    completes (no shape_error, no traceback)."""
    proc = ncd_run("run", str(PLANS / "abstraction_grouped.ncd"), "--db", str(tmp_path / "runs.db"), "--json",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["outcome"] == "completed"
    assert out["final"]["{bundle}"] == {"axes": ["_none_axis"], "data": [{"{set}": [1, 2, 3], "{other}": "x"}]}
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


# ---------------------------------------------------------------- sequence bugs and --debug

BUG_PLAN = """\
:<:{result}
    <= ::(make something odd of {1})
        | %{python}: odd.py:odd
    <- {x}<:{1}>
        | %{literal_value}: 1
"""
# A list whose iteration raises: the runtime's own copy of the binding's result fails inside the sequence, an
# exception no sequence anticipates (a stand-in for a sequence bug, reached through the real interface).
ODD_MODULE = """\
class Unreadable(list):
    def __iter__(self):
        raise RuntimeError("cannot iterate")


def odd(x):
    return Unreadable([1])
"""


def _bug_plan(tmp_path: Path) -> None:
    (tmp_path / "odd.ncd").write_text(BUG_PLAN)
    (tmp_path / "odd.py").write_text(ODD_MODULE)


def test_sequence_bug_fails_the_step_typed_and_is_logged(tmp_path):
    _bug_plan(tmp_path)
    proc = ncd_run("run", "odd.ncd", "--db", str(tmp_path / "runs.db"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    logged = [ln for ln in proc.stderr.splitlines() if ln.startswith("ncd-run: ERROR: inference 1:")]
    assert len(logged) == 1 and "RuntimeError: cannot iterate" in logged[0] and "--debug" in logged[0], proc.stderr
    assert '"kind": "executor_error"' in proc.stderr


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback_of_a_sequence_bug(tmp_path, how):
    _bug_plan(tmp_path)
    args = ["run", "odd.ncd", "--db", str(tmp_path / "runs.db")] + (["--debug"] if how == "flag" else [])
    proc = ncd_run(*args, cwd=tmp_path, env=_env(NCD_DEBUG="1") if how == "env" else None)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback (most recent call last)" in proc.stderr
    assert 'odd.py", line 3, in __iter__' in proc.stderr


# A binding module whose attribute lookup raises: choosing executors at load meets an exception nobody expects,
# which reaches ncd-run's top level as an internal error.
LOOKUP_MODULE = """\
def __getattr__(name):
    raise RuntimeError(f"lookup of {name} refused")
"""


@pytest.mark.parametrize("how", ["none", "flag", "env"])
def test_ncd_run_internal_error_traceback_only_with_debug(tmp_path, how):
    (tmp_path / "odd.ncd").write_text(BUG_PLAN)
    (tmp_path / "odd.py").write_text(LOOKUP_MODULE)
    args = ["run", "odd.ncd", "--db", str(tmp_path / "runs.db")] + (["--debug"] if how == "flag" else [])
    proc = ncd_run(*args, cwd=tmp_path, env=_env(NCD_DEBUG="1") if how == "env" else None)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ncd-run: internal error: RuntimeError: lookup of odd refused"), proc.stderr
    if how == "none":
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert "--debug" in last
    else:
        assert "Traceback (most recent call last)" in proc.stderr and 'odd.py", line 2, in __getattr__' in proc.stderr


@pytest.mark.parametrize("how", ["none", "flag", "env"])
def test_ncdc_internal_error_traceback_only_with_debug(tmp_path, how):
    """The only failure left that ncdc does not anticipate, reachable from outside: its stdout is a closed pipe."""
    read, write = os.pipe()
    os.close(read)
    try:
        args = (["--debug"] if how == "flag" else []) + ["schema"]
        proc = ncdc(*args, cwd=tmp_path, env=_env(NCD_DEBUG="1") if how == "env" else None, stdout=write)
    finally:
        os.close(write)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ncdc: internal error: BrokenPipeError"), proc.stderr
    if how == "none":
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    else:
        assert "Traceback (most recent call last)" in proc.stderr
