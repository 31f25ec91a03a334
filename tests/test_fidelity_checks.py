"""FIDELITY.md, check side (issue 14): the C§2 index changes of §7, the compile-side graph rule of §4, §2's NCD503
and NCD212, NCD954, and errata E5, E6, E7, E8, E11, E12, E17, E18, E20 — each test is named after its item.

The example plans are copies of spec/examples/fidelity (tests/fidelity_plans/), so the tests do not need
../shared. Spellings themselves are tested in test_fidelity_spellings.py, runs in test_fidelity_runs.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ncdc.checker import check
from ncdc.compile import compile_plan
from ncdc.explain import explain
from ncdc.plan import PlanModel
from ncdc.rules import RULES
from ncdc.severity import Severity
from ncdc.source import Reporter

PLANS = Path(__file__).resolve().parent / "fidelity_plans"
FEATURES = PLANS / "features"
RUNNABLE = PLANS / "tests"
PROJECT = Path(__file__).resolve().parents[1]

RETIRED = {"NCD207": "NCD928", "NCD213": "NCD955", "NCD302": "NCD935", "NCD405": "NCD944"}
NEW = {
    "NCD129": Severity.ERROR,
    "NCD917": Severity.WARNING,
    "NCD928": Severity.WARNING,
    "NCD935": Severity.WARNING,
    "NCD954": Severity.WARNING,  # erratum E18: a warning, not the info of §1(c)/§7
    "NCD955": Severity.WARNING,
}


def diagnostics(text: str, path: str = "plan.ncd") -> list:
    return check(text, path).diagnostics


def pairs(text: str) -> set[tuple[int, str]]:
    return {(d.line, d.code) for d in diagnostics(text)}


def errors(text: str) -> list[tuple[int, str]]:
    return [(d.line, d.code) for d in diagnostics(text) if d.severity is Severity.ERROR]


def model_of(text: str) -> PlanModel:
    return check(text, "plan.ncd").model


def ncdc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ncdc", *args],
        cwd=cwd or PROJECT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def compiled_inferences(text: str, tmp_path: Path) -> dict[str, dict]:
    plan = tmp_path / "plan.ncd"
    plan.write_text(text, encoding="utf-8")
    result = ncdc("compile", str(plan), "-o", str(tmp_path / "out"))
    assert "Traceback" not in result.stderr, result.stderr
    (inference_file,) = (tmp_path / "out").glob("*.inference.json")
    data = json.loads(inference_file.read_text(encoding="utf-8"))
    entries = data["inferences"] if isinstance(data, dict) else data
    return {entry["flow_info"]["flow_index"]: entry for entry in entries}


# --- §7: the C§2 index ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(NEW))
def test_s7_new_code_is_in_the_catalogue_with_its_severity(code: str) -> None:
    assert RULES[code].severity is NEW[code]


@pytest.mark.parametrize("code", sorted(RETIRED))
def test_s7_retired_code_is_kept_retired_and_explain_names_its_replacement(code: str) -> None:
    assert RULES[code].severity is None  # never reported, never reused
    result = ncdc("explain", code)
    assert result.returncode == 0, result.stderr
    assert "retired" in result.stdout and "never reused" in result.stdout
    assert "Replaced by:" in result.stdout and RETIRED[code] in result.stdout
    assert result.stdout == explain(code)


@pytest.mark.parametrize("code", sorted(RETIRED))
def test_s7_retired_code_cannot_be_reported(code: str) -> None:
    reporter = Reporter("plan.ncd")
    reporter.report(code, 1, 1, "x")
    with pytest.raises(AssertionError):
        reporter.diagnostics[0].severity  # a retired code has no severity: reporting it is a programming error


def test_s7_index_lists_retired_codes_as_retired() -> None:
    listed = {line.split()[0]: line.split()[1] for line in ncdc("explain").stdout.splitlines() if line.strip()}
    for code in RETIRED:
        assert listed[code] == "retired"
    for code, severity in NEW.items():
        assert listed[code] == severity.value


# --- §4 / NCD935 (replaces NCD302), errata E5 and E6 ----------------------------------------------------------

UNDECLARED_GROUPING_SOURCE = """\
:<:{report}
    <= ::(write a report on {1} and {2})
        | %{python}: r.py:write
    <- {news}<:{2}>
        | %{literal_value}: "calm"
    <- [bundle]<:{1}>
        <= &[{}] %>[{prices}, {news}, {rates}]
        <- {prices}
            | %{literal_value}: "up"
        <- {rates}
            | %{literal_value}: "low"
