"""Every parser-layer diagnostic (NCD1xx, NCD2xx, NCD91x, NCD92x, NCD99x) with a bad example, and clean twins."""

from __future__ import annotations

import textwrap

import pytest

from conftest import parser_codes_at as codes_at

GOOD = """\
:<:{reply}
    <= $. %>({reply})
    <- {drafted reply}
        <= ::(draft a reply to {1})
            | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal
            | %{body_faculty}: llm
            <= @:!(<ticket is spam>)
            <* <ticket is spam>
        <- {ticket text}<:{1}>
    <- <ticket is spam>
        <= ::(check whether {1} is spam)<ALL True>
            | %{python}: checks/spam.py:is_spam
        <- {ticket text}<:{1}>
    <- {ticket text}
        | %{file_location}: data/ticket.txt
"""

# (name, plan, code, line)
BAD = [
    ("tab", ":<:{a}\n\t<= ::(f)\n", "NCD101", 2),
    ("odd indent", ":<:{a}\n      <= ::(f)\n", "NCD102", 2),
    ("depth jump", ":<:{a}\n    <= ::(f {1})\n    <- {b}<:{1}>\n            <- {c}\n", "NCD103", 4),
    ("first not col 1", "    :<:{a}\n", "NCD104", 1),
    ("informal", ":<:{a}\n    <= ::(f)\nsome prose here\n", "NCD110", 3),
    ("syntax", ":<:{a}\n    <= ::(compose {1}<$({input})%>)>\n", "NCD111", 2),
    ("modifier without space rule", ":<:{a}\n    <= $. %>({a}) junk\n", "NCD111", 2),
    ("unbalanced", ":<:{a}\n    <= ::(f {1})\n    <- [\n        <x>,\n    ]\n", "NCD112", 3),
    ("draft line", ":<:{a}\n    <= ::(f)\n    <^ something\n", "NCD113", 3),
    ("draft payload", ":<:{a}\n    <= ::(f {1})\n    <- current draft content<:{1}>\n", "NCD113", 3),
    ("action as value", ":<:{a}\n    <= ::(f {1})\n    <- ::(summarize the notes)\n", "NCD114", 3),
    ("bad assertion", ":<:<a>\n    <= ::(check {1})<EVERY Yes maybe>\n", "NCD115", 2),
    ("bad python", ":<:{a}\n    <= ::(f)\n        | %{python}: checks/spam.py\n", "NCD116", 3),
    ("escaping python", ":<:{a}\n    <= ::(f)\n        | %{python}: ../x.py:f\n", "NCD116", 3),
    ("empty paradigm", ":<:{a}\n    <= ::(f)\n        | %{norm_input}: (none — pure assertion)\n", "NCD116", 3),
    ("bad flow index", ":<:{a} | ?{flow_index}: 1.x\n    <= ::(f)\n", "NCD116", 1),
    ("bad boolean", ":<:{a}\n    <= ::(f)\n    <- {b}\n        | %{is_ground}: maybe\n", "NCD116", 4),
    ("bad loop_config", ":<:{a}\n    <= ::(f)\n        | %{loop_config}: start_sometimes\n", "NCD116", 3),
    ("bad ncdc value", ":<:{a}\n    <= ::(f) | ?{ncdc}: skip[NCD913]\n", "NCD116", 2),
    ("bad %@", ":<:[a]\n    <= *. %>([b]) %<({r}) %:({x}) %@(zero)\n", "NCD117", 2),
    ("list where one concept", ":<:{a}\n    <= $. %>[{a}, {b}]\n", "NCD117", 2),
    ("bad %-", ":<:{a}\n    <= &[#] %>[{a}, {b}] %-[x]\n", "NCD117", 2),
    ("legacy tail", ":<:{a} | 1. assigning\n    <= $. %>({a})\n", "NCD120", 1),
    ("legacy trailing index", ":<:({a}) 1. assignment\n    <= $. %>({a})\n", "NCD120", 1),
    ("call assign", ":<:{a}\n    <= $.({x})\n", "NCD121", 2),
    ("legacy group", ":<:{a}\n    <= &across\n", "NCD122", 2),
    ("legacy timing", ":<:{a}\n    <= ::(f)\n        <= @if(<c>)\n", "NCD123", 3),
    ("legacy loop", ":<:{a}\n    <= *every([drafts])\n", "NCD124", 2),
    ("angle body", ":<:<a>\n    <= ::<{draft} is complete>\n", "NCD125", 2),
    ("norm in braces", ":<:{a}\n    <= ::{%(direct)}(translate {1})\n", "NCD126", 2),
    ("input-norm agent", ":<:{a}\n    <= :%>(Composition):{paradigm}()\n", "NCD127", 2),
    ("query suffix", ":<:{a}\n    <= ::(f {1})\n    <- {sum}?<:{1}>\n", "NCD128", 3),
    ("named binding", ":<:{a}\n    <= ::(f)\n    <- {addition}<:{script}>\n", "NCD128", 3),
    ("rest placeholder", ":<:{a}\n    <= ::(f {1}; {2+})\n", "NCD128", 2),
    ("legacy instance", ":<:{a}\n    <= ::(add {1}<$({n})%_>)\n", "NCD128", 2),
    ("unimplemented", ":<:{a}\n    <= @while(<c>)\n", "NCD130", 2),
    ("empty", "", "NCD201", 1),
    ("comments only", "/: nothing here\n", "NCD201", 1),
    ("two roots", ":<:{a}\n    <= ::(f)\n:<:{b}\n    <= ::(g)\n", "NCD202", 3),
    ("function without parent", "<= ::(f)\n", "NCD203", 1),
    ("nested root marker", ":<:{a}\n    <= ::(f {1})\n    :<:{b}<:{1}>\n", "NCD203", 3),
    ("no function", ":<:{a}\n    <- {b}\n", "NCD204", 1),
    ("two functions", ":<:{a}\n    <= ::(f)\n    <= ::(g)\n", "NCD205", 3),
    ("function not first", ":<:{a}\n    <- {b}<:{1}>\n    <= ::(f {1})\n", "NCD206", 3),
    ("unexpected children", ":<:{a}\n    <= $. %>({b})\n        <- {b}\n", "NCD208", 2),
    ("missing modifier", ":<:[messages]\n    <= $+ %>([messages])\n", "NCD212", 2),
    ("duplicate modifier", ":<:{a}\n    <= $. %>({a}) %>({b})\n", "NCD212", 2),
    ("modifier not allowed", ":<:{a}\n    <= $= %>({b}) %@(1)\n", "NCD212", 2),
    ("continuation", ":<:{a}\n    <= ::(f)\n        | %{v_input_provision}: a.md,\n        |      b.md\n", "NCD910", 4),
    ("annotation not deeper", ":<:{a}\n    <= ::(f)\n| %{body_faculty}: llm\n", "NCD911", 3),
    ("duplicate key", ":<:{a}\n    <= ::(f)\n        | %{body_faculty}: llm\n        | %{body_faculty}: file_system\n", "NCD912", 4),
    ("wrong sigil", ":<:{a}\n    <= $. %>({a})\n        | %{sequence}: assigning\n", "NCD913", 3),
    ("unknown key", ":<:{a}\n    <= ::(f)\n        | %{colour}: blue\n", "NCD914", 3),
    ("paradigm alias", ":<:{a}\n    <= ::(f)\n        | %{paradigm}: h_Data-c_PassThrough-o_Normal\n", "NCD915", 3),
    ("two provisions", ":<:{a}\n    <= ::(f)\n        | %{v_input_provision}: a.md, b.py\n", "NCD916", 3),
    ("root with <-", "<- {a}\n    <= ::(f)\n", "NCD920", 1),
    ("explicit index", ":<:{a} | ?{flow_index}: 1\n    <= ::(f {1}) | ?{flow_index}: 1.1\n    <- {b}<:{1}> | ?{flow_index}: 1.3\n", "NCD921", 3),
    ("sequence tag", ":<:{a} | ?{sequence}: grouping\n    <= $. %>({a})\n", "NCD922", 1),
    ("unused suppression", ":<:{a}\n    <= ::(f) | ?{ncdc}: ignore[NCD913]\n", "NCD990", 2),
    ("error suppression", ":<:{a}\n    <= ::(f) | ?{ncdc}: ignore[NCD111]\n", "NCD991", 2),
]


