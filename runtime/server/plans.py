"""The plan registry of the run server: plans found under the plans directory, compiled once, shared read-only.

What is a plan (one id each; entries whose name is not a valid id, hidden entries and ``__pycache__`` are skipped):

* ``DIR/NAME.ncd``                    → plan ``NAME``, compiled in memory;
* ``DIR/NAME.schedule.json``          → plan ``NAME``, the output of ``ncdc compile``;
* ``DIR/NAME/`` holding exactly one ``*.schedule.json`` (else exactly one ``*.ncd``) → plan ``NAME``.

Two entries giving one id: the first in path order wins, the other is skipped with a warning in the log. The
registry rescans the directory (a ``stat`` per entry) whenever a plan is looked up, so plans can be added or edited
while the server runs.
A plan is compiled once per (plan directory, content hash) — SHA-256 of the ``.ncd`` bytes, or of the schedule,
which pins the repositories' hashes — and every compiled version seen stays cached by its ``plan_hash``, so runs of
an edited plan's earlier version can still be resumed by this process. ``Plan`` objects are never modified by the
runtime; every run of a plan shares the one object.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncdc.graph_export import unique_edges
from runtime.load import LoadError, Plan, external_input_names, flow_key, load_plan

log = logging.getLogger("ncd.server.plans")

ID_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$"
_ID = re.compile(ID_PATTERN)
VALUE_TYPES = ("{}", "[]", "<>", ":S:")  # concept types that can carry ground data (runtime.load.initial_values)


@dataclass
class PlanEntry:
    plan_id: str
    path: Path                      # the .ncd, the schedule, or the directory
    kind: str                       # "ncd" | "compiled"
    content_hash: str = ""
    plan: Plan | None = None
    error: str | None = None
    stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the hashed file, to skip rehashing
    ground: list[dict[str, Any]] = field(default_factory=list)

    @property
    def plan_hash(self) -> str | None:
        return self.plan.schedule.get("plan_hash") if self.plan is not None else None


def _source_file(path: Path) -> tuple[Path, str] | None:
    """The file whose bytes identify the plan at ``path`` and its kind, or None when ``path`` is no plan."""
    if path.is_file():
        if path.name.endswith(".schedule.json"):
            return path, "compiled"
        if path.suffix == ".ncd":
            return path, "ncd"
        return None
    if path.is_dir():
        compiled = sorted(path.glob("*.schedule.json"))
        if len(compiled) == 1:
            return compiled[0], "compiled"
        if compiled:
            return None
        sources = sorted(path.glob("*.ncd"))
        if len(sources) == 1:
            return sources[0], "ncd"
    return None


def _plan_id(path: Path) -> str:
    if path.is_dir():
        return path.name
    if path.name.endswith(".schedule.json"):
        return path.name[: -len(".schedule.json")]
    return path.stem


def ground_inputs(plan: Plan) -> list[dict[str, Any]]:
    """The concepts a run's ``inputs`` may name: ground value concepts and external inputs, with whether a run must
    give them (ground data some inference requires and the plan has none for)."""
    required = {req["concept"] for entry in plan.schedule["inferences"] for req in entry["requires"]
                if req["ground"]}
    externals = external_input_names(plan)
    out = []
    for name, concept in sorted(plan.concepts.items()):
        external = name in externals
        if not external and not (concept["is_ground_concept"] and concept["type"] in VALUE_TYPES):
            continue
        has_default = concept.get("reference_data") is not None
        out.append({"name": name, "type": concept["type"], "axes": list(concept["reference_axis_names"]),
                    "external_input": external, "has_default": has_default,
                    "required": (not external) and name in required and not has_default})
    return out


class PlanRegistry:
    """Thread-safe; ``get``/``list`` rescan cheaply. No state outside the instance."""

    def __init__(self, plans_dir: str | Path) -> None:
        self.plans_dir = Path(plans_dir)
        self._lock = threading.RLock()
        self._entries: dict[str, PlanEntry] = {}
        self._compiled: dict[tuple[str, str], Plan] = {}      # (plan dir, content hash) -> Plan
        self._by_hash: dict[str, tuple[str, Plan]] = {}       # plan_hash -> (plan id, Plan), every version seen

    # ---------------------------------------------------------------- scanning

    def refresh(self) -> None:
        with self._lock:
            seen: dict[str, PlanEntry] = {}
            try:
                children = sorted(self.plans_dir.iterdir())
            except OSError as exc:
                log.warning("cannot list the plans directory %s: %s", self.plans_dir, exc)
                children = []
            for child in children:
                if child.name.startswith(".") or child.name == "__pycache__":
                    continue
                found = _source_file(child)
                if found is None:
                    continue
                pid = _plan_id(child)
                if not _ID.match(pid):
                    continue
                if pid in seen:
                    log.warning("plans directory: %s gives plan id %r again (kept %s)", child, pid, seen[pid].path)
                    continue
                source, kind = found
                old = self._entries.get(pid)
                entry = old if old is not None and old.path == child and old.kind == kind else \
                    PlanEntry(pid, child, kind)
                self._load(entry, source)
                seen[pid] = entry
            self._entries = seen

    def _load(self, entry: PlanEntry, source: Path) -> None:
        try:
            st = source.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError as exc:
            entry.plan, entry.error, entry.stamp = None, f"{source}: {exc.strerror or exc}", None
            return
        if stamp == entry.stamp and (entry.plan is not None or entry.error):
            return
        try:
            digest = "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
        except OSError as exc:
            entry.plan, entry.error, entry.stamp = None, f"{source}: {exc.strerror or exc}", None
            return
        entry.stamp = stamp
        if digest == entry.content_hash and (entry.plan is not None or entry.error):
            return
        entry.content_hash = digest
        key = (str(source.parent.resolve()), digest)
        plan = self._compiled.get(key)
        if plan is None:
            try:
                plan = load_plan(source)
            except LoadError as exc:
                entry.plan, entry.error = None, str(exc)
                log.warning("plan %s: %s", entry.plan_id, exc)
                return
            except Exception as exc:  # a compiler bug must not take the server down
                entry.plan, entry.error = None, f"internal error: {type(exc).__name__}: {exc}"
                log.exception("plan %s", entry.plan_id)
                return
            self._compiled[key] = plan
        entry.plan, entry.error = plan, None
        entry.ground = ground_inputs(plan)
        self._by_hash[plan.schedule.get("plan_hash") or ""] = (entry.plan_id, plan)

    # ---------------------------------------------------------------- lookups

    def list(self) -> list[PlanEntry]:
        with self._lock:
            self.refresh()
            return list(self._entries.values())

    def get(self, plan_id: str) -> PlanEntry | None:
        with self._lock:
            self.refresh()
            return self._entries.get(plan_id)

    def for_run(self, plan_id: str | None, plan_hash: str | None) -> tuple[str, Plan] | None:
        """The plan a stored run executes: its registered plan id when that still has the run's plan_hash, else any
        version with that hash compiled by this process."""
        with self._lock:
            self.refresh()
            entry = self._entries.get(plan_id) if plan_id else None
            if entry is not None and entry.plan is not None and entry.plan_hash == plan_hash:
                return entry.plan_id, entry.plan
            for pid in sorted(self._entries):
                other = self._entries[pid]
                if other.plan is not None and other.plan_hash == plan_hash:
                    return pid, other.plan
            return self._by_hash.get(plan_hash or "")

    def plan_id_of(self, plan_hash: str | None) -> str | None:
        """Without a rescan (listing many runs): the id last seen with this plan hash."""
        with self._lock:
            found = self._by_hash.get(plan_hash or "")
            return found[0] if found else None


# ---------------------------------------------------------------- documents


def plan_summary(entry: PlanEntry, root: Path) -> dict[str, Any]:
    try:
        source = str(entry.path.relative_to(root))
    except ValueError:
        source = entry.path.name
    doc: dict[str, Any] = {"plan_id": entry.plan_id, "ok": entry.plan is not None, "kind": entry.kind,
                           "source": source, "content_hash": entry.content_hash or None,
                           "plan_hash": entry.plan_hash, "error": entry.error, "ground": entry.ground,
                           "final_concepts": [], "inference_count": 0}
    if entry.plan is not None:
        doc["final_concepts"] = list(entry.plan.schedule["final_concepts"])
        doc["inference_count"] = len(entry.plan.inferences)
    return doc


def plan_detail(entry: PlanEntry, root: Path) -> dict[str, Any]:
    doc = plan_summary(entry, root)
    plan = entry.plan
    doc["inferences"] = []
    doc["graph"] = {"nodes": [], "edges": []}
    doc["warnings"] = []
    if plan is None:
        return doc
    doc["warnings"] = list(plan.warnings)
    infs = []
    for fi in plan.order:
        inf, e = plan.inferences[fi], plan.entries[fi]
        infs.append({"flow_index": fi, "id": inf["id"], "sequence": inf["inference_sequence"],
                     "concept_to_infer": inf["concept_to_infer"], "function_concept": inf["function_concept"],
                     "value_concepts": list(inf["value_concepts"]), "context_concepts": list(inf["context_concepts"]),
                     "level": e.get("level"), "depends_on": list(e.get("depends_on") or []),
                     "dependents": list(e.get("dependents") or []),
                     "enclosing_loops": list(e.get("enclosing_loops") or []), "gated_by": e.get("gated_by"),
                     "source_line": e.get("source_line")})
    doc["inferences"] = infs
    doc["graph"] = plan_graph(plan)
    return doc


def plan_graph(plan: Plan) -> dict[str, Any]:
    """Nodes and edges of the compiled plan, in the shape of ``ncdc graph --format json``: inferences (id ``i`` +
    flow index with ``_``) and concepts (``c1``, ``c2``, … in first-use order); edges ``reads``, ``writes``,
    ``condition``, ``gates``, ``iterates`` and ``depends`` (the schedule's dependency of one inference on another)."""
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    cids: dict[str, str] = {}

    def iid(fi: str) -> str:
        return "i" + fi.replace(".", "_")

    def concept(name: str) -> str:
        if name not in cids:
            cids[name] = f"c{len(cids) + 1}"
            c = plan.concepts.get(name) or {}
            nodes.append({"id": cids[name], "kind": "concept", "label": name,
                          "ground": bool(c.get("is_ground_concept"))})
        return cids[name]

    for fi in sorted(plan.inferences, key=flow_key):
        inf, e = plan.inferences[fi], plan.entries[fi]
        loops = e.get("enclosing_loops") or []
        nodes.append({"id": iid(fi), "kind": "inference", "flow_index": fi, "inference_id": inf["id"],
                      "sequence": inf["inference_sequence"], "label": inf["concept_to_infer"],
                      "function": inf["function_concept"], "level": e.get("level"),
                      "loop": loops[-1] if loops else None})
    for fi in sorted(plan.inferences, key=flow_key):
        inf, e = plan.inferences[fi], plan.entries[fi]
        node = iid(fi)
        seq = inf["inference_sequence"]
        if seq != "timing":
            edges.append({"from": node, "to": concept(inf["concept_to_infer"]), "kind": "writes"})
        for name in [*inf["value_concepts"], *inf["context_concepts"]]:
            edges.append({"from": concept(name), "to": node, "kind": "condition" if seq == "timing" else "reads"})
        if e.get("gated_by"):
            edges.append({"from": iid(e["gated_by"]), "to": node, "kind": "gates"})
        loops = e.get("enclosing_loops") or []
        if loops and loops[-1] != fi:
            edges.append({"from": node, "to": iid(loops[-1]), "kind": "iterates"})
        for dep in e.get("depends_on") or []:
            if dep in plan.inferences:
                edges.append({"from": iid(dep), "to": node, "kind": "depends"})
    return {"nodes": nodes, "edges": unique_edges(edges)}