"""


def test_s4_ncd935_undeclared_operand_is_a_warning_at_the_operand() -> None:
    found = [d for d in diagnostics(UNDECLARED_GROUPING_SOURCE) if d.code == "NCD935"]
    assert [(d.line, d.column, d.severity) for d in found] == [(7, 31, Severity.WARNING)]
    assert "{news}" in found[0].message and "implicit input" in found[0].message
    assert "<- {news}" in found[0].help
    assert not errors(UNDECLARED_GROUPING_SOURCE)
    assert "NCD302" not in {code for _, code in pairs(UNDECLARED_GROUPING_SOURCE)}


def test_e6_grouping_value_concepts_stay_the_sources_in_source_order(tmp_path: Path) -> None:
    inferences = compiled_inferences(UNDECLARED_GROUPING_SOURCE, tmp_path)
    grouping = next(i for i in inferences.values() if i["concept_to_infer"] == "[bundle]")
    assert grouping["value_concepts"] == ["{prices}", "{news}", "{rates}"]


def test_e6_other_operations_get_the_implicit_input_after_the_declared_children(tmp_path: Path) -> None:
    plan = """\
:<:{joined}
    <= $+ %>({list}) %<({extra}) %:({item})
    <- {list}
        | %{literal_value}: ["a"]
    <- {other}
        | %{literal_value}: "b"
"""
    # `{joined}` is a functional `$+` (result named otherwise, FIDELITY §3.3); `{extra}` is declared nowhere
    text = plan + "    <- {side}\n        <= $. %>({extra})\n        <- {extra}\n            | %{literal_value}: \"x\"\n"
    model = model_of(text)
    inference = model.by_index["1"]
    assert [use.name for use in inference.values] == ["{list}", "{other}", "{side}", "{extra}"]
    assert [use.name for use in inference.implicit] == ["{extra}"]


def test_e5_undeclared_dollar_dot_operand_is_the_selected_candidate(tmp_path: Path) -> None:
    plan = """\
:<:{final answer}
    <= $. %>({draft})
    <- {review}
        | %{literal_value}: "looks fine"
    <- {notes}
        <= $. %>({draft})
        <- {draft}
            | %{literal_value}: "the draft"
"""
    assert (2, "NCD935") in pairs(plan)
    model = model_of(plan)
    assert [name for name, _ in model.assign_candidates(model.by_index["1"])] == ["{draft}"]
    root = compiled_inferences(plan, tmp_path)["1"]
    assert root["working_interpretation"]["syntax"]["assign_source"] == ["{draft}"]
    assert root["value_concepts"][-1] == "{draft}"


def test_s4_ncd935_not_for_the_cti_as_dollar_dot_operand_or_in_place_destination() -> None:
    plan = """\
:<:{answer}
    <= $. %>({answer})
    <- {answer}
        <= $+ %>({answer}) %<({item}) %:({item})
        <- {item}
            | %{literal_value}: "x"
"""
    assert "NCD935" not in {code for _, code in pairs(plan)}


# --- §4: NCD301's graph rule for growing collections (accumulators), errata E7 and E8 ------------------------


def test_s4_ncd301_body_reads_of_an_in_place_append_are_not_a_cycle() -> None:
    found = diagnostics((RUNNABLE / "i4_growing_base.ncd").read_text(encoding="utf-8"))
    codes = {(d.line, d.column, d.code) for d in found}
    assert not [d for d in found if d.severity is Severity.ERROR], [(d.line, d.code, d.message) for d in found]
    assert [(d.line, d.column) for d in found if d.code == "NCD935"] == [(9, 37)]
    assert (8, 22, "NCD926") in codes
    assert "NCD301" not in {d.code for d in found} and "NCD302" not in {d.code for d in found}


def test_s4_skipped_append_plan_checks_without_errors() -> None:
    assert not errors((RUNNABLE / "i4_skipped_append.ncd").read_text(encoding="utf-8"))


ACCUMULATING_LOOP = """\
:<:{summary}
    <= ::(summarize {1})
        | %{python}: s.py:summarize
    <- [notes]<:{1}>
        <= *. %>([items]) %<({note}) %:({item}) %@(1)
            <= $. %>({note})
            <- {note}
                <= ::(note about {1} after {2})
                    | %{python}: s.py:note
                <- {item}<:{1}>
                <- [seen]<:{2}>
            <- [seen]
                <= $+ %>([seen]) %<({item}) %:({item})
            <- [seen]
                <= $+ %>([seen]) %<({note}) %:({item})
        <- [items]
            | %{literal_value}: ["a", "b"]
            | %{ref_axes}: [item]
        <- [seen]
            <= $% %>([])
        <* {item}<$([items])*>
    <- {count}
        <= ::(count {1})
            | %{python}: s.py:count
        <- [seen]<:{1}>