@pytest.mark.parametrize("name, plan, code, line", BAD, ids=[b[0] for b in BAD])
def test_bad_example_reports_code_at_line(name: str, plan: str, code: str, line: int) -> None:
    found = codes_at(plan)
    assert (line, code) in found, found


def test_invalid_utf8_is_ncd105() -> None:
    from ncdc.checker import check

    result = check(b":<:{a}\n    <= ::(f \xff)\n", "plan.ncd")
    assert [(d.line, d.column, d.code) for d in result.diagnostics if d.code.startswith("NCD1")] == [(2, 13, "NCD105")]


def test_clean_plan_has_no_parser_diagnostics() -> None:
    assert codes_at(GOOD) == []


def test_crlf_and_bom_are_accepted() -> None:
    assert codes_at("\ufeff" + GOOD.replace("\n", "\r\n")) == []


def test_one_diagnostic_per_legacy_family_but_every_family() -> None:
    found = codes_at(":<:{a}\n    <= ::{%(python)}<{script}: {1}> | 1.1. timing\n")
    assert sorted(found) == [(2, "NCD120"), (2, "NCD125")]


def test_failed_line_does_not_cascade() -> None:
    plan = textwrap.dedent(
        """\
        :<:{a}
            <= ::(compose {1}<$({input})%>)>
            <- {b}<:{1}>
        """
    )
    assert codes_at(plan) == [(2, "NCD111")]


