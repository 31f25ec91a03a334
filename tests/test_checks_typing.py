"""Readiness typing and executor/annotation warnings (NCD401-NCD411, NCD923, NCD940-NCD948, NCD953): cases the
fixtures do not cover, the corpus expectations of the MANIFEST for these codes, and the spec examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CORPUS
from ncdc.checker import check
from ncdc.checks import typing_rules
from ncdc.frontend import parse_plan
from ncdc.options import CheckOptions
from ncdc.plan import PlanModel
from ncdc.source import Reporter

OWN = {"NCD401", "NCD402", "NCD403", "NCD404", "NCD406", "NCD407", "NCD408", "NCD410", "NCD411"} | {
    "NCD923", "NCD940", "NCD941", "NCD942", "NCD943", "NCD944", "NCD945", "NCD946", "NCD947", "NCD948", "NCD953",
    "NCD954",
}
LLM = "| %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal"
BODY = "| %{body_faculty}: llm"


def own(text: str) -> list[tuple[int, str]]:
    """(line, code) of this family's diagnostics, sorted."""
    result = check(text, "plan.ncd")
    return sorted((d.line, d.code) for d in result.diagnostics if d.code in OWN)


def own_file(path: Path) -> set[tuple[int, str]]:
    return {(d.line, d.code) for d in check(path.read_bytes(), path.name).diagnostics if d.code in OWN}


def typing_only(text: str) -> list[tuple[int, str]]:
    """Run only this family on the model (no parser-layer operator rules)."""
    parsed = parse_plan(text, "plan.ncd")
    reporter = Reporter("plan.ncd")
    typing_rules.check(PlanModel(parsed.plan, parsed.failed_lines), reporter, CheckOptions())
    return sorted((d.line, d.code) for d in reporter.diagnostics)


def plan(*lines: str) -> str:
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- corpus and spec examples


def test_iter10_formalization(corpus: Path) -> None:
    assert own_file(corpus / "iter10_formalization.pf.ncd") == {
        (53, "NCD941"), (133, "NCD944"), (88, "NCD954"), (104, "NCD954"),
    }  # fmt: skip


def test_gold_syntax_coherence(corpus: Path) -> None:
    assert own_file(corpus / "gold_syntax_coherence.ncd") == {
        (126, "NCD942"),
        (220, "NCD946"),
        (145, "NCD923"),
        (259, "NCD923"),
        (149, "NCD954"),
        (163, "NCD954"),
    }  # no NCD953 at 153: a `c_Execute` script paradigm calls the provision's `main` (FIDELITY §3.14)


def test_gold_syntax_coherence_messages(corpus: Path) -> None:
    result = check((corpus / "gold_syntax_coherence.ncd").read_bytes(), "gold.ncd")
    by_line = {(d.line, d.code): d for d in result.diagnostics}
    assert "`status_type`" in by_line[(220, "NCD946")].message
    assert "`signal`" in by_line[(145, "NCD923")].message
    assert "`recommendation`" in by_line[(259, "NCD923")].message
    assert (153, "NCD953") not in by_line


def test_gold_example(corpus: Path) -> None:
    pairs = own_file(corpus / "gold_example.ncd")
    functional = (7, 10, 13, 16, 21, 25, 30, 35, 40, 49, 54, 59, 64)
    assert {(n, "NCD948") for n in functional} <= pairs
    assert {(n, "NCD945") for n in functional} <= pairs
    assert (16, "NCD942") in pairs
    assert not any(code == "NCD953" for _, code in pairs)


def test_gold_recomposed(corpus: Path) -> None:
    pairs = own_file(corpus / "gold_recomposed.ncd")
    # not 131: NCD116 explains it; not 83: `…-c_Execute-o_Struct` with a `.py` provision calls `main` (§3.14)
    assert {line for line, code in pairs if code == "NCD953"} == {62}


@pytest.mark.parametrize("name", ["triage.ncd", "chapters.ncd"])
def test_spec_examples_without_diagnostics(name: str) -> None:
    path = CORPUS.parent / "spec" / "examples" / name
    if not path.is_file():
        pytest.skip("spec examples not present")
    assert own_file(path) == set()


