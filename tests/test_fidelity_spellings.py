"""FIDELITY §3 and §6: the documented spellings the front end accepts (NCD917/NCD928/NCD920 where the amendment
says so, canonicalised to the preferred form in the IR) or rejects with a better message (NCD129, NCD111, NCD113).

Two kinds of tests:

* ``test_feature_plan`` runs the real CLI (``ncdc check --format json``) on each example plan of
  ``examples/fidelity/features/`` (copied unchanged into ``tests/fidelity_plans/features/``) and asserts the exit
  code and the exact set of (line, code) pairs that FIDELITY §3/§6/§7, the errata and "Expected results per
  example plan" give.
* ``test_<item>_...`` tests hold our own variants of each spelling (other names, other depths, inside loops), so
  the rules are checked on plans nobody wrote the implementation against.

Test names carry the FIDELITY item (``s3_1``, ``s6_4``, ``e23``...) so a reader can map item → test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncdc.checker import check
from ncdc.compile import compile_plan
from ncdc.frontend import parse_plan
from ncdc.ir import ConceptRef, IdentificationMarker, Operator

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FEATURES = Path(__file__).resolve().parent / "fidelity_plans" / "features"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("PYTHONSTARTUP", None)
    return env


def _cli_check(path: Path) -> tuple[int, set[tuple[int, str]], list[dict]]:
    done = subprocess.run(
        [sys.executable, "-m", "ncdc", "check", "--format", "json", path.name],
        cwd=path.parent,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    diagnostics = json.loads(done.stdout)["diagnostics"]
    return done.returncode, {(d["line"], d["code"]) for d in diagnostics}, diagnostics


def _codes(text: str, path: str = "plan.ncd") -> set[tuple[int, str]]:
    return {(d.line, d.code) for d in check(text, path).diagnostics}


def _diagnostics(text: str, path: str = "plan.ncd"):
    return check(text, path).diagnostics


SEMANTIC = {"NCD945", "NCD948"}  # default-executor notes on plain `::(…)` steps; not about spellings


def _without_executor_notes(codes: set[tuple[int, str]]) -> set[tuple[int, str]]:
    return {pair for pair in codes if pair[1] not in SEMANTIC}


# ---------------------------------------------------------------------------------------------------------------
# The example plans: exit code and the exact (line, code) set
# ---------------------------------------------------------------------------------------------------------------

def _ex(*pairs: tuple[int, str]) -> set[tuple[int, str]]:
    return set(pairs)


# plan → (exit code, exact (line, code) set). NCD945/NCD948 are the default-executor notes on every `::(…)` line.
FEATURE_EXPECTATIONS: dict[str, tuple[int, set[tuple[int, str]]]] = {
    # §3.1 `$.` without `%>`: bare and `%<[…]` accepted; several ungated candidates stay NCD932.
    "f02_spec_candidates": (0, _ex((2, "NCD932"))),
    "f02b_spec_bare": (0, _ex((2, "NCD932"))),
    # §3.2 bare grouping over its `<-` children (one element: no NCD944 since §5(c)).
    "f03_group_bare": (0, _ex()),
    # §3.3 functional `$+` (result named differently) and the swapped form (NCD917; E9 decision f33: NCD926 on 1).
    "f01_plus_rename": (0, _ex()),
    "f33_plus_dest_target_swapped": (0, _ex((1, "NCD926"), (2, "NCD917"))),
    # §3.4 `{norm}` after an agent is informational.
    "f14_named_agent_norm": (0, _ex((2, "NCD945"), (2, "NCD948"))),
    "f14b_default_agent_norm": (0, _ex((2, "NCD945"), (2, "NCD948"))),
    # §3.5 / §2 loops: `%:` is the loop axis and optional; flat loops stay one NCD501 (no NCD506/NCD931 cascade).
    "f06_loop_colon_axis": (0, _ex((5, "NCD945"), (5, "NCD948"))),
    "f07_loop_no_colon": (0, _ex((5, "NCD945"), (5, "NCD948"))),
    "f10_loop_no_body_selector": (
        1,
        _ex((1, "NCD944"), (2, "NCD501"), (2, "NCD947"), (4, "NCD945"), (4, "NCD948")),
    ),
    # §3.6 carried values in `%^` and the inline element (E21: both declarations written → no NCD917).
    "f08_loop_carry_modifier": (0, _ex((5, "NCD945"), (5, "NCD948"))),
    "f09_loop_base_with_element": (0, _ex((5, "NCD945"), (5, "NCD948"))),
    "g08a": (0, _ex((5, "NCD945"), (5, "NCD948"))),
    "g08b": (0, _ex((5, "NCD945"), (5, "NCD948"))),
    "g08c": (0, _ex((5, "NCD945"), (5, "NCD948"))),
    "g08d": (0, _ex((5, "NCD945"), (5, "NCD948"))),
    "g08e": (0, _ex((5, "NCD945"), (5, "NCD948"))),
    # §3.7 type symbols as operations.
    "f13_bare_judgement": (1, _ex((2, "NCD129"))),
    "f13b_bare_imperative": (1, _ex((2, "NCD129"))),
    # §3.8 assertions: NCD943 on `0` and `unsure`, NCD946 on `{x}` (not an axis of an input).
    "f17_assertions": (
        0,
        _ex(
            (2, "NCD945"), (2, "NCD948"),
            (4, "NCD943"), (4, "NCD945"), (4, "NCD948"),
            (8, "NCD945"), (8, "NCD948"),
            (11, "NCD943"), (11, "NCD945"), (11, "NCD948"),
            (14, "NCD946"), (14, "NCD945"), (14, "NCD948"),
        ),
    ),
    # §3.9 axis-list arguments (`%:([{a}, {b}])` ≡ `%:[a, b]`).
    "f04_group_across_colon": (0, _ex()),
    "f21_abstraction": (0, _ex()),
    "h11": (0, _ex()),
    "h5": (0, _ex()),
    "h2": (0, _ex()),
    # §3.10 `$- %<({cti}) %@(N)` with one value child.
    "f19_selection_target": (0, _ex((2, "NCD917"))),
    "f18_selection": (0, _ex()),
    # §3.11 a timing operator as a value's function: NCD928 (no NCD924: the condition is declared as a sibling).
    "f11_timing_as_function": (0, _ex((2, "NCD928"), (4, "NCD945"), (4, "NCD948"), (8, "NCD945"), (8, "NCD948"))),
    # §3.12 a judgement inferring an object: NCD944 (NCD405 retired).
    "f12_judgement_object": (0, _ex((1, "NCD944"), (2, "NCD945"), (2, "NCD948"), (4, "NCD945"), (4, "NCD948"))),
    # §3.13 inline comments.
    "f23_inline_comments": (0, _ex((2, "NCD945"), (2, "NCD948"))),
    # §3.15 `.ncds`-style drafts in a `.ncd` file: NCD920 on the `<-` root, NCD113 on every prose line, no NCD111.
    "f34_ncds_draft": (
        1,
        _ex((1, "NCD920"), (1, "NCD113"), (2, "NCD113"), (3, "NCD113"), (4, "NCD113"), (5, "NCD113")),
    ),
    # §3.16 not accepted: `:agent:{text}` keeps NCD111 (with the rewrite in the help); `python_script` keeps NCD953.
    "f15_named_agent_noparen": (1, _ex((2, "NCD111"))),
    "f26_paradigm_alias": (0, _ex((2, "NCD945"), (3, "NCD915"), (3, "NCD953"))),
    # Derivable as unchanged (FIDELITY "Expected results per example plan").
    "f24_derivation_tails": (0, _ex((2, "NCD945"), (2, "NCD948"))),
    "f31_flow_index_on_functional": (
        0,
        _ex((2, "NCD921"), (2, "NCD945"), (2, "NCD948"), (4, "NCD921"), (4, "NCD945"), (4, "NCD948")),
    ),
    "f32_after_gate": (0, _ex((4, "NCD945"), (4, "NCD948"), (8, "NCD945"), (8, "NCD948"))),
    "root_op": (1, _ex((1, "NCD111"))),
    "val_op": (1, _ex((2, "NCD945"), (2, "NCD948"), (3, "NCD114"))),
    # §6.4 `<$={N}>` ≡ `<$({N})=>` (NCD917).
    "f30_identifier_marker": (0, _ex((2, "NCD945"), (2, "NCD948"), (5, "NCD917"))),
    # §6.5 a `$=` operand on a `<*` line is a value concept (no NCD925).
    "f22_identity_context": (0, _ex()),
}


@pytest.mark.parametrize("name", sorted(FEATURE_EXPECTATIONS))
def test_feature_plan(name: str) -> None:
    code, expected = FEATURE_EXPECTATIONS[name]
    returncode, found, diagnostics = _cli_check(FEATURES / f"{name}.ncd")
    assert found == expected, [(d["line"], d["code"], d["message"]) for d in diagnostics]
    assert returncode == code


def test_every_spelling_plan_has_an_expectation() -> None:
    """The spelling plans (f*, g08*) are all in the table; a new plan cannot be added silently untested."""
    plans = {p.stem for p in FEATURES.glob("*.ncd") if p.stem.startswith(("f", "g08"))}
    missing = plans - set(FEATURE_EXPECTATIONS) - {"f35_py_main_default", "f05_group_protect_in_colon"}
    assert not missing


# ---------------------------------------------------------------------------------------------------------------
# §3.1 `$.` without `%>`
# ---------------------------------------------------------------------------------------------------------------

SPEC_CTI = """:<:{verdict}
    <= ::(decide on {1})
    <- {final answer}<:{1}>
        <= $. %<({final answer})
        <- {draft one}
            | %{literal_value}: "a"
        <- {draft two}
            | %{literal_value}: "b"