"""


def test_s4_accumulator_edges_body_readers_outside_readers_and_append_order() -> None:
    model = model_of(ACCUMULATING_LOOP)
    edges = model.edges
    loop = next(i for i in model.inferences if i.loop is not None)
    appends = sorted((i for i in model.inferences if i.function == "$+ %>([seen]) %<({item}) %:({item})"
                      or i.function == "$+ %>([seen]) %<({note}) %:({item})"), key=lambda i: i.key)
    first, second = appends
    reader_in_body = next(i for i in model.inferences if i.cti == "{note}" and i.kind == "ordinary")
    reader_outside = next(i for i in model.inferences if i.cti == "{count}")
    # readers in the body see the iteration-start value: no edge from an append (C§3.3 "Accumulators")
    assert reader_in_body.flow_index not in edges[first.flow_index]
    assert reader_in_body.flow_index not in edges[second.flow_index]
    # E7: appends to one destination in one body are applied in flow-index order
    assert second.flow_index in edges[first.flow_index]
    assert first.flow_index not in edges[second.flow_index]
    # readers outside the loop wait for the loop; the loop itself reads its initial value (no edge from an append)
    assert reader_outside.flow_index in edges[loop.flow_index]
    assert reader_outside.flow_index not in edges[first.flow_index]
    assert loop.flow_index not in edges[first.flow_index] or edges[first.flow_index][loop.flow_index].concept is None
    assert not errors(ACCUMULATING_LOOP), errors(ACCUMULATING_LOOP)


def test_e8_nested_loops_the_innermost_loop_owns_the_snapshot() -> None:
    plan = """\
:<:[rows]
    <= *. %>([tables]) %<({row}) %:({table}) %@(1)
        <= $. %>({row})
        <- {row}
            <= ::(describe {1} with {2})
                | %{python}: s.py:describe
            <- {table}<:{1}>
            <- [seen]<:{2}>
        <- [cells]
            <= *. %>([items]) %<([seen]) %:({item}) %@(2)
                <= $. %>([seen])
                <- [seen]
                    <= $+ %>([seen]) %<({item}) %:({item})
            <- [items]
                | %{literal_value}: ["a"]
                | %{ref_axes}: [item]
            <* {item}<$([items])*>
    <- [tables]
        | %{literal_value}: ["t"]
        | %{ref_axes}: [table]
    <- [seen]
        <= $% %>([])
    <* {table}<$([tables])*>