def test_suppression_on_the_owning_line_and_file() -> None:
    line_level = ":<:{a}\n    <= $. %>({a})\n        | %{sequence}: assigning\n        | ?{ncdc}: ignore[NCD913]\n"
    assert codes_at(line_level) == []
    file_level = "| ?{ncdc}: ignore-file[NCD91]\n:<:{a}\n    <= $. %>({a})\n        | %{sequence}: assigning\n"
    assert codes_at(file_level) == []


def test_syntax_error_lists_expected_tokens() -> None:
    from ncdc.checker import check

    (diagnostic,) = [d for d in check(":<:{a}\n    <= ::(compose {1}<$({input})%>)>\n").diagnostics if d.code == "NCD111"]
    assert diagnostic.code == "NCD111"
    assert diagnostic.column == 36
    assert "unexpected `>`" in diagnostic.message and "expected" in diagnostic.message


def test_legacy_messages_name_the_current_equivalent() -> None:
    from ncdc.checker import check

    expectations = {
        "    <= $.({x})": "$. %>(",
        "    <= &across": "&[#]",
        "    <= @if(<c>)": "@:'(<c>)",
        "    <= *every([d])": "*. %>(",
        "    <= ::<{x} is y>": "::(text)<ALL True>",
        "    <= ::{%(direct)}(f)": "%{norm_input}",
        "    <= :%>(Composition):{p}()": ":%(Name):",
    }
    for line, current in expectations.items():
        (diagnostic,) = [d for d in check(":<:{a}\n" + line + "\n").diagnostics if d.code.startswith("NCD12")]
        assert current in diagnostic.message, (line, diagnostic.message)


def test_collapse_lists_of_a_grouping_are_accepted() -> None:
    """`%-[[x], []]` items are relation-shaped; the operator checks read their text without crashing."""
    found = codes_at(":<:{a}\n    <= &[#] %>[{b}, {c}] %-[[x], []]\n    <- {b}\n    <- {c}\n")
    assert not [code for _, code in found if code in ("NCD117", "NCD212")]
