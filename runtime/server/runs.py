"""The run manager of the run server: every run its own Orchestrator in a worker thread, one shared store.

* **Isolation.** A run has its own Orchestrator (scheduler, recorder, executors, module cache); runs share only the
  read-only ``Plan`` and the store (whose SQLite connections are per thread, RUNTIME §8.1). An exception escaping a
  run is caught in its worker, recorded as that run's ``failed`` outcome (kind ``internal_error``) and never reaches
  another run. (Bindings run in-process: a binding that kills the process takes the server down; the restart path
  below then resumes every run.)
* **Scheduling.** At most ``max_runs`` runs execute at once (a thread pool of that size); later runs wait,
  reported ``queued``, in a ``FairQueue``: one FIFO per owner, and a freed slot goes to the owner with the fewest
  runs executing (ties: the one served longest ago), so one owner's backlog never holds back another owner's run.
  Inside a run at most ``per_run_concurrency`` inferences (the run's ``max_concurrency``).
* **Tenant limits** (``TenantLimits``, the operator's): at most ``max_queued_per_owner`` queued runs per owner
  (429 with ``Retry-After`` beyond it), the ``model`` field limited to ``allowed_models``, and the budgets
  ``max_calls_per_run`` / ``max_cost_usd_per_run`` applied to every run — created, resumed, forked or resumed after
  a restart — which a request may lower but never raise.
* **Durability.** A run's row (status ``running``, owner, inputs) is written when the request is accepted, before
  the 201, so a run accepted just before a crash is not lost. On start the manager resumes every run whose
  stored status is ``running`` — continuity, same id (RUNTIME §9.1) — so after ``kill -9`` and a restart every run
  that was in progress (or queued) completes. A run that cannot be continued (its plan is gone or changed) is marked
  ``interrupted`` with a reason; it can then be resumed or forked explicitly. The server must own its store: a CLI
  run writing to the same store at the same time would be taken for an abandoned one.
* **Shutdown.** Executing runs are cancelled (running cells finish; they end ``interrupted`` and stay resumable).
  Queued runs are not started: their stored status stays ``running``, so the next start continues them.

Nothing is written for a rejected request: every check (plan, inputs, ids, the Orchestrator's own validation) runs
before the first write.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime import gcpolicy, history
from runtime.load import LoadError, Plan, initial_values, missing_ground
from runtime.orchestrator import Orchestrator
from runtime.reconcile import latest as latest_rows
from runtime.reference import Reference, ReferenceModelError
from runtime.server.errors import ApiError, not_found
from runtime.server.events import EventLog, attempt_event, row_event
from runtime.server.inputs import admit_inputs
from runtime.server.plans import PlanRegistry, ground_inputs
from runtime.store import Store, StoreError, validate_run_id
from runtime.store.lease import DEFAULT_LEASE_SECONDS, LeaseHeld
from runtime.store.rows import now

log = logging.getLogger("ncd.server.runs")


# seconds a client refused for a full queue is told to wait (Retry-After): about one short run
RETRY_AFTER_S = 5
# finished runs are collected (RunManager._reclaim) when the server is idle, and while it is busy at most every
# GC_MIN_INTERVAL_S seconds, and at most 1/GC_COST_FACTOR of the time
GC_MIN_INTERVAL_S = 1.0
GC_COST_FACTOR = 50
# (request option, TenantLimits attribute): the budgets an operator caps per run
_CAPPED_BUDGETS = (("max_llm_calls", "max_calls_per_run"), ("max_cost_usd", "max_cost_usd_per_run"))


@dataclass(frozen=True)
class TenantLimits:
    """The operator's limits on what one owner can ask of the server (``ncd-run serve`` options). 0: unlimited."""

    max_queued_per_owner: int = 32
    allowed_models: frozenset[str] | None = None   # None: any model
    max_calls_per_run: int = 0
    max_cost_usd_per_run: float = 0.0

    def __post_init__(self) -> None:
        if self.max_queued_per_owner < 1:
            raise ValueError("max_queued_per_owner must be at least 1")
        if self.max_calls_per_run < 0 or self.max_cost_usd_per_run < 0:
            raise ValueError("max_calls_per_run and max_cost_usd_per_run must not be negative")