"""


def test_s3_1_spec_naming_cti_in_candidates_is_ncd917_and_dropped() -> None:
    diagnostics = _diagnostics(SPEC_CTI)
    warnings = [d for d in diagnostics if d.code == "NCD917"]
    assert [(d.line, d.column) for d in warnings] == [(4, 12)]
    assert "`$.`" in warnings[0].message and "drop it" in warnings[0].message
    assert not any(d.severity.value == "error" for d in diagnostics)
    plan = parse_plan(SPEC_CTI).plan
    node = plan.lines[3].node
    assert isinstance(node, Operator) and node.modifier("%<") is None  # the only entry named the cti


def test_s3_1_spec_cti_among_other_candidates_keeps_the_others() -> None:
    text = SPEC_CTI.replace("%<({final answer})", "%<[{final answer}, {draft two}, {draft one}]")
    node = parse_plan(text).plan.lines[3].node
    assert isinstance(node, Operator)
    candidates = node.modifier("%<")
    assert candidates is not None and [i.text for i in candidates.items] == ["{draft two}", "{draft one}"]
    assert (4, "NCD917") in _codes(text)


def test_e3_spec_with_cti_as_target_is_not_ncd917() -> None:
    text = SPEC_CTI.replace("%<({final answer})", "%>({final answer})")
    assert not any(code == "NCD917" for _, code in _codes(text))


# ---------------------------------------------------------------------------------------------------------------
# §3.3 `$+` swapped operands (NCD917), `$+ … %^` rejected
# ---------------------------------------------------------------------------------------------------------------

SWAPPED_IN_LOOP = """:<:[all notes]
    <= *. %>([topics]) %<({note}) %:({topic}) %@(1)
        <= $. %>({note})
        <- {note}
            <= ::(write a note on {1})
            <- {topic}<:{1}>
        <- [log]
            <= $+ %<([log]) %>({topic}) %:({entry})
    <- [topics]
        | %{literal_value}: ["a", "b"]
        | %{ref_axes}: [topic]
    <- [log]
        | %{literal_value}: []
        | %{ref_axes}: [entry]
    <* {topic}<$([topics])*>
