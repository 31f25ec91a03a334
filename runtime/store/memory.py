"""In-memory store: result rows kept per run, encoded as in §2.5 so they can be persisted unchanged later."""

from __future__ import annotations

from typing import Any

from runtime.reference import Reference


class MemoryStore:
    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.results: dict[str, list[dict[str, Any]]] = {}

    def begin_run(self, run_id: str, info: dict[str, Any]) -> None:
        self.runs[run_id] = {"run_id": run_id, "status": "running", **info}
        self.results[run_id] = []

    def append_result(self, run_id: str, row: dict[str, Any]) -> int:
        rows = self.results[run_id]
        value = row.get("value")
        stored = dict(row, seq=len(rows) + 1)
        if isinstance(value, Reference):
            stored["value"] = value.encode()
            stored["value_hash"] = value.value_hash()
        rows.append(stored)
        return stored["seq"]

    def finish_run(self, run_id: str, status: str, outcome: dict[str, Any]) -> None:
        self.runs[run_id].update(status=status, outcome=outcome)