def id_unavailable(run_id: str) -> ApiError:
    """The one answer for a run id that cannot be used — the caller's own run, another owner's, or one being
    stored by a concurrent request — so that it never tells whether another owner has a run of that id."""
    return ApiError(409, "run_id_unavailable", f"run id {run_id!r} is not available; choose another, or omit it "
                                               f"for a fresh one")


@dataclass
class ActiveRun:
    run_id: str
    orch: Orchestrator
    plan_id: str | None
    log: EventLog
    owner: str | None = None
    started: bool = False
    cancelled: bool = False
    future: concurrent.futures.Future | None = field(default=None, repr=False)


class FairQueue:
    """Runs waiting for a slot: one FIFO per owner. ``pop`` serves a cancelled run first (it only records its end),
    then the first run of the owner with the fewest runs executing, ties to the owner served longest ago — a
    round-robin across owners, so a new owner's run takes the next free slot whatever another owner has queued.
    Not thread-safe: the RunManager calls it under its lock."""

    def __init__(self) -> None:
        self._waiting: dict[str | None, deque[ActiveRun]] = {}
        self._urgent: deque[ActiveRun] = deque()
        self._executing: Counter[str | None] = Counter()
        self._served: dict[str | None, int] = {}
        self._tick = 0

    def __len__(self) -> int:
        return len(self._urgent) + sum(len(q) for q in self._waiting.values())

    def push(self, run: ActiveRun) -> None:
        self._waiting.setdefault(run.owner, deque()).append(run)

    def queued(self, owner: str | None) -> int:
        return len(self._waiting.get(owner, ()))

    def expedite(self, run: ActiveRun) -> None:
        """A cancelled queued run: served before any other (it ends at once, recording ``interrupted``)."""
        waiting = self._waiting.get(run.owner)
        if waiting is not None and run in waiting:
            waiting.remove(run)
            self._urgent.append(run)
            self._drop_empty(run.owner)

    def pop(self) -> ActiveRun | None:
        """The next run to execute (counted as executing until ``done``), or None."""
        if self._urgent:
            run = self._urgent.popleft()
        else:
            if not self._waiting:
                return None
            owner = min(self._waiting, key=lambda o: (self._executing[o], self._served.get(o, -1)))
            run = self._waiting[owner].popleft()
            self._drop_empty(owner)
        self._tick += 1
        self._served[run.owner] = self._tick
        self._executing[run.owner] += 1
        return run

    def done(self, run: ActiveRun) -> None:
        self._executing[run.owner] -= 1
        if self._executing[run.owner] <= 0:
            del self._executing[run.owner]
            if run.owner not in self._waiting:
                self._served.pop(run.owner, None)  # an owner with nothing left is forgotten (no growth per owner)

    def drain(self) -> list[ActiveRun]:
        """Every waiting run, removed (shutdown: they stay stored as ``running`` for the next start)."""
        runs = [*self._urgent, *(r for q in self._waiting.values() for r in q)]
        self._urgent.clear()
        self._waiting.clear()
        return runs

    def _drop_empty(self, owner: str | None) -> None:
        if not self._waiting.get(owner, True):
            del self._waiting[owner]


