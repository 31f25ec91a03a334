"""Foreign repositories (RUNTIME §12): concept/inference repository pairs written by the reference tools.

They are read in a tolerant mode and normalised into the shapes ``ncdc`` emits (R§2, R§3), so that the scheduler and
the sequences run them unchanged; the schedule is derived here with the algorithm of R§4 and the signatures of R§5
(ids in the files are ignored). Legacy semantic sequences are recorded on the plan (``Plan.legacy``) and refused or
admitted by ``check_legacy`` once the run's options are known.

Every problem raises ``LoadError`` with one line naming the file and the entry (exit 2 at the CLI).
"""

from __future__ import annotations

import hashlib
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, Mapping

from runtime.load import LoadError, Plan, flow_key, parse_json
from runtime.reference import NONE_AXIS, parse_sign

VALUE_TYPES = ("{}", "[]", "<>", ":S:")
START_FLAGS = ("start_without_value", "start_without_value_only_once", "start_without_function",
               "start_without_function_only_once", "start_with_support_reference_only",
               "start_without_support_reference_only_once")
_ONLY_ONCE = ("start_without_value_only_once", "start_without_function_only_once",
              "start_without_support_reference_only_once")
# legacy semantic sequences (§12) -> the sequence whose §5.5 semantics they run with
LEGACY_SEMANTIC = {
    "imperative": "imperative_in_composition", "judgement": "judgement_in_composition",
    "imperative_python": "imperative_in_composition", "judgement_python": "judgement_in_composition",
    "imperative_direct": "imperative_in_composition", "judgement_direct": "judgement_in_composition",
    "imperative_input": "imperative_in_composition", "imperative_python_indirect": "imperative_in_composition",
    "judgement_python_indirect": "judgement_in_composition", "imperative_indirect": "imperative_in_composition",
    "judgement_indirect": "judgement_in_composition", "simple": "imperative_in_composition",
}
CURRENT = ("imperative_in_composition", "judgement_in_composition", "assigning", "grouping", "timing", "looping")
# perceptual signs that are the reference's code-generation machinery (the script a model was to write and the
# prompt it was written from), not data of the step: never perceived, never passed to a binding
_CODEGEN_NORMS = ("script_location", "prompt_location")
# the markers of §5 each structural sequence knows (§12: every, in, across, if, if!, after, ., +, …)
_MARKERS = {"assigning": {"=", "%", ".", "+", "-"}, "grouping": {"in", "across"}, "timing": {"if", "if!", "after"},
            "looping": {"every"}}
_QUERY_SLOT = re.compile(r"\{(\d+)\}\?")


def _sequence(raw: str, where: str) -> tuple[str, str | None]:
    """(current sequence, legacy semantic name or None); LoadError for a name nobody defines."""
    if raw in CURRENT:
        return raw, None
    if raw == "quantifying":
        return "looping", None
    if raw in LEGACY_SEMANTIC:
        return LEGACY_SEMANTIC[raw], raw
    if raw.endswith("_indirect") and raw.startswith(("imperative", "judgement")):
        return ("judgement" if raw.startswith("judgement") else "imperative") + "_in_composition", raw
    raise LoadError(f"{where}: unknown inference_sequence {raw!r}")


def _read(path: Path, what: str) -> tuple[list[dict[str, Any]], bytes]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path}: cannot read the {what} repository: {exc.strerror or exc}") from None
    value = parse_json(raw, f"{path}")
    if not isinstance(value, list):
        raise LoadError(f"{path}: the {what} repository must be a JSON list of entries, not {type(value).__name__}")
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise LoadError(f"{path}: entry {i}: expected an object, not {type(entry).__name__}")
    return value, raw