"""


def test_s3_3_swapped_append_inside_a_loop_is_ncd917_and_canonical() -> None:
    diagnostics = _diagnostics(SWAPPED_IN_LOOP)
    assert [(d.line, d.code) for d in diagnostics if d.code == "NCD917"] == [(8, "NCD917")]
    message = next(d.message for d in diagnostics if d.code == "NCD917")
    assert "$+ %>([log]) %<({topic}) %:({entry})" in message
    node = parse_plan(SWAPPED_IN_LOOP).plan.lines[7].node
    assert isinstance(node, Operator)
    assert node.text == "$+ %>([log]) %<({topic}) %:({entry})"


def test_s3_3_unswapped_append_is_not_rewritten() -> None:
    text = SWAPPED_IN_LOOP.replace("$+ %<([log]) %>({topic})", "$+ %>([log]) %<({topic})")
    assert not any(code == "NCD917" for _, code in _codes(text))


def test_s3_3_append_with_carry_modifier_is_ncd212_naming_the_current_form() -> None:
    text = """:<:{result}
    <= $+ %<({item}) %^({result}*-1)
    <- {item}
        | %{literal_value}: "x"
"""
    diagnostics = [d for d in _diagnostics(text) if d.code == "NCD212"]
    assert diagnostics and diagnostics[0].line == 2
    assert any("$+ %>({destination}) %<({item}) %:({axis})" in (d.message + (d.help or "")) for d in diagnostics)


# ---------------------------------------------------------------------------------------------------------------
# §3.4 `::{norm}(…)` and NCD126 (E24)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("agent", ["::", ":Planner:", ":%(composition):"])
def test_s3_4_norm_after_any_agent_is_informational(agent: str) -> None:
    text = f""":<:{{summary}}
    <= {agent}{{paradigm}}(summarize {{1}})
    <- {{notes}}<:{{1}}>
        | %{{literal_value}}: "n"
"""
    assert not any(code.startswith("NCD1") for _, code in _codes(text))


@pytest.mark.parametrize("payload", ["::{%(direct)}(do {1})", ":>:{%(file_location)}(x)", ":>:{name}?()", ":Planner:{%(direct)}(do {1})"])
def test_s3_4_e24_percent_norm_in_braces_stays_ncd126(payload: str) -> None:
    text = f":<:{{summary}}\n    <= {payload}\n    <- {{notes}}<:{{1}}>\n"
    assert (2, "NCD126") in _codes(text)


# ---------------------------------------------------------------------------------------------------------------
# §3.5 / §3.6 loops: `%^` carried entries, inline element
# ---------------------------------------------------------------------------------------------------------------

CARRY_ONLY = """:<:{report}
    <= ::(report {1})
    <- [running sums]<:{1}>
        <= *. %>([values]) %<({sum}) %:({value}) %^({sum}<$({sum})*-1>) %@(2)
            <= $. %>({sum})
            <- {sum}
                <= ::(add {1} to {2})
                <- {value}*2<:{1}>
                <- {sum}*-1<:{2}>
        <- [values]
            | %{literal_value}: [4, 5]
        <- {sum}*0
            | %{literal_value}: 0
        <* {value}<$([values])*>
"""


def test_s3_6_carry_listed_only_in_modifier_is_ncd917_and_compiled_as_declared() -> None:
    diagnostics = _diagnostics(CARRY_ONLY)
    assert [(d.line, d.code) for d in diagnostics if d.severity.value != "info" and d.code not in SEMANTIC] == [
        (4, "NCD917")
    ]
    declared = CARRY_ONLY + "        <* {sum}*-1\n"
    assert not any(code == "NCD917" for _, code in _codes(declared))
    a = compile_plan(CARRY_ONLY, "p.ncd")
    b = compile_plan(declared, "p.ncd")
    loop_a = next(i for i in a.inferences if i["inference_sequence"] == "looping")
    loop_b = next(i for i in b.inferences if i["inference_sequence"] == "looping")
    assert loop_a["working_interpretation"] == loop_b["working_interpretation"]


def test_s3_6_carry_in_element_form_matches_a_plain_declaration() -> None:
    text = CARRY_ONLY + "        <* {sum}*-1\n"
    node = parse_plan(text).plan.lines[3].node
    assert isinstance(node, Operator)
    carried = node.modifier("%^")
    assert carried is not None and [i.text for i in carried.items] == ["{sum}*-1"]


def test_s3_6_contradicting_carry_stays_ncd507() -> None:
    text = CARRY_ONLY.replace("%^({sum}<$({sum})*-1>)", "%^({sum}*-2)") + "        <* {sum}*-1\n"
    assert any(code == "NCD507" for _, code in _codes(text))


INLINE_ONLY = """:<:[all summaries]
    <= *. %>([pages]<$({page})*>) %<({summary}) %@(1)
        <= $. %>({summary})
        <- {summary}
            <= ::(summarize {1})
            <- {page}<:{1}>
    <- [pages]
        | %{literal_value}: ["p1", "p2"]
        | %{ref_axes}: [page]
