"""Event-driven scheduler (RUNTIME §4): per-instance unmet conditions, a ready queue, waves, loops, gates, outcome.

An *instance* is one inference in one iteration scope (path ``''`` at top level, ``inf-…#i`` inside a loop). Values
live in scopes: a body value that is neither ground nor invariant lives in its iteration scope and disappears with
it (the §5.4 reset); everything else is written where it is already visible, or at the loop's own level.
Readiness is tracked by unmet-condition sets updated on events (a concept resolved, an instance finished); nothing
is rescanned. Sequence computations run in a thread pool; results are committed by the main thread, a completion
batch in flow order, so values never depend on timing.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import itertools
import json
import logging
import sys
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable

from runtime.executors.attempts import BudgetExhausted, Cell, CellContext
from runtime.executors.python import abandonable
from runtime.load import LoadError, Plan, flow_key, ground_reference
from runtime.recorder import DURABLE_STEP_S, Recorder, now
from runtime.reference import NONE_AXIS, Reference, Skip
from runtime.scopes import _MET, Instance, LoopRun, Result, RunState, Scope, Stored
from runtime.sequences import Outcome, StepFailure, assigning, grouping, looping, semantic, timing

log = logging.getLogger("ncd_run.scheduler")


def _drop(counter: Counter[int], key: int) -> None:
    """Decrement; a key at zero is removed, so the per-wave counters stay as small as the set of open waves."""
    n = counter[key] - 1
    if n > 0:
        counter[key] = n
    else:
        del counter[key]


def _in_place_append(inf: dict[str, Any]) -> bool:
    """An in-place `$+` (L§4.3 as amended): the result is the destination itself, which grows."""
    syntax = inf["working_interpretation"].get("syntax") or {}
    return (inf["inference_sequence"] == "assigning" and syntax.get("marker") == "+"
            and syntax.get("assign_destination") == inf["concept_to_infer"])


def _prompt(question: str) -> str | None:
    """One line from stdin after ``question`` on stderr; None at end of input."""
    sys.stderr.write(question)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line if line else None


class Scheduler:
    def __init__(self, plan: Plan, ground: dict[str, Reference], externals: dict[str, Reference],
                 executors: dict[str, Any], perceive: Callable[[Any], Any], options: dict[str, Any],
                 recorder: Recorder, restore: dict[tuple[str, str], dict[str, Any]] | None = None,
                 provisions: dict[str, str | None] | None = None, cancel: threading.Event | None = None) -> None:
        self.plan = plan
        # the run's cancel event (set by a cancel, an interrupt or --timeout): every wait inside a cell wakes on it
        self.cancel = cancel if cancel is not None else threading.Event()
        self.externals = externals
        self.executors = executors
        self.perceive = perceive
        self.options = options
        self.recorder = recorder
        # (inference id, iteration path) -> the stored row a kept result is restored from (§9.3-§9.5)
        self.restore = restore or {}
        self.provisions = provisions or {}
        self.restored = 0
        self.wave_log: list[dict[str, Any]] | None = None  # what a step() ran (§13); None: not collected
        self._active: Counter[int] = Counter()     # wave -> started, uncommitted instances
        self._ready_bases: Counter[int] = Counter()  # wave base -> ready instances not started yet
        self._closed_wave = 0
        self._rows_since_marker = 0
        self._pool: ThreadPoolExecutor | None = None
        self._cell_pool: ThreadPoolExecutor | None = None
        self._futures: dict[Future, Instance] = {}
        self.max_concurrency = max(1, int(options.get("max_concurrency") or 4))
        self.max_loop = int(options.get("max_loop_iterations") or 10000)
        self.max_cycles = int(options.get("max_cycles") or 0)
        self.max_executions = int(options.get("max_executions") or 0)
        self.fail_fast = bool(options.get("fail_fast"))
        self.skip_errors = options.get("on_cell_error") == "skip"
        self.deadline: float | None = None          # time.monotonic() when --timeout ends this invocation
        self.budget_message: str | None = None      # why the budget stopped scheduling, for the outcome reasons
        self.cell_errors = 0                        # Error cells turned into Skip (--on-cell-error skip, §6.3)
        self._ask_lock = threading.Lock()           # one --interactive question on the terminal at a time
        self.top = Scope("", None, ())
        for name, ref in ground.items():
            self.top.values[name] = Stored(ref, 0)
        self.ready: list[tuple[tuple, Instance]] = []     # (instance key, instance): compared in C
        self.waiting: dict[str, list[Instance]] = {}       # concept -> instances waiting for it
        self.done: list[Result] = []
        self.failures: list[dict[str, Any]] = []
        self.budget: str | None = None
        self.executed = 0
        self.cycles = 0
        self.loops: dict[int, LoopRun] = {}
        self._members: dict[str | None, list[str]] = {}
        self._order = plan.order
        for fi in self._order:
            loops = plan.entries[fi]["enclosing_loops"]
            self._members.setdefault(loops[-1] if loops else None, []).append(fi)
        self._scope_counter = itertools.count(1)
        self._names: dict[str, tuple[str, ...]] = {}                 # flow index -> names its view reads
        self._victims: dict[str, list[str]] = {}                     # flow index -> §5.3 skip-propagation set
        self._appends: dict[str, list[str]] = {}                     # loop flow index -> in-place destinations
        self.shape_losses: list[dict[str, Any]] = []                 # steps that turned values into only Skip
        self._uses: dict[str, int] | None = None                     # concept -> inferences reading it

    # ------------------------------------------------------------ instances and readiness

    def _populate(self, scope: Scope, members: list[str]) -> None:
        insts = [Instance(fi, scope, self.plan.inferences[fi], self.plan.entries[fi]) for fi in members]
        for inst in insts:
            scope.instances[inst.fi] = inst
        scope.open += len(insts)
        for inst in insts:
            self._conditions(inst)
        for inst in insts:
            if not inst.unmet and inst.status == "pending":
                self._make_ready(inst)

    def _conditions(self, inst: Instance) -> None:
        inf, seq = inst.inf, inst.inf["inference_sequence"]
        scope = inst.scope
        if seq != "looping":
            if not (inf["start_with_support_reference_only"] or inf["start_without_support_reference_only_once"]):
                for j in inst.entry["supported_by"]:
                    other = scope.instances.get(j)
                    if other is not None and other.status not in ("completed", "skipped"):
                        self._support(inst, j)
                    elif other is not None:
                        inst.wave_base = max(inst.wave_base, other.wave)
            # E7: in-place appends to one destination in one body are applied in flow-index order
            if _in_place_append(inf):
                key = flow_key(inst.fi)
                for other in scope.instances.values():
                    if (other is not inst and _in_place_append(other.inf)
                            and other.inf["concept_to_infer"] == inf["concept_to_infer"]
                            and flow_key(other.fi) < key and other.status not in ("completed", "skipped")):
                        self._support(inst, other.fi)
            # accumulators written inside a loop that does not enclose this inference: wait for that loop
            mine = inst.entry["enclosing_loops"]
            for req in inst.entry["requires"]:
                for p in req["producers"]:
                    theirs = self.plan.entries[p]["enclosing_loops"]
                    if theirs[:len(mine)] == mine and len(theirs) > len(mine):
                        loop_fi = theirs[len(mine)]
                        other = scope.instances.get(loop_fi)
                        if loop_fi != inst.fi and other is not None and other.status not in ("completed", "skipped"):
                            self._support(inst, loop_fi)
        skip_values = seq != "looping" and (inf["start_without_value"] or inf["start_without_value_only_once"])
        if skip_values:
            return
        cands: list[str] = []
        syntax = inf["working_interpretation"].get("syntax") or {}
        if seq == "assigning" and syntax.get("marker") == ".":
            src = syntax.get("assign_source")
            cands = list(src) if isinstance(src, list) else [src]
        for name in inf["value_concepts"]:
            if name in cands:
                continue
            self._need(inst, name)
        if cands:
            for name in cands:
                self.waiting.setdefault(name, []).append(inst)
            if not self._cands_ok(inst, cands):
                inst.unmet.add(("cands",))

    def _support(self, inst: Instance, fi: str) -> None:
        cond = ("support", fi)
        if cond not in inst.unmet:
            inst.unmet.add(cond)
            inst.scope.dependents.setdefault(fi, []).append(inst)

    def _need(self, inst: Instance, name: str) -> None:
        found = inst.scope.lookup(name)
        if found is None:
            inst.unmet.add(("value", name))
            self.waiting.setdefault(name, []).append(inst)
        else:
            inst.wave_base = max(inst.wave_base, found[0].wave)

    def _cands_ok(self, inst: Instance, cands: list[str]) -> bool:
        waves = []
        for name in cands:
            found = inst.scope.lookup(name)
            if found is None:
                return False
            waves.append(found[0].wave)
            if found[0].ref.has_value():
                break
        inst.wave_base = max([inst.wave_base, *waves])
        return True

    def _make_ready(self, inst: Instance) -> None:
        inst.status = "ready"
        inst.unmet = _MET  # never consulted again (only pending instances are); frees one set per instance
        self._ready_bases[inst.wave_base] += 1
        heapq.heappush(self.ready, (inst.key, inst))

    def _satisfy(self, inst: Instance, cond: tuple, wave: int) -> None:
        if inst.status != "pending" or cond not in inst.unmet:
            return
        inst.unmet.discard(cond)
        inst.wave_base = max(inst.wave_base, wave)
        if not inst.unmet:
            self._make_ready(inst)

    # ------------------------------------------------------------ values

    def _write(self, inst: Instance, name: str, stored: Stored) -> None:
        concept = self.plan.concepts.get(name, {})
        target = inst.scope
        if concept.get("is_invariant") or concept.get("is_ground_concept"):
            found = inst.scope.lookup(name)
            if found is not None:
                target = found[1]
            else:
                target = self._invariant_home(inst, name)
        target.values[name] = stored
        self._resolved(name, target, stored)

    def _invariant_home(self, inst: Instance, name: str) -> Scope:
        scope = inst.scope
        for loop_fi in inst.entry["enclosing_loops"]:
            if name in self.plan.loops[loop_fi]["invariants"]:
                # the scope the outermost such loop lives in
                s = scope
                while s.loop is not None and s.loop.inst.fi != loop_fi:
                    s = s.parent  # type: ignore[assignment]
                return s.parent if s.parent is not None else s
        return scope

    def _resolved(self, name: str, scope: Scope, stored: Stored) -> None:
        waiting = self.waiting.get(name)
        if not waiting:
            return
        for inst in list(waiting):
            if inst.status != "pending" or not inst.scope.within(scope):
                continue
            found = inst.scope.lookup(name)
            if found is None or found[1] is not scope:
                continue
            if ("value", name) in inst.unmet:
                self._satisfy(inst, ("value", name), stored.wave)
            if ("cands",) in inst.unmet:
                syntax = inst.inf["working_interpretation"]["syntax"]
                src = syntax["assign_source"]
                if self._cands_ok(inst, list(src) if isinstance(src, list) else [src]):
                    self._satisfy(inst, ("cands",), stored.wave)
        # an instance leaves `pending` for good: forget it, so finished loop iterations are not rescanned
        self.waiting[name] = [inst for inst in waiting if inst.status == "pending"]

    def _view_names(self, inst: Instance) -> tuple[str, ...]:
        names = self._names.get(inst.fi)
        if names is not None:
            return names
        inf = inst.inf
        found = set(inf["value_concepts"]) | set(inf["context_concepts"]) | {inf["concept_to_infer"]}
        wi = inf["working_interpretation"]
        for v in (wi.get("syntax") or {}).values():
            for x in (v if isinstance(v, list) else [v]):
                if isinstance(x, str):
                    found.add(x)
        for sel in (wi.get("value_selectors") or {}).values():
            if sel.get("source_concept"):
                found.add(sel["source_concept"])
        names = self._names[inst.fi] = tuple(sorted(found))
        return names

    def _seed_accumulators(self, inst: Instance) -> None:
        """E9: an in-place `$+` destination with no other producer and no data starts empty when its loop
        activates, so body readers and readers after the loop are never blocked when every append is skipped."""
        for name in self._appended(inst.fi):
            if inst.scope.lookup(name) is not None:
                continue
            appends = [inf for inf in self.plan.inferences.values() if inf["concept_to_infer"] == name]
            if not all(_in_place_append(inf) for inf in appends):
                continue
            by_axes = next((inf["working_interpretation"]["syntax"].get("by_axes") or [] for inf in appends), [])
            declared = [a for a in (self.plan.concepts.get(name) or {}).get("reference_axis_names") or []
                        if a != NONE_AXIS]
            axis = by_axes[0] if by_axes else (declared[0] if declared else None)
            # without any axis the destination is one (empty) list value that grows inside (E10)
            empty = Reference((axis,), (0,), []) if axis else Reference.singleton([])
            stored = Stored(empty, inst.wave)
            inst.scope.values[name] = stored
            self._resolved(name, inst.scope, stored)

    def _appended(self, loop_fi: str) -> list[str]:
        """Destinations of the in-place `$+` inferences whose innermost enclosing loop is ``loop_fi``."""
        found = self._appends.get(loop_fi)
        if found is None:
            found = self._appends[loop_fi] = sorted({
                self.plan.inferences[fi]["concept_to_infer"] for fi in self._members.get(loop_fi, [])
                if _in_place_append(self.plan.inferences[fi])})
        return found

    def _snapshot(self, inst: Instance, name: str) -> Reference | None:
        """The iteration-start value of ``name`` for a body reader that is not itself an append to it (E7, E8)."""
        if _in_place_append(inst.inf) and inst.inf["concept_to_infer"] == name:
            return None
        s: Scope | None = inst.scope
        while s is not None:
            if s.loop is not None and s.loop.scope is s and name in s.loop.snapshot:
                return s.loop.snapshot[name]
            s = s.parent
        return None

    def view(self, inst: Instance) -> dict[str, Reference]:
        out: dict[str, Reference] = {}
        for name in self._view_names(inst):
            found = inst.scope.lookup(name)
            if found is None:
                continue
            ref = found[0].ref
            snap = self._snapshot(inst, name)
            if snap is not None:
                ref = snap
            if inst.mask is not None and inst.mask[0] in ref.axes and ref.size_of(inst.mask[0]) == len(inst.mask[1]):
                ref = ref.mask(inst.mask[0], inst.mask[1])
            out[name] = ref
        return out

    # ------------------------------------------------------------ running

    def run(self) -> RunState:
        self.begin()
        try:
            self.pump()
        finally:
            self.close()
        return self.finish()

    def begin(self) -> None:
        timeout = float(self.options.get("timeout") or 0)
        if timeout:
            self.deadline = time.monotonic() + timeout
        self._populate(self.top, self._members.get(None, []))
        self._pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="ncd-run")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._cell_pool is not None:
            self._cell_pool.shutdown(wait=True, cancel_futures=True)
            self._cell_pool = None

    def _cells(self) -> ThreadPoolExecutor:
        """Threads for the independent cells of model-bound steps (bounded again by --llm-concurrency)."""
        if self._cell_pool is None:
            size = max(1, int(self.options.get("llm_concurrency") or 4))
            self._cell_pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="ncd-cell")
        return self._cell_pool

    def halted(self) -> bool:
        if not self.budget and self.recorder.exhausted:
            self.budget = self.recorder.exhausted  # a token, cost or call budget (§8.4)
        return bool(self.budget) or self._failed_fast() or self.recorder.failure is not None

    def _failed_fast(self) -> bool:
        """--fail-fast (§6.4): an inference failed (one that would make the run ``failed``, not ``blocked``),
        counting results not committed yet, so nothing starts in the same pass that saw it fail."""
        if not self.fail_fast:
            return False
        return any(f["kind"] != "missing_input" for f in self.failures) or any(
            r.status == "failed" and r.error is not None and r.error.kind != "missing_input" for r in self.done)

    def _check_deadline(self) -> None:
        """--timeout: once the deadline passes, nothing new starts and waiting cells are cancelled."""
        if not self.budget and self.deadline is not None and time.monotonic() >= self.deadline:
            self._stop_for("timeout", f"--timeout {float(self.options['timeout']):g} s passed; running cells "
                                      f"were cancelled")

    def _stop_for(self, budget: str, message: str) -> None:
        """A run-wide budget is spent: start nothing new and wake every waiting cell (§6.4)."""
        self.budget = self.budget or budget
        self.budget_message = self.budget_message or message
        if budget == "timeout":
            self.cancel.set()

    def next_wave(self) -> int | None:
        """The lowest wave a ready instance would run in, or None when nothing can start (§4.4)."""
        self._check_deadline()
        if self.halted():
            return None
        return min(self._ready_bases) + 1 if self._ready_bases else None

    def pump(self, wave_limit: int | None = None) -> None:
        """Run until nothing is left to do (or, with ``wave_limit``, until no instance of a wave up to it is
        ready or running): start ready instances up to the concurrency bound, commit completions in batches."""
        pool, futures = self._pool, self._futures
        assert pool is not None
        while True:
            self._check_deadline()
            deferred: list[tuple[tuple, Instance]] = []
            while self.ready and not self.halted() and len(futures) < self.max_concurrency:
                item = heapq.heappop(self.ready)
                inst = item[1]
                if inst.status != "ready":
                    continue
                if wave_limit is not None and inst.wave_base + 1 > wave_limit:
                    deferred.append(item)
                    continue
                _drop(self._ready_bases, inst.wave_base)
                self._start(inst, pool, futures)
            for item in deferred:
                heapq.heappush(self.ready, item)
            if self.done:
                batch, self.done = sorted(self.done, key=lambda r: r.inst.key), []
                for res in batch:
                    self._commit(res)
                self._mark_closed_waves()
                self.recorder.barrier()  # expensive steps are durable before anything (a dependent) starts
                continue
            if not futures:
                break
            left = None if self.deadline is None or self.budget else max(0.0, self.deadline - time.monotonic())
            finished, _ = wait(list(futures), timeout=left, return_when=FIRST_COMPLETED)
            for fut in finished:
                inst = futures.pop(fut)
                inst.took = time.monotonic() - inst.started_mono
                try:
                    self.done.append(Result(inst, "completed", fut.result()))
                except StepFailure as exc:
                    if exc.kind == "cancelled" and self.cancel.is_set():
                        continue  # stopped mid-wait by a cancel, not failed: nothing is recorded, a resume reruns it
                    self.done.append(Result(inst, "failed", error=exc))
                except Exception as exc:  # a bug in a sequence: logged with its traceback, the step fails typed
                    self.done.append(Result(inst, "failed", error=self._sequence_bug(inst, exc)))

    @staticmethod
    def _sequence_bug(inst: Instance, exc: Exception) -> StepFailure:
        """An exception no sequence should raise: its traceback goes to the log (RUNTIME §6.1 amendment: it
        fails the inference, never the process) and the step gets a typed error naming it."""
        message = f"inference {inst.fi}: internal error {type(exc).__name__}: {exc}"
        log.error("%s (%s sequence; the step fails)", message, inst.inf["inference_sequence"], exc_info=exc)
        return StepFailure("executor_error", message)

    def _inline(self, inst: Instance, run: Callable[[dict[str, Any], Any], Outcome], view: Any) -> Result:
        """A sequence computed on the scheduler's thread (assigning, grouping) as a Result, never an exception."""
        try:
            return Result(inst, "completed", run(inst.inf, view))
        except StepFailure as exc:
            return Result(inst, "failed", error=exc)
        except Exception as exc:  # a bug in a sequence: logged with its traceback, the step fails typed
            return Result(inst, "failed", error=self._sequence_bug(inst, exc))

    def stop(self) -> None:
        """Start nothing new, let running cells finish, and commit what finished (an interrupt, §6.4)."""
        self.budget = self.budget or "interrupted"
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for fut, inst in list(self._futures.items()):
            if fut.done() and not fut.cancelled():
                try:
                    self.done.append(Result(inst, "completed", fut.result()))
                except StepFailure:  # a failed cell is simply run again on resume
                    continue
                except Exception as exc:  # a sequence bug: logged, and the step runs again on resume
                    self._sequence_bug(inst, exc)
        self._futures.clear()
        batch, self.done = sorted(self.done, key=lambda r: r.inst.key), []
        for res in batch:
            self._commit(res)

    def _mark_closed_waves(self) -> None:
        """A checkpoint marker when a wave closes: nothing of it or earlier is ready or running (§8.3)."""
        if not self._rows_since_marker:
            return
        lows = [*self._active, *(b + 1 for b in self._ready_bases)]
        closed = (min(lows) - 1) if lows else self.cycles
        if closed > self._closed_wave:
            self._closed_wave = closed
            self._rows_since_marker = 0
            self.recorder.checkpoint()

    def _start(self, inst: Instance, pool: ThreadPoolExecutor, futures: dict[Future, Instance]) -> None:
        inst.wave = inst.wave_base + 1
        if self.max_cycles and inst.wave > self.max_cycles:
            self.budget = "max_cycles"
            inst.status = "ready"
            return
        restored = self.restore.get((inst.inf["id"], inst.scope.path)) if self.restore else None
        if restored is None and self.max_executions and self.executed >= self.max_executions:
            self._stop_for("max_executions", f"--max-executions {self.max_executions} inferences were executed")
            inst.status = "ready"
            return
        inst.status = "running"
        inst.started_at = now()
        inst.started_mono = time.monotonic()
        self.cycles = max(self.cycles, inst.wave)
        seq = inst.inf["inference_sequence"]
        inst.restored = restored
        if inst.restored is not None:
            self.restored += 1
        else:
            self.executed += 1
        if seq == "looping":  # its iterations are the work; a restored loop replays them from their rows
            self._activate(inst)
            return
        self._active[inst.wave] += 1
        if seq == "timing":
            self.done.append(Result(inst, "completed", Outcome(None)))
            return
        if inst.restored is not None:
            self.done.append(self._from_row(inst, inst.restored))
            return
        view = self.view(inst)
        inst.inputs_hash = self._inputs_hash(inst)
        try:
            if seq == "assigning":
                self.done.append(self._inline(inst, assigning.run, view))
            elif seq == "grouping":
                self.done.append(self._inline(inst, grouping.run, view))
            else:
                sel = self.executors.get(inst.fi)
                if sel is not None and sel.kind == "external":
                    name = inst.inf["concept_to_infer"]
                    if name not in self.externals and self.options.get("interactive"):
                        futures[pool.submit(self._ask, inst)] = inst  # a worker waits on the terminal
                        return
                    self.done.append(self._external(inst))
                    return
                inst.journal = journal = self.recorder.journal()
                ident = (inst.fi, inst.inf["id"], inst.scope.path)

                def context(position: tuple[int, ...], wave: int = inst.wave) -> CellContext:
                    return CellContext(Cell(*ident, position, wave), journal, self.cancel)
                pmap = self._cells().map if sel.kind == "llm" else None
                futures[pool.submit(semantic.run, inst.inf, view, sel.call, self.perceive, context, pmap,
                                    self.skip_errors)] = inst
        except StepFailure as exc:
            self.done.append(Result(inst, "failed", error=exc))

    def _from_row(self, inst: Instance, row: dict[str, Any]) -> Result:
        """A kept result (§9): the stored value, status and metadata, without executing anything."""
        value = row.get("value")
        ref = Reference.decode(value) if value is not None else Reference.skip()
        if row["status"] == "skipped":
            return Result(inst, "skipped", Outcome(Reference.skip()))
        return Result(inst, "completed", Outcome(ref, dict(row.get("meta") or {})))

    def _inputs_hash(self, inst: Instance) -> str:
        """Hash of the inputs as read (unmasked, unperceived), by name: what §9.2 compares."""
        h = hashlib.sha256()
        for name in self._view_names(inst):
            found = inst.scope.lookup(name)
            if found is not None and name != inst.inf["concept_to_infer"]:
                h.update(name.encode())
                snap = self._snapshot(inst, name)  # the value as read: an accumulator's iteration-start value
                h.update((snap.value_hash() if snap is not None else found[0].hash).encode())
        return "sha256:" + h.hexdigest()

    def _external(self, inst: Instance) -> Result:
        name = inst.inf["concept_to_infer"]
        if name in self.externals:
            return Result(inst, "completed", Outcome(self.externals[name]))
        return Result(inst, "failed", error=StepFailure(
            "missing_input", f"inference {inst.fi}: external input {name} was not provided (give it in --inputs)"))

    def _ask(self, inst: Instance) -> Outcome:
        """--interactive (§10.4): the external input asked for on stdin, as JSON or else as plain text. Runs in a
        worker; the terminal is read by a daemon thread so a cancel or --timeout is never blocked by it."""
        name = inst.inf["concept_to_infer"]
        with self._ask_lock:
            line = abandonable(lambda: _prompt(f"ncd-run: value for external input {name} (JSON or text): "),
                               0, self.cancel, f"inference {inst.fi}: external input {name}", "--interactive")
        if line is None:
            raise StepFailure("missing_input", f"inference {inst.fi}: external input {name} was not provided "
                                               f"(stdin ended before a value was given)")
        text = line.rstrip("\r\n")
        try:
            data = json.loads(text)
        except ValueError:
            data = text  # plain text is a string: nobody should have to type quotes at a prompt
        try:
            return Outcome(ground_reference(self.plan, name, data, from_repository=False))
        except LoadError as exc:
            raise StepFailure("missing_input", f"inference {inst.fi}: {exc}") from None

    def _commit(self, res: Result) -> None:
        inst = res.inst
        if inst.status != "running":
            return
        if inst.inf["inference_sequence"] != "looping":
            _drop(self._active, inst.wave)
        if res.status == "failed":
            inst.status = "failed"
            err = res.error
            if isinstance(err, BudgetExhausted):
                self.budget = self.budget or err.budget
            self.failures.append({"flow_index": inst.fi, "iteration": inst.scope.path, "kind": err.kind,
                                  "message": err.message, "element": err.element})
            self._row(inst, "failed", None, {"errors": [{"kind": err.kind, "message": err.message}]},
                      error=(err.kind, err.message))
            return
        if inst.inf["inference_sequence"] == "timing":
            self._gate(inst)
            return
        out = res.outcome
        self.cell_errors += len(out.meta.get("errors") or ())
        if res.status == "skipped":
            if not _in_place_append(inst.inf):
                self._write(inst, inst.inf["concept_to_infer"], Stored(Reference.skip(), inst.wave))
            self._finished(inst, "skipped")
            return
        self._row(inst, "completed", out.value, out.meta)
        self._note_shape_loss(inst, out.value)
        self._write(inst, inst.inf["concept_to_infer"], Stored(out.value, inst.wave, out.meta))
        self._finished(inst, "completed")

    def _note_shape_loss(self, inst: Instance, value: Reference | None) -> None:
        """Remember a step that produced only Skip although every input it read held values: nothing was gated
        or masked, so the values were lost to shape (an empty spread, padding, a misread layout). Issue 14 item 2:
        a run whose final output is then entirely Skip ends with a warning naming the first such step."""
        if value is None or value.has_value() or inst.mask is not None or inst.restored is not None:
            return
        names = inst.inf["value_concepts"]
        if not names:
            return
        for name in names:
            found = inst.scope.lookup(name)
            if found is None or not found[0].ref.has_value():
                return
        self.shape_losses.append({"flow_index": inst.fi, "iteration": inst.scope.path,
                                  "concept": inst.inf["concept_to_infer"]})

    def _row(self, inst: Instance, status: str, value: Reference | None, meta: dict[str, Any],
             error: tuple[str, str] | None = None) -> None:
        """The result row of an execution (and its execution row, §8.3); nothing for a restored instance."""
        if self.wave_log is not None:
            self.wave_log.append({"flow_index": inst.fi, "inference_id": inst.inf["id"],
                                  "iteration": inst.scope.path, "status": status,
                                  "restored": inst.restored is not None})
        if inst.restored is not None:
            return
        self._rows_since_marker += 1
        row = {"kind": "item", "cycle": inst.wave, "flow_index": inst.fi, "inference_id": inst.inf["id"],
               "signature": inst.entry["signature"], "iteration": inst.scope.path, "status": status,
               "concept_name": inst.inf["concept_to_infer"] if value is not None else None, "value": value,
               "inputs_hash": inst.inputs_hash, "provision_hash": self.provisions.get(inst.fi), "meta": meta,
               "created_at": now()}
        journal = inst.journal
        took = inst.took if inst.took is not None else (
            time.monotonic() - inst.started_mono if inst.started_mono else 0.0)  # never started: a skip
        durable = took >= DURABLE_STEP_S or (journal is not None and journal.called_model)
        if journal is not None:
            self.recorder.result(row, attempts=journal.pending(), durable=durable)
            return
        execution = None
        if inst.started_at:  # skipped instances never started: no execution
            execution = {"flow_index": inst.fi, "inference_id": inst.inf["id"], "iteration": inst.scope.path,
                         "cell": "[]", "attempt": 1, "cycle": inst.wave, "started_at": inst.started_at,
                         "finished_at": now(), "status": status, "error_kind": error[0] if error else None,
                         "error_message": error[1] if error else None}
        self.recorder.result(row, execution=execution, durable=durable)

    def _finished(self, inst: Instance, status: str) -> None:
        inst.status = status
        scope = inst.scope
        scope.max_wave = max(scope.max_wave, inst.wave)
        cond = ("support", inst.fi)
        for other in scope.dependents.pop(inst.fi, ()):
            self._satisfy(other, cond, inst.wave)
        scope.open -= 1
        if scope.open == 0 and scope.loop is not None:
            self._iteration_done(scope.loop)

    # ------------------------------------------------------------ gates (§5.3)

    def _gate(self, t: Instance) -> None:
        gate = self.plan.gates[t.fi]
        syntax = t.inf["working_interpretation"]["syntax"]
        found = t.scope.lookup(syntax.get("condition") or "")
        cond, meta = (found[0].ref, found[0].meta) if found else (None, None)
        decision = timing.decide(syntax["marker"], cond, meta)
        x = t.scope.instances.get(gate["gated"]) if gate.get("gated") else None
        self._row(t, "completed", None, {"condition_met": decision.passed})
        if x is not None and x.status in ("pending", "ready"):
            if not decision.passed:
                self._skip_branch(x, t.wave)
            elif decision.mask is not None:
                x.mask = decision.mask
        self._finished(t, "completed")

    @staticmethod
    def _reads(inf: dict[str, Any]) -> set[str]:
        return set(inf["value_concepts"]) | set(inf["context_concepts"])

    def _skippable(self, fi: str) -> list[str]:
        """Descendants of ``fi`` (flow order) whose cti no inference outside ``fi``'s subtree reads (§5.3)."""
        found = self._victims.get(fi)
        if found is not None:
            return found
        if self._uses is None:
            self._uses = {}
            for inf in self.plan.inferences.values():
                for name in self._reads(inf):
                    self._uses[name] = self._uses.get(name, 0) + 1
        order = self._order
        start = bisect.bisect_right(order, flow_key(fi), key=flow_key)
        prefix = fi + "."
        subtree = [fi]
        for other in itertools.islice(order, start, None):
            if not other.startswith(prefix):
                break
            subtree.append(other)
        inside: dict[str, int] = {}
        for other in subtree:
            for name in self._reads(self.plan.inferences[other]):
                inside[name] = inside.get(name, 0) + 1
        uses = self._uses
        found = self._victims[fi] = [
            other for other in subtree[1:]
            if uses.get(c := self.plan.inferences[other]["concept_to_infer"], 0) <= inside.get(c, 0)]
        return found

    def _skip_branch(self, x: Instance, wave: int) -> None:
        pool = x.scope.instances
        victims = [x] + [i for i in (pool.get(fi) for fi in self._skippable(x.fi))
                         if i is not None and i.status in ("pending", "ready")]
        for inst in victims:
            if inst.status == "ready":
                _drop(self._ready_bases, inst.wave_base)
            inst.wave = wave
            row = self.restore.get((inst.inf["id"], inst.scope.path)) if self.restore else None
            inst.restored = row if row is not None and row["status"] == "skipped" else None
            if inst.inf["inference_sequence"] != "timing":
                self._row(inst, "skipped", Reference.skip(), {})
                # a skipped in-place `$+` writes nothing: its destination keeps its value (FIDELITY §4, E1)
                if not _in_place_append(inst.inf):
                    self._write(inst, inst.inf["concept_to_infer"], Stored(Reference.skip(), wave))
            self._finished(inst, "skipped")

    # ------------------------------------------------------------ loops (§5.4)

    def _activate(self, inst: Instance) -> None:
        loop = LoopRun(inst, wave=inst.wave)
        syntax = inst.inf["working_interpretation"]["syntax"]
        for carry in self.plan.loops[inst.fi]["carried"]:
            found = inst.scope.lookup(carry["concept"])
            loop.before[carry["concept"]] = found[0].ref if found else None
            loop.history[carry["concept"]] = []
        found = inst.scope.lookup(syntax["LoopBaseConcept"])
        if found is None:
            self.done.append(Result(inst, "failed", error=StepFailure(
                "no_output", f"loop {inst.fi}: base {syntax['LoopBaseConcept']} has no value")))
            return
        loop.axis = looping.loop_axis(syntax, found[0].ref)
        self._seed_accumulators(inst)
        self.loops[id(inst)] = loop
        self._next_iteration(loop)

    def _next_iteration(self, loop: LoopRun) -> None:
        inst = loop.inst
        syntax = inst.inf["working_interpretation"]["syntax"]
        entry = self.plan.loops[inst.fi]
        while True:
            base = inst.scope.lookup(syntax["LoopBaseConcept"])[0].ref  # type: ignore[index]
            if loop.position >= looping.size(base, loop.axis):
                self._loop_done(loop)
                return
            if loop.iteration >= self.max_loop:
                self.budget = "max_loop_iterations"
                self.failures.append({"flow_index": inst.fi, "iteration": inst.scope.path,
                                      "kind": "budget", "message": f"loop {inst.fi} reached --max-loop-iterations "
                                                                   f"{self.max_loop}", "element": None})
                return
            loop.iteration += 1
            element = looping.element(base, loop.axis, loop.position)
            loop.position += 1
            if not element.has_value():
                loop.results.append(Skip)
                for concept, hist in loop.history.items():
                    hist.append(hist[-1] if hist else loop.before.get(concept))  # type: ignore[arg-type]
                continue
            path = f"{inst.scope.path}/{inst.inf['id']}#{loop.iteration}".lstrip("/")
            scope = Scope(path, inst.scope, inst.scope.order + (next(self._scope_counter),), loop=loop)
            scope.values[syntax["CurrentLoopBaseConcept"]] = Stored(element, loop.wave)
            for carry in entry["carried"]:
                initial = None
                if carry["initial"]:
                    found = inst.scope.lookup(carry["initial"])
                    initial = found[0].ref if found else None
                else:
                    initial = loop.before.get(carry["concept"])
                value = looping.carried_value(loop.history[carry["concept"]], loop.iteration,
                                              carry["carry_over"], initial)
                if value is None:
                    self._loop_fail(loop, StepFailure("no_output", f"loop {inst.fi}: carried value {carry['name']} "
                                                                   f"has no value in iteration {loop.iteration}"))
                    return
                scope.values[carry["name"]] = Stored(value, loop.wave)
            loop.scope = scope
            # accumulators (RT§5.4 as amended by FIDELITY §4, E8): body readers of an in-place `$+` destination
            # whose innermost loop is this one see its value as this iteration started
            loop.snapshot = {}
            for name in self._appended(inst.fi):
                found = inst.scope.lookup(name)
                if found is not None:
                    loop.snapshot[name] = found[0].ref
            self._populate(scope, self._members.get(inst.fi, []))
            return

    def _iteration_done(self, loop: LoopRun) -> None:
        scope = loop.scope
        assert scope is not None
        inst = loop.inst
        result = scope.values.get(inst.inf["function_concept"])
        loop.results.append(result.ref if result is not None else Skip)
        for concept in loop.history:
            found = scope.lookup(concept)
            loop.history[concept].append(found[0].ref if found else None)  # type: ignore[arg-type]
        loop.wave = max(loop.wave, scope.max_wave)
        if inst.restored is None and (inst.inf["id"], scope.path) not in self.restore:
            self._rows_since_marker += 1
            self.recorder.result({
                "kind": "loop_iteration", "cycle": loop.wave, "flow_index": inst.fi, "inference_id": inst.inf["id"],
                "signature": inst.entry["signature"], "iteration": scope.path, "status": "completed",
                "concept_name": None, "value": result.ref if result else None,
                "meta": {"loop": {"position": loop.position - 1}}, "created_at": now()})
        self._last_scope = scope
        # every instance of the finished iteration is done: drop the scope <-> instance cycle so the iteration's
        # records are freed by reference counting rather than left to the cyclic GC (values stay for _loop_done)
        scope.instances.clear()
        self._next_iteration(loop)

    def _loop_done(self, loop: LoopRun) -> None:
        inst = loop.inst
        syntax = inst.inf["working_interpretation"]["syntax"]
        last = loop.scope
        if last is not None:  # compatibility: the last iteration's body values stay visible after the loop
            skip = {syntax["CurrentLoopBaseConcept"], *(c["name"] for c in self.plan.loops[inst.fi]["carried"])}
            for name, stored in last.values.items():
                if name not in skip and inst.scope.lookup(name) is None:
                    inst.scope.values[name] = stored
                    self._resolved(name, inst.scope, stored)
        try:
            value = looping.aggregate(inst.fi, loop.results, loop.axis, syntax.get("output_axis"))
        except StepFailure as exc:
            self._loop_fail(loop, exc)
            return
        inst.wave = max(inst.wave, loop.wave)
        self.done.append(Result(inst, "completed", Outcome(value)))

    def _loop_fail(self, loop: LoopRun, exc: StepFailure) -> None:
        self.done.append(Result(loop.inst, "failed", error=exc))

    # ------------------------------------------------------------ outcome (§6.4)

    def finish(self) -> RunState:
        reasons: list[dict[str, Any]] = []
        self.halted()  # a budget reached by the last calls of the run still decides its outcome
        root = self.top.instances.get(self.plan.schedule["roots"][0])
        if self.budget == "cancelled":
            outcome = "interrupted"
            reasons.append({"reason": "cancelled"})
        elif self.budget:
            outcome = "budget_exhausted"
            reasons.append({"budget": self.budget, **({"message": self.budget_message} if self.budget_message
                                                      else {})})
        elif self.failures and not all(f["kind"] == "missing_input" for f in self.failures):
            outcome = "failed"
        elif root is not None and root.status in ("completed", "skipped"):
            outcome = "completed"
        else:
            outcome = "blocked"
        if outcome == "completed":
            warning = self._all_skip_warning()
            if warning is not None:
                reasons.append(warning)
        if outcome != "completed":
            for f in self.failures:
                reasons.append({"failed": f["flow_index"], "iteration": f["iteration"], "kind": f["kind"],
                                "message": f["message"], "element": f["element"]})
            for scope in self._scopes():
                for inst in sorted(scope.instances.values(), key=lambda i: i.key):
                    if inst.status in ("pending", "ready"):
                        reasons.append({"waiting": inst.fi, "iteration": scope.path,
                                        "unmet": [":".join(c) for c in sorted(inst.unmet)]})
        return RunState(outcome, reasons, self.cycles, self.executed, self.top)

    def _all_skip_warning(self) -> dict[str, Any] | None:
        """The "no silent wrong answers" warning: every final concept is entirely Skip and some step lost its
        inputs' values to shape (not to a gate or a condition: those leave a Skip input, which is not noted)."""
        if not self.shape_losses:
            return None
        finals = [self.top.lookup(name) for name in self.plan.schedule.get("final_concepts") or []]
        if not finals or any(f is None or f[0].ref.has_value() for f in finals):
            return None
        first = self.shape_losses[0]
        where = f" (iteration {first['iteration']})" if first["iteration"] else ""
        return {"warning": "all_skip", "flow_index": first["flow_index"], "iteration": first["iteration"],
                "message": f"the final output is entirely Skip: step {first['flow_index']}{where} produced only "
                           f"Skip for {first['concept']} from inputs that held values, so the shape went wrong "
                           f"there (not a gate or a condition)"}

    def _scopes(self) -> list[Scope]:
        scopes = [self.top]
        scopes += [lp.scope for lp in self.loops.values() if lp.scope is not None and lp.scope.open > 0]
        return scopes
