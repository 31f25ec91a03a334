"""The store protocol the orchestrator writes through; an SQLite store (§8.1) will implement the same methods."""

from __future__ import annotations

from typing import Any, Protocol


class Store(Protocol):
    def begin_run(self, run_id: str, info: dict[str, Any]) -> None:
        """Create the run record (status `running`)."""

    def append_result(self, run_id: str, row: dict[str, Any]) -> int:
        """Append one result row (§8.3: item or loop_iteration); returns its monotonic `seq`."""

    def finish_run(self, run_id: str, status: str, outcome: dict[str, Any]) -> None:
        """Record the run's final status and outcome."""