def _string(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise LoadError(f"{where}: {key} is missing or not a non-empty string")
    return value


def _names(entry: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = entry.get(key) or []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise LoadError(f"{where}: {key} must be a list of concept names")
    return list(dict.fromkeys(value))


def _one_or_many(value: Any, where: str) -> list[str]:
    """A name or a list of names (the reference writes both); [] for none."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return list(value)
    raise LoadError(f"{where} must be a name or a list of names")


def _bare(name: str) -> str:
    return name.strip("{}[]<>").strip() or name


def _concepts(entries: list[dict[str, Any]], path: Path) -> dict[str, dict[str, Any]]:
    from ncdc.ids import concept_id

    out: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        where = f"{path}: entry {i}"
        name = _string(entry, "concept_name", where)
        where = f"{path}: entry {i} ({name})"
        if name in out:
            raise LoadError(f"{where}: concept listed twice")
        ctype = entry.get("type") or "{}"
        data = entry.get("reference_data")
        if data is not None and not isinstance(data, list):
            data = [data]  # the reference writes a single value bare
        axes = entry.get("reference_axis_names")
        if axes is None:
            axes = [NONE_AXIS]
        if not isinstance(axes, list) or not axes or not all(isinstance(a, str) for a in axes):
            raise LoadError(f"{where}: reference_axis_names must be a list of axis names")
        natural = entry.get("natural_name") if isinstance(entry.get("natural_name"), str) else _bare(name)
        flags = {}
        for key in ("is_ground_concept", "is_final_concept", "is_invariant"):
            flag = entry.get(key, False)
            if not isinstance(flag, bool):
                raise LoadError(f"{where}: {key} must be true or false")
            flags[key] = flag
        out[name] = {
            "id": concept_id(natural, name, ctype not in VALUE_TYPES), "concept_name": name, "type": ctype,
            "flow_indices": [], "description": entry.get("description"), **flags,
            "reference_data": data, "reference_axis_names": axes,
            "axis_name": entry.get("axis_name") if isinstance(entry.get("axis_name"), str) else _bare(name),
            "reference_element_type": entry.get("reference_element_type"), "natural_name": natural,
            "context": entry.get("context") if isinstance(entry.get("context"), str) else "",
        }
    return out


def _codegen(concept: Mapping[str, Any] | None) -> bool:
    data = (concept or {}).get("reference_data") or []
    sign = parse_sign(data[0]) if len(data) == 1 else None
    return bool(concept and concept["is_ground_concept"]) and sign is not None and sign.norm in _CODEGEN_NORMS


def _interpretation(seq: str, legacy: str | None, entry: dict[str, Any], values: list[str], context: list[str],
                    concepts: Mapping[str, dict[str, Any]], where: str) -> dict[str, Any]:
    wi = entry.get("working_interpretation") or {}
    if not isinstance(wi, dict):
        raise LoadError(f"{where}: working_interpretation must be an object")
    wi = dict(wi)
    syntax = wi.get("syntax")
    if syntax is not None and not isinstance(syntax, dict):
        raise LoadError(f"{where}: working_interpretation.syntax must be an object")
    if seq in ("assigning", "grouping", "timing", "looping"):
        if not isinstance(syntax, dict) or not isinstance(syntax.get("marker"), str):
            raise LoadError(f"{where}: working_interpretation.syntax.marker is missing")
        syntax = dict(syntax)
        wi["syntax"] = syntax
        if syntax["marker"] not in _MARKERS[seq]:
            raise LoadError(f"{where}: {seq} marker {syntax['marker']!r} is not one of "
                            f"{', '.join(sorted(_MARKERS[seq]))}")
        for key in ("LoopBaseConcept", "CurrentLoopBaseConcept", "assign_destination", "canonical_concept",
                    "condition", "group_base"):
            if key in syntax and syntax[key] is not None and not isinstance(syntax[key], str):
                raise LoadError(f"{where}: syntax.{key} must be a concept or axis name")
        if seq == "assigning" and syntax["marker"] in ("+", "-") and not isinstance(syntax.get("assign_source"), str):
            raise LoadError(f"{where}: syntax.assign_source must be a concept name")
        if seq == "assigning" and syntax["marker"] == ".":
            syntax["assign_source"] = _one_or_many(syntax.get("assign_source"), f"{where}: syntax.assign_source")
    if seq == "looping":
        index = syntax.pop("quantifier_index", None)
        syntax.setdefault("loop_index", index if isinstance(index, int) else 1)
        for key in ("LoopBaseConcept", "CurrentLoopBaseConcept"):
            if not isinstance(syntax.get(key), str):
                raise LoadError(f"{where}: working_interpretation.syntax.{key} is missing")
        carried = {}
        loop_concepts = syntax.get("InLoopConcept") or {}
        if not isinstance(loop_concepts, dict):
            raise LoadError(f"{where}: working_interpretation.syntax.InLoopConcept must be an object")
        for name, spec in loop_concepts.items():
            if isinstance(spec, int) and not isinstance(spec, bool):
                # legacy `{"X*1": 1}`: X*1 is carried with carry_over 1 and no initial concept (§12)
                carried[name] = {"current_name": name, "carry_over": spec, "initial_concept": None}
            elif isinstance(spec, dict) and isinstance(spec.get("current_name"), str):
                carried[name] = {"current_name": spec["current_name"], "carry_over": int(spec.get("carry_over", 1)),
                                 "initial_concept": spec.get("initial_concept")}
            else:
                raise LoadError(f"{where}: InLoopConcept entry {name!r} is neither N nor an object with current_name")
        syntax["InLoopConcept"] = carried
        syntax["ConceptToInfer"] = _one_or_many(syntax.get("ConceptToInfer"), f"{where}: syntax.ConceptToInfer")
        if "output_axis_name" in syntax and "output_axis" not in syntax:
            syntax["output_axis"] = syntax.pop("output_axis_name")
    elif seq == "assigning":
        marker = syntax["marker"]
        if marker == "." and not syntax["assign_source"]:
            syntax["assign_source"] = values[:1]
        if marker == "+":
            syntax["by_axes"] = _one_or_many(syntax.get("by_axes"), f"{where}: syntax.by_axes")
    elif seq == "grouping":
        syntax.setdefault("sources", list(values))
        if "by_axes" not in syntax:
            # legacy mode (§5.2): the axes of the named context concepts (all of them when none is named)
            named = _one_or_many(syntax.get("by_axis_concepts"), f"{where}: syntax.by_axis_concepts")
            syntax["by_axis_concepts"] = named or list(context)
        elif not isinstance(syntax["by_axes"], list) or not all(
                isinstance(a, list) and all(isinstance(x, str) for x in a) for a in syntax["by_axes"]):
            raise LoadError(f"{where}: syntax.by_axes must be one list of axis names per source")
        syntax["sources"] = _one_or_many(syntax["sources"], f"{where}: syntax.sources")
        syntax.setdefault("protect_axes", [])
        syntax.setdefault("create_axis", None)
    elif seq.endswith("_in_composition"):
        wi.setdefault("paradigm", None)
        order = wi.get("value_order")
        if order is None:
            order = {name: i + 1 for i, name in enumerate(values)}
        if not isinstance(order, dict) or not all(
                isinstance(p, int) and not isinstance(p, bool) for p in order.values()):
            raise LoadError(f"{where}: value_order must map concept names to positions (integers)")
        unknown = [n for n in order if n not in values]
        if unknown:
            raise LoadError(f"{where}: value_order names {unknown[0]!r}, which is not a value concept of the step")
        if legacy is not None:
            # the reference's code generator read two kinds of value concepts that are not data of the step: the
            # script/prompt locations, and the description bound to a query slot `{N}?` of the function text (what
            # the generated code was to return). Bindings replace the generated code, so neither is passed.
            queries = {int(n) for n in _QUERY_SLOT.findall(entry.get("function_concept") or "")}
            order = {n: p for n, p in order.items() if not _codegen(concepts.get(n)) and p not in queries}
        wi["value_order"] = order
        wi.setdefault("value_selectors", {})
        # FIDELITY §1: a list is spread only for a list-kind output (the paradigm's `o_…List…` part), and
        # `create_axis_on_list_output: false` says it is not one; the axis is `output_axis_name`, else the cti's
        # axis_name, else its bare name
        named = wi.pop("output_axis_name", None) or wi.get("output_axis")
        create = wi.pop("create_axis_on_list_output", None)
        output = next((p for p in str(wi.get("paradigm") or "").split("-") if p.startswith("o_")), "")
        if "List" in output and create is not False:
            cti = concepts[entry["concept_to_infer"]]
            wi["output_axis"] = named or cti["axis_name"] or _bare(cti["concept_name"])
        else:
            wi["output_axis"] = None
        if seq == "judgement_in_composition" and "assertion_condition" not in wi:
            cond = wi.pop("condition", True)
            if isinstance(cond, str) and cond.strip().lower() in ("true", "false"):
                cond = cond.strip().lower() == "true"
            # the reference's truth assertion holds when every element matches (its `<{ALL True}>` default);
            # read as §5.5's `all` quantifier so that `<all number is 0>` is not met by one zero among several
            wi["assertion_condition"] = {"quantifiers": {"all": "all"}, "condition": cond}
        if legacy is not None:
            wi["legacy_sequence"] = legacy
            # only --binding or replay serve a legacy step (§12): a binding written in the file could name the
            # model-generated script the reference would have run
            wi.pop("python_binding", None)
    return wi


def load_foreign(concepts_path: str | Path, inferences_path: str | Path) -> Plan:
    """A runnable Plan from a foreign repository pair; ``LoadError`` naming file and entry on any problem."""
    from ncdc.ids import inference_ids, signature

    cpath, ipath = Path(concepts_path), Path(inferences_path)
    centries, craw = _read(cpath, "concept")
    ientries, iraw = _read(ipath, "inference")
    concepts = _concepts(centries, cpath)
    inferences: dict[str, dict[str, Any]] = {}
    legacy: dict[str, str] = {}
    for i, entry in enumerate(ientries):
        where = f"{ipath}: entry {i}"
        info = entry.get("flow_info")
        fi = info.get("flow_index") if isinstance(info, dict) else None
        if not isinstance(fi, str) or not fi or not all(p.isdigit() for p in fi.split(".")):
            raise LoadError(f"{where}: flow_info.flow_index is missing or not a dotted number")
        where = f"{ipath}: entry {i} (flow index {fi})"
        if fi in inferences:
            raise LoadError(f"{where}: flow index listed twice")
        seq, old = _sequence(_string(entry, "inference_sequence", where), where)
        cti = _string(entry, "concept_to_infer", where)
        function = _string(entry, "function_concept", where)
        values = _names(entry, "value_concepts", where)
        context = _names(entry, "context_concepts", where)
        for name in [cti, function, *values, *context]:
            if name not in concepts:
                raise LoadError(f"{where}: concept {name!r} is not in {cpath.name}")
        wi = _interpretation(seq, old, entry, values, context, concepts, where)
        cond = wi["syntax"].get("condition") if seq == "timing" else None
        if isinstance(cond, str):
            if cond not in concepts:
                raise LoadError(f"{where}: syntax.condition names {cond!r}, which is not in {cpath.name}")
            if cond not in values:
                # a gate waits for its condition (R§3.4: timing value_concepts = [condition]); the reference
                # writes it as a context concept only
                values = [*values, cond]
        for key in ("LoopBaseConcept", "CurrentLoopBaseConcept", "assign_source", "assign_destination",
                    "canonical_concept", "condition"):
            named = (wi.get("syntax") or {}).get(key)
            for name in named if isinstance(named, list) else [named]:
                if isinstance(name, str) and key != "condition" and name not in concepts:
                    raise LoadError(f"{where}: syntax.{key} names {name!r}, which is not in {cpath.name}")
        flags = {}
        for flag in START_FLAGS:
            value = entry.get(flag, seq == "looping" and flag in _ONLY_ONCE)
            if not isinstance(value, bool):
                raise LoadError(f"{where}: {flag} must be true or false")
            flags[flag] = value
        wi = {"workspace": {}, "flow_info": {"flow_index": fi}, **{k: v for k, v in wi.items()
                                                                  if k not in ("workspace", "flow_info")}}
        inferences[fi] = {"id": "", "flow_info": {"flow_index": fi}, "inference_sequence": seq,
                          "concept_to_infer": cti, "function_concept": function, "value_concepts": values,
                          "context_concepts": context, "working_interpretation": wi, **flags}
        if old is not None:
            legacy[fi] = old
    if not inferences:
        raise LoadError(f"{ipath}: the inference repository holds no inference")
    order = sorted(inferences, key=flow_key)
    loops = _loops(inferences, order, ipath)
    _mark_invariants(concepts, inferences, loops)
    enclosing = {fi: [L for L in loops if fi == loops[L]["body"] or fi.startswith(loops[L]["body"] + ".")]
                 for fi in order}
    definitions = [_definition(inferences[fi], concepts, [inferences[L]["function_concept"] for L in enclosing[fi]])
                   for fi in order]
    sigs = [signature(d) for d in definitions]
    for fi, sig, ident in zip(order, sigs, inference_ids(sigs)):
        inferences[fi]["id"] = ident
    schedule = _schedule(concepts, inferences, order, loops, enclosing, dict(zip(order, sigs)), ipath)
    schedule.update({
        "schema_version": "ncdc.schedule/1", "ncdc_version": "foreign",
        "source": {"file": cpath.name, "sha256": hashlib.sha256(craw).hexdigest()},
        "artifacts": {"concepts": {"file": cpath.name, "sha256": hashlib.sha256(craw).hexdigest()},
                      "inferences": {"file": ipath.name, "sha256": hashlib.sha256(iraw).hexdigest()}},
        # the run's plan identity (R§4.1): a resume recomputes it from the two files it is given
        "plan_hash": "sha256:" + hashlib.sha256(craw + iraw).hexdigest(),
    })
    plan = Plan(concepts=concepts, inferences={fi: inferences[fi] for fi in order}, schedule=schedule,
                plan_dir=cpath.resolve().parent)
    plan.legacy = legacy
    return plan


def _loops(inferences: dict[str, dict[str, Any]], order: list[str], ipath: Path) -> dict[str, dict[str, Any]]:
    """Looping flow index -> {"body", "carried"}: the body is the inference below L whose cti is L's function."""
    out: dict[str, dict[str, Any]] = {}
    for fi in order:
        inf = inferences[fi]
        if inf["inference_sequence"] != "looping":
            continue
        body = next((j for j in order if j.startswith(fi + ".")
                     and inferences[j]["concept_to_infer"] == inf["function_concept"]), None)
        if body is None:
            raise LoadError(f"{ipath}: flow index {fi}: loop {inf['function_concept']!r} has no body (no inference "
                            f"below it infers its function concept)")
        syntax = inf["working_interpretation"]["syntax"]
        carried = [{"concept": concept, "name": spec["current_name"], "carry_over": spec["carry_over"],
                    "initial": spec["initial_concept"]} for concept, spec in syntax["InLoopConcept"].items()]
        out[fi] = {"body": body, "carried": carried, "element": syntax["CurrentLoopBaseConcept"]}
    return out


def _mark_invariants(concepts: dict[str, dict[str, Any]], inferences: dict[str, dict[str, Any]],
                     loops: dict[str, dict[str, Any]]) -> None:
    """Carried names and `$+` destinations inside loop bodies keep their values across iterations (R§2.6)."""
    for L, loop in loops.items():
        for carry in loop["carried"]:
            if carry["name"] in concepts:
                concepts[carry["name"]]["is_invariant"] = True
        for fi, inf in inferences.items():
            syntax = inf["working_interpretation"].get("syntax") or {}
            inside = fi == loop["body"] or fi.startswith(loop["body"] + ".")
            if inside and inf["inference_sequence"] == "assigning" and syntax.get("marker") == "+":
                dest = syntax.get("assign_destination")
                if isinstance(dest, str) and dest in concepts:
                    concepts[dest]["is_invariant"] = True


def _definition(inf: dict[str, Any], concepts: Mapping[str, dict[str, Any]], loops: list[str]) -> dict[str, Any]:
    """The signature object D of R§5.1."""
    fc = concepts[inf["function_concept"]]
    ground = {}
    for name in [*inf["value_concepts"], *inf["context_concepts"]]:
        c = concepts[name]
        if c["is_ground_concept"]:
            ground[name] = {"reference_data": c["reference_data"], "reference_axis_names": c["reference_axis_names"]}
    return {
        "schema": "ncd.inference-signature/1", "inference_sequence": inf["inference_sequence"],
        "concept_to_infer": inf["concept_to_infer"], "function_concept": inf["function_concept"],
        "value_concepts": inf["value_concepts"], "context_concepts": inf["context_concepts"],
        "working_interpretation": {k: v for k, v in inf["working_interpretation"].items()
                                   if k not in ("workspace", "flow_info", "blackboard")},
        "start_flags": {f: inf[f] for f in START_FLAGS},
        "function": {"type": fc["type"], "reference_data": fc["reference_data"],
                     "reference_axis_names": fc["reference_axis_names"]},
        "ground": ground, "loops": loops,
    }


def _schedule(concepts: dict[str, dict[str, Any]], inferences: dict[str, dict[str, Any]], order: list[str],
              loops: dict[str, dict[str, Any]], enclosing: dict[str, list[str]], sigs: dict[str, str],
              ipath: Path) -> dict[str, Any]:
    """The schedule of R§4 (levels by a topological order of the dependency relation)."""
    producers: dict[str, list[str]] = {}
    for fi in order:
        producers.setdefault(inferences[fi]["concept_to_infer"], []).append(fi)

    # J supports the nearest inference whose index is a proper prefix of J's (no third one strictly between)
    supports: dict[str, list[str]] = {fi: [] for fi in order}
    for j in order:
        parts = j.split(".")
        for k in range(len(parts) - 1, 0, -1):
            above = ".".join(parts[:k])
            if above in inferences:
                supports[above].append(j)
                break
    timing_of: dict[str, str] = {}
    for g in order:
        if inferences[g]["inference_sequence"] == "timing":
            timing_of.setdefault(inferences[g]["concept_to_infer"], g)

    def provider(fi: str, name: str) -> str | None:
        for L in [*enclosing[fi], *([fi] if fi in loops else [])]:
            if name == loops[L]["element"] or any(c["name"] == name for c in loops[L]["carried"]):
                return L
        return None

    entries, depends = [], {}
    for fi in order:
        inf = inferences[fi]
        requires, seen, deps = [], set(), []
        for role, names in (("value", inf["value_concepts"]), ("context", inf["context_concepts"])):
            for name in names:
                if name in seen:
                    continue
                seen.add(name)
                prov = provider(fi, name)
                prods = [] if prov is not None else [p for p in producers.get(name, []) if p != fi]
                deps.extend(prods)
                c = concepts[name]
                requires.append({"concept": name, "role": role, "producers": prods,
                                 # function concepts are names, never data the run must be given
                                 "ground": c["is_ground_concept"] and c["type"] in VALUE_TYPES,
                                 "loop_provided_by": prov})
        support = supports[fi]
        depends[fi] = sorted(set(support + deps), key=flow_key)
        gate = timing_of.get(inf["function_concept"])
        entries.append({"flow_index": fi, "id": inf["id"], "signature": sigs[fi],
                        "sequence": inf["inference_sequence"], "concept_to_infer": inf["concept_to_infer"],
                        "source_line": 0, "supported_by": support, "requires": requires, "depends_on": depends[fi],
                        "dependents": [], "level": 0, "enclosing_loops": enclosing[fi], "gated_by": gate})
    try:
        topo = list(TopologicalSorter(depends).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1]) if len(exc.args) > 1 else "?"
        raise LoadError(f"{ipath}: the inferences depend on each other in a cycle: {cycle}") from None
    level: dict[str, int] = {}
    for fi in topo:
        level[fi] = 1 + max((level[d] for d in depends.get(fi, ())), default=0)
    by_index = {e["flow_index"]: e for e in entries}
    dependents: dict[str, list[str]] = {fi: [] for fi in order}
    for j in order:  # flow order, so each list is in flow order
        for d in depends[j]:
            dependents[d].append(j)
    for e in entries:
        e["level"] = level[e["flow_index"]]
        e["dependents"] = dependents[e["flow_index"]]
    levels: list[list[str]] = [[] for _ in range(max(level.values(), default=0))]
    for e in entries:
        levels[e["level"] - 1].append(e["flow_index"])
    loop_entries = []
    for L, loop in loops.items():
        syntax = inferences[L]["working_interpretation"]["syntax"]
        body = loop["body"]
        reset_set = [j for j in order if j == body or j.startswith(body + ".")]
        reset_concepts: list[str] = []
        for j in reset_set:
            c = concepts[inferences[j]["concept_to_infer"]]
            if c["type"] in VALUE_TYPES and not c["is_ground_concept"] and not c["is_invariant"] \
                    and c["concept_name"] not in reset_concepts:
                reset_concepts.append(c["concept_name"])
        invariants = [c["name"] for c in loop["carried"]]
        for j in reset_set:
            syn = inferences[j]["working_interpretation"].get("syntax") or {}
            if inferences[j]["inference_sequence"] == "assigning" and syn.get("marker") == "+" \
                    and syn.get("assign_destination") not in invariants:
                invariants.append(syn["assign_destination"])
        result = syntax["ConceptToInfer"][0] if syntax["ConceptToInfer"] else None
        loop_entries.append({"flow_index": L, "body": body, "index": syntax["loop_index"],
                             "base": syntax["LoopBaseConcept"], "element": syntax["CurrentLoopBaseConcept"],
                             "result": result, "loop_axis": syntax.get("group_base"), "carried": loop["carried"],
                             "reset_set": reset_set, "reset_concepts": reset_concepts, "invariants": invariants})
    gated_of = {e["gated_by"]: e["flow_index"] for e in entries if e["gated_by"] is not None}
    gates = []
    for g in order:
        inf = inferences[g]
        if inf["inference_sequence"] != "timing":
            continue
        syntax = inf["working_interpretation"]["syntax"]
        gated = gated_of.get(g) or next((j for j in order if inf["concept_to_infer"] in
                                         inferences[j]["value_concepts"] and j != g), None)
        cond = syntax.get("condition")
        gates.append({"flow_index": g, "marker": syntax["marker"], "condition": cond,
                      "condition_producers": producers.get(cond, []) if isinstance(cond, str) else [],
                      "gated": gated, "gated_function": inf["concept_to_infer"]})
    best = min(entries, key=lambda e: (-e["level"], flow_key(e["flow_index"])))
    path = [best["flow_index"]]
    while best["depends_on"]:
        best = min((by_index[i] for i in best["depends_on"]), key=lambda e: (-e["level"], flow_key(e["flow_index"])))
        path.append(best["flow_index"])
    path.reverse()
    top = [fi for fi in order if "." not in fi]
    return {
        "roots": top[:1] or order[:1],
        "final_concepts": [n for n, c in concepts.items() if c["is_final_concept"]],
        "ground_concepts": [{"name": n, "origin": "declared" if c["reference_data"] is not None else "inputs",
                             "has_data": c["reference_data"] is not None}
                            for n, c in concepts.items() if c["is_ground_concept"] and c["type"] in VALUE_TYPES],
        "inferences": entries, "levels": levels, "loops": loop_entries, "gates": gates,
        "critical_path": {"length": len(path), "path": path},
    }


def check_legacy(plan: Plan, options: Mapping[str, Any]) -> None:
    """§12: legacy semantic steps run only with --legacy-sequences, and then only through a --binding or replay;
    never through generated code. Called before anything runs; LoadError (exit 2) names the steps."""
    legacy = getattr(plan, "legacy", None) or {}
    if not legacy:
        return
    listed = ", ".join(f"{fi} ({seq})" for fi, seq in sorted(legacy.items(), key=lambda kv: flow_key(kv[0])))
    if not options.get("legacy_sequences"):
        raise LoadError(f"legacy semantic sequences are refused without --legacy-sequences: {listed}")
    bindings = options.get("bindings") or {}
    bare = [fi for fi in sorted(legacy, key=flow_key) if fi not in bindings]
    names = ", ".join(f"{fi} ({legacy[fi]})" for fi in bare)
    if bare and options.get("replay"):
        if options.get("replay_fallback") == "live":
            raise LoadError(f"legacy semantic steps without --binding run from the recording only; "
                            f"--replay-fallback live is refused for: {names}")
        return
    if bare:
        raise LoadError(f"legacy semantic steps need --binding FLOW_INDEX=path.py:function or --replay (generated "
                        f"code is never run): {names}")