def test_spec_example_followups_partial_binding() -> None:
    """REPOSITORY_FORMAT §6.3: `NCD941` (info) at line 17, column 5."""
    path = CORPUS.parent / "spec" / "examples" / "followups.ncd"
    if not path.is_file():
        pytest.skip("spec examples not present")
    diagnostics = [d for d in check(path.read_bytes(), path.name).diagnostics if d.code in OWN]
    assert [(d.line, d.column, d.code) for d in diagnostics] == [(17, 5, "NCD941")]


# ---------------------------------------------------------------- gates


def test_after_gate_may_wait_on_anything() -> None:
    text = plan(
        ":<:{reply}",
        "    <= ::(write the reply)",
        f"        {LLM}",
        f"        {BODY}",
        "        <= @.([drafts])",
        "        <* [drafts]",
        '            | %{literal_value}: ["a"]',
    )
    assert own(text) == []


def test_gate_condition_produced_by_a_grouping_is_not_judged() -> None:
    text = plan(
        ":<:{reply}",
        "    <= ::(write the reply)",
        f"        {LLM}",
        f"        {BODY}",
        "        <= @:!(<flags>)",
        "        <* <flags>",
        "    <- <flags>",
        "        | %{ref_axes}: [flag]",
        "        <= &[#] %>[<a>, <b>]",
        "        <- <a>",
        "            | %{literal_value}: true",
        "        <- <b>",
        "            | %{literal_value}: false",
    )
    assert (5, "NCD402") in own(text)


def test_gate_condition_from_a_data_file_is_not_a_truth_value() -> None:
    text = plan(
        ":<:{reply}",
        "    <= ::(write the reply)",
        f"        {LLM}",
        f"        {BODY}",
        "        <= @:'(<approved>)",
        "        <* <approved>",
        "            | %{file_location}: data/approved.json",
    )
    assert own(text) == [(5, "NCD402")]


def test_undeclared_gate_condition_is_left_to_ncd931() -> None:
    text = plan(
        ":<:{reply}",
        "    <= ::(write the reply)",
        f"        {LLM}",
        f"        {BODY}",
        "        <= @:'(<approved>)",
        "        <* <approved>",
    )
    assert own(text) == []


def test_two_gated_occurrences_report_the_second_only() -> None:
    gated = [
        "        <= ::(write a draft)",
        f"            {LLM}",
        f"            {BODY}",
        "            <= @:'(<urgent>)",
        "            <* <urgent>",
        "                | %{literal_value}: true",
    ]
    text = plan(":<:{reply}", "    <= ::(post both)", f"        {LLM}", f"        {BODY}",
                "    <- {one}", *gated, "    <- {two}", *gated)
    assert own(text) == [(13, "NCD403")]


# ---------------------------------------------------------------- bindings


def test_bindings_without_placeholders_are_valid_and_complete() -> None:
    text = plan(":<:{x}", "    <= ::(merge the texts)", f"        {LLM}", f"        {BODY}",
                "    <- {a}<:{1}>", '        | %{literal_value}: "a"',
                "    <- {b}<:{2}>", '        | %{literal_value}: "b"')
    assert own(text) == []


def test_value_order_replaces_bindings() -> None:
    text = plan(":<:{x}", "    <= ::(compare {1} with {2})", f"        {LLM}", f"        {BODY}",
                "        | %{value_order}: [{a}, {b}]",
                "    <- {a}", '        | %{literal_value}: "a"', "    <- {b}", '        | %{literal_value}: "b"')
    assert own(text) == []


def test_placeholder_without_children_is_ncd942() -> None:
    text = plan(":<:{x}", "    <= ::(collect {1} and {2})", f"        {LLM}", f"        {BODY}")
    assert own(text) == [(2, "NCD942")]


def test_ncd408_column_is_the_placeholder() -> None:
    text = plan(":<:{x}", "    <= ::(compare {1} with {2})", f"        {LLM}", f"        {BODY}",
                "    <- {a}<:{1}>", '        | %{literal_value}: "a"')
    (diagnostic,) = [d for d in check(text, "p.ncd").diagnostics if d.code == "NCD408"]
    assert (diagnostic.line, diagnostic.column) == (2, 8 + len("::(compare {1} with "))


