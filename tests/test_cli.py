"""The ``ncdc`` command line through real subprocesses (CHECKS.md §1: commands, exit status, formats,
selection, inline suppression).

Every test runs ``python -m ncdc`` (or the ``ncd-run`` entry point) in a child process with an explicit working
directory, so that path printing, stdout/stderr separation and exit statuses are exactly what a user or a CI job
sees. The child imports ``ncdc`` from this checkout (PYTHONPATH is set to the project root).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TRIAGE = PROJECT_ROOT / "examples" / "ticket_triage" / "plan.ncd"

# --- small plans (leaves carry a literal so that only the diagnostic under test appears) ------------------------------------------------------------------------------------------

# Line 2 uses the legacy call form `$.({x})`: NCD121 at 2:8 (the `$.`).
LEGACY = ":<:{a}\n    <= $.({x})\n    <- {x}\n        | %{literal_value}: \"x\"\n"
# Line 2 is indented with a TAB: NCD101 at 2:1.
TAB = ":<:{a}\n\t<= $. %>({x})\n    <- {x}\n        | %{literal_value}: \"x\"\n"
# A root written with `<-`: NCD920 (warning) and nothing else.
ROOT_ARROW = "<- {a}\n    <= $. %>({x})\n    <- {x}\n        | %{literal_value}: \"x\"\n"
# `%{sequence}` (should be `?{sequence}`): NCD913 (warning) at 3:11, nothing else.
SEQUENCE_PCT = ":<:{a}\n    <= $. %>({x})\n        | %{sequence}: looping\n    <- {x}\n        | %{literal_value}: \"x\"\n"
# An unknown annotation key: NCD914 (info) at 3:11, nothing else.
UNKNOWN_KEY = ":<:{a}\n    <= $. %>({x})\n        | %{whatever_key}: x\n    <- {x}\n        | %{literal_value}: \"x\"\n"
# One of everything: NCD920 warning (1:1), NCD101 error (2:1), NCD121 error (2:5), NCD914 info (3:11),
# NCD913 warning (5:11).
MIXED = "<- {a}\n\t<= $.({x})\n        | %{whatever_key}: x\n    <- {x}\n        | %{sequence}: looping\n        | %{literal_value}: \"x\"\n"

TEXT_LINE = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<code>NCD\d{3}) (?P<message>\S.*)$")


# --- helpers ----------------------------------------------------------------------------------------------

def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("PYTHONSTARTUP", None)
    if extra:
        env.update(extra)
    return env


def run(*args: str, cwd: Path, stdin: str | bytes | None = None, module: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m ncdc ARGS`` in ``cwd``; stdin is /dev/null unless ``stdin`` is given."""
    command = [sys.executable, "-m", "ncdc", *args] if module else [sys.executable, *args]
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    completed = subprocess.run(
        command,
        cwd=cwd,
        env=_env(),
        input=data,
        stdin=subprocess.DEVNULL if data is None else None,
        capture_output=True,
        timeout=120,
    )
    # Decode here so that every assertion works on text; undecodable output would itself be a failure.
    return subprocess.CompletedProcess(
        completed.args, completed.returncode, completed.stdout.decode("utf-8"), completed.stderr.decode("utf-8")
    )


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def text_lines(stdout: str) -> list[re.Match]:
    """Parse text-format stdout; every line must have the §1.3 shape."""
    matches = []
    for line in stdout.splitlines():
        match = TEXT_LINE.match(line)
        assert match, f"not a `path:line:col: CODE message` line: {line!r}"
        matches.append(match)
    return matches


def locations(stdout: str) -> list[tuple[str, int, int, str]]:
    return [(m["path"], int(m["line"]), int(m["col"]), m["code"]) for m in text_lines(stdout)]