"""
    model = model_of(plan)
    inner = next(i for i in model.inferences if i.loop is not None and i.loop.index == 2)
    append = next(i for i in model.inferences if i.function.startswith("$+"))
    reader = next(i for i in model.inferences if i.cti == "{row}")
    assert model.accumulators[append.flow_index] is inner
    # the reader is in the outer body only: it waits for the inner loop, not for one append
    assert reader.flow_index in model.edges[inner.flow_index]
    assert reader.flow_index not in model.edges[append.flow_index]


# --- §2: NCD503 redefined, NCD212 (`%:` and `%<` optional), erratum E21 --------------------------------------


def test_s2_ncd503_percent_colon_is_the_loop_axis_not_the_element() -> None:
    found = diagnostics((FEATURES / "f06_loop_colon_axis.ncd").read_text(encoding="utf-8"))
    assert not {d.code for d in found} & {"NCD503", "NCD931", "NCD212"}, [(d.line, d.code) for d in found]
    assert not [d for d in found if d.severity is Severity.ERROR]


def test_s2_ncd503_missing_element_declaration_is_the_only_error() -> None:
    text = (FEATURES / "f06_loop_colon_axis.ncd").read_text(encoding="utf-8")
    without = "".join(line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("<*"))
    found = [d for d in diagnostics(without) if d.severity is Severity.ERROR]
    assert [(d.line, d.code) for d in found] == [(2, "NCD503")]
    assert "<* {x}<$([documents])*>" in found[0].help


@pytest.mark.parametrize("name", ["f07_loop_no_colon.ncd", "f08_loop_carry_modifier.ncd", "g08b.ncd", "g08c.ncd"])
def test_s2_ncd212_loops_without_percent_colon_or_percent_lt_are_accepted(name: str) -> None:
    found = diagnostics((FEATURES / name).read_text(encoding="utf-8"))
    assert not [d for d in found if d.severity is Severity.ERROR], [(d.line, d.code, d.message) for d in found]


def test_s2_ncd212_loop_without_percent_lt_takes_the_body_selection_as_result() -> None:
    plan = (FEATURES / "f07_loop_no_colon.ncd").read_text(encoding="utf-8").replace(" %<({summary})", "")
    assert not errors(plan)
    loop = next(i for i in model_of(plan).inferences if i.loop is not None)
    assert loop.loop is not None and loop.loop.result is not None
    assert loop.loop.result.canonical_name == "{summary}"


def test_e21_both_element_declarations_with_the_same_element_are_accepted() -> None:
    found = diagnostics((FEATURES / "f09_loop_base_with_element.ncd").read_text(encoding="utf-8"))
    assert not {d.code for d in found} & {"NCD503", "NCD917"}, [(d.line, d.code) for d in found]


def test_e21_ncd503_inline_and_sibling_declarations_name_different_elements() -> None:
    plan = (FEATURES / "f09_loop_base_with_element.ncd").read_text(encoding="utf-8").replace(
        "<* {document}<$([documents])*>", "<* {page}<$([documents])*>"
    )
    assert (9, "NCD503") in pairs(plan)


# --- §1 / NCD954 (a warning, E18), NCD404 narrowed, NCD947 extended, erratum E17 ------------------------------


def test_s1_ncd954_list_answer_kept_as_one_element_at_the_ref_axes_lines() -> None:
    text = (RUNNABLE / "i1_list_output.ncd").read_text(encoding="utf-8")
    found = [d for d in diagnostics(text) if d.code == "NCD954"]
    assert sorted(d.line for d in found) == [9, 14]
    assert all(d.severity is Severity.WARNING for d in found)  # E18
    assert "o_" in found[0].help and "List" in found[0].help


def test_s1_ncd954_not_for_a_list_kind_paradigm() -> None:
    text = (RUNNABLE / "i1_list_output.ncd").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    # the variant of §1(d): keep's paradigm is a list kind
    assert "keep" in lines[9] and "o_Literal" in lines[10]
    lines[10] = lines[10].replace("o_Literal", "o_ListLiteral")
    found = [d.line for d in diagnostics("".join(lines)) if d.code == "NCD954"]
    assert found == [14]


def test_s1_ncd954_check_cli_json_reports_the_plan_level_cause(tmp_path: Path) -> None:
    plan = tmp_path / "i1.ncd"
    plan.write_text((RUNNABLE / "i1_list_output.ncd").read_text(encoding="utf-8"), encoding="utf-8")
    result = ncdc("check", "--format", "json", str(plan))
    assert result.returncode == 0, result.stdout
    reported = [(d["line"], d["severity"]) for d in json.loads(result.stdout)["diagnostics"] if d["code"] == "NCD954"]
    assert reported == [(9, "warning"), (14, "warning")]


def test_s1_ncd404_narrowed_none_axis_base_is_ncd947() -> None:
    plan = """\
:<:[notes]
    <= *. %>({draft}) %<({note}) %@(1)
        <= $. %>({note})
        <- {note}
            <= ::(note {1})
                | %{python}: n.py:note
            <- {part}<:{1}>
    <- {draft}
        | %{literal_value}: ["a", "b"]
        | %{ref_axes}: [_none_axis]
    <* {part}<$({draft})*>
"""
    found = pairs(plan)
    assert (2, "NCD947") in found and not {code for _, code in found} & {"NCD404"}


def test_s1_ncd404_proposition_base_is_still_an_error() -> None:
    plan = """\
:<:[notes]
    <= *. %>(<ready>) %<({note}) %@(1)
        <= $. %>({note})
        <- {note}
            <= ::(note {1})
                | %{python}: n.py:note
            <- {part}<:{1}>
    <- <ready>
        | %{literal_value}: true
    <* {part}<$(<ready>)*>