"""


def test_e21_inline_element_as_sole_declaration_is_ncd917() -> None:
    codes = _without_executor_notes(_codes(INLINE_ONLY))
    assert codes == {(2, "NCD917")}


def test_e21_inline_element_with_matching_context_line_is_silent() -> None:
    text = INLINE_ONLY + "    <* {page}<$([pages])*>\n"
    assert _without_executor_notes(_codes(text)) == set()


# ---------------------------------------------------------------------------------------------------------------
# §3.7 functional type symbols as operations (NCD129)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "rewrite"),
    [
        ("<{the draft is complete}>", "::(the draft is complete)<ALL True>"),
        ("({sum the numbers})", "::(sum the numbers)"),
        ("<{ {1} is longer than {2} }>", "::({1} is longer than {2})<ALL True>"),
    ],
)
def test_s3_7_type_symbol_operation_is_ncd129_with_the_rewrite(payload: str, rewrite: str) -> None:
    text = f""":<:{{report}}
    <= ::(report {{1}})
    <- <flag><:{{1}}>
        <= {payload}
        <- {{draft}}
            | %{{literal_value}}: "d"
"""
    diagnostics = _diagnostics(text)
    assert [(d.line, d.column, d.code) for d in diagnostics if d.severity.value == "error"] == [(4, 12, "NCD129")]
    found = next(d for d in diagnostics if d.code == "NCD129")
    assert rewrite in found.message and rewrite in (found.help or "")


# ---------------------------------------------------------------------------------------------------------------
# §3.8 assertions
# ---------------------------------------------------------------------------------------------------------------


def _assertion(assertion: str):
    text = f""":<:<ok>
    <= ::(check {{1}}){assertion}
    <- [items]<:{{1}}>
        | %{{literal_value}}: [1]
        | %{{ref_axes}}: [item]
"""
    node = parse_plan(text).plan.lines[1].node
    return (node.assertion if node is not None else None), _codes(text)


@pytest.mark.parametrize(
    ("written", "quantifier", "condition"),
    [
        ("<EXISTS>", "exists", True),
        ("<ANY 0>", "some", 0),
        ("<ALL 1.5>", "all", 1.5),
        ("<ANY False>", "some", False),
        ("<true for each {item}>", "for-each", True),
        ("<False for each [items]>", "for-each", False),
        ("<{EXISTS}>", "exists", True),
        ("<ALL is True>", "all", True),
        ("<ALL is>", "all", True),  # E20: accepted by the §3.8 grammar (a missing condition is true)
    ],
)
def test_s3_8_assertion_forms_parse(written: str, quantifier: str, condition: object) -> None:
    assertion, codes = _assertion(written)
    assert assertion is not None
    assert assertion.clauses[0].quantifier == quantifier
    assert assertion.condition == condition and type(assertion.condition) is type(condition)
    assert not any(code == "NCD115" for _, code in codes)


def test_s3_8_number_condition_is_ncd943() -> None:
    _, codes = _assertion("<ANY 0>")
    assert (2, "NCD943") in codes


@pytest.mark.parametrize("written", ["<ALL 0 1>", "<True>", "<>", "<is True>"])
def test_e20_malformed_assertions_are_still_ncd115(written: str) -> None:
    _, codes = _assertion(written)
    assert (2, "NCD115") in codes


# ---------------------------------------------------------------------------------------------------------------
# §3.10 `$-` with `%<` / `%@` / no `%>`
# ---------------------------------------------------------------------------------------------------------------


def test_s3_10_selection_target_form_compiles_to_the_preferred_form() -> None:
    text = """:<:{answer}
    <= ::(use {1})
    <- {chosen}<:{1}>
        <= $- %<({chosen}) %@(1)
        <- [candidates]
            | %{literal_value}: ["a", "b", "c"]
            | %{ref_axes}: [candidate]
"""
    codes = _without_executor_notes(_codes(text))
    assert codes == {(4, "NCD917")}
    compiled = compile_plan(text, "p.ncd")
    selection = next(i for i in compiled.inferences if i["function_concept"].startswith("$-"))
    assert selection["function_concept"] == "$- %>([candidates]) %^(<$*1>)"
    assert selection["working_interpretation"]["syntax"]["selector"] == {"index": 1}
    assert selection["working_interpretation"]["syntax"]["assign_source"] == "[candidates]"


def test_s3_10_selection_index_alone_keeps_the_source() -> None:
    text = """:<:{first}
    <= $- %>([xs]) %@(0)
    <- [xs]
        | %{literal_value}: ["a"]
"""
    assert _codes(text) == {(2, "NCD917")}


def test_s3_10_selection_without_source_and_two_children_is_ncd212() -> None:
    text = """:<:{first}
    <= $- %@(0)
    <- [xs]
        | %{literal_value}: ["a"]
    <- [ys]
        | %{literal_value}: ["b"]
"""
    assert any(code == "NCD212" for _, code in _codes(text))


# ---------------------------------------------------------------------------------------------------------------
# §3.13 inline comments (E23)
# ---------------------------------------------------------------------------------------------------------------


def test_s3_13_inline_comments_end_the_payload_and_annotation_values() -> None:
    text = """:<:{output}   # the result
    <= ::(compute {1}) // the step | %{norm_input}: not read
    <- {input}<:{1}>
        | %{literal_value}: "x # not a comment"
        | %{location_string}: http://h/x # where it is
