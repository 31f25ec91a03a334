"""Conformance of `ncdc compile` with the reference's committed repositories (REPOSITORY_FORMAT.md §7).

Compares inference by inference (matched by flow index) and concept by concept (matched by name) on the
fields §7 calls exact, prints a per-field match table (`pytest -s` shows it), and requires every remaining
difference to be one of the hand corrections or curated differences the spec documents, listed by name.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


from ncdc.checker import check
from ncdc.emit import build_repositories


@dataclass(frozen=True)
class Difference:
    where: str  # flow index or concept name
    field: str
    got: Any
    expected: Any


def _order(value_order: dict[str, int]) -> list[str]:
    return [name for name, _ in sorted(value_order.items(), key=lambda item: item[1])]


def _signs(data: Any) -> Any:
    """Perceptual signs compared by norm and signifier only (§7.1: the reference drew ids at random)."""
    if not isinstance(data, list):
        return data
    return [re.sub(r"^%\{(\w+)\}[0-9A-Za-z_]*\(", r"%{\1}(", x) if isinstance(x, str) else x for x in data]


INFERENCE_FIELDS: dict[str, Callable[[dict], Any]] = {
    "inference_sequence": lambda e: e.get("inference_sequence"),
    "concept_to_infer": lambda e: e.get("concept_to_infer"),
    "function_concept": lambda e: e.get("function_concept"),
    "value_concepts": lambda e: set(e["value_concepts"]) if "value_concepts" in e else None,
    "context_concepts": lambda e: set(e["context_concepts"]) if "context_concepts" in e else None,
    "body_faculty": lambda e: e.get("working_interpretation", {}).get("body_faculty", KeyError),
    "paradigm": lambda e: e.get("working_interpretation", {}).get("paradigm", KeyError),
    "value_order": lambda e: _order(e["working_interpretation"]["value_order"]) if "value_order" in e.get("working_interpretation", {}) else KeyError,
    "assertion_condition": lambda e: e.get("working_interpretation", {}).get("assertion_condition", KeyError),
    # the reference spells it output_axis_name; FIDELITY §1: set only for a list-kind paradigm
    "output_axis": lambda e: e.get("working_interpretation", {}).get(
        "output_axis", e.get("working_interpretation", {}).get("output_axis_name", KeyError)),
}
SYNTAX_KEYS = (
    "marker", "assign_source", "assign_destination", "condition", "loop_index", "LoopBaseConcept",
    "CurrentLoopBaseConcept", "group_base", "ConceptToInfer", "by_axes", "create_axis",
)
CONCEPT_FIELDS = ("type", "is_ground_concept", "is_final_concept", "reference_axis_names", "axis_name", "flow_indices", "reference_data", "reference_element_type")


def compare(corpus: Path, plan: str, concept_file: str, inference_file: str) -> tuple[list[Difference], Counter, Counter, set, set]:
    result = check((corpus / plan).read_bytes(), plan)
    assert not [d for d in result.diagnostics if d.severity.value == "error"]
    _, repositories = build_repositories(result.model)
    expected_inferences = {e["flow_info"]["flow_index"]: e for e in json.loads((corpus / inference_file).read_text())}
    got_inferences = {e["flow_info"]["flow_index"]: e for e in repositories.inferences}
    differences: list[Difference] = []
    compared: Counter = Counter()
    matched: Counter = Counter()

    def record(where: str, field: str, got: Any, expected: Any) -> None:
        compared[field] += 1
        if got == expected:
            matched[field] += 1
        else:
            differences.append(Difference(where, field, got, expected))

    for index in sorted(set(expected_inferences) & set(got_inferences)):
        got, expected = got_inferences[index], expected_inferences[index]
        for field, read in INFERENCE_FIELDS.items():
            expected_value = read(expected)
            if expected_value is KeyError or expected_value is None:
                continue  # a key absent from the committed entry is not compared (§7.1)
            record(index, field, read(got), expected_value)
        expected_syntax = expected.get("working_interpretation", {}).get("syntax", {})
        got_syntax = got["working_interpretation"].get("syntax", {})
        for key in SYNTAX_KEYS:
            if key not in expected_syntax:
                continue
            expected_value = expected_syntax[key]
            if key == "assign_source" and isinstance(expected_value, str):
                expected_value = [expected_value]
            record(index, "syntax." + key, got_syntax.get(key), expected_value)
    expected_concepts = {e["concept_name"]: e for e in json.loads((corpus / concept_file).read_text())}
    got_concepts = {e["concept_name"]: e for e in repositories.concepts}
    for name in sorted(set(expected_concepts) & set(got_concepts)):
        got, expected = got_concepts[name], expected_concepts[name]
        for field in CONCEPT_FIELDS:
            if field not in expected:
                continue
            got_value, expected_value = got[field], expected[field]
            if field == "flow_indices":
                got_value, expected_value = set(got_value), set(expected_value)
            if field == "reference_data":
                got_value, expected_value = _signs(got_value), _signs(expected_value)
            record(name, "concept." + field, got_value, expected_value)
    inference_sets = (set(got_inferences), set(expected_inferences))
    concept_sets = (set(got_concepts), set(expected_concepts))
    return differences, compared, matched, inference_sets, concept_sets


def print_table(title: str, compared: Counter, matched: Counter) -> None:
    print(f"\n{title}\n{'field':<34} {'matched':>8} {'compared':>9} {'rate':>7}")
    for field in sorted(compared):
        print(f"{field:<34} {matched[field]:>8} {compared[field]:>9} {matched[field] / compared[field]:>7.1%}")


# ---------------------------------------------------------------- iteration 10 (§7.2)

ITER10_JUNK = {
    "{formalize according to $ assigning syntax}", "{formalize according to & grouping syntax}",
    "{formalize according to * looping syntax}", "{formalize according to ::(}",
    "{formalize according to ::<> judgement syntax}", "{formalize according to <proposition> syntax}",
    "{formalize according to @ timing syntax}", "{formalize according to [relation] syntax}",
    "{formalize according to {object} syntax}",
}
ITER10_CORRECTIONS: dict[str, Callable[[Difference], bool]] = {
    "6. paradigm of 1.7 switched to ...-o_ListLiteral by hand": lambda d: d.where == "1.7" and d.field == "paradigm",
    # FIDELITY §1: the source's o_Literal paradigm is not a list kind, so ncdc gives output_axis null for 1.7
    # (the step runs once on the whole list); the committed output_axis_name came with the hand-switched paradigm
    "6. output_axis_name of 1.7 added by hand with that paradigm": lambda d: d.where == "1.7"
    and d.field == "output_axis" and d.got is None and d.expected == "concept line",
}


def test_iter10_matches_the_committed_repositories(corpus: Path) -> None:
    differences, compared, matched, (got_i, exp_i), (got_c, exp_c) = compare(
        corpus, "iter10_formalization.pf.ncd", "iter10_concept_repo.json", "iter10_inference_repo.json"
    )
    print_table("iter10_formalization.pf.ncd vs committed repositories", compared, matched)
    assert got_i == exp_i and len(got_i) == 38
    assert got_c == exp_c - ITER10_JUNK and len(got_c) == 78
    unexplained = [d for d in differences if not any(rule(d) for rule in ITER10_CORRECTIONS.values())]
    assert unexplained == []
    assert {name for name, rule in ITER10_CORRECTIONS.items() if any(rule(d) for d in differences)} == set(ITER10_CORRECTIONS)


# ---------------------------------------------------------------- gold investment plan (§7.3)

GOLD_ROOT = ":<:({investment decision})"
GOLD_CURATED: dict[str, Callable[[Difference], bool]] = {
    "root: golden files invent the final concept :<:({investment decision})": lambda d: d.expected == GOLD_ROOT
    or (d.field == "concept_to_infer" and d.expected == GOLD_ROOT)
    or (d.where == "{investment decision}" and d.field in ("concept.is_final_concept", "concept.flow_indices")),
    "1.6 and 1.10.3: %+ appended to the grouping expressions by the curator": lambda d: d.where in ("1.6", "1.10.3")
    and d.field == "function_concept",
    "create_axis of 1.9.2 curated to status_type": lambda d: d.where == "1.9.2" and d.field == "syntax.create_axis",
    "<signal status>: golden axes [status_type, signal]": lambda d: d.where == "<signal status>"
    and d.field in ("concept.reference_axis_names", "concept.axis_name"),
    "1.2-1.5: golden paradigm h_Data-c_PassThrough-o_Normal": lambda d: d.where in ("1.2", "1.3", "1.4", "1.5")
    and d.field == "paradigm",
    "function concepts: golden reference_data holds expression text, _ or word-id signs": lambda d: d.field
    == "concept.reference_data" and not d.where.startswith(("{", "[", "<")),
}


def test_gold_matches_the_golden_repositories(corpus: Path) -> None:
    differences, compared, matched, (got_i, exp_i), (got_c, exp_c) = compare(
        corpus, "gold_syntax_coherence.ncd", "gold_en.concept.json", "gold_en.inference.json"
    )
    print_table("gold_syntax_coherence.ncd vs golden repositories", compared, matched)
    assert got_i == exp_i and len(got_i) == 20
    # Only curated names differ: the invented root and the two groupings with an appended %+.
    assert exp_c - got_c == {GOLD_ROOT, "&[#] %>[{quantitative signal}, {narrative signal}] %+(signal)",
                             "&[{}] %>[{bullish recommendation}, {bearish recommendation}, {neutral recommendation}] %+(recommendation)"}
    unexplained = [d for d in differences if not any(rule(d) for rule in GOLD_CURATED.values())]
    assert unexplained == [], unexplained