def test_binding_error_suppresses_the_follow_up_findings() -> None:
    # {3} out of sequence: NCD407 only, not also NCD408 for {2} nor NCD941 for {c}
    text = plan(":<:{x}", "    <= ::(compare {1} with {2})", f"        {LLM}", f"        {BODY}",
                "    <- {a}<:{1}>", '        | %{literal_value}: "a"',
                "    <- {b}<:{3}>", '        | %{literal_value}: "b"',
                "    <- {c}", '        | %{literal_value}: "c"')
    assert own(text) == [(7, "NCD407")]


def test_same_concept_twice_with_one_slot_is_not_a_duplicate_binding() -> None:
    text = plan(":<:{x}", "    <= ::(describe {1})", f"        {LLM}", f"        {BODY}",
                "    <- {a}<:{1}>", '        | %{literal_value}: "a"', "    <- {a}<:{1}>")
    assert own(text) == []


def test_binding_on_loop_and_grouping_inputs() -> None:
    text = plan(":<:[all]", "    <= &[{}] %>[{a}, {b}]", "    <- {a}<:{1}>", '        | %{literal_value}: "a"',
                "    <- {b}<:{2}>", '        | %{literal_value}: "b"')
    assert own(text) == [(3, "NCD940"), (5, "NCD940")]


def test_failed_value_line_skips_binding_rules() -> None:
    text = plan(":<:{x}", "    <= ::(compare {1} with {2})", f"        {LLM}", f"        {BODY}",
                "    <- {a}<:{1}>", '        | %{literal_value}: "a"', "    <- {b)")
    assert own(text) == []


# ---------------------------------------------------------------- $. candidates


def test_candidates_consumed_under_another_sibling_do_not_count() -> None:
    text = plan(
        ":<:{answer}",
        "    <= $. %>({answer})",
        "    <- <ready>",
        "        <= ::(is {1} ready)<ALL True>",
        "            | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Boolean",
        f"            {BODY}",
        "        <- {draft}<:{1}>",
        "    <- {draft}",
        '        | %{literal_value}: "x"',
    )
    assert own(text) == [(2, "NCD410")]


def test_empty_explicit_candidate_list() -> None:
    text = plan(":<:{answer}", "    <= $. %>({answer})", "        | %{assign_sources}: []",
                "    <- {draft}", '        | %{literal_value}: "x"')
    assert own(text) == [(2, "NCD410")]


def test_selecting_a_sibling_is_a_candidate() -> None:
    text = plan(":<:{answer}", "    <= $. %>(<ready>)", "    <- <ready>", "        | %{literal_value}: true")
    assert own(text) == []


# ---------------------------------------------------------------- grouping


def test_collapse_modifier_length() -> None:
    # Run on the model directly: this family's rule, independent of the parser-layer operator checks.
    text = plan(":<:[all]", "    <= &[#] %>[{a}, {b}] %-[[x]]", "    <- {a}", '        | %{literal_value}: "a"',
                "    <- {b}", '        | %{literal_value}: "b"')
    assert typing_only(text) == [(2, "NCD411")]
    fixed = text.replace("%-[[x]]", "%-[[x], []]")
    assert typing_only(fixed) == []


def test_grouping_axis_declared_on_a_source_is_not_inferred() -> None:
    text = plan(":<:{signals}", "    | %{ref_axes}: [signal]", "    <= &[#] %>[{a}, {b}]",
                "    <- {a}", "        | %{ref_axes}: [signal]", '        | %{literal_value}: "a"',
                "    <- {b}", '        | %{literal_value}: "b"')
    assert own(text) == []


# ---------------------------------------------------------------- assertions


def test_quantifier_key_from_the_first_declared_axis() -> None:
    text = plan(
        ":<:<fine>",
        "    | %{ref_axes}: [item]",
        "    <= ::(is {1} fine)<For Each {current entry} True>",
        "        | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Boolean",
        f"        {BODY}",
        "    <- [entries]<:{1}>",
        "        | %{ref_axes}: [item]",
        '        | %{literal_value}: ["a"]',
        "    <- {current entry}",
        "        | %{ref_axes}: [item]",
        '        | %{literal_value}: "a"',
    )
    # {current entry} declares [item], an axis of the input [entries]
    assert own(text) == [(9, "NCD941")]


def test_default_key_is_never_reported() -> None:
    text = plan(":<:<fine>", "    <= ::(is the weather fine)<ALL True>",
                "        | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Boolean", f"        {BODY}")
    assert own(text) == []


