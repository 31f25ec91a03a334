"""What the run server keeps of finished runs (issue 13 rule 8), counted in-process: no Orchestrator of a finished
run stays alive, and no thread or SQLite connection of the runs is left behind. (RSS is measured by
``benchmarks/server_load.py --part limits``; here only robust counters are asserted.)

A finished run's state is cyclic (scopes and their instances point at each other) and every run start freezes the
heap out of the collector's reach (runtime/gcpolicy.py): without ``RunManager._reclaim`` a busy server kept every
finished run. Automatic collection is switched off during the test, so only the server's own collection frees them.
"""

from __future__ import annotations

import gc
import shutil
import threading
import weakref
from pathlib import Path

from crash_support.harness import random_operand
from server_support import ROOT, wait_for

from runtime.scopes import Scope
from runtime.server.events import EventLog, row_event
from runtime.server.plans import PlanRegistry
from runtime.server.runs import RunManager
from runtime.store.sqlite import SqliteStore


def _scopes() -> int:
    """Scopes the collector tracks (a run's scope tree lives exactly as long as its state)."""
    return sum(1 for o in gc.get_objects() if type(o) is Scope)


def _manager(tmp_path: Path) -> RunManager:
    plans = tmp_path / "plans"
    shutil.copytree(ROOT / "examples" / "base_x_addition", plans / "base_x_addition",
                    ignore=shutil.ignore_patterns("__pycache__", ".ncd"))
    registry = PlanRegistry(plans)
    registry.refresh()
    manager = RunManager(SqliteStore(tmp_path / "runs.db"), registry, max_runs=3, per_run_concurrency=4)
    manager.start()
    return manager


def test_finished_runs_are_freed_and_leave_no_threads_or_connections(tmp_path: Path) -> None:
    import random

    manager = _manager(tmp_path)
    rng = random.Random(5)
    threads_before = threading.active_count()
    connections_before = len(manager.store._threads)
    orchestrators: list[weakref.ref] = []
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for i in range(12):
            base = rng.randint(2, 36)
            manager.create(plan_id="base_x_addition", run_id=f"m-{i}", model=None, owner=None,
                           inputs={"{number a}": random_operand(rng, base, 6),
                                   "{number b}": random_operand(rng, base, 6), "{base}": base})
            active = manager.active(f"m-{i}")
            if active is not None:
                orchestrators.append(weakref.ref(active.orch))
            del active
        wait_for(lambda: manager.counts() == (0, 0), 60, "the runs to finish")
        assert all(manager.store.get_run(f"m-{i}")["status"] == "completed" for i in range(12))
        wait_for(lambda: not any(ref() is not None for ref in orchestrators), 30,
                 "the finished runs' orchestrators to be freed by the server")
        # the cyclic part of their state (scopes, instances, values) too: only a full collection frees it
        wait_for(lambda: _scopes() == 0, 30, "the finished runs' scopes to be collected by the server")
    finally:
        if was_enabled:
            gc.enable()
        manager.close()
    assert orchestrators
    # binding worker threads leave after a few idle seconds; the runs' own threads are gone at once
    wait_for(lambda: threading.active_count() <= threads_before + manager.max_runs, 30,
             "the runs' threads to end")
    # per-thread SQLite connections: at most one per server worker thread, however many runs ran
    assert len(manager.store._threads) <= connections_before + manager.max_runs + 1
    manager.store.close()


def test_event_log_reads_whole_events_and_resumes_after_a_result() -> None:
    log = EventLog("r", [row_event("r", {"kind": "item", "flow_index": "1", "status": "completed"})])
    log.transient({"run_id": "r", "kind": "attempt", "flow_index": "1.2", "status": "running"})
    log.append(row_event("r", {"kind": "item", "flow_index": "1.2", "status": "completed"}))
    whole, end = log.read(0, 1 << 20)
    assert end is None and whole.count(b"\n\n") == 3
    first, _ = log.read(0, 1)  # smaller than one event: exactly one event
    assert first.count(b"\n\n") == 1 and whole.startswith(first) and first.startswith(b"id: 1\n")
    assert whole[log.offset_after(1):].startswith(b"event: attempt\n")
    assert whole[log.offset_after(2):] == b"" and log.offset_after(2) == len(whole)
    assert log.offset_after(0) == 0 and log.offset_after(99) == len(whole)
    log.close({"run_id": "r", "status": "completed", "outcome": None})
    assert log.pending(len(whole)) == (0, {"run_id": "r", "status": "completed", "outcome": None})
