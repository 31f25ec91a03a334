"""The store protocol (runtime/store/base.py, RUNTIME §8) as every backend must implement it.

One suite, run against MemoryStore, SqliteStore and RunsDirStore; a model-based property checks that random
interleavings of appends, checkpoints and forks give every backend the same state.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.store import MemoryStore, RunsDirStore, SqliteStore, Store, StoreError
from runtime.store.batch import WriteBatch
from runtime.store.lease import LeaseHeld, LeaseLost

BACKENDS = ("memory", "sqlite", "runsdir")


class Backend:
    """Where one backend keeps its data, so a test can close the store and open the same data again."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.root = root
        self.persistent = kind != "memory"
        self._memory: MemoryStore | None = None

    def open(self) -> Store:
        if self.kind == "memory":
            self._memory = self._memory or MemoryStore()
            return self._memory
        if self.kind == "sqlite":
            return SqliteStore(self.root / "db" / "runs.db")
        return RunsDirStore(self.root / "runs")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return Backend(request.param, tmp_path)


@pytest.fixture(params=[b for b in BACKENDS if b != "memory"])
def persistent_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The backends that keep data on disk (the memory store keeps nothing after the process)."""
    return Backend(request.param, tmp_path)


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    opened = backend.open()
    yield opened
    opened.close()


def run_row(run_id: str, **kw: Any) -> dict[str, Any]:
    return {"run_id": run_id, "plan_hash": "sha256:plan", "runtime_version": "0.1.0",
            "env": {"llm_model": None, "python": "3.11"}, "options": {"max_concurrency": 4}, **kw}


def result(inference_id: str, cycle: int = 1, **kw: Any) -> dict[str, Any]:
    return {"kind": "item", "cycle": cycle, "flow_index": "1.1", "inference_id": inference_id,
            "signature": f"sig-{inference_id}", "status": "completed", **kw}


def execution(**kw: Any) -> dict[str, Any]:
    return {"flow_index": "1.1", "inference_id": "inf-a", "cycle": 1, **kw}


def llm_call(**kw: Any) -> dict[str, Any]:
    return {"flow_index": "1.1", "cell": "[0]", "attempt": 1, "model": "m", "replay_key": "k", "status": "ok", **kw}


def seqs_of(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(r["run_id"], r["seq"]) for r in rows]


# ---------------------------------------------------------------- runs


def test_the_store_satisfies_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_create_get_and_list_runs(store: Store) -> None:
    store.create_run(run_row("late", created_at="2026-01-02T00:00:00.000000+00:00"))
    store.create_run(run_row("early", created_at="2026-01-01T00:00:00.000000+00:00", owner="ana",
                             plan={"inferences": {"inf-a": {"flow_index": "1", "concept": "{x}",
                                                             "provision_hash": None}}}))
    store.create_run(run_row("fresh"))
    early = store.get_run("early")
    assert early is not None
    assert early["env"] == {"llm_model": None, "python": "3.11"}
    assert early["options"] == {"max_concurrency": 4}
    assert early["plan"]["inferences"]["inf-a"]["concept"] == "{x}"
    assert early["owner"] == "ana"
    assert early["status"] == "running"  # the default
    assert early["parent_run_id"] is None and early["parent_seq"] is None and early["outcome"] is None
    assert early["reconcile"] is None and early["finished_at"] is None
    fresh = store.get_run("fresh")
    assert fresh is not None and datetime.fromisoformat(fresh["created_at"]).utcoffset().total_seconds() == 0
    assert [r["run_id"] for r in store.list_runs()] == ["early", "late", "fresh"]
    assert store.get_run("nobody") is None


@pytest.mark.parametrize("bad", [
    {"plan_hash": None},                 # required column missing
    {"status": "sleeping"},              # not a run status
    {"colour": "blue"},                  # no such column
    {"run_id": "a/b"},                   # not a valid run id
    {"runtime_version": 1},              # text column given a number
    {"parent_seq": 3},                   # parent_seq without a parent
    {"reconcile": {"invalidated": "inf-a"}},
])
def test_invalid_runs_are_refused(store: Store, bad: dict[str, Any]) -> None:
    with pytest.raises(StoreError):
        store.create_run(run_row("r", **bad) if "run_id" not in bad else {**run_row("r"), **bad})
    assert store.list_runs() == []


def test_a_run_id_is_created_once(store: Store) -> None:
    store.create_run(run_row("r"))
    with pytest.raises(StoreError, match="already exists"):
        store.create_run(run_row("r"))


def test_update_run_changes_only_the_fields_given(store: Store) -> None:
    store.create_run(run_row("r"))
    store.update_run("r", status="completed")
    store.update_run("r", finished_at="2026-01-01T00:00:01+00:00", outcome={"reasons": [], "cycles": 3})
    run = store.get_run("r")
    assert run is not None
    assert (run["status"], run["finished_at"], run["outcome"]) == (
        "completed", "2026-01-01T00:00:01+00:00", {"reasons": [], "cycles": 3})
    assert run["plan_hash"] == "sha256:plan"
    with pytest.raises(StoreError):
        store.update_run("r", status="done")
    with pytest.raises(StoreError):
        store.update_run("nobody", status="failed")
    assert store.get_run("r")["status"] == "completed"  # type: ignore[index]


def test_inputs_are_kept_per_run(store: Store) -> None:
    store.create_run(run_row("r"))
    store.create_run(run_row("s"))
    digits = {"axes": ["_none_axis"], "shape": [1], "data": ["%{number}(123)"]}
    store.put_inputs("r", {"{digits}": digits, "{name}": "Zoë ✓"})
    store.put_inputs("r", {"{name}": None})  # a later put replaces that concept only
    assert store.get_inputs("r") == {"{digits}": digits, "{name}": None}
    assert store.get_inputs("s") == {}
    with pytest.raises(StoreError):
        store.put_inputs("nobody", {"{x}": 1})


# ---------------------------------------------------------------- results


def test_seqs_are_monotonic_per_run_and_independent_across_runs(store: Store) -> None:
    store.create_run(run_row("a"))
    store.create_run(run_row("b"))
    assert store.last_seq("a") == 0
    assert store.append_results("a", [result("i1"), result("i2")]) == [1, 2]
    assert store.append_results("b", [result("i1")]) == [1]
    assert store.append_results("a", [result("i3")]) == [3]
    assert store.append_results("a", []) == []
    assert store.last_seq("a") == 3 and store.last_seq("b") == 1
    assert [r["seq"] for r in store.results("a")] == [1, 2, 3]
    assert [r["inference_id"] for r in store.results("a", upto=2)] == ["i1", "i2"]
    assert store.results("a", upto=0) == []


def test_inference_count_counts_the_rows_of_each_cycle(store: Store) -> None:
    store.create_run(run_row("r"))
    cycles = [1, 1, 2, 2, 2, 1, 3]
    store.append_results("r", [result(f"i{n}", cycle) for n, cycle in enumerate(cycles[:4])])
    for n, cycle in enumerate(cycles[4:], start=4):
        store.append_results("r", [result(f"i{n}", cycle)])
    assert [r["inference_count"] for r in store.results("r")] == [1, 2, 1, 2, 3, 3, 1]
    store.append_results("r", [result("given", 3, inference_count=42)])
    assert store.results("r")[-1]["inference_count"] == 42


def test_a_result_row_comes_back_whole(store: Store) -> None:
    store.create_run(run_row("r"))
    row = result("inf-a", 2, iteration="inf-loop#3", concept_name="{sum}", value_hash="sha256:v",
                 inputs_hash="sha256:i", provision_hash=None, value={"axes": [], "shape": [], "data": 5},
                 meta={"condition_met": True, "errors": []}, created_at="2026-01-01T00:00:00+00:00")
    store.append_results("r", [row])
    (back,) = store.results("r")
    assert back == {**row, "run_id": "r", "seq": 1, "inference_count": 1}
    assert store.append_results("r", [result("inf-b", kind="loop_iteration")]) == [2]
    back = store.results("r")[-1]
    assert (back["iteration"], back["value"], back["meta"], back["concept_name"]) == ("", None, None, None)
    assert back["kind"] == "loop_iteration" and datetime.fromisoformat(back["created_at"])


@pytest.mark.parametrize("bad", [
    {"signature": None}, {"kind": "batch"}, {"status": "running"}, {"cycle": "1"}, {"cycle": 2**64}, {"seq": 99},
    {"run_id": "other"}, {"weight": 3}, {"value": {1, 2}}, {"value": float("nan")},
])
def test_a_bad_row_writes_nothing_of_its_batch(store: Store, bad: dict[str, Any]) -> None:
    store.create_run(run_row("r"))
    store.append_results("r", [result("i0")])
    with pytest.raises(StoreError):
        store.append_results("r", [result("i1"), result("i2", **bad)])
    assert seqs_of(store.results("r")) == [("r", 1)]
    assert store.append_results("r", [result("i1")]) == [2]


def test_unknown_runs_are_errors_not_empty_answers(store: Store) -> None:
    with pytest.raises(StoreError):
        store.append_results("nobody", [result("i1")])
    for read in (store.results, store.state_rows, store.last_seq, store.executions, store.logs, store.llm_calls,
                 store.checkpoints, store.get_inputs):
        with pytest.raises(StoreError):
            read("nobody")


# ---------------------------------------------------------------- executions, logs, model calls


def test_executions_start_finish_and_list(store: Store) -> None:
    store.create_run(run_row("r"))
    first = store.start_execution("r", execution(started_at="2026-01-01T00:00:00+00:00"))
    second = store.start_execution("r", execution(cell="[1, 0]", attempt=2, status="failed",
                                                  finished_at="2026-01-01T00:00:02+00:00", error_kind="timeout"))
    assert second > first
    store.finish_execution("r", first, status="completed", finished_at="2026-01-01T00:00:01+00:00")
    rows = store.executions("r")
    assert [r["execution_id"] for r in rows] == [first, second]
    assert rows[0] == {"execution_id": first, "run_id": "r", "flow_index": "1.1", "inference_id": "inf-a",
                       "iteration": "", "cell": "[]", "attempt": 1, "cycle": 1,
                       "started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:00:01+00:00",
                       "status": "completed", "error_kind": None, "error_message": None}
    assert (rows[1]["cell"], rows[1]["attempt"], rows[1]["error_kind"]) == ("[1, 0]", 2, "timeout")
    with pytest.raises(StoreError):
        store.finish_execution("r", 10_000, status="failed", finished_at="x")


def test_logs_and_llm_calls(store: Store) -> None:
    store.create_run(run_row("r"))
    eid = store.start_execution("r", execution())
    store.add_log("r", {"level": "INFO", "logger": "ncd.run", "message": "started ✓"})
    store.add_log("r", {"level": "ERROR", "logger": "ncd.exec", "message": "boom", "execution_id": eid})
    logs = store.logs("r")
    assert [(r["message"], r["execution_id"]) for r in logs] == [("started ✓", None), ("boom", eid)]
    assert logs[0]["log_id"] < logs[1]["log_id"] and logs[0]["created_at"]
    request = {"messages": [{"role": "user", "content": "Σ 1+1?"}], "temperature": 0}
    call = store.add_llm_call("r", llm_call(execution_id=eid, request=request, prompt_tokens=12,
                                            completion_tokens=3, total_tokens=15, cost_usd=1, latency_ms=250))
    store.add_llm_call("r", llm_call(request=None, status="replayed"))
    calls = store.llm_calls("r")
    assert calls[0]["call_id"] == call and calls[0]["request"] == request
    assert calls[0]["cost_usd"] == 1.0 and isinstance(calls[0]["cost_usd"], float)
    assert (calls[1]["request"], calls[1]["status"]) == (None, "replayed")
    with pytest.raises(StoreError):
        store.add_log("r", {"level": "INFO", "logger": "x"})  # no message
    with pytest.raises(StoreError):
        store.add_llm_call("r", llm_call(execution_id=eid + 1000))


# ---------------------------------------------------------------- checkpoints


def test_checkpoints_are_addressed_by_their_row(store: Store) -> None:
    store.create_run(run_row("r"))
    store.append_results("r", [result("i1", 1), result("i2", 1), result("i3", 2)])
    marker = store.add_checkpoint("r", 2)
    assert marker is not None
    assert {k: marker[k] for k in ("run_id", "seq", "cycle", "inference_count")} == {
        "run_id": "r", "seq": 2, "cycle": 1, "inference_count": 2}
    assert store.add_checkpoint("r", 2) is None            # same seq
    store.append_results("r", [result("i4", 2, inference_count=1)])
    assert store.add_checkpoint("r", 3) is not None
    assert store.add_checkpoint("r", 4) is None            # same (cycle, inference_count) as the latest marker
    with pytest.raises(StoreError):
        store.add_checkpoint("r", 99)
    with pytest.raises(StoreError):
        store.add_checkpoint("r", 0)
    markers = store.checkpoints("r")
    assert [(m["seq"], m["cycle"], m["inference_count"]) for m in markers] == [(2, 1, 2), (3, 2, 1)]
    assert set(markers[0]) == {"run_id", "seq", "cycle", "inference_count", "created_at"}


# ---------------------------------------------------------------- forks


def test_a_fork_can_mark_its_fork_point_and_its_addresses_stay_unique(store: Store) -> None:
    store.create_run(run_row("a"))
    store.append_results("a", [result("i1", 1), result("i2", 2), result("i3", 2), result("i4", 2)])
    store.create_run(run_row("b", parent_run_id="a", parent_seq=3, reconcile={"invalidated": ["i3"]}))
    marker = store.add_checkpoint("b", 3)  # nothing re-run yet: the state it forked from is addressable
    assert marker is not None and (marker["run_id"], marker["cycle"], marker["inference_count"]) == ("b", 2, 2)
    store.append_results("b", [result("i3", 2), result("i5", 3), result("i6", 2)])
    assert [(r["cycle"], r["inference_count"]) for r in store.results("b")] == [(2, 3), (3, 1), (2, 4)]
    for seq in (4, 5, 6):
        assert store.add_checkpoint("b", seq) is not None
    assert [(m["seq"], m["cycle"], m["inference_count"]) for m in store.checkpoints("b")] == [
        (3, 2, 2), (4, 2, 3), (5, 3, 1), (6, 2, 4)]
    assert store.checkpoints("a") == []
    with pytest.raises(StoreError):
        store.add_checkpoint("b", 7)


def test_fork_of_a_fork_inherits_the_right_prefixes(store: Store) -> None:
    store.create_run(run_row("a"))
    store.append_results("a", [result(f"i{n}") for n in range(1, 6)])  # a: 1..5
    store.put_inputs("a", {"{x}": 1})
    before = store.results("a")
    store.create_run(run_row("b", parent_run_id="a", parent_seq=3,
                             reconcile={"mode": "PATCH", "invalidated": ["i2"]}))
    assert store.last_seq("b") == 3
    assert store.append_results("b", [result("i2"), result("i6")]) == [4, 5]
    assert seqs_of(store.state_rows("b")) == [("a", 1), ("a", 3), ("b", 4), ("b", 5)]
    store.create_run(run_row("c", parent_run_id="b", parent_seq=4, reconcile={"invalidated": ["i1"]}))
    assert store.last_seq("c") == 4 and store.results("c") == []
    assert store.append_results("c", [result("i7")]) == [5]
    state = store.state_rows("c")
    assert seqs_of(state) == [("a", 3), ("b", 4), ("c", 5)]
    assert [r["inference_id"] for r in state] == ["i3", "i2", "i7"]
    assert seqs_of(store.state_rows("c", upto=3)) == [("a", 3)]
    assert seqs_of(store.state_rows("b", upto=4)) == [("a", 1), ("a", 3), ("b", 4)]
    assert seqs_of(store.state_rows("a", upto=2)) == [("a", 1), ("a", 2)]
    # counts continue the history: b's first row is the 4th of cycle 1 (after a's 1..3), c's the 5th (after b's 4)
    assert [r["inference_count"] for r in state] == [3, 4, 5]
    assert store.results("a") == before and store.last_seq("a") == 5  # the parent is read, never modified
    assert store.get_inputs("a") == {"{x}": 1}
    assert store.get_run("c")["parent_run_id"] == "b"  # type: ignore[index]
    assert store.get_run("c")["reconcile"] == {"invalidated": ["i1"]}  # type: ignore[index]


@pytest.mark.parametrize("fork", [
    {"parent_run_id": "nobody", "parent_seq": 1},
    {"parent_run_id": "a", "parent_seq": 3},      # a has reached seq 2 only
    {"parent_run_id": "a", "parent_seq": None},
    {"parent_run_id": "a", "parent_seq": -1},
])
def test_a_fork_names_a_reached_point_of_an_existing_run(store: Store, fork: dict[str, Any]) -> None:
    store.create_run(run_row("a"))
    store.append_results("a", [result("i1"), result("i2")])
    with pytest.raises(StoreError):
        store.create_run(run_row("f", **fork))
    assert store.get_run("f") is None


def test_a_fork_may_start_at_zero(store: Store) -> None:
    store.create_run(run_row("a"))
    store.append_results("a", [result("i1")])
    store.create_run(run_row("f", parent_run_id="a", parent_seq=0))
    assert store.state_rows("f") == [] and store.append_results("f", [result("i1")]) == [1]


def test_runs_are_isolated(store: Store) -> None:
    store.create_run(run_row("a"))
    store.create_run(run_row("b"))
    store.append_results("a", [result("i1")])
    eid = store.start_execution("a", execution())
    store.add_log("a", {"level": "INFO", "logger": "l", "message": "m", "execution_id": eid})
    store.add_llm_call("a", llm_call())
    store.add_checkpoint("a", 1)
    store.put_inputs("a", {"{x}": 1})
    assert store.results("b") == [] and store.state_rows("b") == [] and store.executions("b") == []
    assert store.logs("b") == [] and store.llm_calls("b") == [] and store.checkpoints("b") == []
    assert store.get_inputs("b") == {} and store.last_seq("b") == 0
    with pytest.raises(StoreError):
        store.add_checkpoint("b", 1)
    with pytest.raises(StoreError):
        store.finish_execution("b", eid, status="completed", finished_at="x")
    with pytest.raises(StoreError):
        store.add_log("b", {"level": "INFO", "logger": "l", "message": "m", "execution_id": eid})
    assert store.executions("a")[0]["status"] == "running"


# ---------------------------------------------------------------- values and transactions


VALUES = [None, 0, -1.5, True, "", "Zoë — ✓ 漢字 \U0001f600", [], {}, [1, [2, [3, None]]],
          {"axes": ["a"], "shape": [2], "data": [{"$ncd": "skip"}, {"k": {"nested": [True, False, None]}}]}]


def test_values_are_plain_json_and_come_back_equal(store: Store) -> None:
    store.create_run(run_row("r"))
    store.append_results("r", [result(f"i{n}", value=v, meta={"v": v}) for n, v in enumerate(VALUES)])
    back = store.results("r")
    assert [r["value"] for r in back] == VALUES and [r["meta"] for r in back] == [{"v": v} for v in VALUES]
    back[-1]["value"]["data"].clear()  # a caller's mutation never reaches the store
    assert store.results("r")[-1]["value"] == VALUES[-1]
    store.append_results("r", [result("tuple", value=(1, 2), meta={"k": (3,)})])
    assert store.results("r")[-1]["value"] == [1, 2]  # what JSON gives back, as a database would
    store.append_results("r", [result("pre", value_json='{"axes":[],"shape":[],"data":"x"}')])
    assert store.results("r")[-1]["value"] == {"axes": [], "shape": [], "data": "x"}
    for bad in ({"value": object()}, {"meta": {"x": b"bytes"}}, {"value": float("inf")},
                {"value": 1, "value_json": "1"}, {"value_json": {"not": "text"}}):
        with pytest.raises(StoreError):
            store.append_results("r", [result("bad", **bad)])


def test_a_transaction_commits_together_or_not_at_all(store: Store) -> None:
    store.create_run(run_row("r"))
    with store.transaction():
        store.append_results("r", [result("i1")])
        with store.transaction():  # nested: joins the outer transaction
            store.append_results("r", [result("i2")])
        assert store.last_seq("r") == 2  # the writer sees its own writes
    assert store.last_seq("r") == 2
    with pytest.raises(RuntimeError), store.transaction():
        store.append_results("r", [result("i3")])
        store.add_checkpoint("r", 3)
        raise RuntimeError("stop")
    assert store.last_seq("r") == 2 and store.checkpoints("r") == []
    with store.transaction():
        store.append_results("r", [result("i3")])
        with pytest.raises(StoreError):
            store.append_results("r", [result("i4"), result("bad", kind="?")])  # caught: its writes are undone
        store.append_results("r", [result("i4")])
    assert [r["inference_id"] for r in store.results("r")] == ["i1", "i2", "i3", "i4"]


# ---------------------------------------------------------------- leases (one runner per run)


def holder(name: str, host: str | None = None, pid: int | None = None) -> dict[str, Any]:
    return {"holder_id": f"{name}.{name}", "host": host or socket.gethostname(), "pid": pid or os.getpid()}


def dead_pid() -> int:
    """The pid of a process of this host that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lease_is_taken_renewed_and_released(store: Store) -> None:
    store.create_run(run_row("r"))
    assert store.get_lease("r") is None
    me = holder("me")
    taken = store.acquire_lease("r", me, 30)
    assert {k: taken[k] for k in ("run_id", "holder_id", "host", "pid")} == {"run_id": "r", **me}
    assert store.get_lease("r")["heartbeat_at"] == taken["heartbeat_at"]
    assert store.renew_lease("r", me["holder_id"]) is True
    assert store.get_lease("r")["heartbeat_at"] > taken["heartbeat_at"]
    again = store.acquire_lease("r", me, 30)  # the holder itself: a refresh, not a refusal
    assert again["acquired_at"] == taken["acquired_at"]
    store.release_lease("r", "someone.else")  # not theirs to release
    assert store.get_lease("r")["holder_id"] == me["holder_id"]
    store.release_lease("r", me["holder_id"])
    assert store.get_lease("r") is None
    assert store.renew_lease("r", me["holder_id"]) is False


