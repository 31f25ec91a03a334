"""One group commit of a run's writes (the recorder's), and the generic way to apply it through the protocol.

The recorder hands a store a ``WriteBatch`` rather than one call per row: a backend can then write each table with
one statement per batch (``SqliteStore`` does, with ``executemany``), which matters because every statement hands
the interpreter lock back and forth with the scheduler's thread. Any backend may use ``apply_batch``: the same
writes, one protocol call each, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.store.base import Store
from runtime.store.lease import fence


@dataclass
class WriteBatch:
    """Applied in one transaction in this order. Dicts are shared with the caller: ids and seqs are written back.

    * ``executions``: new executions rows; each gets its ``execution_id`` set.
    * ``finishes``: (an execution dict written in this or an earlier batch, its finish fields).
    * ``results``: result rows; each gets its ``seq`` set.
    * ``markers``: for each checkpoint marker, how many of this batch's results precede it: the marker covers the
      run's last row at that point (nothing when the run has no row yet).
    * ``llm_calls``: (row, the execution dict it belongs to or None).
    * ``run_update``: the last update of the run's status/finished_at/outcome, if any.
    * ``lease``: the holder id the writes are fenced with (``lease.fence``), or None for an unleased writer.
    """

    executions: list[dict[str, Any]] = field(default_factory=list)
    finishes: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    markers: list[int] = field(default_factory=list)
    llm_calls: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    run_update: dict[str, Any] | None = None
    lease: str | None = None

    def __bool__(self) -> bool:
        return bool(self.executions or self.finishes or self.results or self.markers or self.llm_calls
                    or self.run_update)


def apply_batch(store: Store, run_id: str, batch: WriteBatch) -> None:
    with store.transaction():
        if batch.lease is not None:
            fence(run_id, store.get_lease(run_id), batch.lease)
        for ex in batch.executions:
            ex["execution_id"] = store.start_execution(run_id, {k: v for k, v in ex.items()
                                                                if k != "execution_id"})
        for ex, finish in batch.finishes:
            store.finish_execution(run_id, ex["execution_id"], **finish)
        base = store.last_seq(run_id)
        if batch.results:
            for row, seq in zip(batch.results, store.append_results(run_id, batch.results)):
                row["seq"] = seq
        for before in batch.markers:
            if base + before:
                store.add_checkpoint(run_id, base + before)
        for row, ex in batch.llm_calls:
            store.add_llm_call(run_id, {**row, "execution_id": ex.get("execution_id") if ex else None})
        if batch.run_update:
            store.update_run(run_id, **batch.run_update)
