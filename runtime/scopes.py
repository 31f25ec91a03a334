"""Run-time records of the scheduler (RUNTIME §4.1): stored values, iteration scopes, instances, loop runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.load import flow_key
from runtime.reference import Reference
from runtime.sequences import Outcome, StepFailure

_MET: frozenset = frozenset()


@dataclass(slots=True)
class Stored:
    ref: Reference
    wave: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return self.ref.value_hash()  # the Reference keeps its canonical bytes: computed once per value


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
    restored: dict[str, Any] | None = None   # the stored row this instance is restored from (§9), if any
    journal: Any = None                      # the StepJournal of a semantic execution
    started_at: str = ""
    started_mono: float = 0.0                # time.monotonic() at start: how long the step took (durability)
    took: float | None = None                # seconds from start until its completion was seen, once it was
    inputs_hash: str | None = None
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
    # in-place `$+` destinations of this loop's body -> their value when the current iteration started (RT§5.4)
    snapshot: dict[str, Reference] = field(default_factory=dict)


@dataclass(slots=True)
class Result:
    inst: Instance
    status: str  # completed | failed | skipped (restored)
    outcome: Outcome | None = None
    error: StepFailure | None = None


@dataclass
class RunState:
    outcome: str
    reasons: list[dict[str, Any]]
    cycles: int
    executed: int
    top: Scope