def test_a_live_holder_keeps_its_lease_and_is_named(store: Store) -> None:
    store.create_run(run_row("r"))
    other = holder("other", pid=os.getppid())  # a live process of this host that is not us
    store.acquire_lease("r", other, 30)
    with pytest.raises(LeaseHeld) as err:
        store.acquire_lease("r", holder("me"), 30)
    assert f"pid {os.getppid()}" in str(err.value) and socket.gethostname() in str(err.value)
    assert err.value.holder()["holder_id"] == other["holder_id"]
    assert store.get_lease("r")["holder_id"] == other["holder_id"]
    with pytest.raises(StoreError):
        store.acquire_lease("nope", holder("me"), 30)  # no such run


def test_a_dead_holder_on_this_host_is_taken_over_at_once(store: Store) -> None:
    store.create_run(run_row("r"))
    ghost = holder("ghost", pid=dead_pid())
    store.acquire_lease("r", ghost, 3600)
    me = holder("me")
    assert store.acquire_lease("r", me, 3600)["holder_id"] == me["holder_id"]
    assert store.renew_lease("r", ghost["holder_id"]) is False  # the old holder learns it lost the lease


def test_an_expired_heartbeat_is_taken_over(store: Store) -> None:
    store.create_run(run_row("r"))
    remote = holder("remote", host="another-host.invalid", pid=1)  # its pid cannot be checked from here
    store.acquire_lease("r", remote, 0.2)
    with pytest.raises(LeaseHeld):
        store.acquire_lease("r", holder("me"), 0.2)
    time.sleep(0.3)
    with pytest.raises(LeaseHeld):  # the longer of both lease lengths counts: a short taker cannot steal
        store.acquire_lease("r", holder("me"), 30)
    assert store.acquire_lease("r", holder("me"), 0.2)["holder_id"] == "me.me"


