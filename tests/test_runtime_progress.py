"""Live progress: the Orchestrator reports each result row as it is recorded, and `ncd-run run` shows a one-line
progress display on a terminal (never with --json, never when stderr is not a terminal)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from runtime.cli import Progress
from runtime.orchestrator import Orchestrator
from runtime.store import MemoryStore

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "base_x_addition"


def test_orchestrator_reports_every_result_row() -> None:
    rows: list[dict] = []
    result = Orchestrator(EXAMPLE / "plan.ncd", inputs=EXAMPLE / "inputs.json", on_result=rows.append,
                          store=MemoryStore()).run()
    assert result.outcome == "completed"
    items = [row for row in rows if row["kind"] == "item"]
    assert len(items) >= result.executed
    assert {row["status"] for row in items} <= {"completed", "skipped", "failed"}


def test_progress_line_is_rewritten_in_place_and_cleared() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    progress({"kind": "item", "cycle": 1, "flow_index": "1.2", "status": "completed", "concept_name": "{x}"})
    progress({"kind": "other"})
    progress({"kind": "item", "cycle": 2, "flow_index": "1", "status": "completed", "concept_name": "{y}"})
    progress.close()
    text = stream.getvalue()
    assert "\n" not in text and text.count("\r") == 4  # two updates, then a cleared line
    assert "2 steps" in text and "1 completed {y}" in text


def test_no_progress_display_when_stderr_is_not_a_terminal(tmp_path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "run", str(EXAMPLE / "plan.ncd"), "--inputs", str(EXAMPLE / "inputs.json")],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, cwd=tmp_path,
    )
    assert completed.returncode == 0
    assert "\r" not in completed.stderr
    assert completed.stdout.splitlines()[-1] == '{sum} = ["10000"]'
