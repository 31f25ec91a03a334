"""The public Python API (RUNTIME §13): one run of one plan, stored, resumable and forkable.

``Orchestrator(plan, ...)`` starts a new run; ``Orchestrator.load_checkpoint(...)`` prepares a resume (same run,
continuity, §9.1) or a fork (§9.6). Nothing is written before ``run()``/``step()``, and nothing at all when the
environment check of §9.7 refuses. Outcomes are returned; validation, usage and storage problems raise
``LoadError`` / ``StoreError`` naming the culprit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime import reconcile
from runtime.executors import select_executors
from runtime.gcpolicy import run_gc
from runtime.load import LoadError, Plan, initial_values, load_plan, missing_ground, read_inputs, read_memory
from runtime.perception import Perceiver
from runtime.recorder import Recorder, now
from runtime.replay import Replay, lineage_calls, open_replay
from runtime.scheduler import RunState, Scheduler
from runtime.store import Store, StoreError, open_store, validate_run_id
from runtime.store.lease import DEFAULT_LEASE_SECONDS, LeaseKeeper, check_lease_seconds, new_holder

log = logging.getLogger("ncd.run")

# 2: FIDELITY (E16) changed run semantics without changing signatures (loops over a single list value iterate its
# items, a skipped in-place `$+` writes nothing, body readers see the iteration-start value), so a run recorded
# under 1.x is not resumed or patched; it can be forked with --mode overwrite
RUNTIME_VERSION = "2.0.0"
# how long running cells may still finish after a cancel or an interrupt before their waits are woken (§6.4): a
# model answer or a binding about to return is kept instead of being paid for twice on resume. Short: Ctrl-C must
# end the run within a second (issue 13 rule 4), and a cell asleep in a backoff has nothing to finish
CANCEL_GRACE_S = 0.5

DEFAULTS: dict[str, Any] = {
    "max_concurrency": 4, "max_loop_iterations": 10000, "max_cycles": 0, "retries": 5,
    "backoff_base": 1.0, "backoff_max": 60.0, "plan_dir": None, "output_dir": None, "allow_dir": (),
    "bindings": {}, "llm_model": None, "llm_base_url": None, "checkpoint_every": 0, "max_retries_total": 0,
    "allow_model_change": False, "keep_llm_results": False, "llm_concurrency": 4, "llm_timeout": 120.0,
    "llm_system": None, "parse_retries": 1, "price": (), "no_store_prompts": False, "max_tokens": 0,
    "max_cost_usd": 0.0, "max_llm_calls": 0, "replay": None, "replay_fallback": "fail", "max_answer_bytes": 1 << 20,
    "timeout": 0.0, "max_executions": 0, "python_timeout": 300.0, "on_cell_error": "fail", "fail_fast": False,
    "memory": None, "interactive": False, "legacy_sequences": False, "foreign": None,
}
# options that describe where files are, not what the run computes: not compared, kept as given
_PATHS = ("plan_dir", "output_dir", "allow_dir")
# options that describe one invocation, not the run: stored for the record, never carried into a resume (a resume
# by the run server must not wait on a terminal that asked for a value once)
_SESSION = ("interactive",)


def _same_kind(plan: Any, stored: dict[str, Any]) -> None:
    """A foreign run (§12) resumes only from --concepts/--inferences, and a compiled plan's run only from a plan:
    the two have different concepts, so anything else would fail later with a confusing message."""
    was = (stored.get("options") or {}).get("foreign")
    now = isinstance(plan, Plan) and plan.schedule.get("ncdc_version") == "foreign"
    if was and not now:
        raise LoadError(f"run {stored['run_id']!r} ran foreign repositories {was.get('concepts')} and "
                        f"{was.get('inferences')}: give them again with --concepts and --inferences")
    if now and not was:
        raise LoadError(f"run {stored['run_id']!r} ran a compiled plan, not foreign repositories: give its PLAN")


def _check_run_options(opts: dict[str, Any]) -> None:
    """The RUNTIME §1 run options this module interprets itself; a bad value raises LoadError naming it."""
    for name in ("timeout", "max_executions", "python_timeout"):
        value = opts.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
            raise LoadError(f"{name} must be a non-negative finite number, got {value!r}")
    if opts["python_timeout"] == 0:
        raise LoadError("python_timeout must be greater than 0 (seconds per binding call)")
    if opts.get("on_cell_error") not in ("fail", "skip"):
        raise LoadError(f"on_cell_error must be 'fail' or 'skip', got {opts.get('on_cell_error')!r}")


def _shielded(action: Callable[[], Any]) -> Any:
    """Run ``action`` to its end even while more Ctrl-Cs arrive: each one restarts it (it must be safe to repeat).
    What must survive an impatient user is the stored ``interrupted`` status."""
    while True:
        try:
            return action()
        except KeyboardInterrupt:
            continue


@dataclass
class RunResult:
    run_id: str
    outcome: str
    final: dict[str, Any]
    cycles: int
    executed: int
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = {"run_id": self.run_id, "outcome": self.outcome, "final": self.final, "cycles": self.cycles,
               "executed": self.executed}
        warnings = [r for r in self.reasons if "warning" in r]
        if warnings:  # only when present: the --json document of an ordinary run keeps its keys (§1)
            out["warnings"] = warnings
        return out


@dataclass
class WaveResult:
    cycle: int
    executed: list[dict[str, Any]]
    outcome: str | None


def as_store(store: Store | str | Path | None, busy_timeout_ms: int = 5000) -> Store:
    """A store object as given, an existing directory as ``--runs-dir``, any other path as ``--db`` (§13)."""
    if store is None:
        return open_store(busy_timeout_ms=busy_timeout_ms)
    if isinstance(store, (str, Path)):
        path = Path(store)
        if path.is_dir():
            return open_store(runs_dir=path, busy_timeout_ms=busy_timeout_ms)
        return open_store(db=path, busy_timeout_ms=busy_timeout_ms)
    return store


class Orchestrator:
    """One run of one plan. Validation problems raise ``LoadError`` at construction; outcomes are returned."""

    def __init__(self, plan: Any, *, inputs: Any = None, store: Store | str | Path | None = None,
                 run_id: str | None = None, options: dict[str, Any] | None = None,
                 max_concurrency: int | None = None,
                 on_result: Callable[[dict[str, Any]], None] | None = None, replay: Replay | None = None) -> None:
        opts = dict(DEFAULTS)
        opts["llm_model"] = os.environ.get("NCD_LLM_MODEL")
        opts["llm_base_url"] = os.environ.get("NCD_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        opts.update({k: v for k, v in (options or {}).items() if v is not None})
        if max_concurrency is not None:
            opts["max_concurrency"] = max_concurrency
        if int(opts["max_concurrency"]) < 1:
            raise LoadError("--max-concurrency must be at least 1")
        _check_run_options(opts)
        memory = read_memory(opts.get("memory"))
        if isinstance(opts.get("memory"), (str, Path)):
            opts["memory"] = str(Path(opts["memory"]).resolve())  # a resume from another directory reads it too
        self.options = opts
        self.plan: Plan = load_plan(plan, opts.get("plan_dir"))
        if self.plan.schedule.get("ncdc_version") == "foreign":  # recorded so that a resume can check it (§12)
            arts = self.plan.schedule["artifacts"]
            opts["foreign"] = {"concepts": arts["concepts"]["file"], "inferences": arts["inferences"]["file"]}
        try:
            self.run_id = validate_run_id(run_id) if run_id else uuid.uuid4().hex[:12]
        except StoreError as exc:
            raise LoadError(str(exc)) from None
        self.store: Store = as_store(store, int(opts.get("busy_timeout", 5000)))
        self.inputs = dict(read_inputs(inputs))
        self.ground, self.externals = initial_values(self.plan, self.inputs)
        self.missing = missing_ground(self.plan, self.ground)
        bindings = dict(opts.get("bindings") or {})
        if replay is None and opts.get("replay"):
            replay = open_replay(str(opts["replay"]), str(opts.get("replay_fallback") or "fail"), self.store)
        self.replay = replay
        if self.plan.legacy:  # foreign repositories (§12): legacy steps need the flag and a binding or replay
            from runtime.foreign import check_legacy
            check_legacy(self.plan, opts)  # --replay as given: a resume's own history is no recording for them
        self.executors = select_executors(self.plan, bindings, opts, replay)
        self.provisions = reconcile.provision_hashes(self.plan, bindings)
        allow = tuple(Path(a).resolve() for a in opts.get("allow_dir") or ())
        self.perceiver = Perceiver(self.plan.plan_dir, allow, memory)
        self.on_result = on_result  # called with every result row as it is recorded (progress displays)
        # called with an attempt's executions row when it starts and when it ends without success (live progress:
        # a step is running); a successful attempt is reported by its result row
        self.on_attempt: Callable[[dict[str, Any]], None] | None = None
        # set by load_checkpoint: how this run relates to stored history
        self.parent: tuple[str, int] | None = None       # (parent run id, parent seq) of a fork
        self.continues = False                           # resuming this run id in place (§9.1)
        self.reconciliation: reconcile.Reconciliation | None = None
        self.forked_from: str | None = None
        self._scheduler: Scheduler | None = None
        self._recorder: Recorder | None = None
        self._result: RunResult | None = None
        self._lock = threading.Lock()
        self._usage: dict[str, Any] = {}
        self._retries = 0
        self._cancelled = False
        # one per run: set by cancel(), an interrupt and the --timeout deadline; every wait inside a cell wakes on it
        self._cancel_event = threading.Event()
        self._grace: threading.Timer | None = None  # sets it CANCEL_GRACE_S after a cancel or an interrupt
        # one runner per run (runtime/store/lease.py): this runner's identity, and the heartbeat once it holds it
        try:
            self.lease_seconds = check_lease_seconds(opts.get("lease_seconds", DEFAULT_LEASE_SECONDS))
        except StoreError as exc:
            raise LoadError(str(exc)) from None
        self._holder = new_holder()
        self._keeper: LeaseKeeper | None = None
        self._loaded_seq: int | None = None  # continuity: the latest seq load_checkpoint read
        self._start_lock = threading.Lock()  # starting vs withdraw(): exactly one of them wins
        self._interrupt_recorded = False

    @classmethod
    def from_ncd(cls, path: str | Path, **kw: Any) -> Orchestrator:
        return cls(Path(path), **kw)

    # ---------------------------------------------------------------- history (§9)

    @classmethod
    def load_checkpoint(cls, plan: Any, *, store: Store | str | Path | None, run_id: str, cycle: int | None = None,
                        inference_count: int | None = None, seq: int | None = None, mode: str = "patch",
                        new_run_id: str | None = None, inputs: Any = None, options: dict[str, Any] | None = None,
                        fork: bool = False, **kw: Any) -> Orchestrator:
        """A resume of ``run_id`` (continuity when the plan, its provisions and inputs are unchanged and the
        checkpoint is the latest) or a fork of it (§9.1, §9.6); reconciled with ``mode``. Writes nothing."""
        if mode not in reconcile.MODES:
            raise LoadError(f"--mode {mode!r}: expected one of {', '.join(reconcile.MODES)}")
        the_store = as_store(store, int((options or {}).get("busy_timeout", 5000)))
        try:
            validate_run_id(run_id)
        except StoreError as exc:
            raise LoadError(str(exc)) from None
        stored = the_store.get_run(run_id)
        if stored is None:
            raise LoadError(f"run {run_id!r} not found in the store")
        _same_kind(plan, stored)
        stored_inputs = the_store.get_inputs(run_id)
        # the run's own options are the defaults of its resume: a crash-resume needs no flags repeated
        merged = {k: v for k, v in (stored.get("options") or {}).items()
                  if k in DEFAULTS and k not in _PATHS and k not in _SESSION}
        merged.update({k: v for k, v in (options or {}).items() if v is not None})
        given = read_inputs(inputs) if inputs is not None else None
        if "replay" not in kw and not merged.get("replay"):
            # a resume or fork never pays twice for an answer its history already has (§10.5 keys)
            kw["replay"] = Replay.from_rows(lineage_calls(the_store, run_id), "live", f"run:{run_id}")
        orch = cls(plan, inputs=given if given is not None else stored_inputs, store=the_store,
                   run_id=run_id, options=merged, **kw)
        target, latest = cls._address(the_store, run_id, cycle, inference_count, seq)
        same_plan = (stored.get("plan_hash") == orch.plan.schedule.get("plan_hash")
                     and stored.get("plan") == reconcile.plan_record(orch.plan, orch.provisions)
                     and (given is None or reconcile.data_hash(given) == reconcile.data_hash(stored_inputs)))
        continuity = not fork and new_run_id is None and same_plan and target == latest
        orch._check_environment(stored, continuity, mode)
        rows = the_store.state_rows(run_id, target)
        run_mode = (stored.get("reconcile") or {}).get("mode") or mode if continuity else mode
        changed = {name for name in set(orch.inputs) | set(stored_inputs)
                   if reconcile.data_hash(orch.inputs.get(name)) != reconcile.data_hash(stored_inputs.get(name))}
        if run_mode == "patch":
            rec = reconcile.patch(orch.plan, stored.get("plan") or {}, rows, orch.provisions, changed)
            if orch.options.get("allow_model_change") and not orch.options.get("keep_llm_results") \
                    and not continuity and cls._model_changed(stored, orch.options):
                llm = {orch.plan.inferences[fi]["id"] for fi, sel in orch.executors.items() if sel.kind == "llm"}
                rec.restore = {k: r for k, r in rec.restore.items() if k[0] not in llm}
        else:
            rec = reconcile.by_flow_index(orch.plan, stored.get("plan") or {}, rows, run_mode, stored_inputs)
            if rec.inputs is not None:
                orch._set_inputs({**orch.inputs, **rec.inputs})
        orch.reconciliation = rec
        if continuity:
            orch.continues = True
            orch._loaded_seq = latest
            # budgets compare against the run's totals (§8.4): a continued run starts from what it spent
            orch._usage = dict((stored.get("outcome") or {}).get("usage") or {})
            orch._retries = int((stored.get("outcome") or {}).get("retries") or 0)
        else:
            orch.parent = (run_id, target)
            orch.forked_from = run_id
            try:
                orch.run_id = validate_run_id(new_run_id) if new_run_id else uuid.uuid4().hex[:12]
            except StoreError as exc:
                raise LoadError(str(exc)) from None
            if the_store.get_run(orch.run_id) is not None:
                raise LoadError(f"run {orch.run_id!r} already exists; choose another --new-run-id")
        return orch

    @staticmethod
    def _address(store: Store, run_id: str, cycle: int | None, inference_count: int | None,
                 seq: int | None) -> tuple[int, int]:
        """(the seq to resume from, the run's latest seq). The latest is the last committed row: a crash loses
        nothing that was committed, even after the last marker."""
        latest = store.last_seq(run_id)
        if seq is None and cycle is None:
            return latest, latest
        marks = store.checkpoints(run_id)
        if seq is not None:
            found = [m for m in marks if m["seq"] == seq]
        else:
            found = [m for m in marks if m["cycle"] == cycle
                     and (inference_count is None or m["inference_count"] == inference_count)]
        if not found:
            where = f"seq {seq}" if seq is not None else f"cycle {cycle}" + (
                f", inference count {inference_count}" if inference_count is not None else "")
            raise LoadError(f"run {run_id!r} has no checkpoint at {where} (see ncd-run list-checkpoints)")
        return found[-1]["seq"], latest

    @staticmethod
    def _model_changed(stored: dict[str, Any], options: dict[str, Any]) -> bool:
        env = stored.get("env") or {}
        return (env.get("llm_model") != options.get("llm_model")
                or env.get("llm_base_url") != options.get("llm_base_url"))

    def _check_environment(self, stored: dict[str, Any], continuity: bool, mode: str | None = None) -> None:
        """§9.7, before anything is written. Results of another runtime major version were computed under other
        run semantics (E16): only a fork that keeps none of them (``--mode overwrite``) may start from such a run."""
        if str(stored.get("runtime_version", "")).split(".")[0] != RUNTIME_VERSION.split(".")[0] \
                and (continuity or mode != "overwrite"):
            raise LoadError(f"run {stored['run_id']!r} was written by runtime {stored.get('runtime_version')}; "
                            f"this is {RUNTIME_VERSION} (a different major version cannot resume or patch it: "
                            f"use `ncd-run fork --from-run {stored['run_id']} --mode overwrite`)")
        uses_llm = any(sel.kind == "llm" for sel in self.executors.values())
        if uses_llm and self._model_changed(stored, self.options):
            env = stored.get("env") or {}
            was = f"{env.get('llm_model')} at {env.get('llm_base_url')}"
            if continuity:
                raise LoadError(f"run {stored['run_id']!r} used model {was}; resuming it under another model is "
                                f"refused: use `ncd-run fork ... --allow-model-change`")
            if not self.options.get("allow_model_change"):
                raise LoadError(f"run {stored['run_id']!r} used model {was}; a fork under another model needs "
                                f"--allow-model-change")

    def _set_inputs(self, inputs: dict[str, Any]) -> None:
        self.inputs = inputs
        self.ground, self.externals = initial_values(self.plan, inputs)
        self.missing = missing_ground(self.plan, self.ground)

    @staticmethod
    def list_runs(store: Store | str | Path | None) -> list[dict[str, Any]]:
        the_store = as_store(store)
        try:
            return the_store.list_runs()
        finally:
            if the_store is not store:  # opened here from a path: closed here
                the_store.close()

    @staticmethod
    def list_checkpoints(store: Store | str | Path | None, run_id: str) -> list[dict[str, Any]]:
        the_store = as_store(store)
        try:
            if the_store.get_run(run_id) is None:
                raise LoadError(f"run {run_id!r} not found in the store")
            return the_store.checkpoints(run_id)
        finally:
            if the_store is not store:
                the_store.close()

    # ---------------------------------------------------------------- running

    def _run_row(self) -> dict[str, Any]:
        opts = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.options.items()
                if k in DEFAULTS and k != "api_key"}
        for key in _PATHS:
            if opts.get(key) is not None:
                opts[key] = [str(x) for x in opts[key]] if isinstance(opts[key], list) else str(opts[key])
        rec = self.reconciliation
        return {"run_id": self.run_id, "parent_run_id": self.parent[0] if self.parent else None,
                "parent_seq": self.parent[1] if self.parent else None, "created_at": now(),
                "plan_hash": self.plan.schedule.get("plan_hash") or "", "schedule_sha256": None,
                "runtime_version": RUNTIME_VERSION,
                "env": {"llm_model": self.options.get("llm_model"), "llm_base_url": self.options.get("llm_base_url"),
                        "python": platform.python_version()},
                "options": opts, "resume_mode": rec.mode.upper().replace("-", "_") if rec and self.parent else None,
                "status": "running", "owner": self.options.get("owner"),
                "plan": reconcile.plan_record(self.plan, self.provisions),
                "reconcile": {"mode": rec.mode, "invalidated": sorted(rec.invalidated)} if rec and self.parent
                else None}

    def register(self, **extra_options: Any) -> None:
        """Store the run now — its row (status ``running``; ``extra_options`` added to its stored options, e.g. the
        server's plan id) and its inputs — in one transaction, before any step; ``run()``/``step()`` then continue
        it in place. For a caller that must promise a stored run before it starts executing (the run server answers
        201 only for a run that survives a crash). Raises LoadError when the run id exists already."""
        if self._scheduler is not None or self.continues:
            raise LoadError(f"run {self.run_id!r} is already stored")
        row = self._run_row()
        row["options"].update(extra_options)
        with self.store.transaction():
            self._store_new_run(row)
            self._take_lease()
        self.continues = True
        self._keep_lease()

    def claim(self) -> None:
        """Take the run's lease and mark it ``running`` now, in one transaction, for a continued run that will run
        later (the run server queues it). Raises ``LeaseHeld`` naming the holder when another live runner has it,
        LoadError when another runner advanced the run since it was loaded. ``run()`` then keeps the lease."""
        if not self.continues:
            raise LoadError(f"run {self.run_id!r} is not stored yet: register() it")
        with self._start_lock:
            if self._keeper is not None:
                return
            with self.store.transaction():
                self._take_lease()
                self.store.update_run(self.run_id, status="running")
            self._keep_lease()

    def release(self) -> None:
        """Give up the run's lease without recording anything: a stored run this process will not execute after
        all (the run server leaves queued runs to its next start, which must be able to take them at once)."""
        with self._start_lock:
            if self._scheduler is None:
                self._release_lease()

    def _take_lease(self) -> None:
        """Inside the transaction that marks the run running: its lease for this runner. A continued run must still
        be where it was loaded from, or another runner executed it in between and our plan of what to run is stale."""
        self.store.acquire_lease(self.run_id, self._holder, self.lease_seconds)
        if self._loaded_seq is not None and self.store.last_seq(self.run_id) != self._loaded_seq:
            raise LoadError(f"run {self.run_id!r} was advanced by another runner since it was loaded; "
                            f"resume it again")

    def _keep_lease(self) -> None:
        if self._keeper is None:
            self._keeper = LeaseKeeper(self.store, self.run_id, self._holder["holder_id"], self.lease_seconds,
                                       self._lease_lost)

    def _lease_lost(self, message: str) -> None:
        log.warning("%s; this runner stops", message)
        self.cancel()  # start nothing new; the fenced commits already refuse this runner's rows

    def _release_lease(self) -> None:
        """When the run ends (any outcome) or is abandoned: stop the heartbeat and drop the lease."""
        keeper, self._keeper = self._keeper, None
        if keeper is None:
            return
        keeper.stop()
        try:
            self.store.release_lease(self.run_id, self._holder["holder_id"])
        except StoreError as exc:  # the lease then lapses by itself; our pid, once gone, frees it at once
            log.warning("run %s: cannot release its lease: %s", self.run_id, exc)

    def _store_new_run(self, row: dict[str, Any]) -> None:
        """The run's row and inputs (inside the caller's transaction); LoadError when the run id is taken."""
        if self.store.get_run(self.run_id) is not None:
            raise LoadError(f"run {self.run_id!r} already exists; resume it with `ncd-run resume` "
                            f"or choose another --run-id")
        self.store.create_run(row)
        self.store.put_inputs(self.run_id, self.inputs)

    def _ensure_started(self) -> Scheduler | None:
        """The scheduler, after taking the lease in the transaction that marks the run running; None when the run
        was withdrawn before it started."""
        with self._start_lock:
            if self._scheduler is not None or self._result is not None:
                return self._scheduler
            return self._start()

    def _start(self) -> Scheduler:
        store = self.store
        with store.transaction():
            if not self.continues:
                self._store_new_run(self._run_row())
            if self._keeper is None:
                self._take_lease()
            if self.continues:
                last = store.last_seq(self.run_id)
                if last and not any(m["seq"] == last for m in store.checkpoints(self.run_id)[-1:]):
                    store.add_checkpoint(self.run_id, last)  # the recovered state is addressable (§8.3)
                store.update_run(self.run_id, status="running")
        self._keep_lease()
        recorder = Recorder(store, self.run_id, checkpoint_every=int(self.options.get("checkpoint_every") or 0),
                            max_retries_total=int(self.options.get("max_retries_total") or 0),
                            on_row=self.on_result, on_attempt=self.on_attempt, last_seq=store.last_seq(self.run_id),
                            limits={k: self.options.get(k) for k in ("max_tokens", "max_cost_usd", "max_llm_calls")},
                            usage=self._usage, retries_spent=self._retries, lease=self._holder["holder_id"])
        restore = self.reconciliation.restore if self.reconciliation else None
        self._recorder = recorder
        self._scheduler = Scheduler(self.plan, self.ground, self.externals, self.executors, self.perceiver,
                                    self.options, recorder, restore, self.provisions, cancel=self._cancel_event)
        if self._cancelled:
            self._scheduler.budget = "cancelled"
        if not self.missing:
            self._scheduler.begin()
        return self._scheduler

    def run(self) -> RunResult:
        """Run to the end (after any ``step()`` calls) and return the outcome."""
        if self._result is not None:
            return self._result
        try:
            scheduler = self._ensure_started()
            if scheduler is None:
                assert self._result is not None
                return self._result
            if self.missing:
                return self._end(None, [{"reason": "missing_ground_data", "concepts": self.missing}])
            try:
                with run_gc():  # GC settings for the span of the run (runtime/gcpolicy.py); never affects outputs
                    scheduler.pump()
            except KeyboardInterrupt:
                self._interrupt()
                raise
            return self._end(scheduler.finish())
        finally:
            self._release_lease()  # whatever ended the run: its outcome is recorded (or it failed to be)

    async def run_async(self) -> RunResult:
        """``run()`` as a coroutine: the scheduler's own threads do the work, the event loop stays free."""
        return await asyncio.to_thread(self.run)

    def step(self) -> WaveResult:
        """Execute exactly one wave (§4.4, §13): the lowest wave that still has work, started, awaited, committed."""
        if self._result is not None:
            return WaveResult(self._result.cycles, [], self._result.outcome)
        try:
            return self._step()
        except BaseException:
            self._release_lease()
            raise

    def _step(self) -> WaveResult:
        scheduler = self._ensure_started()
        if scheduler is None:
            assert self._result is not None
            return WaveResult(0, [], self._result.outcome)
        if self.missing:
            result = self._end(None, [{"reason": "missing_ground_data", "concepts": self.missing}])
            return WaveResult(0, [], result.outcome)
        wave = scheduler.next_wave()
        if wave is None:
            result = self._end(scheduler.finish())
            return WaveResult(result.cycles, [], result.outcome)
        scheduler.wave_log = []
        try:
            scheduler.pump(wave_limit=wave)
        except KeyboardInterrupt:
            self._interrupt()
            raise
        ran, scheduler.wave_log = scheduler.wave_log, None
        outcome = None
        if scheduler.next_wave() is None:
            outcome = self._end(scheduler.finish()).outcome
        return WaveResult(wave, ran, outcome)

    def cancel(self) -> None:
        """Stop starting work (from any thread): running cells get ``CANCEL_GRACE_S`` to finish, then every wait
        inside them is woken; the run ends ``interrupted`` and can be resumed. Used by the run server; Ctrl-C does
        the same at the CLI."""
        self._cancelled = True
        if self._scheduler is not None:
            self._scheduler.budget = "cancelled"
        self._cancel_cells()

    def _cancel_cells(self) -> None:
        """Set the run's cancel event once the grace period has passed (§6.4: running cells may finish first)."""
        with self._lock:
            if self._grace is not None or self._cancel_event.is_set():
                return
            self._grace = threading.Timer(CANCEL_GRACE_S, self._cancel_event.set)
            self._grace.daemon = True
            self._grace.start()

    def withdraw(self, reason: dict[str, Any]) -> bool:
        """Cancel a stored run that has not started executing (the run server's queued run): record it
        ``interrupted`` now, durably — a crash before a worker would have picked it up must not run it — and release
        its lease; a later ``run()`` returns that outcome. False when it has already started: use ``cancel()``."""
        with self._start_lock:
            if self._scheduler is not None or self._result is not None:
                return False
            self.cancel()
            if self.continues:
                with self.store.transaction():
                    stored = self.store.get_run(self.run_id) or {}
                    outcome = {**(stored.get("outcome") or {}), "reasons": [reason]}  # keeps usage for budgets
                    self.store.update_run(self.run_id, status="interrupted", finished_at=now(), outcome=outcome)
            self._result = RunResult(self.run_id, "interrupted", {}, 0, 0, [reason])
        self._release_lease()
        return True

    def _interrupt(self) -> None:
        """SIGINT/SIGTERM: stop starting work, keep what finished, checkpoint, record ``interrupted`` (§6.4). A
        second Ctrl-C stops the wait for running cells (they run again on resume) but never the recording."""
        scheduler, recorder = self._scheduler, self._recorder
        self._cancel_cells()  # after the grace period, waiting cells (backoff, model calls, bindings) give up
        if scheduler is not None:
            try:
                scheduler.stop()
            except KeyboardInterrupt:
                _shielded(scheduler.stop)  # again, without waiting: commits the cells that did finish
        if recorder is not None:
            _shielded(lambda: self._record_interrupted(recorder))

    def _record_interrupted(self, recorder: Recorder) -> None:
        """Safe to repeat (a further Ctrl-C restarts it): a repeated marker or status update changes nothing."""
        if not self._interrupt_recorded:
            recorder.checkpoint()
            recorder.run_update(status="interrupted", finished_at=now(), outcome={"reasons": [
                {"reason": "interrupted"}]})
            self._interrupt_recorded = True
        recorder.close()

    def _end(self, state: RunState | None, reasons: list[dict[str, Any]] | None = None) -> RunResult:
        scheduler, recorder = self._scheduler, self._recorder
        assert scheduler is not None and recorder is not None
        scheduler.close()
        if self._grace is not None:
            self._grace.cancel()  # nothing is left to wake
        if state is None:
            result = RunResult(self.run_id, "blocked", {}, 0, 0, reasons or [])
        else:
            result = RunResult(self.run_id, state.outcome, self._final(state), state.cycles, state.executed,
                               state.reasons)
        recorder.flush()
        if recorder.failure is not None:
            result = RunResult(self.run_id, "failed", result.final, result.cycles, result.executed,
                               [{"kind": "storage_error", "message": recorder.failure}, *result.reasons])
        recorder.checkpoint()
        recorder.run_update(status=result.outcome, finished_at=now(), outcome={
            "reasons": result.reasons, "cycles": result.cycles, "executed": result.executed,
            "restored": scheduler.restored, "retries": recorder.retries_spent, "usage": recorder.usage,
            "cell_errors": scheduler.cell_errors})
        recorder.close()
        self._release_lease()
        if recorder.failure is not None:
            raise StoreError(f"the store failed while recording run {self.run_id}: {recorder.failure}")
        self._result = result
        return result

    def _final(self, state: RunState) -> dict[str, Any]:
        final: dict[str, Any] = {}
        for name in self.plan.schedule["final_concepts"]:
            stored = state.top.values.get(name)
            if stored is not None:
                enc = stored.ref.unwrap().encode()
                final[name] = {"axes": enc["axes"], "data": enc["data"]}
        return final

    def status(self) -> dict[str, Any]:
        """The run's stored state without running anything: per inference and iteration path its status,
        attempts and errors, plus counts (what ``ncd-run show`` prints)."""
        from runtime.history import run_status

        return run_status(self.store, self.run_id)