"""
    plan = parse_plan(text).plan
    assert plan.lines[0].payload == "{output}"
    assert plan.lines[1].payload == "::(compute {1})" and plan.lines[1].annotation("norm_input") is None
    assert plan.lines[2].annotation("literal_value").value == '"x # not a comment"'
    assert plan.lines[2].annotation("location_string").value == "http://h/x"
    assert not any(code.startswith("NCD1") for _, code in _codes(text))


@pytest.mark.parametrize(
    "line",
    [
        "    <= &[#] %>[{a}, {b}]",
        "    <= $- %>([xs]) %^(<$*#>)",
        "    <= ::(count #1 and #2)",
        "    <= ::(see {1}#anchor)",
    ],
)
def test_e23_hash_without_space_after_is_data(line: str) -> None:
    payload = line.strip()[3:]
    plan = parse_plan(f":<:{{x}}\n{line}\n").plan
    assert plan.lines[1].payload == payload


def test_e23_hash_inside_angle_brackets_is_data() -> None:
    plan = parse_plan(":<:{x}\n    <= ::(f {1})\n    <- <issue # 42 is closed><:{1}>\n").plan
    assert plan.lines[2].payload == "<issue # 42 is closed><:{1}>"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abc xyz", min_size=1, max_size=20).filter(lambda s: s.strip() == s and s))
def test_s3_13_any_trailing_comment_is_dropped(comment: str) -> None:
    base = ":<:{out}\n    <= ::(step)\n"
    with_comment = f":<:{{out}} # {comment}\n    <= ::(step) // {comment}\n"
    assert parse_plan(with_comment).plan.lines[0].payload == parse_plan(base).plan.lines[0].payload
    assert _codes(with_comment) == _codes(base)


# ---------------------------------------------------------------------------------------------------------------
# §3.15 drafts
# ---------------------------------------------------------------------------------------------------------------


def test_s3_15_ncds_file_is_one_ncd113(tmp_path: Path) -> None:
    draft = tmp_path / "plan.ncds"
    draft.write_text((FEATURES / "f34_ncds_draft.ncd").read_text(encoding="utf-8"), encoding="utf-8")
    returncode, found, diagnostics = _cli_check(draft)
    assert returncode == 1 and found == {(1, "NCD113")}
    assert diagnostics[0]["column"] == 1 and ".ncds" in diagnostics[0]["message"]


def test_s3_15_directories_never_yield_ncds(tmp_path: Path) -> None:
    (tmp_path / "a.ncds").write_text("<- x\n", encoding="utf-8")
    (tmp_path / "b.ncd").write_text(':<:{x}\n    <= $. %>({y})\n    <- {y}\n        | %{literal_value}: 1\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "ncdc", "check", "--format", "json", str(tmp_path)],
        env=_env(), capture_output=True, text=True, timeout=120,
    )
    paths = {d["path"] for d in json.loads(done.stdout)["diagnostics"]}
    assert not any(p.endswith(".ncds") for p in paths)
    assert done.returncode == 0


def test_s3_15_prose_operation_is_ncd113_not_ncd111() -> None:
    text = ":<:{summary}\n    <= summarize the notes\n    <- {notes}\n"
    assert _codes(text) == {(2, "NCD113")}


# ---------------------------------------------------------------------------------------------------------------
# §3.16 `:agent:{text}` without a body
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("agent", "text"), [(":reviewer_agent:", "review code"), ("::", "summarize it")])
def test_s3_16_brace_body_keeps_ncd111_with_the_rewrite(agent: str, text: str) -> None:
    plan = f":<:{{review}}\n    <= {agent}{{{text}}}\n    <- {{code}}\n        | %{{literal_value}}: 1\n"
    diagnostics = [d for d in _diagnostics(plan) if d.code == "NCD111"]
    assert len(diagnostics) == 1
    assert f"`{agent}({text})`" in (diagnostics[0].help or "")
    assert diagnostics[0].column == 8 + len(agent)


# ---------------------------------------------------------------------------------------------------------------
# §6.1 root without a marker
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", ["{updated list}", "[all items]", "<it is done>", "({wrapped})"])
def test_s6_1_unmarked_root_is_ncd920(root: str) -> None:
    text = f"""{root}
    <= $. %>({{value}})
    <- {{value}}
        | %{{literal_value}}: 1
"""
    assert _codes(text) == {(1, "NCD920")}
    plan = parse_plan(text).plan
    assert plan.lines[0].marker.value == ":<:"


def test_s6_1_e24_comments_and_annotations_may_precede_the_function_line() -> None:
    text = "{total}\n/: the total\n    <= $. %>({value})\n    <- {value}\n        | %{literal_value}: 1\n"
    assert _codes(text) == {(1, "NCD920")}


@pytest.mark.parametrize(
    "text",
    [
        "{total}\n    <- {value}\n",  # next concept line is not `<=`
        "{total}\n        <= $. %>({value})\n",  # two levels deeper
        "  {total}\n    <= $. %>({value})\n",  # not column 1
        "some prose\n    <= $. %>({value})\n",  # not concept-looking
    ],
)
def test_s6_1_other_unmarked_lines_stay_informal(text: str) -> None:
    assert (1, "NCD920") not in _codes(text)


# ---------------------------------------------------------------------------------------------------------------
# §6.3 bare timing with a `<*` condition
# ---------------------------------------------------------------------------------------------------------------


def test_s6_3_bare_timing_takes_the_context_condition() -> None:
    text = """:<:{result}
    <= ::(finish {1})
        <= @:'
        <* <ready>
    <- {draft}<:{1}>
        | %{literal_value}: "d"
    <- <ready>
        | %{literal_value}: true
"""
    plan = parse_plan(text).plan
    gate = plan.lines[2].node
    assert isinstance(gate, Operator) and gate.text == "@:'(<ready>)"
    assert not any(d.severity.value == "error" for d in _diagnostics(text))


def test_s6_3_bare_timing_without_condition_is_ncd212() -> None:
    text = ":<:{result}\n    <= ::(finish)\n        <= @:!\n"
    assert (3, "NCD212") in _codes(text)


# ---------------------------------------------------------------------------------------------------------------
# §6.4 `<$={N}>` (E4)
# ---------------------------------------------------------------------------------------------------------------


def test_s6_4_identifier_alias_is_the_identification_marker() -> None:
    text = """:<:{merged}
    <= ::(merge {1} and {2})
    <- {part}<$={1}><:{1}>
        | %{literal_value}: "a"
    <- {part}<$={2}><:{2}>
        | %{literal_value}: "b"
