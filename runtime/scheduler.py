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
import heapq
import itertools
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable

from runtime.load import Plan, flow_key
from runtime.reference import Reference, Skip
from runtime.sequences import Outcome, StepFailure, assigning, grouping, looping, semantic, timing


_MET: frozenset = frozenset()


@dataclass(slots=True)
class Stored:
    ref: Reference
    wave: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Scope:
    path: str
    parent: Scope | None
    order: tuple[int, ...]
    values: dict[str, Stored] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    open: int = 0
    loop: LoopRun | None = None  # the loop iteration this scope belongs to
    max_wave: int = 0
    # flow index -> instances of this scope with an unmet ("support", flow index) condition (no rescans, §4.3)
    dependents: dict[str, list[Instance]] = field(default_factory=dict)

    def lookup(self, name: str) -> tuple[Stored, Scope] | None:
        s: Scope | None = self
        while s is not None:
            if name in s.values:
                return s.values[name], s
            s = s.parent
        return None

    def within(self, other: Scope) -> bool:
        s: Scope | None = self
        while s is not None:
            if s is other:
                return True
            s = s.parent
        return False


@dataclass(eq=False, slots=True)
class Instance:
    fi: str
    scope: Scope
    inf: dict[str, Any]
    entry: dict[str, Any]
    status: str = "pending"
    unmet: set | frozenset = field(default_factory=set)  # §4.2 conditions still unmet; empty once ready
    wave_base: int = 0
    mask: tuple[str, tuple[bool, ...]] | None = None
    wave: int = 0
    key: tuple = field(init=False, repr=False)  # (flow key, scope order): ready-queue and commit order

    def __post_init__(self) -> None:
        self.key = (flow_key(self.fi), self.scope.order)

    def __lt__(self, other: Instance) -> bool:
        return self.key < other.key


@dataclass(eq=False, slots=True)
class LoopRun:
    inst: Instance
    axis: str = ""
    position: int = 0
    iteration: int = 0
    results: list[Any] = field(default_factory=list)
    history: dict[str, list[Reference]] = field(default_factory=dict)
    before: dict[str, Reference | None] = field(default_factory=dict)
    wave: int = 0
    scope: Scope | None = None


@dataclass(slots=True)
class Result:
    inst: Instance
    status: str  # completed | failed
    outcome: Outcome | None = None
    error: StepFailure | None = None


@dataclass
class RunState:
    outcome: str
    reasons: list[dict[str, Any]]
    cycles: int
    executed: int
    top: Scope