"""
    assert (2, "NCD404") in set(errors(plan))


E17_PLAN = """\
:<:[notes]
    <= *. %>([drafts]) %<({note}) %:(AXIS) %@(1)
        <= $. %>({note})
        <- {note}
            <= ::(note {1})
                | %{python}: n.py:note
            <- {part}<:{1}>
    <- [drafts]
        | %{literal_value}: ["a", "b"]
        | %{ref_axes}: [column]
    <* {part}<$([drafts])*>
"""


def test_e17_loop_axis_typo_is_ncd947_at_the_percent_colon_operand() -> None:
    found = [d for d in diagnostics(E17_PLAN.replace("AXIS", "colum")) if d.code == "NCD947"]
    assert [(d.line, d.column) for d in found] == [(2, 35)]
    assert "%:(column)" in found[0].help


@pytest.mark.parametrize("axis", ["column", "{column}", "{part}"])
def test_e17_declared_axis_or_element_name_is_not_reported(axis: str) -> None:
    assert "NCD947" not in {code for _, code in pairs(E17_PLAN.replace("AXIS", axis))}


# --- §3 items whose codes are checks: NCD944 (§3.12, §5), NCD953 (§3.14), NCD928 (§3.11), NCD955 (§3.3) -----


def test_s3_12_judgement_inferring_an_object_is_ncd944_not_ncd405() -> None:
    found = diagnostics((FEATURES / "f12_judgement_object.ncd").read_text(encoding="utf-8"))
    assert [(d.line, d.severity) for d in found if d.code == "NCD944"] == [(1, Severity.WARNING)]
    assert not [d for d in found if d.severity is Severity.ERROR]


def test_s5_grouping_without_plus_is_not_ncd944() -> None:
    text = (RUNNABLE / "i5_abstraction.ncd").read_text(encoding="utf-8")
    assert "NCD944" not in {code for _, code in pairs(text)}


def test_s3_14_script_paradigm_calls_main_no_ncd953() -> None:
    found = diagnostics((FEATURES / "f35_py_main_default.ncd").read_text(encoding="utf-8"))
    assert "NCD953" not in {d.code for d in found}


def test_s3_14_py_provision_with_another_paradigm_is_still_ncd953() -> None:
    text = (FEATURES / "f35_py_main_default.ncd").read_text(encoding="utf-8").replace("c_Execute", "c_Transform")
    assert (3, "NCD953") in pairs(text)


def test_s3_11_timing_as_a_values_function_is_ncd928_not_ncd207() -> None:
    found = diagnostics((FEATURES / "f11_timing_as_function.ncd").read_text(encoding="utf-8"))
    assert [(d.line, d.severity) for d in found if d.code == "NCD928"] == [(2, Severity.WARNING)]
    assert not [d for d in found if d.severity is Severity.ERROR]


FUNCTIONAL_IN_BODY = """\
:<:[all lists]
    <= *. %>([items]) %<({longer list}) %:({item}) %@(1)
        <= $. %>({longer list})
        <- {longer list}
            <= $+ %>(DEST) %<({item}) %:({item})
            <- DEST
            <- {item}
    <- [items]
        | %{literal_value}: ["a", "b"]
        | %{ref_axes}: [item]
    <- {seen}
        | %{literal_value}: []
    <* {item}<$([items])*>
"""


def test_s3_3_ncd955_functional_append_in_a_body_that_does_not_accumulate() -> None:
    found = [d for d in diagnostics(FUNCTIONAL_IN_BODY.replace("DEST", "{seen}")) if d.code == "NCD955"]
    assert [(d.line, d.severity) for d in found] == [(4, Severity.WARNING)]
    assert "{seen}*-1" in found[0].help


def test_s3_3_functional_append_outside_a_loop_is_accepted() -> None:
    found = diagnostics((FEATURES / "f01_plus_rename.ncd").read_text(encoding="utf-8"))
    assert not {d.code for d in found} & {"NCD955", "NCD510", "NCD213", "NCD301"}
    assert not [d for d in found if d.severity is Severity.ERROR]


def test_e11_functional_append_is_never_ncd510() -> None:
    plan = """\
