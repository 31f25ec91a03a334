"""The bundled model example (`examples/doc_review/`) runs offline from its README (issue 7, point 7).

* the offline command, read from the example's README, runs in a real ``ncd-run`` subprocess with no NCD_LLM_* /
  OPENAI_* variable, inside a copy of the example: exit 0, the expected review, every ``llm_calls`` row ``replayed``;
* a fresh recording with ``record.py`` (its stand-in model on 127.0.0.1) equals the committed ``replay.jsonl``, so a
  change to the plan, a prompt, the data or the default template that makes the recording stale fails here with the
  command that fixes it;
* editing a prompt template changes the replay key: the offline run fails with ``replay_miss`` naming the step.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE = PROJECT / "examples" / "doc_review"
REPLAY = EXAMPLE / "replay.jsonl"
COMMAND_START = "ncd-run run examples/doc_review/plan.ncd"

EXPECTED_REVIEW = {
    "verdict": "revise",
    "sections_to_revise": ["Budget"],
    "comment": "3 of 4 section summaries keep what their section says. The summary of Budget leaves out figures the "
               "section states; revise it so that a reader of the summary alone sees them.",
}


def clean_env() -> dict[str, str]:
    """No model, endpoint or key of any kind: replay must need none."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def readme_command(readme: Path) -> list[str]:
    """The offline command exactly as the README shows it (one line starting with ``ncd-run run …doc_review``)."""
    lines = [ln.strip() for ln in readme.read_text(encoding="utf-8").splitlines() if ln.strip().startswith(COMMAND_START)]
    assert len(lines) == 1, f"{readme}: expected exactly one line starting with {COMMAND_START!r}, found {lines}"
    argv = shlex.split(lines[0])
    assert argv[0] == "ncd-run"
    return argv[1:]


def ncd_run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=clean_env(), timeout=120, check=False)


def copy_example(tmp_path: Path) -> Path:
    """``tmp_path`` laid out like the project root, with a copy of the example (the run's store lands in it)."""
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "doc_review",
                    ignore=shutil.ignore_patterns("__pycache__", ".ncd", "build"))
    return tmp_path


def query(db: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql, params)]


def test_the_readmes_show_the_same_offline_command():
    command = readme_command(EXAMPLE / "README.md")
    assert readme_command(PROJECT / "examples" / "README.md") == command
    assert "--replay" in command and "--llm-model" not in command and "--llm-base-url" not in command


def test_the_plan_checks_clean():
    proc = subprocess.run([sys.executable, "-m", "ncdc", "check", str(EXAMPLE), "--check-files", "--show-info"],
                          capture_output=True, text=True, cwd=PROJECT, timeout=60, check=False)
    assert proc.returncode == 0 and "No problems found." in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert "NCD" not in proc.stdout + proc.stderr


def test_the_offline_command_replays_every_model_call(tmp_path):
    root = copy_example(tmp_path)
    proc = ncd_run(readme_command(EXAMPLE / "README.md"), cwd=root)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.stderr == "", proc.stderr
    result = json.loads(proc.stdout)
    assert result["outcome"] == "completed"
    assert result["final"] == {"{review}": {"axes": ["_none_axis"], "data": [EXPECTED_REVIEW]}}

    rows = query(root / ".ncd" / "runs.db", "SELECT flow_index, status, model, base_url, error_kind FROM llm_calls "
                                            "WHERE run_id = ?", result["run_id"])
    recorded = [json.loads(line) for line in REPLAY.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(recorded) == 9
    assert {r["status"] for r in rows} == {"replayed"}
    assert {(r["model"], r["base_url"], r["error_kind"]) for r in rows} == {("replay", None, None)}
    by_step = sorted(r["flow_index"] for r in rows)
    assert by_step == ["1"] + ["1.2.2"] * 4 + ["1.2.3"] * 4  # 4 summaries, 4 checks (one per section), 1 review


def test_a_fresh_recording_equals_the_committed_replay_file(tmp_path):
    out = tmp_path / "replay.jsonl"
    proc = subprocess.run([sys.executable, str(EXAMPLE / "record.py"), "-o", str(out)], capture_output=True,
                          text=True, cwd=tmp_path, env=clean_env(), timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_bytes() == REPLAY.read_bytes(), (
        "examples/doc_review/replay.jsonl is stale: the plan, a prompt template, the data, the inputs or the runtime's "
        "default template changed since it was recorded. Run `python examples/doc_review/record.py` and commit the "
        "new replay.jsonl (and update EXPECTED_REVIEW here and the READMEs if the review changed).")
    assert json.loads(proc.stdout.partition("\n")[2]) == {"{review}": {"axes": ["_none_axis"],
                                                                        "data": [EXPECTED_REVIEW]}}


@pytest.mark.parametrize("template, step", [("summarize_section.j2", "inference 1.2.2 ([section summaries])"),
                                            ("review.j2", "inference 1 ({review})")])
def test_editing_a_prompt_template_is_a_replay_miss_naming_the_step(tmp_path, template, step):
    root = copy_example(tmp_path)
    path = root / "examples" / "doc_review" / "prompts" / template
    path.write_text(path.read_text(encoding="utf-8") + "\nBe concise.\n", encoding="utf-8")
    proc = ncd_run(readme_command(EXAMPLE / "README.md"), cwd=root)
    assert proc.returncode == 1, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert json.loads(proc.stdout)["outcome"] == "failed"
    reasons = [json.loads(line.removeprefix("ncd-run: ")) for line in proc.stderr.splitlines()]
    failed = [r for r in reasons if "failed" in r]
    assert len(failed) == 1 and failed[0]["kind"] == "replay_miss", proc.stderr
    assert failed[0]["message"].startswith(f"{step}: no recorded answer in examples/doc_review/replay.jsonl")
    assert "Traceback" not in proc.stderr