class Scheduler:
    def __init__(self, plan: Plan, ground: dict[str, Reference], externals: dict[str, Reference],
                 executors: dict[str, Any], perceive: Callable[[Any], Any], options: dict[str, Any],
                 record: Callable[[dict[str, Any]], None]) -> None:
        self.plan = plan
        self.externals = externals
        self.executors = executors
        self.perceive = perceive
        self.options = options
        self.record = record
        self.max_concurrency = max(1, int(options.get("max_concurrency") or 4))
        self.max_loop = int(options.get("max_loop_iterations") or 10000)
        self.max_cycles = int(options.get("max_cycles") or 0)
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

    def view(self, inst: Instance) -> dict[str, Reference]:
        out: dict[str, Reference] = {}
        for name in self._view_names(inst):
            found = inst.scope.lookup(name)
            if found is None:
                continue
            ref = found[0].ref
            if inst.mask is not None and inst.mask[0] in ref.axes and ref.size_of(inst.mask[0]) == len(inst.mask[1]):
                ref = ref.mask(inst.mask[0], inst.mask[1])
            out[name] = ref
        return out

    # ------------------------------------------------------------ running

    def run(self) -> RunState:
        self._populate(self.top, self._members.get(None, []))
        futures: dict[Future, Instance] = {}
        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="ncd-run") as pool:
            while True:
                while self.ready and not self.budget and len(futures) < self.max_concurrency:
                    inst = heapq.heappop(self.ready)[1]
                    if inst.status != "ready":
                        continue
                    self._start(inst, pool, futures)
                if self.done:
                    batch, self.done = sorted(self.done, key=lambda r: r.inst.key), []
                    for res in batch:
                        self._commit(res)
                    continue
                if not futures:
                    break
                finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                for fut in finished:
                    inst = futures.pop(fut)
                    try:
                        self.done.append(Result(inst, "completed", fut.result()))
                    except StepFailure as exc:
                        self.done.append(Result(inst, "failed", error=exc))
                    except Exception as exc:  # a bug in a sequence: record it as a typed failure
                        self.done.append(Result(inst, "failed", error=StepFailure(
                            "executor_error", f"inference {inst.fi}: internal error {type(exc).__name__}: {exc}")))
        return self._finish()

    def _start(self, inst: Instance, pool: ThreadPoolExecutor, futures: dict[Future, Instance]) -> None:
        inst.wave = inst.wave_base + 1
        if self.max_cycles and inst.wave > self.max_cycles:
            self.budget = "max_cycles"
            inst.status = "ready"
            return
        inst.status = "running"
        self.executed += 1
        self.cycles = max(self.cycles, inst.wave)
        seq = inst.inf["inference_sequence"]
        if seq == "looping":
            self._activate(inst)
            return
        if seq == "timing":
            self.done.append(Result(inst, "completed", Outcome(None)))
            return
        view = self.view(inst)
        try:
            if seq == "assigning":
                self.done.append(Result(inst, "completed", assigning.run(inst.inf, view)))
            elif seq == "grouping":
                self.done.append(Result(inst, "completed", grouping.run(inst.inf, view)))
            else:
                sel = self.executors.get(inst.fi)
                if sel is not None and sel.kind == "external":
                    self.done.append(self._external(inst))
                    return
                call = sel.call
                futures[pool.submit(semantic.run, inst.inf, view, call, self.perceive)] = inst
        except StepFailure as exc:
            self.done.append(Result(inst, "failed", error=exc))

    def _external(self, inst: Instance) -> Result:
        name = inst.inf["concept_to_infer"]
        if name in self.externals:
            return Result(inst, "completed", Outcome(self.externals[name]))
        return Result(inst, "failed", error=StepFailure(
            "missing_input", f"inference {inst.fi}: external input {name} was not provided (give it in --inputs)"))

    def _commit(self, res: Result) -> None:
        inst = res.inst
        if inst.status != "running":
            return
        if res.status == "failed":
            inst.status = "failed"
            err = res.error
            self.failures.append({"flow_index": inst.fi, "iteration": inst.scope.path, "kind": err.kind,
                                  "message": err.message, "element": err.element})
            self._row(inst, "failed", None, {"errors": [{"kind": err.kind, "message": err.message}]})
            return
        if inst.inf["inference_sequence"] == "timing":
            self._gate(inst)
            return
        out = res.outcome
        self._row(inst, "completed", out.value, out.meta)
        self._write(inst, inst.inf["concept_to_infer"], Stored(out.value, inst.wave, out.meta))
        self._finished(inst, "completed")

    def _row(self, inst: Instance, status: str, value: Reference | None, meta: dict[str, Any]) -> None:
        self.record({"kind": "item", "cycle": inst.wave, "flow_index": inst.fi,
                     "inference_id": inst.inf["id"], "iteration": inst.scope.path, "status": status,
                     "concept_name": inst.inf["concept_to_infer"] if value is not None else None,
                     "value": value, "meta": meta})

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
            inst.wave = wave
            if inst.inf["inference_sequence"] != "timing":
                self._row(inst, "skipped", Reference.skip(), {})
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
        self.loops[id(inst)] = loop
        self._next_iteration(loop)

    def _next_iteration(self, loop: LoopRun) -> None:
        inst = loop.inst
        syntax = inst.inf["working_interpretation"]["syntax"]
        entry = self.plan.loops[inst.fi]
        while True:
            base = inst.scope.lookup(syntax["LoopBaseConcept"])[0].ref  # type: ignore[index]
            if loop.axis not in base.axes or loop.position >= base.size_of(loop.axis):
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
        self.record({"kind": "loop_iteration", "cycle": loop.wave, "flow_index": inst.fi,
                     "inference_id": inst.inf["id"], "iteration": scope.path, "status": "completed",
                     "concept_name": None, "value": result.ref if result else None,
                     "meta": {"loop": {"position": loop.position - 1}}})
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

    def _finish(self) -> RunState:
        reasons: list[dict[str, Any]] = []
        root = self.top.instances.get(self.plan.schedule["roots"][0])
        if self.budget:
            outcome = "budget_exhausted"
            reasons.append({"budget": self.budget})
        elif self.failures and not all(f["kind"] == "missing_input" for f in self.failures):
            outcome = "failed"
        elif root is not None and root.status in ("completed", "skipped"):
            outcome = "completed"
        else:
            outcome = "blocked"
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

    def _scopes(self) -> list[Scope]:
        scopes = [self.top]
        scopes += [lp.scope for lp in self.loops.values() if lp.scope is not None and lp.scope.open > 0]
        return scopes
