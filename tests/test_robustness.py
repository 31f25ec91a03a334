"""Robustness of ``ncdc check`` against damaged input (CHECKS.md §1.2, §1.4, §1.5).

A hypothesis property mutates real plans (the shared conformance corpus plus the project's ``examples/``) at the
byte level and runs the command line in-process on the result. Whatever the bytes, the checker must not break:
no exception, no traceback, no "internal error", exit status 0 or 1 consistent with the reported errors, a JSON
document of the §1.4 shape, and every location inside the file.

A few fixed nasty inputs are also run through ``python -m ncdc`` in a subprocess, so that the real entry point
(and e.g. the interpreter's recursion limit, a SystemExit or anything printed at exit) is covered too.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ncdc.cli import main

PROJECT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
EXAMPLES = PROJECT / "examples"


def _seed_files() -> list[Path]:
    # The corpus lives outside the project (../shared/corpus) and may be absent, e.g. in a bare checkout; the
    # plans under examples/ always ship with the project, so the property still runs (on examples only) then.
    files = sorted(EXAMPLES.rglob("*.ncd"))
    if CORPUS.is_dir():
        files += sorted(CORPUS.rglob("*.ncd"))
    return files


SEED_FILES = _seed_files()
SEEDS: list[bytes] = [p.read_bytes() for p in SEED_FILES]
assert SEEDS, "examples/ must contain at least one .ncd plan"

CODE = re.compile(r"NCD\d{3}")
SEVERITIES = {"error", "warning", "info"}
DIAGNOSTIC_KEYS = ["path", "line", "column", "end_line", "end_column", "code", "severity", "message", "help", "related"]
RELATED_KEYS = ["path", "line", "column", "message"]
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


# --- running the command line ------------------------------------------------------------------------------

def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``ncdc.cli.main(argv)`` in-process: (return code, stdout, stderr). Exceptions propagate (test failure)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exit_:  # argparse only; never expected here, but report it as a value
            rc = exit_.code if isinstance(exit_.code, int) else 2
    return rc, out.getvalue(), err.getvalue()


def line_count(data: bytes) -> int:
    """Lines as the language defines them (``\\n`` or ``\\r\\n`` endings; a final newline opens no line)."""
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _assert_healthy_stderr(err: str, fmt: str) -> None:
    assert "Traceback" not in err, f"--format {fmt}: traceback on stderr:\n{err}"
    assert "internal error" not in err, f"--format {fmt}: internal error on stderr:\n{err}"


def _assert_location(line: object, column: object, max_line: int, what: str) -> None:
    assert type(line) is int and type(column) is int, what
    assert 1 <= line <= max_line, f"{what}: line {line} outside the file (1..{max_line})"
    assert column >= 1, f"{what}: column {column} < 1"


def check_json_document(out: str, rc: int, path: str, data: bytes) -> dict:
    """The §1.4 ``json`` contract, plus locations inside the file and an exit status matching the errors."""
    document = json.loads(out)
    assert isinstance(document, dict)
    assert list(document) == ["version", "diagnostics", "summary"], list(document)
    assert document["version"] == 1
    assert isinstance(document["diagnostics"], list)
    max_line = max(1, line_count(data))
    totals = {"errors": 0, "warnings": 0, "infos": 0}
    for d in document["diagnostics"]:
        what = json.dumps(d, ensure_ascii=True)
        assert list(d) == DIAGNOSTIC_KEYS, what
        assert d["path"] == path, what
        assert isinstance(d["code"], str) and CODE.fullmatch(d["code"]), what
        assert d["severity"] in SEVERITIES, what
        assert isinstance(d["message"], str) and d["message"], what
        assert d["help"] is None or isinstance(d["help"], str), what
        _assert_location(d["line"], d["column"], max_line, what)
        assert type(d["end_line"]) is int and type(d["end_column"]) is int, what
        assert d["end_line"] >= d["line"], f"{what}: end_line < line"
        assert d["end_line"] <= max_line, f"{what}: end_line outside the file (1..{max_line})"
        assert d["end_column"] >= 1, f"{what}: end_column < 1"
        if d["end_line"] == d["line"]:
            assert d["end_column"] >= d["column"], f"{what}: end_column < column on one line"
        assert isinstance(d["related"], list), what
        for r in d["related"]:
            assert list(r) == RELATED_KEYS, what
            assert isinstance(r["path"], str) and isinstance(r["message"], str), what
            if r["path"] == path:
                _assert_location(r["line"], r["column"], max_line, f"related of {what}")
        totals[d["severity"] + "s"] += 1
    assert document["summary"] == totals, (document["summary"], totals)
    # §1.2 without -W: 1 exactly when an error is reported.
    assert rc == (1 if totals["errors"] else 0), f"exit status {rc} with summary {totals}"
    return document


def check_all_formats(data: bytes) -> None:
    """Write ``data`` to a fresh file and check it with the json, sarif and full formats."""
    with tempfile.TemporaryDirectory(prefix="ncdc-robust-") as tmp:
        path = Path(tmp) / "plan.ncd"
        path.write_bytes(data)
        name = str(path)

        rc, out, err = run_cli(["check", "--format", "json", name])
        assert rc in (0, 1), f"--format json: exit status {rc}; stderr: {err!r}"
        _assert_healthy_stderr(err, "json")
        document = check_json_document(out, rc, name, data)

        rc_sarif, out, err = run_cli(["check", "--format", "sarif", name])
        _assert_healthy_stderr(err, "sarif")
        assert rc_sarif == rc, f"--format sarif: exit status {rc_sarif}, json gave {rc}; stderr: {err!r}"
        sarif = json.loads(out)
        assert sarif["version"] == "2.1.0" and len(sarif["runs"]) == 1
        results = sarif["runs"][0]["results"]
        assert [(r["ruleId"], r["level"]) for r in results] == [
            (d["code"], SARIF_LEVELS[d["severity"]]) for d in document["diagnostics"]
        ]

        rc_full, out, err = run_cli(["check", "--format", "full", "--show-info", name])
        _assert_healthy_stderr(err, "full")
        assert rc_full == rc, f"--format full: exit status {rc_full}, json gave {rc}; stderr: {err!r}"


# --- mutations (all on bytes, so that invalid UTF-8 is reachable) -------------------------------------------

NASTY_CHARS = list("()[]{}<>|%$@*:\t\r\n") + [" ", "    ", "<-", "<=", "<*", ":<:", ":>:", "/:", "?{", "}:", "||", "..."]

inserted_text = st.lists(
    st.one_of(
        st.sampled_from(NASTY_CHARS),
        st.characters(codec="utf-8"),  # any scalar value (surrogates excluded), control characters included
        st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, codec="utf-8"),  # astral plane
        st.characters(categories=["Mn", "Me"]),  # combining marks
        st.sampled_from(["\u0301", "\u20dd", "\ufeff", "\u200b", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x00"]),
    ),
    min_size=1,
    max_size=12,
).map(lambda parts: "".join(parts).encode("utf-8"))

BAD_BYTES = [b"\x00", b"\xff", b"\xfe", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf",
             b"\xef\xbb\xbf", b"\x80", b"\x1b[31m"]
garbage_bytes = st.one_of(
    st.binary(min_size=1, max_size=64),
    st.lists(st.sampled_from(BAD_BYTES), min_size=1, max_size=6).map(b"".join),
)


def _lines(data: bytes) -> list[bytes]:
    """Split keeping the ``\\n`` (only ``\\n``: lone ``\\r`` stays inside a line, as for the checker)."""
    return re.findall(rb"[^\n]*\n|[^\n]+$", data)


@st.composite
def delete_range(draw, data: bytes) -> bytes:
    if not data:
        return data
    start = draw(st.integers(0, len(data) - 1))
    end = draw(st.integers(start + 1, min(len(data), start + 200)))
    return data[:start] + data[end:]


@st.composite
def insert_chars(draw, data: bytes) -> bytes:
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(inserted_text) + data[at:]


@st.composite
def break_bracket(draw, data: bytes) -> bytes:
    positions = [i for i, b in enumerate(data) if b in b"()[]{}<>"]
    if not positions:
        return data + draw(st.sampled_from([b"(", b")", b"[", b"]", b"{", b"}", b"<", b">"]))
    at = draw(st.sampled_from(positions))
    if draw(st.booleans()):
        return data[:at] + data[at + 1:]  # delete it
    return data[:at] + data[at:at + 1] + data[at:]  # duplicate it


@st.composite
def reindent_line(draw, data: bytes) -> bytes:
    lines = _lines(data)
    if not lines:
        return data
    i = draw(st.integers(0, len(lines) - 1))
    line = lines[i]
    n = draw(st.integers(1, 5))
    how = draw(st.sampled_from(["add", "remove", "tab", "tab-for-spaces"]))
    if how == "add":
        line = b" " * n + line
    elif how == "remove":
        stripped = line.lstrip(b" \t")
        indent = line[: len(line) - len(stripped)]
        line = indent[:max(0, len(indent) - n)] + stripped
    elif how == "tab":
        line = b"\t" + line
    else:
        line = line.replace(b"    ", b"\t", 1)
    lines[i] = line
    return b"".join(lines)


@st.composite
def truncate_line(draw, data: bytes) -> bytes:
    lines = _lines(data)
    if not lines:
        return data
    i = draw(st.integers(0, len(lines) - 1))
    line = lines[i]
    body, newline = (line[:-1], b"\n") if line.endswith(b"\n") else (line, b"")
    lines[i] = body[: draw(st.integers(0, len(body)))] + newline
    return b"".join(lines)


@st.composite
def truncate_file(draw, data: bytes) -> bytes:
    return data[: draw(st.integers(0, len(data)))]


@st.composite
def garbage(draw, data: bytes) -> bytes:
    junk = draw(garbage_bytes)
    how = draw(st.sampled_from(["replace", "insert", "append"]))
    if how == "replace":
        return junk
    if how == "append":
        return data + junk
    at = draw(st.integers(0, len(data)))
    return data[:at] + junk + data[at:]


@st.composite
def shuffle_lines(draw, data: bytes) -> bytes:
    lines = _lines(data)
    if len(lines) < 2:
        return data + data
    if lines[-1] and not lines[-1].endswith(b"\n"):
        lines[-1] += b"\n"
    i = draw(st.integers(0, len(lines) - 2))
    j = draw(st.integers(i + 2, min(len(lines), i + 12)))
    how = draw(st.sampled_from(["duplicate", "shuffle", "reverse", "drop"]))
    if how == "duplicate":
        lines[i:i] = lines[i:j]
    elif how == "shuffle":
        lines[i:j] = draw(st.permutations(lines[i:j]))
    elif how == "reverse":
        lines[i:j] = lines[i:j][::-1]
    else:
        del lines[i:j]
    return b"".join(lines)


@st.composite
def line_endings(draw, data: bytes) -> bytes:
    how = draw(st.sampled_from(["crlf", "cr", "strip-final", "bom"]))
    if how == "crlf":
        return data.replace(b"\n", b"\r\n")
    if how == "cr":
        return data.replace(b"\n", b"\r")
    if how == "strip-final":
        return data.rstrip(b"\n")
    return b"\xef\xbb\xbf" + data


MUTATIONS = [delete_range, insert_chars, break_bracket, reindent_line, truncate_line, truncate_file, garbage,
             shuffle_lines, line_endings]


@st.composite
def mutated_plans(draw) -> bytes:
    data = draw(st.sampled_from(SEEDS))
    if draw(st.integers(0, 49)) == 0:
        return b""  # the empty file, now and then
    for _ in range(draw(st.integers(1, 4))):
        data = draw(st.one_of([mutation(data) for mutation in MUTATIONS]))
    return data


# --- the properties -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEED_FILES, ids=lambda p: p.name)
def test_seed_plans_are_handled(seed: Path) -> None:
    check_all_formats(seed.read_bytes())


@settings(
    max_examples=400,  # ~12 s on a 2-core machine; the whole file stays well under 40 s
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(data=mutated_plans())
@example(data=b"")
@example(data=b"\x00\xff\xfe\x00")
@example(data=b":<: {a}\n    <= $. %>({b})\n\t<- {b}\r\n        <- (((\n")
def test_mutated_plans_never_break_the_checker(data: bytes) -> None:
    check_all_formats(data)


# --- fixed nasty inputs through the real entry point ---------------------------------------------------------

def _ladder(depth: int) -> bytes:
    """A chain of inferences ``depth`` levels deep: each value is derived from the one indented below it."""
    lines = [":<:{level 0}"]
    for i in range(1, depth + 1):
        indent = " " * (4 * i)
        lines += [f"{indent}<= ::(derive a value from {{1}})", f"{indent}<- {{level {i}}}<:{{1}}>"]
    return ("\n".join(lines) + "\n").encode()


NASTY_FILES = {
    "binary-with-nul": b"\x00\x01\xff\xfe\x00:<:\x00{a}\n\x00\x00\xc3(\xed\xa0\x80\n\x89PNG\r\n\x1a\n\x00" * 20,
    "only-open-parens": b"((((((",
    "indentation-ladder-2000": _ladder(2000),
}


@pytest.mark.parametrize("name", list(NASTY_FILES))
def test_nasty_file_in_subprocess(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.ncd"
    path.write_bytes(NASTY_FILES[name])
    proc = subprocess.run(
        [sys.executable, "-m", "ncdc", "check", "--format", "json", str(path)],
        capture_output=True,
        cwd=PROJECT,
        timeout=120,
    )
    stderr = proc.stderr.decode("utf-8", errors="replace")
    assert proc.returncode in (0, 1), f"exit status {proc.returncode}; stderr: {stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr[-2000:]
    assert "internal error" not in stderr, stderr[-2000:]
    check_json_document(proc.stdout.decode("utf-8"), proc.returncode, str(path), NASTY_FILES[name])
