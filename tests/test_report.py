"""Tests of the diagnostic output formats (CHECKS.md §1.3–§1.4)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncdc.diagnostics import Diagnostic, Related
from ncdc.report import FORMATS, render, summary_line
from ncdc.report.github import escape_data, escape_property
from ncdc.rules import RULES
from ncdc.severity import Severity

PATH = "plans/triage.ncd"
SOURCE = [
    ":<:{plan}",
    "    <= $. %>({draft})",
    "    <- {draft}",
]

ERR = Diagnostic(
    PATH, 2, 14, 2, 21, "NCD301",
    "operand {draft} of `$.` is not declared as a sibling line",
    help="add `<- {draft}` as a child of the line that `$.` belongs to, or select a declared concept",
)
WARN = Diagnostic(PATH, 1, 1, 1, 4, "NCD921", "explicit flow index differs",
                  related=(Related("other.ncd", 7, 5, "first declared here"),))
INFO = Diagnostic(PATH, 3, 5, 3, 7, "NCD910", "annotation continuation line joined")


# --- text -------------------------------------------------------------------------------------------------

def test_text_sorted_and_infos_hidden() -> None:
    out = render("text", [ERR, INFO, WARN], {})
    assert out == (
        "plans/triage.ncd:1:1: NCD921 explicit flow index differs\n"
        "plans/triage.ncd:2:14: NCD301 operand {draft} of `$.` is not declared as a sibling line\n"
    )


def test_text_show_info() -> None:
    out = render("text", [INFO, ERR], {}, show_info=True)
    assert out.splitlines()[-1] == "plans/triage.ncd:3:5: NCD910 annotation continuation line joined"
    assert out.count("\n") == 2


def test_text_empty() -> None:
    assert render("text", [], {}) == ""
    assert render("text", [INFO], {}) == ""
    assert render("full", [INFO], {}) == ""
    assert render("github", [INFO], {}) == ""


def test_sort_key_full_order() -> None:
    a = Diagnostic("a.ncd", 2, 1, 2, 2, "NCD921", "b")
    b = Diagnostic("a.ncd", 2, 1, 2, 2, "NCD921", "a")
    c = Diagnostic("a.ncd", 2, 1, 2, 2, "NCD301", "z")
    d = Diagnostic("a.ncd", 1, 9, 1, 10, "NCD921", "z")
    e = Diagnostic("B.ncd", 9, 9, 9, 10, "NCD921", "z")
    lines = render("text", [a, b, c, d, e], {}).splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "NCD921 z", "NCD921 z", "NCD301 z", "NCD921 a", "NCD921 b"]
    assert lines[0].startswith("B.ncd")  # plain string order: uppercase first


def test_unknown_format() -> None:
    with pytest.raises(ValueError):
        render("xml", [ERR], {})
    assert FORMATS == ("text", "full", "json", "sarif", "github")


# --- full -------------------------------------------------------------------------------------------------

def test_full_spec_example() -> None:
    out = render("full", [ERR], {PATH: SOURCE})
    assert out == (
        "plans/triage.ncd:2:14: NCD301 operand {draft} of `$.` is not declared as a sibling line\n"
        "  |\n"
        "2 |     <= $. %>({draft})\n"
        "  |              ^^^^^^^\n"
        "  = help: add `<- {draft}` as a child of the line that `$.` belongs to, or select a declared concept\n"
    )


def test_full_notes_blank_line_separation_and_missing_source() -> None:
    other = Diagnostic("missing.ncd", 1, 1, 1, 2, "NCD301", "no source", help="h")
    out = render("full", [ERR, WARN, other], {PATH: SOURCE})
    assert out == (
        "missing.ncd:1:1: NCD301 no source\n"
        "  = help: h\n"
        "\n"
        "plans/triage.ncd:1:1: NCD921 explicit flow index differs\n"
        "  |\n"
        "1 | :<:{plan}\n"
        "  | ^^^\n"
        "  = note: other.ncd:7:5: first declared here\n"
        "\n"
        "plans/triage.ncd:2:14: NCD301 operand {draft} of `$.` is not declared as a sibling line\n"
        "  |\n"
        "2 |     <= $. %>({draft})\n"
        "  |              ^^^^^^^\n"
        "  = help: add `<- {draft}` as a child of the line that `$.` belongs to, or select a declared concept\n"
    )


def test_full_unicode_multidigit_line() -> None:
    lines = [""] * 11 + ["    <- {café ☕ ünïcode}"]
    # code points: `{` at column 8; "café" is columns 9-12
    d = Diagnostic("u.ncd", 12, 9, 12, 13, "NCD301", "ünïcode ☕ message")
    out = render("full", [d], {"u.ncd": lines})
    assert out == (
        "u.ncd:12:9: NCD301 ünïcode ☕ message\n"
        "   |\n"
        "12 |     <- {café ☕ ünïcode}\n"
        "   |         ^^^^\n"
    )


def test_full_tabs_kept_and_aligned() -> None:
    d = Diagnostic("t.ncd", 1, 4, 1, 6, "NCD301", "tab")
    out = render("full", [d], {"t.ncd": ["\ta\tbc d"]})
    assert out.splitlines()[2:] == ["1 | \ta\tbc d", "  | \t \t^^"]


def test_full_multiline_range_and_min_caret() -> None:
    multi = Diagnostic("m.ncd", 1, 3, 4, 2, "NCD301", "multi")
    empty = Diagnostic("m.ncd", 2, 5, 2, 5, "NCD301", "empty range past end")
    out = render("full", [multi, empty], {"m.ncd": ["abcdef", "ab"]})
    blocks = out.split("\n\n")
    assert blocks[0].splitlines()[3] == "  |   ^^^^"
    assert blocks[1].splitlines()[2:] == ["2 | ab", "  |     ^"]


def test_full_show_info() -> None:
    out = render("full", [INFO], {PATH: SOURCE}, show_info=True)
    assert out.splitlines()[1:] == ["  |", "3 |     <- {draft}", "  |     ^^"]


# --- json -------------------------------------------------------------------------------------------------

def test_json_document() -> None:
    out = render("json", [ERR, INFO, WARN], {})
    assert out.endswith("}\n")
    doc = json.loads(out)
    assert list(doc) == ["version", "diagnostics", "summary"]
    assert doc["version"] == 1
    assert doc["summary"] == {"errors": 1, "warnings": 1, "infos": 1}
    assert [d["code"] for d in doc["diagnostics"]] == ["NCD921", "NCD301", "NCD910"]
    first = doc["diagnostics"][0]
    assert list(first) == ["path", "line", "column", "end_line", "end_column", "code", "severity",
                           "message", "help", "related"]
    assert first["help"] is None and first["severity"] == "warning"
    assert first["related"] == [{"path": "other.ncd", "line": 7, "column": 5, "message": "first declared here"}]
    assert list(first["related"][0]) == ["path", "line", "column", "message"]
    assert doc["diagnostics"][2]["related"] == [] and doc["diagnostics"][2]["severity"] == "info"


def test_json_unicode_kept() -> None:
    out = render("json", [Diagnostic("é.ncd", 1, 1, 1, 2, "NCD301", "☕")], {})
    assert "☕" in out and "é.ncd" in out


def test_json_empty() -> None:
    doc = json.loads(render("json", [], {}))
    assert doc == {"version": 1, "diagnostics": [], "summary": {"errors": 0, "warnings": 0, "infos": 0}}


# --- sarif ------------------------------------------------------------------------------------------------

def test_sarif_structure() -> None:
    path_win = Diagnostic("plans\\win.ncd", 1, 1, 1, 2, "NCD910", "info")
    doc = json.loads(render("sarif", [ERR, WARN, path_win], {}))
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) == 1
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ncdc" and isinstance(driver["version"], str)
    rules = driver["rules"]
    active = [code for code, r in RULES.items() if r.severity is not None]
    assert [r["id"] for r in rules] == active
    assert "NCD409" not in {r["id"] for r in rules}
    levels = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
    for r in rules:
        assert r["name"] == r["id"]
        assert r["shortDescription"]["text"] == RULES[r["id"]].title
        assert r["defaultConfiguration"]["level"] == levels[RULES[r["id"]].severity]
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["NCD921", "NCD301", "NCD910"]  # sorted by path first
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert len(result["locations"]) == 1
    assert [r["level"] for r in results] == ["warning", "error", "note"]
    err = results[1]
    assert err["message"] == {"text": ERR.message}
    loc = err["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": PATH}
    assert loc["region"] == {"startLine": 2, "startColumn": 14, "endLine": 2, "endColumn": 21}
    assert "relatedLocations" not in err
    related = results[0]["relatedLocations"]
    assert related == [{"id": 0,
                        "physicalLocation": {"artifactLocation": {"uri": "other.ncd"},
                                             "region": {"startLine": 7, "startColumn": 5}},
                        "message": {"text": "first declared here"}}]
    assert results[2]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "plans/win.ncd"


# --- github -----------------------------------------------------------------------------------------------

def test_github_commands_and_escaping() -> None:
    d = Diagnostic("dir,x/a:b.ncd", 3, 2, 4, 1, "NCD301", "100% bad\r\nline, with: colon")
    out = render("github", [d, WARN, INFO], {})
    assert out == (
        "::error file=dir%2Cx/a%3Ab.ncd,line=3,col=2,endLine=4,endColumn=1,title=NCD301"
        "::100%25 bad%0D%0Aline, with: colon\n"
        "::warning file=plans/triage.ncd,line=1,col=1,endLine=1,endColumn=4,title=NCD921"
        "::explicit flow index differs\n"
    )
    shown = render("github", [INFO], {}, show_info=True)
    assert shown.startswith("::notice file=plans/triage.ncd,line=3,col=5,")


def test_github_escape_functions() -> None:
    assert escape_data("%0A") == "%250A"
    assert escape_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"


# --- summary ----------------------------------------------------------------------------------------------

def test_summary_line() -> None:
    assert summary_line([]) == "No problems found."
    assert summary_line([ERR]) == "Found 1 error, 0 warnings, 0 infos."
    assert summary_line([ERR, ERR, WARN, INFO, INFO, INFO]) == "Found 2 errors, 1 warning, 3 infos."
    assert summary_line([WARN, WARN, INFO]) == "Found 0 errors, 2 warnings, 1 info."


# --- properties -------------------------------------------------------------------------------------------

ACTIVE_CODES = sorted(code for code, r in RULES.items() if r.severity is not None)
TEXTS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["", "a\nb", "\r\n", "100%", "ünï ☕", "::error::x", "a,b:c"])
POSITIONS = st.integers(min_value=1, max_value=10_000)

DIAGNOSTICS = st.lists(
    st.builds(
        Diagnostic,
        path=TEXTS,
        line=POSITIONS,
        column=POSITIONS,
        end_line=POSITIONS,
        end_column=POSITIONS,
        code=st.sampled_from(ACTIVE_CODES),
        message=TEXTS,
        help=st.none() | TEXTS,
        related=st.lists(st.builds(Related, path=TEXTS, line=POSITIONS, column=POSITIONS, message=TEXTS),
                         max_size=2).map(tuple),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(DIAGNOSTICS, st.booleans())
def test_property_json_and_github(diagnostics: list[Diagnostic], show_info: bool) -> None:
    doc = json.loads(render("json", diagnostics, {}, show_info=show_info))
    assert len(doc["diagnostics"]) == len(diagnostics)
    assert sum(doc["summary"].values()) == len(diagnostics)
    assert [(d["path"], d["line"], d["column"], d["code"], d["message"]) for d in doc["diagnostics"]] == sorted(
        d.sort_key for d in diagnostics)

    reported = [d for d in diagnostics if show_info or d.severity is not Severity.INFO]
    out = render("github", diagnostics, {}, show_info=show_info)
    assert out.count("\n") == len(reported)
    assert "\r" not in out
    assert all(line.startswith("::") for line in out.split("\n")[:-1])  # the runner splits on LF only

    sarif = json.loads(render("sarif", diagnostics, {}))
    assert len(sarif["runs"][0]["results"]) == len(diagnostics)


@settings(max_examples=100, deadline=None)
@given(DIAGNOSTICS, st.booleans())
def test_property_text_and_full_never_crash(diagnostics: list[Diagnostic], show_info: bool) -> None:
    sources = {d.path: ["x\ty ☕"] * 3 for d in diagnostics[::2]}
    text = render("text", diagnostics, sources, show_info=show_info)
    full = render("full", diagnostics, sources, show_info=show_info)
    reported = [d for d in diagnostics if show_info or d.severity is not Severity.INFO]
    assert (text == "") == (full == "") == (not reported)
