"""The public Python API (RUNTIME §13, minimal): load, validate, run, return a RunResult."""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from runtime.executors import select_executors
from runtime.gcpolicy import run_gc
from runtime.load import LoadError, Plan, initial_values, load_plan, missing_ground, read_inputs
from runtime.perception import Perceiver
from runtime.scheduler import RunState, Scheduler
from runtime.store import MemoryStore, Store

DEFAULTS: dict[str, Any] = {
    "max_concurrency": 4, "max_loop_iterations": 10000, "max_cycles": 0, "retries": 5,
    "backoff_base": 1.0, "backoff_max": 60.0, "plan_dir": None, "output_dir": None, "allow_dir": (),
    "bindings": {}, "llm_model": None, "llm_base_url": None,
}


@dataclass
class RunResult:
    run_id: str
    outcome: str
    final: dict[str, Any]
    cycles: int
    executed: int
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "outcome": self.outcome, "final": self.final, "cycles": self.cycles,
                "executed": self.executed}


class Orchestrator:
    """One run of one plan. Validation problems raise ``LoadError`` at construction; outcomes are returned."""

    def __init__(self, plan: Any, *, inputs: Any = None, store: Store | None = None, run_id: str | None = None,
                 options: dict[str, Any] | None = None, max_concurrency: int | None = None,
                 on_result: Callable[[dict[str, Any]], None] | None = None) -> None:
        opts = dict(DEFAULTS)
        opts["llm_model"] = os.environ.get("NCD_LLM_MODEL")
        opts["llm_base_url"] = os.environ.get("NCD_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        opts.update({k: v for k, v in (options or {}).items() if v is not None})
        if max_concurrency is not None:
            opts["max_concurrency"] = max_concurrency
        if int(opts["max_concurrency"]) < 1:
            raise LoadError("--max-concurrency must be at least 1")
        self.options = opts
        self.plan: Plan = load_plan(plan, opts.get("plan_dir"))
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.store: Store = store if store is not None else MemoryStore()
        data = read_inputs(inputs)
        self.ground, self.externals = initial_values(self.plan, data)
        self.missing = missing_ground(self.plan, self.ground)
        self.executors = select_executors(self.plan, dict(opts.get("bindings") or {}), opts)
        allow = tuple(Path(a).resolve() for a in opts.get("allow_dir") or ())
        self.perceiver = Perceiver(self.plan.plan_dir, allow)
        self._lock = threading.Lock()
        self.on_result = on_result  # called with every result row as it is recorded (progress displays)

    @classmethod
    def from_ncd(cls, path: str | Path, **kw: Any) -> Orchestrator:
        return cls(Path(path), **kw)

    def run(self) -> RunResult:
        self.store.begin_run(self.run_id, {"plan_hash": self.plan.schedule.get("plan_hash")})
        if self.missing:
            result = RunResult(self.run_id, "blocked", {}, 0, 0,
                               [{"reason": "missing_ground_data", "concepts": self.missing}])
            self.store.finish_run(self.run_id, result.outcome, {"reasons": result.reasons})
            return result

        def record(row: dict[str, Any]) -> None:
            with self._lock:
                self.store.append_result(self.run_id, row)
                if self.on_result is not None:
                    self.on_result(row)

        scheduler = Scheduler(self.plan, self.ground, self.externals, self.executors, self.perceiver,
                              self.options, record)
        with run_gc():  # GC settings for the span of the run (runtime/gcpolicy.py); never affects outputs
            state = scheduler.run()
        result = RunResult(self.run_id, state.outcome, self._final(state), state.cycles, state.executed,
                           state.reasons)
        self.store.finish_run(self.run_id, result.outcome, {"reasons": result.reasons, "cycles": result.cycles,
                                                            "executed": result.executed})
        return result

    def _final(self, state: RunState) -> dict[str, Any]:
        final: dict[str, Any] = {}
        for name in self.plan.schedule["final_concepts"]:
            stored = state.top.values.get(name)
            if stored is not None:
                enc = stored.ref.unwrap().encode()
                final[name] = {"axes": enc["axes"], "data": enc["data"]}
        return final