def test_a_commit_of_a_runner_that_lost_its_lease_writes_nothing(store: Store) -> None:
    store.create_run(run_row("r"))
    store.acquire_lease("r", holder("ghost", pid=dead_pid()), 30)
    store.write_batch("r", WriteBatch(results=[result("i1")], lease="ghost.ghost"))
    store.acquire_lease("r", holder("me"), 30)
    with pytest.raises(LeaseLost, match="taken over"):
        store.write_batch("r", WriteBatch(results=[result("i2")], lease="ghost.ghost"))
    store.write_batch("r", WriteBatch(results=[result("i2")], lease="me.me"))
    assert [r["inference_id"] for r in store.results("r")] == ["i1", "i2"]


def test_a_lease_rolls_back_with_its_transaction(store: Store) -> None:
    store.create_run(run_row("r"))
    with pytest.raises(RuntimeError), store.transaction():
        store.update_run("r", status="interrupted")
        store.acquire_lease("r", holder("me"), 30)
        raise RuntimeError("stop")
    assert store.get_lease("r") is None and store.get_run("r")["status"] == "running"


def test_data_survives_close_and_reopen(persistent_backend: Backend) -> None:
    backend = persistent_backend
    store = backend.open()
    store.create_run(run_row("a"))
    store.append_results("a", [result("i1", value={"k": "ü"}), result("i2")])
    store.add_checkpoint("a", 2)
    store.create_run(run_row("b", parent_run_id="a", parent_seq=1))
    store.append_results("b", [result("i3")])
    eid = store.start_execution("b", execution())
    store.add_llm_call("b", llm_call(execution_id=eid))
    store.put_inputs("b", {"{x}": [1]})
    store.close()
    with pytest.raises(StoreError):
        store.results("a")
    again = backend.open()
    try:
        assert [r["run_id"] for r in again.list_runs()] == ["a", "b"]
        assert again.results("a")[0]["value"] == {"k": "ü"}
        assert seqs_of(again.state_rows("b")) == [("a", 1), ("b", 2)]
        assert again.checkpoints("a")[0]["seq"] == 2 and again.get_inputs("b") == {"{x}": [1]}
        assert len(again.executions("b")) == 1 and again.llm_calls("b")[0]["execution_id"] == eid
        assert again.append_results("a", [result("i4")]) == [3]
    finally:
        again.close()