def assert_clean_failure(result: subprocess.CompletedProcess) -> None:
    """Exit 2 with a short message on stderr and never a traceback (CHECKS.md §1.2)."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    assert result.stderr.strip(), "a usage/input error must say what went wrong on stderr"


# --- version, help, no command ----------------------------------------------------------------------------

def test_version(tmp_path: Path) -> None:
    from ncdc import __version__

    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ncdc {__version__}"


def test_check_help(tmp_path: Path) -> None:
    result = run("check", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "usage: ncdc check" in result.stdout
    for option in ("--format", "--select", "--ignore", "-W", "--warnings-as-errors", "--show-info", "--stdin-filename"):
        assert option in result.stdout, option
    for fmt in ("text", "full", "json", "sarif", "github"):
        assert fmt in result.stdout, fmt


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    assert_clean_failure(run(cwd=tmp_path))


# --- exit status and the text format ----------------------------------------------------------------------

def test_clean_plan_exits_0(tmp_path: Path) -> None:
    shutil.copy(TRIAGE, tmp_path / "plan.ncd")
    result = run("check", "plan.ncd", cwd=tmp_path)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1  # the summary line only
    assert "Traceback" not in result.stderr


def test_error_exits_1_with_text_line_and_summary_on_stderr(tmp_path: Path) -> None:
    write(tmp_path, "bad.ncd", LEGACY)
    result = run("check", "bad.ncd", cwd=tmp_path)
    assert result.returncode == 1
    assert locations(result.stdout) == [("bad.ncd", 2, 8, "NCD121")]
    assert "legacy" in result.stdout
    # The summary goes to stderr, never to stdout (stdout carries only diagnostics).
    assert result.stderr.strip() == "Found 1 error, 0 warnings, 0 infos."
    assert "Found" not in result.stdout


def test_tab_indent_and_path_printed_as_given(tmp_path: Path) -> None:
    write(tmp_path, "plans/tab.ncd", TAB)
    result = run("check", "./plans/../plans/tab.ncd", cwd=tmp_path)
    assert result.returncode == 1
    assert locations(result.stdout) == [("./plans/../plans/tab.ncd", 2, 1, "NCD101")]
    assert result.stderr.strip() == "Found 1 error, 0 warnings, 0 infos."


def test_missing_path_exits_2_and_names_it(tmp_path: Path) -> None:
    shutil.copy(TRIAGE, tmp_path / "plan.ncd")
    result = run("check", "plan.ncd", "nowhere/missing.ncd", cwd=tmp_path)
    assert_clean_failure(result)
    assert "nowhere/missing.ncd" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("option, value", [("--select", "NCD999X"), ("--ignore", "NCD1,E501")])
def test_unknown_code_exits_2(tmp_path: Path, option: str, value: str) -> None:
    shutil.copy(TRIAGE, tmp_path / "plan.ncd")
    result = run("check", "plan.ncd", option, value, cwd=tmp_path)
    assert_clean_failure(result)
    assert value.split(",")[-1] in result.stderr


def test_invalid_utf8_is_a_diagnostic_not_a_crash(tmp_path: Path) -> None:
    result = run("check", "-", "--stdin-filename", "broken.ncd", cwd=tmp_path, stdin=b":<:{a\xff}\n")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert [(p, line, code) for p, line, _, code in locations(result.stdout)] == [("broken.ncd", 1, "NCD105")]


# --- inputs: directories and stdin --------------------------------------------------------------------------

@pytest.fixture()
def plan_tree(tmp_path: Path) -> Path:
    """plans/a.ncd (NCD121), plans/sub/deeper/b.pf.ncd (NCD101) and files that are not plans."""
    write(tmp_path, "plans/a.ncd", LEGACY)
    write(tmp_path, "plans/sub/deeper/b.pf.ncd", TAB)
    write(tmp_path, "plans/sub/notes.txt", LEGACY)
    write(tmp_path, "plans/sub/old.ncd.bak", TAB)
    shutil.copy(TRIAGE, tmp_path / "plans" / "sub" / "clean.ncd")
    return tmp_path


def test_directory_is_searched_recursively(plan_tree: Path) -> None:
    result = run("check", "plans", cwd=plan_tree)
    assert result.returncode == 1
    assert locations(result.stdout) == [
        ("plans/a.ncd", 2, 8, "NCD121"),
        ("plans/sub/deeper/b.pf.ncd", 2, 1, "NCD101"),
    ]
    assert result.stderr.strip() == "Found 2 errors, 0 warnings, 0 infos."


def test_directory_paths_are_relative_to_cwd(plan_tree: Path) -> None:
    # An absolute directory argument, run from a subdirectory: found files print relative to the cwd, with `/`.
    result = run("check", str(plan_tree / "plans"), cwd=plan_tree / "plans" / "sub")
    assert result.returncode == 1
    assert locations(result.stdout) == [
        ("../a.ncd", 2, 8, "NCD121"),
        ("deeper/b.pf.ncd", 2, 1, "NCD101"),
    ]


def test_stdin_with_stdin_filename(tmp_path: Path) -> None:
    result = run("check", "-", "--stdin-filename", "plans/x.ncd", cwd=tmp_path, stdin=LEGACY)
    assert result.returncode == 1
    assert locations(result.stdout) == [("plans/x.ncd", 2, 8, "NCD121")]


def test_stdin_without_filename(tmp_path: Path) -> None:
    result = run("check", "-", cwd=tmp_path, stdin=TAB)
    assert result.returncode == 1
    ((path, line, col, code),) = locations(result.stdout)
    assert (line, col, code) == (2, 1, "NCD101")
    assert path  # some placeholder name; the spec does not fix it


def test_output_sorted_by_path_across_arguments(tmp_path: Path) -> None:
    write(tmp_path, "z.ncd", LEGACY)
    write(tmp_path, "a.ncd", TAB)
    result = run("check", "z.ncd", "a.ncd", cwd=tmp_path)
    assert [p for p, *_ in locations(result.stdout)] == ["a.ncd", "z.ncd"]


# --- machine formats ----------------------------------------------------------------------------------------

def test_json_format(tmp_path: Path) -> None:
    write(tmp_path, "mixed.ncd", MIXED)
    result = run("check", "mixed.ncd", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert list(document) == ["version", "diagnostics", "summary"]
    assert document["version"] == 1
    assert document["summary"] == {"errors": 2, "warnings": 2, "infos": 1}
    found = [(d["path"], d["line"], d["column"], d["code"], d["severity"]) for d in document["diagnostics"]]
    assert found == [
        ("mixed.ncd", 1, 1, "NCD920", "warning"),
        ("mixed.ncd", 2, 1, "NCD101", "error"),
        ("mixed.ncd", 2, 5, "NCD121", "error"),
        ("mixed.ncd", 3, 11, "NCD914", "info"),  # infos are always present in json, without --show-info
        ("mixed.ncd", 5, 11, "NCD913", "warning"),
    ]
    for diagnostic in document["diagnostics"]:
        assert list(diagnostic) == [
            "path", "line", "column", "end_line", "end_column", "code", "severity", "message", "help", "related",
        ]
        assert isinstance(diagnostic["related"], list)
    assert result.stderr.strip() == "Found 2 errors, 2 warnings, 1 info."


def test_json_columns_count_code_points(tmp_path: Path) -> None:
    write(tmp_path, "uni.ncd", ":<:{ä}\n    <= $. %>({äöü x}) | %{sequence}: looping\n    <- {äöü x}\n" + LEAF_LITERAL)
    result = run("check", "uni.ncd", "--format", "json", cwd=tmp_path)
    ((diagnostic),) = json.loads(result.stdout)["diagnostics"]
    assert diagnostic["code"] == "NCD913"
    assert (diagnostic["line"], diagnostic["column"], diagnostic["end_column"]) == (2, 25, 45)


def test_sarif_format(tmp_path: Path) -> None:
    from ncdc.rules import RULES

    write(tmp_path, "plans/mixed.ncd", MIXED)
    result = run("check", "plans/mixed.ncd", "--format", "sarif", cwd=tmp_path)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["version"] == "2.1.0"
    (sarif_run,) = document["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "ncdc"
    rule_ids = {rule["id"] for rule in driver["rules"]}
    assert {"NCD101", "NCD121", "NCD913", "NCD914", "NCD920", "NCD990", "NCD991"} <= rule_ids
    assert {code for code, rule in RULES.items() if rule.severity is not None} <= rule_ids  # every live code of §2
    results = {r["ruleId"]: r for r in sarif_run["results"]}
    assert set(results) == {"NCD920", "NCD101", "NCD121", "NCD914", "NCD913"}
    assert results["NCD101"]["level"] == "error"
    assert results["NCD913"]["level"] == "warning"
    assert results["NCD914"]["level"] == "note"
    (location,) = results["NCD121"]["locations"]
    physical = location["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "plans/mixed.ncd"
    assert physical["region"]["startLine"] == 2 and physical["region"]["startColumn"] == 5


def test_github_format(tmp_path: Path) -> None:
    write(tmp_path, "mixed.ncd", MIXED)
    result = run("check", "mixed.ncd", "--format", "github", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 4  # the info is hidden without --show-info
    assert all(line.startswith(("::error ", "::warning ")) for line in lines), lines
    assert lines[1].startswith("::error file=mixed.ncd,line=2,col=1,endLine=2,endColumn=2,title=NCD101::")
    assert lines[0].startswith("::warning file=mixed.ncd,line=1,col=1,")


def test_github_show_info_and_escaping(tmp_path: Path) -> None:
    result = run(
        "check", "-", "--stdin-filename", "we,ird:name.ncd", "--format", "github", "--show-info",
        cwd=tmp_path, stdin=UNKNOWN_KEY,
    )
    assert result.returncode == 0
    (line,) = result.stdout.splitlines()
    assert line.startswith("::notice file=we%2Cird%3Aname.ncd,line=3,col=11,")
    assert "title=NCD914::" in line
    assert "`%25{whatever_key}`" in line  # `%` in the message is written %25


def test_full_format_shows_source_and_caret(tmp_path: Path) -> None:
    write(tmp_path, "bad.ncd", LEGACY)
    result = run("check", "bad.ncd", "--format", "full", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("bad.ncd:2:8: NCD121 ")
    source = next(i for i, line in enumerate(lines) if line.endswith("<= $.({x})"))
    assert lines[source] == "2 |     <= $.({x})"
    caret = lines[source + 1]
    assert caret.rstrip().endswith("^^")
    # The caret starts under column 8 (the `$.`) of the source line.
    assert caret.index("^") == lines[source].index("$.")
    assert any(line.lstrip().startswith("= help:") for line in lines)


# --- selection and -W ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "options, codes, status",
    [
        (["--select", "NCD1"], ["NCD101", "NCD121"], 1),  # a prefix
        (["--select", "NCD101", "--select", "NCD920"], ["NCD920", "NCD101"], 1),  # repeatable
        (["--select", "NCD1", "--ignore", "NCD121"], ["NCD101"], 1),  # ignore applied after select
        (["--select", "NCD913"], ["NCD913"], 0),  # unselected errors are not "reported": exit 0
        (["--ignore", "NCD1,NCD92"], ["NCD913"], 0),  # comma-separated codes and prefixes
    ],
)
def test_select_and_ignore(tmp_path: Path, options: list[str], codes: list[str], status: int) -> None:
    write(tmp_path, "mixed.ncd", MIXED)
    result = run("check", "mixed.ncd", *options, cwd=tmp_path)
    assert [code for *_, code in locations(result.stdout)] == codes
    assert result.returncode == status, result.stderr


@pytest.mark.parametrize(
    "plan, options, status",
    [
        (ROOT_ARROW, ["-W"], 1),  # NCD920 is a warning (exit 0 without -W: see test_select_and_ignore)
        (SEQUENCE_PCT, ["--warnings-as-errors"], 1),
        (ROOT_ARROW, ["-W", "--ignore", "NCD920"], 0),  # an ignored warning is not reported
        (UNKNOWN_KEY, ["-W"], 0),  # infos never fail the run
    ],
)
def test_warnings_as_errors(tmp_path: Path, plan: str, options: list[str], status: int) -> None:
    write(tmp_path, "plan.ncd", plan)
    result = run("check", "plan.ncd", *options, cwd=tmp_path)
    assert result.returncode == status, (result.stdout, result.stderr)


def test_infos_hidden_in_text_unless_show_info(tmp_path: Path) -> None:
    write(tmp_path, "info.ncd", UNKNOWN_KEY)
    hidden = run("check", "info.ncd", cwd=tmp_path)
    assert hidden.returncode == 0
    assert hidden.stdout == ""
    assert hidden.stderr.strip() == "Found 0 errors, 0 warnings, 1 info."
    shown = run("check", "info.ncd", "--show-info", cwd=tmp_path)
    assert shown.returncode == 0
    assert locations(shown.stdout) == [("info.ncd", 3, 11, "NCD914")]


# --- inline suppression (CHECKS.md §1.6) --------------------------------------------------------------------

# The last concept line of every plan is its ground leaf; this annotation line attaches to it.
LEAF_LITERAL = "        | %{literal_value}: \"x\"\n"

SUPPRESSION_PLANS = {
    # ignore[...] in the tail of the line that owns the annotation.
    "on_owner.ncd": ":<:{a}\n    <= $. %>({x}) | ?{ncdc}: ignore[NCD913]\n        | %{sequence}: looping\n    <- {x}\n" + LEAF_LITERAL,
    # ignore[...] on an annotation line attached to the same concept line.
    "on_annotation.ncd": (
        ":<:{a}\n    <= $. %>({x})\n        | %{sequence}: looping\n        | ?{ncdc}: ignore[NCD913]\n    <- {x}\n" + LEAF_LITERAL
    ),
    # A line's suppression covers only that line and its attached lines: line 5 belongs to `<- {x}`.
    "scoped.ncd": (
        ":<:{a}\n    <= $. %>({x}) | ?{ncdc}: ignore[NCD913]\n        | %{sequence}: looping\n"
        "    <- {x}\n        | %{sequence}: grouping\n" + LEAF_LITERAL
    ),
    # A prefix entry.
    "prefix.ncd": ":<:{a}\n    <= $. %>({x}) | ?{ncdc}: ignore[NCD91]\n        | %{sequence}: looping\n    <- {x}\n" + LEAF_LITERAL,
    # Nothing to suppress: NCD990 at the entry.
    "unused.ncd": ":<:{a}\n    <= $. %>({x}) | ?{ncdc}: ignore[NCD913]\n    <- {x}\n" + LEAF_LITERAL,
    # An error code cannot be suppressed: NCD991, and the NCD111 error stays.
    "error_code.ncd": (
        ":<:{a}\n    <= ::(compose {1}<$({input})%>)>\n        | ?{ncdc}: ignore[NCD111]\n    <- {input}<:{1}>\n" + LEAF_LITERAL
    ),
    # An unknown code: NCD991, no effect.
    "unknown_code.ncd": (
        ":<:{a}\n    <= $. %>({x}) | ?{ncdc}: ignore[NCD999, NCD913]\n        | %{sequence}: looping\n    <- {x}\n" + LEAF_LITERAL
    ),
    # ignore-file[...] in the header (before the first concept line): the whole file.
    "file_wide.ncd": (
        "/: header comment\n| ?{ncdc}: ignore-file[NCD913]\n:<:{a}\n    <= $. %>({x})\n        | %{sequence}: looping\n"
        "    <- {x}\n        | %{sequence}: grouping\n" + LEAF_LITERAL
    ),
}


@pytest.fixture(scope="module")
def suppression_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """One `--format json` run over all SUPPRESSION_PLANS; diagnostics grouped by file name."""
    root = tmp_path_factory.mktemp("suppression")
    for name, text in SUPPRESSION_PLANS.items():
        write(root, name, text)
    result = run("check", ".", "--format", "json", cwd=root)
    assert result.returncode == 1, result.stderr  # error_code.ncd keeps its error
    grouped: dict[str, list[dict]] = {name: [] for name in SUPPRESSION_PLANS}
    for diagnostic in json.loads(result.stdout)["diagnostics"]:
        grouped[diagnostic["path"]].append(diagnostic)
    return grouped


def _codes(diagnostics: list[dict]) -> list[tuple[int, str]]:
    return [(d["line"], d["code"]) for d in diagnostics]


def test_suppression_on_owner_line(suppression_report: dict[str, list[dict]]) -> None:
    assert suppression_report["on_owner.ncd"] == []


def test_suppression_on_attached_annotation_line(suppression_report: dict[str, list[dict]]) -> None:
    assert suppression_report["on_annotation.ncd"] == []


def test_suppression_is_scoped_to_its_concept_line(suppression_report: dict[str, list[dict]]) -> None:
    assert _codes(suppression_report["scoped.ncd"]) == [(5, "NCD913")]


def test_suppression_by_prefix(suppression_report: dict[str, list[dict]]) -> None:
    assert suppression_report["prefix.ncd"] == []


def test_unused_suppression_is_ncd990(suppression_report: dict[str, list[dict]]) -> None:
    ((diagnostic),) = suppression_report["unused.ncd"]
    assert diagnostic["code"] == "NCD990"
    assert diagnostic["severity"] == "warning"
    line = SUPPRESSION_PLANS["unused.ncd"].splitlines()[1]
    assert (diagnostic["line"], diagnostic["column"]) == (2, line.index("NCD913") + 1)  # at the entry


def test_error_code_suppression_is_ncd991_and_has_no_effect(suppression_report: dict[str, list[dict]]) -> None:
    found = suppression_report["error_code.ncd"]
    assert _codes(found) == [(2, "NCD111"), (3, "NCD991")]
    assert [d["severity"] for d in found] == ["error", "warning"]
    assert "NCD111" in found[1]["message"]


def test_unknown_code_suppression_is_ncd991(suppression_report: dict[str, list[dict]]) -> None:
    # The valid entry in the same list still works; only the unknown one is reported.
    found = suppression_report["unknown_code.ncd"]
    assert _codes(found) == [(2, "NCD991")]
    assert "NCD999" in found[0]["message"]


def test_ignore_file_in_header(suppression_report: dict[str, list[dict]]) -> None:
    assert suppression_report["file_wide.ncd"] == []


def test_suppressed_warning_does_not_fail_with_W(tmp_path: Path) -> None:
    write(tmp_path, "plan.ncd", SUPPRESSION_PLANS["on_owner.ncd"])
    result = run("check", "plan.ncd", "-W", cwd=tmp_path)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout == ""


def test_ignore_file_outside_header_is_not_file_wide(tmp_path: Path) -> None:
    plan = ":<:{a}\n    <= $. %>({x})\n        | ?{ncdc}: ignore-file[NCD913]\n        | %{sequence}: looping\n    <- {x}\n"
    write(tmp_path, "plan.ncd", plan)
    result = run("check", "plan.ncd", cwd=tmp_path)
    assert ("plan.ncd", 4, 11, "NCD913") in locations(result.stdout)


# --- ncdc parse ---------------------------------------------------------------------------------------------

def test_parse_json_has_flow_indices_and_spans(tmp_path: Path) -> None:
    shutil.copy(TRIAGE, tmp_path / "plan.ncd")
    result = run("parse", "plan.ncd", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    lines = document["lines"]
    concept_lines = [n for n, text in enumerate(TRIAGE.read_text(encoding="utf-8").splitlines(), 1)
                     if text.lstrip().startswith((":<:", "<=", "<-", "<*"))]
    assert len(lines) == len(concept_lines)
    indices = [line["flow_index"] for line in lines]
    assert indices[:3] == ["1", "1.1", "1.2"]
    assert all(re.fullmatch(r"[1-9]\d*(\.[1-9]\d*)*", index) for index in indices), indices
    assert len(set(indices)) == len(indices)
    for line, number in zip(lines, concept_lines):
        span = line["span"]
        assert len(span) == 4 and all(isinstance(v, int) for v in span)
        assert span[0] == number  # 1-based physical line of the concept line
        assert span[1] >= 1
    # Depth follows the flow index: "1.2.1" is depth 2.
    assert all(line["depth"] == line["flow_index"].count(".") for line in lines)


def test_parse_rejects_a_directory(tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    result = run("parse", "plans", "--json", cwd=tmp_path)
    assert_clean_failure(result)
    assert "plans" in result.stderr


# --- ncd-run ------------------------------------------------------------------------------------------------

def test_ncd_run_without_a_command_is_a_usage_error(tmp_path: Path) -> None:
    result = run("-c", "from runtime.cli import main; raise SystemExit(main())", cwd=tmp_path, module=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