# ---------------------------------------------------------------- executors


@pytest.mark.parametrize(
    "annotations, expected",
    [
        (["| %{norm_input}: h_LiteralPath-c_ReadFile-o_Literal"], []),
        (["| %{norm_input}: h_LiteralPath-h_Literal-c_WriteFile-o_Literal"], []),
        (["| %{norm_input}: v_Prompt_Script-h_Data-c_LLMReason_Compute-o_JSON"], []),
        (["| %{norm_input}: h_Data-c_ThinkJSON-o_Normal"], []),
        (["| %{norm_input}: h_Data-c_Execute-o_Normal", "| %{prompt}: prompts/x.j2"], []),
        (["| %{norm_input}: h_Data-c_Execute-o_Normal (a note)"], [(3, "NCD953")]),
        (["| %{paradigm}: h_Data-c_Execute-o_Normal"], [(3, "NCD953")]),
        (["| %{v_input_provision}: scripts/x.py"], [(3, "NCD953")]),
        (["| %{v_input_provision}: scripts/x.py", "| %{v_function_name}: run"], []),
        (["| %{v_function_name}: run"], [(2, "NCD948")]),
        (["| %{norm_input}: (none)"], []),  # NCD116: names no paradigm
    ],
)
def test_executor_selection(annotations: list[str], expected: list[tuple[int, str]]) -> None:
    text = plan(":<:{x}", "    <= ::(do the thing)", *(f"        {a}" for a in annotations), f"        {BODY}")
    assert own(text) == expected


def test_external_input_has_no_executor_warnings() -> None:
    text = plan(":<:{x}", "    <= :>:(ask the user)", f"        {BODY}")
    assert own(text) == []


def test_executor_warnings_are_line_local() -> None:
    # A value child that fails to parse does not hide NCD945 on the functional line.
    text = plan(":<:{x}", "    <= ::(do the thing)", f"        {LLM}", "    <- {b)")
    assert own(text) == [(2, "NCD945")]


# ---------------------------------------------------------------- kinds


def test_grouping_with_create_axis_is_not_a_singleton() -> None:
    text = plan(":<:{all}", "    <= &[#] %>[{a}, {b}] %+(item)", "    <- {a}", '        | %{literal_value}: "a"',
                "    <- {b}", '        | %{literal_value}: "b"')
    assert own(text) == []


def test_judgement_inferring_an_object() -> None:
    text = plan(":<:{verdict}", "    <= ::(is it fine)<ALL True>",
                "        | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Boolean", f"        {BODY}")
    assert own(text) == [(1, "NCD944")]  # NCD405 is retired (FIDELITY §3.12): a warning


def test_many_inferences_stay_fast() -> None:
    import time

    lines = [":<:{out}", "    <= ::(merge everything)", f"        {LLM}", f"        {BODY}"]
    for i in range(3000):
        lines += [f"    <- {{v{i}}}", f"        <= ::(make {i} from {{1}})",
                  f"            {LLM}", f"            {BODY}",
                  f"        <- {{s{i}}}<:{{1}}>", f'            | %{{literal_value}}: "{i}"']
    text = plan(*lines)
    parsed = parse_plan(text, "big.ncd")
    model = PlanModel(parsed.plan, parsed.failed_lines)
    start = time.perf_counter()
    typing_rules.check(model, Reporter("big.ncd"), CheckOptions())
    assert time.perf_counter() - start < 1.0


def test_imperative_gate_condition_is_one_finding() -> None:
    """The CHECKS.md NCD402 example: the error at the gate explains the NCD944 at the producer."""
    text = plan(
        ":<:{reply}",
        "    <= ::(post the reply)",
        f"        {LLM}",
        f"        {BODY}",
        "    <- {draft}",
        "        <= ::(write an urgent reply)",
        f"            {LLM}",
        f"            {BODY}",
        "            <= @:'(<is urgent>)",
        "            <* <is urgent>",
        "    <- <is urgent>",
        "        <= ::(decide the urgency of the ticket)",
        f"            {LLM}",
        f"            {BODY}",
    )
    assert own(text) == [(9, "NCD402")]
    assert own(text.replace("@:'(<is urgent>)", "@.(<is urgent>)")) == [(11, "NCD944")]
