"""Reconciling stored results with the current plan on resume and fork (RUNTIME §9.2-§9.5).

The outcome is a *restore map*: (current inference id, current iteration path) -> the stored row whose value,
status and metadata the scheduler takes instead of executing. Everything else runs. PATCH decides by content
signatures (inference ids ignore flow-index renumbering), provision hashes and input data, and invalidates
transitively; OVERWRITE and FILL_GAPS trust the checkpoint by flow index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.load import Plan, confine
from runtime.reference import canonical_json, parse_sign

MODES = ("patch", "overwrite", "fill-gaps")
KEPT_STATUSES = ("completed", "skipped")


def data_hash(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()


def _file_hash(plan: Plan, rel: str) -> str | None:
    try:
        return "sha256:" + hashlib.sha256(confine(plan.plan_dir, rel).read_bytes()).hexdigest()
    except (OSError, PermissionError):
        return None


def provision_hashes(plan: Plan, bindings: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Flow index -> hash of the provision file bytes an inference uses (binding module, prompt template), §9.2."""
    out: dict[str, str | None] = {}
    for fi, inf in plan.inferences.items():
        wi = inf["working_interpretation"]
        path: str | None = None
        if bindings and fi in bindings:
            path = bindings[fi].rpartition(":")[0]
        elif wi.get("python_binding"):
            path = wi["python_binding"].get("path")
        else:
            data = plan.concepts.get(inf["function_concept"], {}).get("reference_data") or []
            sign = parse_sign(data[0]) if data else None
            if sign is not None and sign.norm in ("prompt_location", "script_location"):
                path = sign.signifier
        out[fi] = _file_hash(plan, path) if path else None
    return out


def plan_record(plan: Plan, provisions: Mapping[str, str | None]) -> dict[str, Any]:
    """What a run row keeps about its plan for a later PATCH (docs/decisions.md)."""
    return {"inferences": {inf["id"]: {"flow_index": fi, "concept": inf["concept_to_infer"],
                                       "provision_hash": provisions.get(fi)}
                           for fi, inf in sorted(plan.inferences.items())}}


@dataclass
class Reconciliation:
    mode: str
    restore: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    invalidated: set[str] = field(default_factory=set)   # current inference ids PATCH re-runs
    inputs: dict[str, Any] | None = None                 # OVERWRITE: stored inputs replace current ones


def latest(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """For each (inference id, iteration path), the last row in seq order (§8.3)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        out[(row["inference_id"], row["iteration"])] = row
    return out


def invalidation(plan: Plan, seeds: Iterable[str]) -> set[str]:
    """Flow indices invalidated by ``seeds`` (§9.3): consumers, supported ancestors, whole enclosing loops, and
    the whole body of an invalidated loop (its element and carried values are inputs of the body that the schedule's
    dependents do not list)."""
    body: dict[str, list[str]] = {}
    for fi, entry in plan.entries.items():
        for loop in entry["enclosing_loops"]:
            body.setdefault(loop, []).append(fi)
    out: set[str] = set()
    work = list(seeds)
    while work:
        fi = work.pop()
        if fi in out:
            continue
        out.add(fi)
        entry = plan.entries[fi]
        work.extend(entry["dependents"])
        parent = fi.rpartition(".")[0]
        if parent in plan.entries:
            work.append(parent)
        if entry["enclosing_loops"]:
            loop = entry["enclosing_loops"][-1]
            work.append(loop)
            work.extend(body.get(loop, ()))
        if fi in plan.loops:  # the loop provides its body's element and carried values: the body re-runs too
            work.extend(body.get(fi, ()))
    return out


def patch(plan: Plan, stored_plan: Mapping[str, Any], rows: Iterable[dict[str, Any]],
          provisions: Mapping[str, str | None], changed_inputs: set[str]) -> Reconciliation:
    """§9.3: keep a stored result when its signature, provisions and inputs are unchanged, transitively."""
    known = (stored_plan or {}).get("inferences") or {}
    seeds = []
    for fi, inf in plan.inferences.items():
        then = known.get(inf["id"])
        reads = {inf["function_concept"], *inf["value_concepts"], *inf["context_concepts"]}
        if then is None or then.get("provision_hash") != provisions.get(fi) or reads & changed_inputs:
            seeds.append(fi)
    bad = invalidation(plan, seeds)
    invalid_ids = {plan.inferences[fi]["id"] for fi in bad}
    kept_ids = {inf["id"] for inf in plan.inferences.values()} - invalid_ids
    restore = {key: row for key, row in latest(rows).items()
               if row["status"] in KEPT_STATUSES and key[0] in kept_ids}
    return Reconciliation("patch", restore, invalid_ids)


def by_flow_index(plan: Plan, stored_plan: Mapping[str, Any], rows: Iterable[dict[str, Any]], mode: str,
                  stored_inputs: dict[str, Any]) -> Reconciliation:
    """§9.4 OVERWRITE / §9.5 FILL_GAPS: stored rows matched by flow index and concept, paths translated."""
    known = (stored_plan or {}).get("inferences") or {}
    old_fi = {iid: rec["flow_index"] for iid, rec in known.items()}
    for row in rows:  # rows of ancestors whose plan is not the one recorded: their own flow index is authoritative
        old_fi.setdefault(row["inference_id"], row["flow_index"])
    current = {fi: inf for fi, inf in plan.inferences.items()}

    def translate(path: str) -> str | None:
        parts = []
        for seg in filter(None, path.split("/")):
            iid, sep, n = seg.rpartition("#")
            inf = current.get(old_fi.get(iid, ""))
            if not sep or inf is None:
                return None
            parts.append(f"{inf['id']}#{n}")
        return "/".join(parts)

    restore: dict[tuple[str, str], dict[str, Any]] = {}
    for (iid, path), row in latest(rows).items():
        inf = current.get(row["flow_index"])
        if inf is None or row["status"] not in KEPT_STATUSES:
            continue
        concept = (known.get(iid) or {}).get("concept") or row.get("concept_name")
        if concept is not None and concept != inf["concept_to_infer"]:
            continue
        if mode == "fill-gaps" and (row["status"] != "completed" or row.get("concept_name") is None
                                    or plan.concepts.get(row["concept_name"], {}).get("is_ground_concept")):
            continue
        new_path = translate(path)
        if new_path is not None:
            restore[(inf["id"], new_path)] = row
    return Reconciliation(mode, restore, set(), stored_inputs if mode == "overwrite" else None)