class RunManager:
    def __init__(self, store: Store, registry: PlanRegistry, *, max_runs: int = 4, per_run_concurrency: int = 4,
                 shutdown_grace_s: float = 30.0, limits: TenantLimits | None = None,
                 input_files_dir: Path | None = None, input_files_limit: int = 1 << 20,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 event_scrub: Callable[[bytes], bytes] | None = None) -> None:
        """``event_scrub``: applied once to each encoded event (the server's PathScrubber)."""
        if max_runs < 1 or per_run_concurrency < 1:
            raise ValueError("max_runs and per_run_concurrency must be at least 1")
        self.store = store
        self.registry = registry
        self.max_runs = max_runs
        self.per_run_concurrency = per_run_concurrency
        self.shutdown_grace_s = shutdown_grace_s
        self.event_scrub = event_scrub
        self.lease_seconds = lease_seconds  # serve --lease-seconds: every run's lease (runtime/store/lease.py)
        self.limits = limits or TenantLimits()
        # serve --input-files-dir: the only place file signs of HTTP inputs are read from (server/inputs.py)
        self.input_files_dir = input_files_dir.resolve() if input_files_dir is not None else None
        self.input_files_limit = input_files_limit
        # exactly max_runs workers, and a run is handed to the pool only when one is free: the pool never queues,
        # the FairQueue decides the order
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_runs, thread_name_prefix="ncd-serve-run")
        self._lock = threading.Lock()
        self._active: dict[str, ActiveRun] = {}
        self._queue = FairQueue()
        self._executing = 0
        self._claims: dict[str, str | None] = {}   # run id -> owner, while a request is storing that run
        self.closing = False
        self._gc_lock = threading.Lock()
        self._gc_running = False
        self._gc_next = 0.0                        # time.monotonic() before which a busy server does not collect

    # ---------------------------------------------------------------- lifetime

    def start(self) -> list[str]:
        """Resume every run left ``running`` by a previous server process; returns their ids."""
        resumed = []
        for run in self.store.list_runs():
            if run["status"] != "running":
                continue
            try:
                if self._resume_abandoned(run):
                    resumed.append(run["run_id"])
            except Exception as exc:  # one bad run must not keep the server from starting
                log.exception("cannot resume run %s", run["run_id"])
                self._mark(run["run_id"], "interrupted", {"reason": "resume_failed",
                                                          "message": f"{type(exc).__name__}: {exc}"})
        if resumed:
            log.info("resumed %d run(s) left in progress: %s", len(resumed), ", ".join(resumed))
        return resumed

    def _resume_abandoned(self, run: dict[str, Any]) -> bool:
        run_id = run["run_id"]
        found = self.registry.for_run((run.get("options") or {}).get("plan_id"), run.get("plan_hash"))
        if found is None:
            self._mark(run_id, "interrupted", {"reason": "plan_unavailable",
                                               "message": f"no registered plan has plan_hash {run.get('plan_hash')}"})
            return False
        plan_id, plan = found
        try:
            orch = Orchestrator.load_checkpoint(plan, store=self.store, run_id=run_id,
                                                options=self._stored_options(run, run.get("owner")))
        except (LoadError, StoreError) as exc:
            self._mark(run_id, "interrupted", {"reason": "resume_refused", "message": str(exc)})
            return False
        if orch.forked_from is not None:  # the plan or its provisions changed: never fork behind the user's back
            self._mark(run_id, "interrupted", {"reason": "plan_changed", "message": (
                "the plan or its provision files changed since the run started; resume or fork it explicitly")})
            return False
        try:
            orch.claim()  # a dead server's lease is taken over; a live runner's (a CLI, another server) is not
        except (LeaseHeld, LoadError) as exc:
            log.warning("run %s is left alone: %s", run_id, exc)
            return False
        self._submit(orch, plan_id, self._stored_events(run_id))
        return True

    def begin_shutdown(self) -> list[ActiveRun]:
        """Accept no new work, cancel every executing run and end the event streams of queued ones, which stay
        stored as ``running`` for the next start (returns at once; safe from a signal handler)."""
        with self._lock:
            first, self.closing = not self.closing, True
            queued = self._queue.drain()
            for active in queued:
                del self._active[active.run_id]
            actives = list(self._active.values())
        if first and actives:
            log.warning("shutting down: cancelling %d active run(s); they end interrupted and can be resumed",
                        len(actives))
        if queued:
            log.warning("shutting down: %d queued run(s) not started; the next start continues them", len(queued))
        for active in queued:
            active.orch.release()  # stays ``running`` for the next start, which must be able to take it at once
            active.log.close({"run_id": active.run_id, "status": "running", "outcome": None})
        for active in actives:
            active.cancelled = True
            active.orch.cancel()
        return actives

    def close(self) -> bool:
        """Cancel every active run and wait (up to the grace period) for them to record ``interrupted``. True when
        every worker finished (the store may then be closed)."""
        actives = self.begin_shutdown()
        futures = [a.future for a in actives if a.future is not None]
        _, pending = concurrent.futures.wait(futures, timeout=self.shutdown_grace_s)
        self._pool.shutdown(wait=False)
        return not pending

    def _mark(self, run_id: str, status: str, reason: dict[str, Any]) -> None:
        try:
            run = self.store.get_run(run_id)
            if run is None or run["status"] != "running":
                return
            outcome = dict(run.get("outcome") or {})
            outcome["reasons"] = [*(outcome.get("reasons") or []), reason]
            self.store.update_run(run_id, status=status, finished_at=now(), outcome=outcome)
        except Exception:
            log.exception("cannot record %s for run %s", status, run_id)

    # ---------------------------------------------------------------- workers

    def _submit(self, orch: Orchestrator, plan_id: str | None, initial: list[dict[str, Any]]) -> ActiveRun:
        events = EventLog(orch.run_id, initial, scrub=self.event_scrub)
        active = ActiveRun(orch.run_id, orch, plan_id, events, owner=orch.options.get("owner"))
        run_id = orch.run_id
        # the callbacks hold the log, not the ActiveRun: no cycle through the Orchestrator (see _reclaim)
        orch.on_result = lambda row: events.append(row_event(run_id, row))
        orch.on_attempt = lambda row: events.transient(attempt_event(run_id, row))
        with self._lock:
            self._active[run_id] = active
            self._queue.push(active)
            self._dispatch()
        return active

    def _dispatch(self) -> None:
        """Hand queued runs to free workers, in the FairQueue's order (caller holds the lock)."""
        while not self.closing and self._executing < self.max_runs:
            active = self._queue.pop()
            if active is None:
                return
            active.started = True
            self._executing += 1
            # the worker gets the id, not the ActiveRun: the pool's work item then keeps nothing of the run alive
            # once it has finished, and _reclaim can free it at once
            active.future = self._pool.submit(self._work, active.run_id)

    def _work(self, run_id: str) -> None:
        with self._lock:
            active = self._active[run_id]
        try:
            active.orch.run()
        except BaseException as exc:  # isolation: whatever escapes a run ends that run only
            log.exception("run %s failed with an internal error", run_id)
            self._mark(run_id, "failed", {"kind": "internal_error", "message": f"{type(exc).__name__}: {exc}"})
        finally:
            try:
                run = self.store.get_run(run_id) or {}
            except Exception:  # noqa: BLE001 - the end event is still sent
                run = {}
            active.log.close({"run_id": run_id, "status": run.get("status"), "outcome": run.get("outcome")})
            idle = self._finished(active)
            del active  # the last reference this thread holds: the run is garbage now (unless a request holds it)
            self._reclaim(idle)

    def _finished(self, active: ActiveRun) -> bool:
        """Free the run's slot (the next queued run starts) and drop what the server kept for it: its event log
        goes with the ActiveRun (a finished run streams from the store), the store's per-run caches are released.
        True when no run is executing or queued any more."""
        with self._lock:
            if self._active.get(active.run_id) is active:
                del self._active[active.run_id]
            self._executing -= 1
            self._queue.done(active)
            self._dispatch()
            idle = not self._executing and not len(self._queue)
        try:
            self.store.release_run(active.run_id)
        except StoreError:
            log.exception("cannot release the store's caches of run %s", active.run_id)
        return idle

    def _reclaim(self, idle: bool) -> None:
        """Free finished runs' memory. A run's state is cyclic (scopes and their instances point at each other):
        reference counting does not free it, and while runs overlap every run start freezes it out of the
        collector's reach (runtime/gcpolicy.py) — without this a busy server kept every finished run. A full
        collection once the server is idle, and while it is busy at most one per ``GC_MIN_INTERVAL_S`` and never
        more than ``1 / GC_COST_FACTOR`` of the time (a collection costs in proportion to the live runs)."""
        with self._gc_lock:
            if self._gc_running or (not idle and time.monotonic() < self._gc_next):
                return
            self._gc_running = True
        took = 0.0
        try:
            took = gcpolicy.collect()
        finally:
            with self._gc_lock:
                self._gc_running = False
                self._gc_next = time.monotonic() + max(GC_MIN_INTERVAL_S, GC_COST_FACTOR * took)

    def _start_new(self, orch: Orchestrator, plan_id: str | None) -> dict[str, Any]:
        """Store a new run (a created one or a fork) and queue it; its summary. The run is stored before the
        answer (which promises a stored run, one a restart continues); ``run()`` then continues it in place. The
        row is exactly the one ``run()`` would write, plus ``options.plan_id``."""
        try:
            self._claim(orch.run_id, orch.options.get("owner"))
        except ApiError as exc:
            if exc.code == "run_active":  # a new id another request is storing now: maybe another owner's
                raise id_unavailable(orch.run_id) from None
            raise
        try:
            try:
                orch.register(**({"plan_id": plan_id} if plan_id is not None else {}))
            except (LoadError, StoreError) as exc:
                if self.store.get_run(orch.run_id) is not None:
                    raise id_unavailable(orch.run_id) from None
                raise ApiError(500, "storage_error", str(exc)) from None
            self._submit(orch, plan_id, [])
        finally:
            self._release(orch.run_id)
        return self.summary(self.store.get_run(orch.run_id) or {"run_id": orch.run_id, "status": "running"})

    def _claim(self, run_id: str, owner: str | None) -> None:
        """Reserve ``run_id`` for a request that will queue it, and a place in ``owner``'s queue (429 when the
        owner has ``max_queued_per_owner`` runs queued or being queued)."""
        with self._lock:
            if run_id in self._active or run_id in self._claims:
                raise ApiError(409, "run_active", f"run {run_id!r} is running; cancel it first")
            cap = self.limits.max_queued_per_owner
            pending = self._queue.queued(owner) + sum(1 for o in self._claims.values() if o == owner)
            if pending >= cap:
                raise ApiError(429, "queue_full", f"{pending} runs of this owner are queued already (the limit, "
                                                  f"--max-queued-per-owner, is {cap}); retry later",
                               headers={"Retry-After": str(RETRY_AFTER_S)})
            self._claims[run_id] = owner

    def _release(self, run_id: str) -> None:
        with self._lock:
            self._claims.pop(run_id, None)

    def _stored_options(self, run: dict[str, Any], owner: str | None) -> dict[str, Any]:
        """Options of a resume or fork of the stored ``run``: its owner, and its budgets within today's caps (a
        run stored before a cap was lowered does not escape it)."""
        return {"owner": owner, "lease_seconds": self.lease_seconds,
                **self._budgets(run.get("options") or {}, refuse=False)}

    def _stored_events(self, run_id: str) -> list[dict[str, Any]]:
        return [row_event(run_id, r) for r in self.store.results(run_id)]

    # ---------------------------------------------------------------- reads

    def visible(self, run_id: str, viewer: str | None) -> dict[str, Any]:
        """The stored run, or 404 when it does not exist or belongs to another owner (``viewer`` None: open server)."""
        try:
            validate_run_id(run_id)
        except StoreError as exc:
            raise ApiError(422, "invalid_run_id", str(exc)) from None
        try:
            run = self.store.get_run(run_id)
        except StoreError:
            run = None
        if run is None or (viewer is not None and run.get("owner") != viewer):
            raise not_found("run", run_id)
        return run

    def counts(self) -> tuple[int, int]:
        """(runs executing, runs waiting for a worker)."""
        with self._lock:
            return self._executing, len(self._queue)

    def active(self, run_id: str) -> ActiveRun | None:
        with self._lock:
            return self._active.get(run_id)

    def summary(self, run: dict[str, Any]) -> dict[str, Any]:
        active = self.active(run["run_id"])
        options = run.get("options") or {}
        outcome = run.get("outcome") or {}
        return {"run_id": run["run_id"], "plan_id": options.get("plan_id") or self.registry.plan_id_of(
                    run.get("plan_hash")),
                "plan_hash": run.get("plan_hash"), "status": run["status"], "active": active is not None,
                "queued": bool(active is not None and not active.started), "owner": run.get("owner"),
                "parent_run_id": run.get("parent_run_id"), "parent_seq": run.get("parent_seq"),
                "created_at": run.get("created_at"), "finished_at": run.get("finished_at"),
                "resume_mode": run.get("resume_mode"), "model": (run.get("env") or {}).get("llm_model"),
                "executed": outcome.get("executed"), "cycles": outcome.get("cycles")}

    def list(self, viewer: str | None, *, status: str | None = None, plan_id: str | None = None,
             parent_run_id: str | None = None, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        runs = [r for r in self.store.list_runs() if viewer is None or r.get("owner") == viewer]
        out = []
        for run in reversed(runs):  # newest first
            if status is not None and run["status"] != status:
                continue
            if parent_run_id is not None and run.get("parent_run_id") != parent_run_id:
                continue
            doc = self.summary(run)
            if plan_id is not None and doc["plan_id"] != plan_id:
                continue
            out.append(doc)
        return {"runs": out[offset:offset + limit], "total": len(out), "limit": limit, "offset": offset}

    def detail(self, run_id: str, viewer: str | None) -> dict[str, Any]:
        run = self.visible(run_id, viewer)
        doc = self.summary(run)
        status = history.run_status(self.store, run_id)
        usage = history.usage(self.store, run_id)
        doc.update({"outcome": run.get("outcome"), "counts": status["counts"], "executions": status["executions"],
                    "steps": status["steps"], "usage": {"total": usage["total"], "by_model": usage["by_model"]}})
        return doc

    def result(self, run_id: str, viewer: str | None) -> dict[str, Any]:
        run = self.visible(run_id, viewer)
        if run["status"] == "running":
            raise ApiError(409, "run_not_finished", f"run {run_id!r} is still running")
        outcome = run.get("outcome") or {}
        return {"run_id": run_id, "outcome": run["status"], "final": self._final(run),
                "cycles": outcome.get("cycles"), "executed": outcome.get("executed"),
                "reasons": outcome.get("reasons") or []}

    def _final(self, run: dict[str, Any]) -> dict[str, Any]:
        """The ``final`` object of ``ncd-run run --json`` rebuilt from the stored state (RUNTIME §1)."""
        found = self.registry.for_run((run.get("options") or {}).get("plan_id"), run.get("plan_hash"))
        plan: Plan | None = found[1] if found else None
        finals = set(plan.schedule["final_concepts"]) if plan else set()
        producers = {inf["id"]: inf["concept_to_infer"] for inf in plan.inferences.values()} if plan else {}
        top = [r for (iid, path), r in latest_rows(self.store.state_rows(run["run_id"])).items()
               if path == "" and r["kind"] == "item"]
        top.sort(key=lambda r: r["seq"])
        out: dict[str, Any] = {}
        for row in top:
            name = row.get("concept_name") or (producers.get(row["inference_id"]) if row["status"] == "skipped"
                                               else None)
            if name is None or (name not in finals if plan else "." in row["flow_index"]):
                continue  # without the plan: the root inference's concept
            try:
                ref = Reference.decode(row["value"]) if row.get("value") is not None else Reference.skip()
                enc = ref.unwrap().encode()
            except ReferenceModelError:
                continue
            out[name] = {"axes": enc["axes"], "data": enc["data"]}
        return out

    def events_source(self, run_id: str, viewer: str | None) -> tuple[EventLog | None, list[dict[str, Any]],
                                                                      dict[str, Any]]:
        """(the live log of an active run, or None with the stored events and the end record)."""
        run = self.visible(run_id, viewer)
        active = self.active(run_id)
        if active is not None:
            return active.log, [], {}
        return None, self._stored_events(run_id), {"run_id": run_id, "status": run["status"],
                                                   "outcome": run.get("outcome")}

    # ---------------------------------------------------------------- writes

    def _check_open(self) -> None:
        if self.closing:
            raise ApiError(503, "shutting_down", "the server is shutting down")

    def _plan(self, plan_id: str) -> Plan:
        entry = self.registry.get(plan_id)
        if entry is None:
            raise ApiError(422, "unknown_plan", f"plan {plan_id!r} is not registered (see GET /api/plans)")
        if entry.plan is None:
            raise ApiError(422, "plan_invalid", f"plan {plan_id!r} cannot be used: {entry.error}")
        return entry.plan

    def _run_plan(self, run: dict[str, Any], plan_id: str | None) -> tuple[str | None, Plan]:
        if plan_id is not None:
            return plan_id, self._plan(plan_id)
        found = self.registry.for_run((run.get("options") or {}).get("plan_id"), run.get("plan_hash"))
        if found is None:
            raise ApiError(409, "plan_unavailable", f"the plan of run {run['run_id']!r} ({run.get('plan_hash')}) is "
                                                    f"no longer registered; name one with plan_id")
        return found

    @staticmethod
    def check_inputs(plan_id: str, plan: Plan, inputs: dict[str, Any]) -> None:
        """Inputs name ground concepts (or external inputs) of the plan and give every required one; 422 else."""
        accepted = {g["name"]: g for g in ground_inputs(plan)}
        for name in inputs:
            if name.startswith("_"):
                continue  # comments, as in an inputs file (RUNTIME §3.3)
            if name not in accepted:
                what = "is produced by the plan, not ground data" if name in plan.concepts else \
                    "is not a concept of the plan"
                raise ApiError(422, "unknown_input", f"inputs: {name!r} {what} (plan {plan_id!r} accepts: "
                                                     f"{', '.join(sorted(accepted)) or 'nothing'})")
        try:
            ground, _ = initial_values(plan, {k: v for k, v in inputs.items() if not k.startswith("_")})
        except LoadError as exc:
            raise ApiError(422, "invalid_input", str(exc)) from None
        missing = missing_ground(plan, ground)
        if missing:
            raise ApiError(422, "missing_input", f"inputs: plan {plan_id!r} needs data for "
                                                 f"{', '.join(repr(m) for m in missing)}")

    def _check_model(self, model: str | None) -> None:
        allowed = self.limits.allowed_models
        if model is not None and allowed is not None and model not in allowed:
            raise ApiError(422, "model_not_allowed", f"model: {model!r} is not allowed on this server (allowed: "
                                                     f"{', '.join(sorted(allowed)) or 'none'})")

    def _budgets(self, asked: dict[str, Any], *, refuse: bool) -> dict[str, Any]:
        """The run's budgets: what ``asked`` sets (a request, or a stored run's options), never above the
        operator's caps. ``refuse``: a request asking for more gets 422 instead of the cap."""
        out: dict[str, Any] = {}
        for option, attr in _CAPPED_BUDGETS:
            cap = getattr(self.limits, attr)
            value = asked.get(option) or 0
            if cap and value > cap and refuse:
                flag = "--" + attr.replace("_", "-")
                raise ApiError(422, "over_operator_cap", f"{option}: {value} is above this server's cap "
                                                         f"({flag} {cap})")
            value = min(value, cap) if cap and value else (value or cap)
            if value:
                out[option] = value
        return out

    def create(self, *, plan_id: str, inputs: dict[str, Any], run_id: str | None, model: str | None,
               owner: str | None, budgets: dict[str, Any] | None = None) -> dict[str, Any]:
        """``budgets``: ``max_llm_calls`` / ``max_cost_usd`` asked by the request (at most the operator's caps)."""
        self._check_open()
        self._check_model(model)
        options: dict[str, Any] = {"owner": owner, "max_concurrency": self.per_run_concurrency,
                                   "lease_seconds": self.lease_seconds,
                                   **self._budgets(budgets or {}, refuse=True)}
        plan = self._plan(plan_id)
        inputs = admit_inputs(plan, inputs, self.input_files_dir, self.input_files_limit)
        self.check_inputs(plan_id, plan, inputs)
        if run_id is not None and self.store.get_run(run_id) is not None:
            raise id_unavailable(run_id)
        if model:
            options["llm_model"] = model
        try:
            orch = Orchestrator(plan, inputs=inputs, store=self.store, run_id=run_id, options=options)
        except LoadError as exc:
            raise ApiError(422, "invalid_run", str(exc)) from None
        return self._start_new(orch, plan_id)

    def cancel(self, run_id: str, viewer: str | None) -> dict[str, Any]:
        run = self.visible(run_id, viewer)
        active = self.active(run_id)
        if active is None:
            raise ApiError(409, "run_not_active", f"run {run_id!r} is not running (status {run['status']})")
        active.cancelled = True
        # a queued run's cancel is stored at once (``interrupted``): a restart after kill -9 must not run it
        if not active.orch.withdraw({"reason": "cancelled"}):
            active.orch.cancel()
        doc = self.summary(run)
        doc["cancelling"] = True
        return doc

    def resume(self, run_id: str, viewer: str | None, *, mode: str, cycle: int | None,
               plan_id: str | None) -> tuple[bool, dict[str, Any]]:
        """(forked, summary): continuity under the same id, or — another checkpoint or a changed plan — a fork
        (RUNTIME §9.1)."""
        self._check_open()
        run = self.visible(run_id, viewer)
        self._claim(run_id, run.get("owner"))
        try:
            pid, plan = self._run_plan(run, plan_id)
            try:
                orch = Orchestrator.load_checkpoint(plan, store=self.store, run_id=run_id, cycle=cycle, mode=mode,
                                                    options=self._stored_options(run, run.get("owner")))
            except LoadError as exc:
                raise ApiError(422, "resume_refused", str(exc)) from None
            if orch.forked_from is not None:
                self._release(run_id)  # the fork is a new run: its own claim holds its place in the queue
                return True, self._start_new(orch, pid)
            try:
                orch.claim()  # the lease, and ``running`` from the answer on, in one transaction
            except LeaseHeld as exc:
                raise ApiError(409, "run_leased", str(exc), details={"holder": exc.holder()}) from None
            except LoadError as exc:
                raise ApiError(409, "run_changed", str(exc)) from None
            self._submit(orch, pid, self._stored_events(run_id))
        finally:
            self._release(run_id)
        return False, self.summary(self.store.get_run(run_id) or run)

    def fork(self, run_id: str, viewer: str | None, owner: str | None, *, cycle: int | None, mode: str,
             new_run_id: str | None, plan_id: str | None) -> dict[str, Any]:
        self._check_open()
        run = self.visible(run_id, viewer)
        pid, plan = self._run_plan(run, plan_id)
        if new_run_id is not None and self.store.get_run(new_run_id) is not None:
            raise id_unavailable(new_run_id)
        try:
            orch = Orchestrator.load_checkpoint(plan, store=self.store, run_id=run_id, cycle=cycle, mode=mode,
                                                new_run_id=new_run_id, fork=True,
                                                options=self._stored_options(run, owner))
        except LoadError as exc:
            raise ApiError(422, "fork_refused", str(exc)) from None
        return self._start_new(orch, pid)

