"""Loading a plan (RUNTIME §3): compiled files or a `.ncd` compiled in memory, ground data and the inputs file.

Everything here raises ``LoadError`` (exit 2 at the CLI) with a message naming the culprit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from runtime.reference import (MAX_NESTING, NONE_AXIS, Reference, ReferenceModelError, from_data, nesting_depth,
                               parse_sign)

SCHEMA_MAJOR = "ncdc.schedule/1"


class LoadError(Exception):
    """A plan, data file or inputs file that cannot be used; the message names the culprit (exit 2)."""


def flow_key(fi: str) -> tuple[int, ...]:
    return tuple(int(p) for p in fi.split("."))


@dataclass
class Plan:
    """A validated compiled plan: repositories and schedule as plain dicts, indexed for the scheduler."""

    concepts: dict[str, dict[str, Any]]
    inferences: dict[str, dict[str, Any]]  # flow index -> inference entry
    schedule: dict[str, Any]
    plan_dir: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)  # flow index -> schedule entry
    loops: dict[str, dict[str, Any]] = field(default_factory=dict)
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # foreign repositories (§12): flow index -> legacy semantic sequence name, checked by runtime.foreign.check_legacy
    legacy: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.entries = {e["flow_index"]: e for e in self.schedule["inferences"]}
        self.loops = {e["flow_index"]: e for e in self.schedule["loops"]}
        self.gates = {e["flow_index"]: e for e in self.schedule["gates"]}

    @property
    def order(self) -> list[str]:
        return sorted(self.inferences, key=flow_key)


def _validate(concepts: Any, inferences: Any, schedule: Any, where: str) -> Plan:
    from ncdc.format import ConceptRepository, InferenceRepository, ScheduleFile

    problems: list[str] = []
    for label, adapter, value in (("concepts", ConceptRepository, concepts),
                                  ("inferences", InferenceRepository, inferences),
                                  ("schedule", ScheduleFile, schedule)):
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            for err in exc.errors()[:20]:
                loc = ".".join(str(x) for x in err["loc"])
                problems.append(f"{where}: {label}: {loc}: {err['msg']}")
    if problems:
        raise LoadError("invalid compiled plan:\n" + "\n".join(problems))
    version = str(schedule["schema_version"])
    if not (version == SCHEMA_MAJOR or version.startswith(SCHEMA_MAJOR + ".")):
        raise LoadError(f"{where}: unsupported schema_version {schedule['schema_version']!r} "
                        f"(this runtime reads {SCHEMA_MAJOR})")
    cmap = {c["concept_name"]: c for c in concepts}
    imap: dict[str, dict[str, Any]] = {}
    for inf in inferences:
        fi = inf["flow_info"]["flow_index"]
        if fi in imap:
            problems.append(f"{where}: duplicate flow index {fi}")
        imap[fi] = inf
        for name in [inf["concept_to_infer"], inf["function_concept"], *inf["value_concepts"],
                     *inf["context_concepts"]]:
            if name not in cmap:
                problems.append(f"{where}: inference {fi}: concept {name!r} is not in the concept repository")
    entries = {e["flow_index"] for e in schedule["inferences"]}
    if entries != set(imap):
        problems.append(f"{where}: schedule and inference repository list different flow indices")
    if problems:
        raise LoadError("invalid compiled plan:\n" + "\n".join(problems))
    return Plan(concepts=cmap, inferences=imap, schedule=schedule, plan_dir=Path("."))


def compile_ncd(path: Path) -> Plan:
    """Compile a `.ncd` in memory; errors raise ``LoadError`` listing `path:line:col: CODE message`."""
    from ncdc.compile import compile_plan
    from ncdc.severity import Severity

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path}: cannot read plan: {exc.strerror or exc}") from None
    result = compile_plan(data, str(path))
    diags = sorted(result.check.all_diagnostics, key=lambda d: d.sort_key)
    lines = [f"{d.path}:{d.line}:{d.column}: {d.code} {d.message}" for d in diags]
    if not result.ok:
        errors = [ln for d, ln in zip(diags, lines) if d.severity is Severity.ERROR] or lines
        raise LoadError(f"{path}: the plan has errors:\n" + "\n".join(errors))
    plan = _validate(result.concepts, result.inferences, result.schedule, str(path))
    plan.warnings = [ln for d, ln in zip(diags, lines) if d.severity is Severity.WARNING]
    plan.plan_dir = path.resolve().parent
    return plan


def _read_json(path: Path, what: str) -> tuple[Any, bytes]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    return parse_json(raw, f"{path}: {what}"), raw


def parse_json(text: str | bytes, where: str) -> Any:
    """JSON from ``text``; ``LoadError`` naming ``where`` when it is not JSON or nests beyond the parser's reach.

    (Inputs are held to ``MAX_NESTING`` by ``initial_values``; here only nesting too deep to parse at all.)
    """
    try:
        return json.loads(text)
    except RecursionError:  # the C decoder's own guard: raised before any partial value exists
        raise LoadError(f"{where} nests lists or objects deeper than {MAX_NESTING} levels (the limit)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise LoadError(f"{where} is not valid JSON: {exc}") from None


def load_compiled(schedule_path: Path) -> Plan:
    """Read a `STEM.schedule.json` and the two repositories it names, verifying their recorded SHA-256."""
    schedule, _ = _read_json(schedule_path, "schedule")
    if not isinstance(schedule, dict) or not isinstance(schedule.get("artifacts"), dict):
        raise LoadError(f"{schedule_path}: not an ncdc schedule (no artifacts)")
    parts = []
    for key in ("concepts", "inferences"):
        art = schedule["artifacts"].get(key) or {}
        name = art.get("file")
        if not isinstance(name, str) or "/" in name or "\\" in name:
            raise LoadError(f"{schedule_path}: artifacts.{key}.file is missing or not a base name")
        value, raw = _read_json(schedule_path.parent / name, f"{key} repository")
        digest = hashlib.sha256(raw).hexdigest()
        if digest != art.get("sha256"):
            raise LoadError(f"{schedule_path.parent / name}: SHA-256 {digest} does not match the schedule's "
                            f"recorded {art.get('sha256')} (recompile the plan)")
        parts.append(value)
    plan = _validate(parts[0], parts[1], schedule, str(schedule_path))
    plan.plan_dir = schedule_path.resolve().parent
    return plan


def load_plan(plan: Any, plan_dir: str | Path | None = None) -> Plan:
    """A Plan from a `.ncd` path, a compile output directory, a schedule path, a CompileResult or a Plan."""
    if isinstance(plan, Plan):
        result = plan
    elif hasattr(plan, "schedule") and hasattr(plan, "concepts") and hasattr(plan, "inferences"):
        if not getattr(plan, "ok", True):
            raise LoadError("the compile result has errors")
        result = _validate(plan.concepts, plan.inferences, plan.schedule, "<compiled>")
    else:
        path = Path(plan)
        if path.is_dir():
            found = sorted(path.glob("*.schedule.json"))
            if len(found) != 1:
                raise LoadError(f"{path}: expected exactly one *.schedule.json, found {len(found)}")
            result = load_compiled(found[0])
        elif path.name.endswith(".schedule.json"):
            result = load_compiled(path)
        elif path.suffix == ".ncd":
            result = compile_ncd(path)
        elif not path.exists():
            raise LoadError(f"{path}: no such plan")
        else:
            raise LoadError(f"{path}: not a .ncd file, a compile output directory or a *.schedule.json")
    if plan_dir is not None:
        result.plan_dir = Path(plan_dir).resolve()
    return result


# ---------------------------------------------------------------- data (§3.2, §3.3)

def _depth(x: Any) -> int:
    if not isinstance(x, list):
        return 0
    return 1 + min((_depth(c) for c in x), default=0)


def _unwrap_levels(data: Any, n_axes: int) -> Any:
    """Strip extra one-element list levels below the axis levels (§3.3 reference compatibility)."""
    def strip(node: Any, k: int) -> tuple[Any, bool]:
        if k == n_axes:
            if isinstance(node, list) and len(node) == 1:
                return node[0], True
            return node, False
        if not isinstance(node, list):
            return node, False
        pairs = [strip(c, k + 1) for c in node]
        return [p for p, _ in pairs], bool(pairs) and all(ok for _, ok in pairs)

    if not isinstance(data, list):
        return data
    while _depth(data) > n_axes:
        new, ok = strip(data, 0)
        if not ok:
            break
        data = new
    return data


def confine(plan_dir: Path, rel: str, allow: tuple[Path, ...] = ()) -> Path:
    """``rel`` resolved against the plan directory; it must stay inside it or an allowed root (§11)."""
    p = Path(rel)
    if p.is_absolute():
        raise PermissionError(f"path {rel!r} is absolute; plan paths must be relative to the plan directory")
    full = (plan_dir / p).resolve()
    for root in (plan_dir.resolve(), *(a.resolve() for a in allow)):
        if full == root or root in full.parents:
            return full
    raise PermissionError(f"path {rel!r} escapes the plan directory {plan_dir}")


def ground_reference(plan: Plan, name: str, data: Any, *, from_repository: bool,
                     axes: list[str] | None = None) -> Reference:
    """The initial Reference of a ground concept from its data (repository ``reference_data`` or an input)."""
    concept = plan.concepts[name]
    axes = list(axes or concept["reference_axis_names"])
    if from_repository and axes != [NONE_AXIS] and isinstance(data, list) and len(data) == 1 \
            and isinstance(data[0], list):
        data = data[0]  # `[V]` of a literal list laid along declared axes (R§2.5)
    if axes != [NONE_AXIS] and isinstance(data, list) and len(data) == 1:
        sign = parse_sign(data[0])
        if sign is not None and sign.norm == "file_location":
            try:
                path = confine(plan.plan_dir, sign.signifier)
                parsed = parse_json(path.read_bytes(), f"ground concept {name}: {sign.signifier}")
            except PermissionError as exc:
                raise LoadError(f"ground concept {name}: {exc}") from None
            except OSError as exc:
                raise LoadError(f"ground concept {name}: cannot read {sign.signifier}: "
                                f"{exc.strerror or exc}") from None
            _check_nesting(f"ground concept {name}: {sign.signifier}", parsed)
            data = parsed
    data = _unwrap_levels(data, len(axes))
    if not from_repository:
        _check_fits(name, data, axes)
    try:
        return from_data(data, axes)
    except ReferenceModelError as exc:
        raise LoadError(f"ground concept {name}: {exc}") from None


def _check_nesting(where: str, value: Any) -> None:
    """Every later stage (copying, encoding, hashing, storing) walks values recursively: bound them first."""
    if nesting_depth(value) > MAX_NESTING:
        raise LoadError(f"{where}: the value nests lists or objects deeper than {MAX_NESTING} levels (the limit)")


def _check_fits(name: str, data: Any, axes: list[str]) -> None:
    """A concept without axes holds exactly one value (§2.1): a list of another length than one cannot be it.

    Without this a list would silently become several values (or none) of a single-valued concept; a list that
    is meant as the one value is written wrapped, ``[[1, 2]]`` (§3.3 unwraps only one-element levels)."""
    if axes != [NONE_AXIS] or not isinstance(data, list) or len(data) == 1:
        return
    got = "an empty list" if not data else f"a list of {len(data)} items"
    raise LoadError(f"inputs: {name}: expected a single value ({name} has no axes), got {got}; "
                    f"to give a list as the one value, wrap it in another list")


def read_inputs(inputs: Any) -> dict[str, Any]:
    """The inputs mapping from a path or a mapping; comment keys (leading `_`) dropped."""
    if inputs is None:
        return {}
    if isinstance(inputs, (str, Path)):
        value, _ = _read_json(Path(inputs), "inputs file")
        inputs = value
    if not isinstance(inputs, Mapping):
        raise LoadError("the inputs file must hold a JSON object mapping concept names to data")
    return {k: v for k, v in inputs.items() if not str(k).startswith("_")}


def read_memory(memory: Any) -> dict[str, Any]:
    """The ``--memory`` mapping (§2.6 ``memorized_parameter``) from a JSON file path or a mapping; {} for None."""
    if memory is None:
        return {}
    where = "memory"
    if isinstance(memory, (str, Path)):
        where = f"{memory}: memory file"
        memory, _ = _read_json(Path(memory), "memory file")
    if not isinstance(memory, Mapping):
        raise LoadError(f"{where} must hold a JSON object mapping parameter names to values, "
                        f"not {type(memory).__name__}")
    return dict(memory)


def external_input_names(plan: Plan) -> set[str]:
    return {inf["concept_to_infer"] for inf in plan.inferences.values()
            if inf["working_interpretation"].get("is_external_input")}


def initial_values(plan: Plan, inputs: Mapping[str, Any]) -> tuple[dict[str, Reference], dict[str, Reference]]:
    """(ground values, external inputs): §3.2 initial state with §3.3 inputs applied."""
    externals = external_input_names(plan)
    values: dict[str, Reference] = {}
    ext: dict[str, Reference] = {}
    for name, raw in inputs.items():
        if name not in plan.concepts:
            raise LoadError(f"inputs: unknown concept {name!r}")
        concept = plan.concepts[name]
        _check_nesting(f"inputs: {name}", raw)
        axes = None
        data = raw
        if isinstance(raw, dict) and "data" in raw:
            data, axes = raw["data"], raw.get("axes")
            if axes is not None and (not isinstance(axes, list) or not all(isinstance(a, str) for a in axes)):
                raise LoadError(f"inputs: {name}: axes must be a list of names")
        if name in externals:
            ext[name] = ground_reference(plan, name, data, from_repository=False, axes=axes)
        elif not concept["is_ground_concept"] or concept["type"] not in ("{}", "[]", "<>", ":S:"):
            raise LoadError(f"inputs: {name!r} is produced by the plan, not ground data")
        else:
            values[name] = ground_reference(plan, name, data, from_repository=False, axes=axes)
    for name, concept in plan.concepts.items():
        if name in values or not concept["is_ground_concept"] or concept["reference_data"] is None:
            continue
        if concept["type"] not in ("{}", "[]", "<>", ":S:"):
            continue  # function concepts: resolved, their data is read by the executors
        values[name] = ground_reference(plan, name, concept["reference_data"], from_repository=True)
    return values, ext


def missing_ground(plan: Plan, values: Mapping[str, Reference]) -> list[str]:
    """Ground concepts some inference requires that have no data (§3.3 → blocked, missing_ground_data)."""
    missing: list[str] = []
    for entry in plan.schedule["inferences"]:
        for req in entry["requires"]:
            name = req["concept"]
            if req["ground"] and name not in values and name not in missing:
                missing.append(name)
    return missing