# ---------------------------------------------------------------- every backend agrees (model-based)


OPS = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(0, 3), st.integers(1, 3), st.integers(0, 5)),
    st.tuples(st.just("checkpoint"), st.integers(0, 3), st.integers(0, 10)),
    st.tuples(st.just("fork"), st.integers(0, 3), st.integers(0, 10), st.sets(st.integers(0, 5), max_size=3)),
), min_size=1, max_size=25)


def _apply(store: Store, ops: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Run ``ops`` on a fresh store; return everything observable, store-assigned times removed."""
    runs = ["r0"]
    store.create_run(run_row("r0", created_at="2026-01-01T00:00:00+00:00"))
    outcome: list[Any] = []
    for op in ops:
        run = runs[op[1] % len(runs)]
        if op[0] == "append":
            outcome.append(store.append_results(run, [result(f"i{op[3]}", op[2], value=[op[3]],
                                                             created_at="2026-01-01T00:00:01+00:00")]))
        elif op[0] == "checkpoint":
            last = store.last_seq(run)
            try:
                marker = store.add_checkpoint(run, op[2] % (last + 1))
            except StoreError:
                marker = "refused"
            outcome.append(marker if not isinstance(marker, dict) else
                           {k: v for k, v in marker.items() if k != "created_at"})
        else:
            new = f"r{len(runs)}"
            store.create_run(run_row(new, parent_run_id=run, parent_seq=op[2] % (store.last_seq(run) + 1),
                                     reconcile={"mode": "PATCH", "invalidated": sorted(f"i{n}" for n in op[3])},
                                     created_at=f"2026-01-01T00:00:{len(runs):02d}+00:00"))
            runs.append(new)
    return {
        "outcome": outcome,
        "runs": store.list_runs(),
        "state": {r: store.state_rows(r) for r in runs},
        "state_at": {r: store.state_rows(r, upto=max(0, store.last_seq(r) - 2)) for r in runs},
        "checkpoints": {r: [{k: v for k, v in m.items() if k != "created_at"} for m in store.checkpoints(r)]
                        for r in runs},
    }


def _observe(kinds: tuple[str, ...], root: Path, ops: list[tuple[Any, ...]]) -> list[Any]:
    seen = []
    for kind in kinds:
        store = Backend(kind, root / kind).open()
        try:
            seen.append(json.loads(json.dumps(_apply(store, ops))))
        finally:
            store.close()
    return seen


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_memory_and_sqlite_agree_on_random_histories(tmp_path_factory: pytest.TempPathFactory,
                                                     ops: list[tuple[Any, ...]]) -> None:
    memory, sqlite = _observe(("memory", "sqlite"), tmp_path_factory.mktemp("history"), ops)
    assert memory == sqlite


def test_every_backend_agrees_on_a_history_of_forks(tmp_path: Path) -> None:
    # A fixed history rather than a random one for the runs directory: each fork there is a new database file,
    # too slow to repeat thirty times, and the random property already pins MemoryStore to SqliteStore.
    ops: list[tuple[Any, ...]] = [
        *[("append", 0, 1 + n // 3, n % 6) for n in range(8)], ("checkpoint", 0, 4), ("checkpoint", 0, 5),
        ("fork", 0, 6, {1, 2}), ("append", 1, 3, 0), ("append", 1, 3, 1), ("checkpoint", 1, 8),
        ("fork", 1, 7, {4}), ("append", 2, 3, 5), ("fork", 0, 3, set()), ("fork", 2, 0, {0}),
        ("append", 4, 1, 2), ("append", 0, 9, 3), ("checkpoint", 4, 1), ("checkpoint", 2, 2),
    ]
    memory, sqlite, runsdir = _observe(BACKENDS, tmp_path, ops)
    assert memory == sqlite == runsdir
    assert any(len(rows) > 3 for rows in memory["state"].values())  # the history does exercise inheritance