:<:[all lists]
    <= *. %>([items]) %<({longer list}) %:({item}) %@(1)
        <= $. %>({longer list})
        <- {longer list}
            <= $+ %>({seen}) %<({item}) %:({item})
            <- {seen}
                <= $. %>({base})
                <- {base}
                    | %{literal_value}: []
            <- {item}
    <- [items]
        | %{literal_value}: ["a", "b"]
        | %{ref_axes}: [item]
    <* {item}<$([items])*>
"""
    codes = {code for _, code in pairs(plan)}
    assert "NCD510" not in codes and "NCD955" not in codes  # the destination is produced in the body


def test_e12_append_to_a_carried_name_is_functional_not_ncd512() -> None:
    plan = """\
:<:[all lists]
    <= *. %>([items]) %<({seen}) %:({item}) %@(1)
        <= $. %>({seen})
        <- {seen}
            <= $+ %>({seen}*-1) %<({item}) %:({item})
            <- {item}
    <- [items]
        | %{literal_value}: ["a", "b"]
        | %{ref_axes}: [item]
    <- {seen}*0
        | %{literal_value}: []
    <* {item}<$([items])*>
    <* {seen}*-1
"""
    model = model_of(plan)
    append = next(i for i in model.inferences if i.function.startswith("$+"))
    assert append.cti == "{seen}"  # the result names itself, not the carried destination
    codes = {code for _, code in pairs(plan)}
    assert not codes & {"NCD512", "NCD510", "NCD955", "NCD301"}, codes


# --- §3.6 / E20: NCD507 for a `%^` entry that contradicts a `<*` declaration ---------------------------------


def test_e20_ncd507_percent_caret_entry_with_another_n() -> None:
    plan = (FEATURES / "f08_loop_carry_modifier.ncd").read_text(encoding="utf-8").replace(
        "%^({total}<$({total})*-1>)", "%^({total}*-2)"
    )
    found = [d for d in diagnostics(plan) if d.code == "NCD507"]
    assert [d.line for d in found] == [2]
    assert "{total}*-2" in found[0].message and "%^({total}*-1)" in found[0].help


# --- legacy messages name the current form (MANIFEST; NCD120, NCD128) ---------------------------------------


@pytest.mark.parametrize(
    ("line", "code", "current"),
    [
        (":<:({x}) | 1.4. quantifying\n    <= $. %>({x})\n", "NCD120", "`| ?{flow_index}: 1.4 | ?{sequence}: looping`"),
        (":<:({x}) 1. assignment\n    <= $. %>({x})\n", "NCD120", "`| ?{flow_index}: 1 | ?{sequence}: assigning`"),
        (":<:{x}\n    <= ::(f {1})\n    <- {a}<:{prompt}>\n", "NCD128", "the current form: bind positionally with `<:{N}>`"),
        (":<:{sum}?\n    <= ::(add)\n", "NCD128", "the current form is `{sum}`"),
    ],
)
def test_legacy_message_names_the_current_form(line: str, code: str, current: str) -> None:
    found = [d for d in diagnostics(line) if d.code == code]
    assert found and current in found[0].message, [(d.code, d.message) for d in diagnostics(line)]


# --- compile outputs stay deterministic with implicit inputs -------------------------------------------------


def test_s4_implicit_inputs_compile_deterministically() -> None:
    first = compile_plan(UNDECLARED_GROUPING_SOURCE, "plan.ncd")
    second = compile_plan(UNDECLARED_GROUPING_SOURCE, "plan.ncd")
    assert first.ok and first.files("plan.ncd") == second.files("plan.ncd")


# --- §3.3: `$+ … %^(…)` stays NCD212, naming the current form -------------------------------------------------


def test_s3_3_ncd212_append_with_percent_caret_names_the_current_form() -> None:
    plan = """\
:<:{result}
    <= $+ %<({new item}) %^({result}*-1)
    <- {result}
        | %{literal_value}: []
    <- {new item}
        | %{literal_value}: "x"
"""
    found = [d for d in diagnostics(plan) if d.code == "NCD212"]
    assert found and any("$+ %>({destination}) %<({item}) %:({axis})" in d.message for d in found)


def test_s7_suppressing_a_retired_code_is_ncd991_naming_the_replacement() -> None:
    plan = ":<:{x}\n    <= ::(f) | ?{ncdc}: ignore[NCD302]\n        | %{python}: a.py:f\n        | %{body_faculty}: python_interpreter\n"
    (found,) = [d for d in diagnostics(plan) if d.code == "NCD991"]
    assert "retired" in found.message and "NCD935" in found.message
