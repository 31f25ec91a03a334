"""``ncdc explain``: every active code has a doc page (title, severity, What / Why it matters / Bad / Fix), every
doc's bad example really reports its code and its fix does not, and the command's edge cases (retired code,
unknown code, the index without a code).

Doc snippets are checked as plans. Convention (see ncdc/rule_docs/parser.py): ``<0xNN>`` in a snippet stands for
the single raw byte 0xNN, so that a snippet can show a file that is not UTF-8 (NCD105).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ncdc.checker import check
from ncdc.explain import explain, index
from ncdc.options import CheckOptions
from ncdc.rule_docs import all_docs
from ncdc.rule_docs import parser as parser_docs
from ncdc.rules import RULES

PROJECT_ROOT = Path(__file__).resolve().parents[1]

ACTIVE = [code for code, rule in RULES.items() if rule.severity is not None]
RETIRED = [code for code, rule in RULES.items() if rule.severity is None]
# Codes reported by the parser layer and by suppression handling (CHECKS.md §4), documented in rule_docs/parser.py.
PARSER_LAYER = [
    code
    for code in ACTIVE
    if code[3] in "12" or 910 <= int(code[3:]) <= 922 or code in ("NCD990", "NCD991")
]
# A handful run through a real subprocess (the rest in-process): one per family.
SUBPROCESS = ["NCD101", "NCD212", "NCD301", "NCD408", "NCD507", "NCD916", "NCD933", "NCD991"]

SECTIONS = ("What", "Why it matters", "Bad", "Fix")
MARKER_LINE = re.compile(r"^\s*(:<:|:>:|<=|<-|<\*|/:)")
RAW_BYTE = re.compile(rb"<0x([0-9A-Fa-f]{2})>")


# --- helpers ----------------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("PYTHONSTARTUP", None)
    return env


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ncdc", "explain", *args],
        cwd=PROJECT_ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


def _sections(page: str) -> dict[str, str]:
    """The body of each section of a rendered page: the lines after a header line (``What``, ...) up to the next."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in page.splitlines():
        if line in SECTIONS:
            current = found.setdefault(line, [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


def _assert_page(code: str, page: str | None) -> None:
    rule = RULES[code]
    assert page is not None, f"{code}: explain() returned None for a catalogue code"
    first = page.splitlines()[0]
    assert first == f"{code} — {rule.title} ({rule.severity.value})", first
    sections = _sections(page)
    missing = [name for name in SECTIONS if not sections.get(name, "").strip()]
    assert not missing, f"{code}: missing or empty sections {missing} (no entry in ncdc.rule_docs?)"
    assert list(sections) == list(SECTIONS), f"{code}: sections out of order: {list(sections)}"


def _plan_bytes(snippet: str) -> bytes:
    return RAW_BYTE.sub(lambda m: bytes([int(m.group(1), 16)]), snippet.encode("utf-8"))


def _is_plan(snippet: str) -> bool:
    """A snippet is a plan (not an instruction) when its first non-blank line is a concept line or a `/:` comment."""
    first = next((line for line in snippet.splitlines() if line.strip()), "")
    return bool(MARKER_LINE.match(first))


def _codes(snippet: str, options: CheckOptions | None = None) -> list[tuple[int, str]]:
    return [(d.line, d.code) for d in check(_plan_bytes(snippet), "snippet.ncd", options).diagnostics]


# --- the doc page of every code ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", ACTIVE)
def test_explain_page_has_title_severity_and_every_section(code: str) -> None:
    _assert_page(code, explain(code))


@pytest.mark.parametrize("code", SUBPROCESS)
def test_explain_command_prints_the_page(code: str) -> None:
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    _assert_page(code, result.stdout)
    assert result.stdout == explain(code)


def test_explain_command_accepts_a_lower_case_code() -> None:
    result = _run("ncd101")
    assert result.returncode == 0, result.stderr
    assert result.stdout == explain("NCD101")


def test_docs_exist_only_for_active_codes() -> None:
    docs = all_docs()
    assert sorted(set(docs) - set(ACTIVE)) == []
    for code, doc in docs.items():
        for field in ("what", "why", "bad", "fix"):
            assert getattr(doc, field).strip(), f"{code}: empty {field}"


def test_parser_module_documents_exactly_the_parser_layer_codes() -> None:
    assert sorted(parser_docs.DOCS) == sorted(PARSER_LAYER)


# --- the examples are real ----------------------------------------------------------------------------------


# Files a bad example needs next to the plan (its last comment line says what they hold).
BAD_EXAMPLE_FILES = {"NCD956": {"prompts/NCD956_reply.j2": "Reply to {{ input_1 }} {% if %}\n"}}


@pytest.mark.parametrize("code", ACTIVE)
def test_bad_example_reports_its_code(code: str, tmp_path: Path) -> None:
    doc = all_docs().get(code)
    assert doc is not None, f"{code}: no entry in ncdc.rule_docs"
    for rel, text in BAD_EXAMPLE_FILES.get(code, {}).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    # --check-files in an empty folder, so that an example naming a missing file (NCD949) reports it.
    found = _codes(doc.bad, CheckOptions(check_files=True, plan_dir=tmp_path))
    assert code in {c for _, c in found}, f"{code}: the bad example reports {found}"


# Fixes written as a corrected plan; the others are instructions (e.g. "save the file as UTF-8").
PLAN_FIXES = [code for code, doc in sorted(all_docs().items()) if _is_plan(doc.fix)]


def test_most_fixes_are_plans() -> None:
    assert len(PLAN_FIXES) >= len(ACTIVE) * 3 // 4


@pytest.mark.parametrize("code", PLAN_FIXES)
def test_fix_example_does_not_report_its_code(code: str) -> None:
    doc = all_docs()[code]
    found = _codes(doc.fix)
    assert code not in {c for _, c in found}, f"{code}: the fix still reports {found}"


@pytest.mark.parametrize("code", PARSER_LAYER)
def test_parser_layer_fix_is_free_of_parser_layer_diagnostics(code: str) -> None:
    """The fixes of the parser-layer docs are plans (or end with one) that the parser layer accepts silently."""
    fix = parser_docs.DOCS[code].fix
    if not _is_plan(fix):  # an instruction followed by the corrected plan after a blank line
        assert "\n\n" in fix, f"{code}: the fix is neither a plan nor an instruction followed by one"
        fix = fix.split("\n\n", 1)[1]
        assert _is_plan(fix), f"{code}: no corrected plan after the instruction"
    found = [(line, c) for line, c in _codes(fix) if c in PARSER_LAYER]
    assert found == [], f"{code}: the fix reports {found}"


# --- edge cases of the command ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", RETIRED)
def test_retired_code_says_it_is_retired(code: str) -> None:
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{code} — ")
    assert "retired" in result.stdout
    assert "\nWhat\n" not in result.stdout


def test_unknown_code_exits_2_with_one_line() -> None:
    result = _run("NCD000")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "NCD000" in lines[0]
    assert "Traceback" not in result.stderr


def test_explain_without_a_code_lists_every_code() -> None:
    result = _run()
    assert result.returncode == 0, result.stderr
    assert result.stdout == index()
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert listed == list(RULES)
    for line in result.stdout.splitlines():
        code = line.split()[0]
        rule = RULES[code]
        assert (rule.severity.value if rule.severity else "retired") in line.split()[1:2]
        assert line.endswith(rule.title)