"""
    codes = _without_executor_notes(_codes(text))
    assert codes == {(3, "NCD917"), (5, "NCD917")}
    plan = parse_plan(text).plan
    names = [line.concept.canonical_name for line in plan.lines[2:] if isinstance(line.node, ConceptRef)]
    assert names == ["{part}<$({1})=>", "{part}<$({2})=>"]
    assert all(isinstance(line.node.suffixes[0], IdentificationMarker) for line in plan.lines[2:])


@pytest.mark.parametrize("tag", ["<$=>", "<${_}=>", "<$={#}>", "<$={x}>"])
def test_e4_other_equals_tags_stay_ncd128(tag: str) -> None:
    text = f":<:{{merged}}\n    <= ::(merge {{1}})\n    <- {{part}}{tag}<:{{1}}>\n"
    assert (3, "NCD128") in _codes(text)


# ---------------------------------------------------------------------------------------------------------------
# §3.9 axis-list arguments
# ---------------------------------------------------------------------------------------------------------------


def _syntax(text: str) -> list[dict]:
    compiled = compile_plan(text, "p.ncd")
    assert compiled.ok, [(d.line, d.code, d.message) for d in compiled.check.diagnostics]
    return [i["working_interpretation"].get("syntax") for i in compiled.inferences]


def test_s3_9_parenthesised_braced_axis_list_is_the_plain_list() -> None:
    text = (FEATURES / "h11.ncd").read_text(encoding="utf-8")
    assert _syntax(text)[0]["axis_names"] == ["row", "column"]
    assert _codes(text) == set()


def test_s3_9_grouping_per_source_parenthesised_axes() -> None:
    text = """:<:[people]
    <= &[#] %>[{class one}, {class two}] %:[({class 1 members}), ({class 2 members})] %+(person)
    <- {class one}
        | %{literal_value}: ["ann"]
        | %{ref_axes}: [class 1 members]
    <- {class two}
        | %{literal_value}: ["bob"]
        | %{ref_axes}: [class 2 members]
"""
    assert _syntax(text)[0]["by_axes"] == [["class 1 members"], ["class 2 members"]]


@pytest.mark.parametrize(
    "argument",
    ["%:([{a}, [b]])", "%:[a, (b)]", "%:[a, ]", "%:[row, {a}{b}]"],
)
def test_s3_9_other_axis_items_are_ncd117(argument: str) -> None:
    text = f":<:{{x}}\n    <= $% %>([[1, 2], [3, 4]]) {argument}\n"
    assert (2, "NCD117") in _codes(text)


def test_s5_more_axis_names_than_nesting_is_ncd117() -> None:
    assert _codes(":<:{x}\n    <= $% %>([1, 2]) %:[a, b]\n") == {(2, "NCD117")}
    assert _codes(":<:{x}\n    <= $% %>([1, 2]) %:[a]\n") == set()


# ---------------------------------------------------------------------------------------------------------------
# §3.11 timing as a value's function (E13)
# ---------------------------------------------------------------------------------------------------------------


def test_s3_11_timing_as_function_compiles_as_a_gated_selection() -> None:
    compiled = compile_plan((FEATURES / "f11_timing_as_function.ncd").read_text(encoding="utf-8"), "f11.ncd")
    assert compiled.ok
    by_index = {i["flow_info"]["flow_index"]: i for i in compiled.inferences}
    selection, gate = by_index["1"], by_index["1.1"]
    assert selection["inference_sequence"] == "assigning"
    assert selection["function_concept"] == "$. %>({final output}) %<[{validated output}]"
    assert gate["inference_sequence"] == "timing"
    assert gate["concept_to_infer"] == selection["function_concept"]
    assert gate["function_concept"] == "@:'(<validation passed>)"


def test_s3_11_e13_two_gated_selections_get_distinct_function_texts() -> None:
    text = """:<:{report}
    <= ::(report {1} and {2})
    <- {a}<:{1}>
        <= @:'(<c1>)
        <- {v}
            | %{literal_value}: "v"
        <- <c1>
            | %{literal_value}: true
    <- {b}<:{2}>
        <= @:!(<c2>)
        <- {v}
        <- <c2>
            | %{literal_value}: false
"""
    diagnostics = _diagnostics(text)
    assert sorted((d.line, d.code) for d in diagnostics if d.code == "NCD928") == [(4, "NCD928"), (10, "NCD928")]
    assert not any(d.severity.value == "error" for d in diagnostics), [(d.line, d.code) for d in diagnostics]
    compiled = compile_plan(text, "p.ncd")
    functions = {i["function_concept"] for i in compiled.inferences if i["inference_sequence"] == "assigning"}
    assert functions == {"$. %>({a}) %<[{v}]", "$. %>({b}) %<[{v}]"}


def test_s3_11_timing_as_function_inside_a_loop_body() -> None:
    text = """:<:[kept]
    <= *. %>([drafts]) %<({kept draft}) %:({draft}) %@(1)
        <= $. %>({kept draft})
        <- {kept draft}
            <= @:'(<draft is good>)
            <- {draft}*1
            <- <draft is good>
                <= ::(is {1} good)<ALL True>
                    | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Boolean
                    | %{body_faculty}: llm
                <- {draft}*1<:{1}>
    <- [drafts]
        | %{literal_value}: ["a", "b"]
        | %{ref_axes}: [draft]
    <* {draft}<$([drafts])*>
"""
    codes = _codes(text)
    assert (5, "NCD928") in codes
    assert not any(d.severity.value == "error" for d in _diagnostics(text))
    compiled = compile_plan(text, "p.ncd")
    assert "$. %>({kept draft}) %<[{draft}*1]" in {i["function_concept"] for i in compiled.inferences}


# ---------------------------------------------------------------------------------------------------------------
# §3.14 script paradigms call `main`
# ---------------------------------------------------------------------------------------------------------------


def test_s3_14_script_paradigm_binds_main() -> None:
    compiled = compile_plan((FEATURES / "f35_py_main_default.ncd").read_text(encoding="utf-8"), "f35.ncd")
    assert compiled.ok
    (inference,) = compiled.inferences
    assert inference["working_interpretation"]["python_binding"] == {"path": "scripts/ta.py", "function": "main"}


def test_s3_14_explicit_function_name_wins_and_other_paradigms_give_no_binding() -> None:
    base = (FEATURES / "f35_py_main_default.ncd").read_text(encoding="utf-8")
    named = base.replace("| %{v_input_provision}: scripts/ta.py", "| %{v_input_provision}: scripts/ta.py\n        | %{v_function_name}: run")
    (inference,) = compile_plan(named, "p.ncd").inferences
    assert inference["working_interpretation"]["python_binding"]["function"] == "run"
    other = base.replace("c_Execute", "c_GenerateThinkJson").replace("v_Script", "v_PromptLocation")
    compiled = compile_plan(other, "p.ncd")
    assert all("python_binding" not in i["working_interpretation"] for i in compiled.inferences or [])


# ---------------------------------------------------------------------------------------------------------------
# §6.2 output placement (E15)
# ---------------------------------------------------------------------------------------------------------------

PLACEMENT = """:<:{result}
    <= ::(sum {1} and {2} to get {3})
    <- {a}<:{1}>
        | %{literal_value}: 1
    <- {b}<:{2}>
        | %{literal_value}: 2
    <- {result}<:{3}>
"""


def test_s6_2_output_placement_is_not_an_input() -> None:
    assert _without_executor_notes(_codes(PLACEMENT)) == set()
    compiled = compile_plan(PLACEMENT, "p.ncd")
    (inference,) = compiled.inferences
    assert inference["value_concepts"] == ["{a}", "{b}"]
    assert inference["working_interpretation"]["output_placeholder"] == 3
    assert "{result}" not in inference["working_interpretation"]["value_order"]


def test_s6_2_nested_output_placement_in_the_middle_slot() -> None:
    text = """:<:{report}
    <= ::(report {1})
    <- {total}<:{1}>
        <= ::(add {1} into {2} with {3})
        <- {x}<:{1}>
            | %{literal_value}: 1
        <- {total}<:{2}>
        <- {y}<:{3}>
            | %{literal_value}: 2
"""
    assert not any(d.severity.value == "error" for d in _diagnostics(text))
    compiled = compile_plan(text, "p.ncd")
    adder = next(i for i in compiled.inferences if i["concept_to_infer"] == "{total}")
    assert adder["value_concepts"] == ["{x}", "{y}"]
    assert adder["working_interpretation"]["output_placeholder"] == 2


def test_s6_2_without_placement_no_output_placeholder_key() -> None:
    text = PLACEMENT.replace(" to get {3}", "").replace("    <- {result}<:{3}>\n", "")
    (inference,) = compile_plan(text, "p.ncd").inferences
    assert "output_placeholder" not in inference["working_interpretation"]


GATED_VALUE = """:<:{final output}
    <= @:'(<validation passed>)
    <- {validated output}
        <= ::(validate the output {1})
            | %{python}: b.py:validate
        <- {draft output}<:{1}>
            | %{literal_value}: "d"
    <- <validation passed>
        <= ::(check {1})<ALL True>
            | %{python}: b.py:check
        <- {draft output}<:{1}>
"""


@pytest.mark.parametrize(("passes", "expected"), [(True, '["validated d"]'), (False, '[{"$ncd": "skip"}]')])
def test_s3_11_run_selects_the_candidate_or_skips(tmp_path: Path, passes: bool, expected: str) -> None:
    (tmp_path / "b.py").write_text(
        f"def validate(d):\n    return 'validated ' + d\n\n\ndef check(d):\n    return {passes}\n", encoding="utf-8"
    )
    (tmp_path / "p.ncd").write_text(GATED_VALUE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "run", "p.ncd"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "completed" in output
    assert f"{{final output}} = {expected}" in output


def test_s3_9_angle_bracketed_axis_name_is_a_name() -> None:
    text = """:<:{status}
    <= $- %>([<signal status>]) %^(<$*#>) %:(<signal status>)
    <- [<signal status>]
        | %{literal_value}: ["up", "down"]
        | %{ref_axes}: [signal status]
"""
    assert not any(code == "NCD117" for _, code in _codes(text))


def test_s3_9_e24_protection_inside_colon_names_the_axis_and_protects() -> None:
    """f05 (not derivable from §3.9 alone; E24 decides): `{input type}<$!{%(class)}>` in `%:` is the axis
    `input type` with `%(class)` protected. The `<*` lines stay unused context concepts (NCD925, NCD931)."""
    path = FEATURES / "f05_group_protect_in_colon.ncd"
    returncode, found, _ = _cli_check(path)
    assert returncode == 0
    assert found == {(7, "NCD925"), (7, "NCD931"), (8, "NCD925"), (8, "NCD931")}
    (syntax,) = _syntax(path.read_text(encoding="utf-8"))
    assert syntax["by_axes"] == [["input type"], ["input type"]]
    assert syntax["protect_axes"] == ["%(class)"]


# ---------------------------------------------------------------------------------------------------------------
# Variants at other depths / inside loops (§3.1, §3.2, §3.13)
# ---------------------------------------------------------------------------------------------------------------


def test_s3_2_bare_grouping_nested_groups_its_children_in_order() -> None:
    text = """:<:{answer}
    <= ::(answer using {1})
        | %{python}: a.py:answer
    <- {context bundle}<:{1}>
        <= &[{}]
        <- {zeta}
            | %{literal_value}: "z"
        <- {alpha}
            | %{literal_value}: "a"
        <- {mid}
            | %{literal_value}: "m"
"""
    assert not any(d.severity.value == "error" for d in _diagnostics(text))
    grouping = next(s for s in _syntax(text) if s and s.get("marker") == "in")
    assert grouping["sources"] == ["{zeta}", "{alpha}", "{mid}"]


def test_s3_1_bare_specification_inside_a_loop_body() -> None:
    text = """:<:[answers]
    <= *. %>([questions]) %<({answer}) %:({question}) %@(1)
        <= $. %>({answer})
        <- {answer}
            <= $.
            <- {question}*1
    <- [questions]
        | %{literal_value}: ["q1", "q2"]
        | %{ref_axes}: [question]
    <* {question}<$([questions])*>
"""
    assert not any(d.severity.value == "error" for d in _diagnostics(text)), [(d.line, d.code) for d in _diagnostics(text)]


def test_s3_13_comment_after_a_loop_modifier_and_an_annotation() -> None:
    text = """:<:[all totals]   // every total
    <= *. %>([numbers]) %<({total}) %:({number}) %@(1)   # the loop
        <= $. %>({total})
        <- {total}
            <= $. %>({number}*1)
    <- [numbers]
        | %{literal_value}: [1, 2]
        | %{ref_axes}: [number]   # one axis
    <* {number}<$([numbers])*>
"""
    plan = parse_plan(text).plan
    assert plan.lines[1].payload == "*. %>([numbers]) %<({total}) %:({number}) %@(1)"
    assert plan.lines[5].annotation("ref_axes").value == "[number]"
    assert not any(d.severity.value == "error" for d in _diagnostics(text))


@pytest.mark.parametrize(
    "payload",
    ["$- %>([xs]) %<({other})", "$- %>([xs]) %@(0) %^(<$*1>)", "$- %>([xs]) %@(first)"],
)
def test_s3_10_selection_forms_not_accepted_stay_ncd212(payload: str) -> None:
    text = f""":<:{{first}}
    <= {payload}
    <- [xs]
        | %{{literal_value}}: ["a"]
"""
    codes = _codes(text)
    assert (2, "NCD212") in codes or (2, "NCD117") in codes, codes
    assert not any(code == "NCD917" for _, code in codes)


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet="abcdefgh xyz", min_size=1, max_size=12).map(str.strip).filter(bool),
    st.integers(min_value=0, max_value=999),
)
def test_s6_4_alias_and_preferred_marker_name_the_same_concept(name: str, number: int) -> None:
    alias = parse_plan(f":<:{{{name}}}<$={{{number}}}>\n").plan.lines[0].concept
    preferred = parse_plan(f":<:{{{name}}}<$({{{number}}})=>\n").plan.lines[0].concept
    assert alias is not None and preferred is not None
    assert alias.canonical_name == preferred.canonical_name


@pytest.mark.parametrize("plan", ["f11_timing_as_function", "f19_selection_target", "f33_plus_dest_target_swapped"])
def test_rewritten_plans_compile_deterministically(plan: str) -> None:
    text = (FEATURES / f"{plan}.ncd").read_text(encoding="utf-8")
    first, second = compile_plan(text, "p.ncd"), compile_plan(text, "p.ncd")
    assert first.ok and first.files("p.ncd") == second.files("p.ncd")


def test_s3_6_synthetic_carry_line_keeps_written_flow_indices() -> None:
    declared = CARRY_ONLY + "        <* {sum}*-1\n"
    ours = parse_plan(CARRY_ONLY).plan.lines
    theirs = parse_plan(declared).plan.lines
    assert [(line.flow_index, line.payload) for line in ours] == [(line.flow_index, line.payload) for line in theirs]


def test_s6_2_e15_instruction_renders_the_result_placeholder() -> None:
    from types import SimpleNamespace

    from runtime.executors.prompts import instruction_text

    compiled = compile_plan(PLACEMENT, "p.ncd")
    (inference,) = compiled.inferences
    plan = SimpleNamespace(concepts={c["concept_name"]: c for c in compiled.concepts})
    assert instruction_text(plan, inference) == "sum [input 1] and [input 2] to get [result]"


@pytest.mark.parametrize(("function", "code", "expected"), [("main", 0, '{indicators} = [{"n": 2}]'), ("run", 2, "no function 'main'")])
def test_s3_14_run_calls_main_or_refuses_naming_it(tmp_path: Path, function: str, code: int, expected: str) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "ta.py").write_text(f"def {function}(d):\n    return {{'n': len(d['prices'])}}\n", encoding="utf-8")
    (tmp_path / "p.ncd").write_text((FEATURES / "f35_py_main_default.ncd").read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "run", "p.ncd"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == code, done.stderr
    assert expected in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("line", "payload"),
    [
        ("    <- {x}<$({y})%> # note", "{x}<$({y})%>"),
        ("    <- {x}<$({y})=><:{1}> // note", "{x}<$({y})=><:{1}>"),
        ("    <= $+ %>({a}) %<({b}) %:(item) # append", "$+ %>({a}) %<({b}) %:(item)"),
    ],
)
def test_s3_13_comment_after_angle_suffixes_and_modifiers(line: str, payload: str) -> None:
    plan = parse_plan(f":<:{{x}}\n    <= ::(f {{1}})\n{line}\n").plan
    assert plan.lines[2].payload == payload


def test_s3_3_spec_swapped_example_is_exactly_ncd917() -> None:
    text = """:<:{result}
    <= $+ %<({result}) %>({new item}) %:({items})
    <- {result}
        | %{literal_value}: []
    <- {new item}
        | %{literal_value}: "x"
"""
    assert _codes(text) == {(2, "NCD917")}


def test_s3_1_b072_style_candidates_are_the_four_children() -> None:
    children = "".join(f"    <- {{part {n}}}\n        | %{{literal_value}}: \"{n}\"\n" for n in "abcd")
    text = ":<:{final answer}\n    <= $. %<({final answer})\n" + children
    assert (2, "NCD917") in _codes(text)
    (syntax,) = _syntax(text)
    assert syntax["assign_source"] == ["{part a}", "{part b}", "{part c}", "{part d}"]
