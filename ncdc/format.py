"""pydantic models of the three compile outputs (REPOSITORY_FORMAT.md §2-§4): the contract between ``ncdc``
and the runtime. ``ncdc schema`` prints their JSON Schemas; the runtime validates against the same models.

Field order is the format's key order. Keys the format omits under stated conditions (``syntactic_category``,
the loop entry's ``output_axis``) are optional here, and a round trip dumps with ``exclude_unset`` so a key is
written back exactly when it was read.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, TypeAdapter

Sequence = Literal[
    "imperative_in_composition", "judgement_in_composition", "assigning", "grouping", "timing", "looping"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConceptEntry(_Model):
    id: str
    concept_name: str
    type: str
    flow_indices: list[str]
    description: Optional[str]
    is_ground_concept: bool
    is_final_concept: bool
    is_invariant: bool
    reference_data: Optional[list[Any]]
    reference_axis_names: list[str]
    axis_name: str
    reference_element_type: Optional[str]
    natural_name: str
    context: str
    syntactic_category: Optional[Literal["assigning", "grouping", "timing", "looping"]] = None


class FlowInfo(_Model):
    flow_index: str


class InferenceEntry(_Model):
    id: str
    flow_info: FlowInfo
    inference_sequence: Sequence
    concept_to_infer: str
    function_concept: str
    value_concepts: list[str]
    context_concepts: list[str]
    working_interpretation: dict[str, Any]
    start_without_value: bool
    start_without_value_only_once: bool
    start_without_function: bool
    start_without_function_only_once: bool
    start_with_support_reference_only: bool
    start_without_support_reference_only_once: bool


class FileDigest(_Model):
    file: str
    sha256: str


class Artifacts(_Model):
    concepts: FileDigest
    inferences: FileDigest


class GroundConcept(_Model):
    name: str
    origin: str
    has_data: bool


class Requirement(_Model):
    concept: str
    role: Literal["value", "context"]
    producers: list[str]
    ground: bool
    loop_provided_by: Optional[str]


class ScheduledInference(_Model):
    flow_index: str
    id: str
    signature: str
    sequence: Sequence
    concept_to_infer: str
    source_line: int
    supported_by: list[str]
    requires: list[Requirement]
    depends_on: list[str]
    dependents: list[str]
    level: int
    enclosing_loops: list[str]
    gated_by: Optional[str]


class Carried(_Model):
    concept: str
    name: str
    carry_over: int
    initial: Optional[str]


class LoopEntry(_Model):
    flow_index: str
    body: str
    index: int
    base: Optional[str]
    element: Optional[str]
    result: Optional[str]
    loop_axis: Optional[str]
    carried: list[Carried]
    reset_set: list[str]
    reset_concepts: list[str]
    invariants: list[str]


class GateEntry(_Model):
    flow_index: str
    marker: Literal["if", "if!", "after"]
    condition: Optional[str]
    condition_producers: list[str]
    gated: Optional[str]
    gated_function: str


class CriticalPath(_Model):
    length: int
    path: list[str]


class Schedule(_Model):
    schema_version: str
    ncdc_version: str
    source: FileDigest
    artifacts: Artifacts
    plan_hash: str
    roots: list[str]
    final_concepts: list[str]
    ground_concepts: list[GroundConcept]
    inferences: list[ScheduledInference]
    levels: list[list[str]]
    loops: list[LoopEntry]
    gates: list[GateEntry]
    critical_path: CriticalPath


ConceptRepository = TypeAdapter(list[ConceptEntry])
InferenceRepository = TypeAdapter(list[InferenceEntry])
ScheduleFile = TypeAdapter(Schedule)


def dump(adapter: TypeAdapter, value: Any) -> str:
    """Serialise a validated value exactly as ``ncdc compile`` writes files (§1.2)."""
    data = adapter.dump_python(value, mode="json", exclude_unset=True)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def schemas() -> dict[str, Any]:
    """JSON Schemas of the three files (``ncdc schema``)."""
    return {
        "concept_repository": ConceptRepository.json_schema(),
        "inference_repository": InferenceRepository.json_schema(),
        "schedule": ScheduleFile.json_schema(),
    }
