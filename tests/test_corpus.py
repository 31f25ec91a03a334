"""Conformance with the corpus MANIFEST (../shared/corpus/MANIFEST.md), parser layer.

The harness runs `ncdc check --format json FILE` as a real process, as the MANIFEST prescribes. This layer owns
NCD1xx, NCD2xx, NCD910-NCD916 and NCD920-NCD922 (CHECKS.md §4); expectations of the other layers are tested
with the checks they belong to.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

PARSER_LAYER = re.compile(r"^NCD(1\d\d|2\d\d|91[0-7]|92[0-2])$")

# file -> (exit status expected from this layer, MUST-report (line, code) pairs)
NEGATIVE: dict[str, tuple[int, set[tuple[int, str]]]] = {
    "gold_recomposed.ncd": (1, {(131, "NCD116"), (75, "NCD921"), (81, "NCD921"), (75, "NCD922")}),
    "iter10_formalization_output.ncd": (1, {(20, "NCD202"), (20, "NCD921"), (21, "NCD921")}),
    "chunk_strip.ncd": (
        1,
        {(2, "NCD122"), (4, "NCD121"), (6, "NCD128"), (7, "NCD128"), (8, "NCD122"), (11, "NCD127"),
         (13, "NCD128"), (14, "NCD128"), (16, "NCD111")},
    ),
    "calculation.ncd": (1, {(1, "NCD120"), (2, "NCD120"), (2, "NCD125"), (3, "NCD128")}),
    "love_s2_empty.ncd": (1, {(1, "NCD201")}),
    "translation_v2_fragment.ncd": (
        1,
        {(1, "NCD920"), (1, "NCD120"), (2, "NCD125"), (11, "NCD110"), (13, "NCD121"), (15, "NCD112"), (40, "NCD123")},
    ),
    "legacy_editor_example.ncd": (
        1,
        {(1, "NCD120"), (3, "NCD121"), (4, "NCD120"), (6, "NCD120"), (8, "NCD120"), (9, "NCD128"), (12, "NCD128")},
    ),
    "legacy_love_s1.ncd": (
        1,
        {(4, "NCD121"), (7, "NCD123"), (12, "NCD125"), (17, "NCD122"), (26, "NCD126"), (33, "NCD128"),
         (38, "NCD125"), (43, "NCD125"), (47, "NCD125"), (52, "NCD125")},
    ),
    "legacy_registration.ncd": (
        1,
        {(n, "NCD120") for n in (1, 4, 9, 18, 19, 26, 27)}
        | {(2, "NCD121")}
        | {(n, "NCD125") for n in (10, 19, 27)}
        | {(n, "NCD123") for n in (20, 28)}
        | {(n, "NCD128") for n in (5, 6, 11, 22, 33)},
    ),
    "legacy_translation_v1.ncd": (
        1,
        {(1, "NCD120"), (3, "NCD121"), (5, "NCD917"), (5, "NCD120"), (6, "NCD128"), (11, "NCD126"), (17, "NCD122"),
         (21, "NCD124"), (26, "NCD125"), (33, "NCD123"), (39, "NCD123"), (84, "NCD122")},
    ),
}

# Parser-layer findings the MANIFEST lists as SHOULD; for the positive plans this is the complete set.
EXACT: dict[str, set[tuple[int, str]]] = {
    "iter10_formalization.pf.ncd": {(143, "NCD913"), (171, "NCD913")},
    "gold_syntax_coherence.ncd": {(272, "NCD916"), (293, "NCD916"), (273, "NCD910"), (294, "NCD910")},
    # Its only finding of note (NCD935, a warning since FIDELITY.md §7) belongs to the checks layer.
    "gold_example.ncd": set(),
    "love_s2_empty.ncd": {(1, "NCD201")},
}
SHOULD: dict[str, set[tuple[int, str]]] = {
    "gold_recomposed.ncd": {(164, "NCD910"), (177, "NCD910"), (163, "NCD916"), (176, "NCD916")},
    "iter10_formalization_output.ncd": {(1, "NCD920"), (20, "NCD920")},
}

# Words each legacy message must contain: the current equivalent (LANGUAGE.md §8).
CURRENT_EQUIVALENT = {
    "NCD120": "the current form is `| ?{flow_index}: ",
    "NCD121": "$. %>(",
    "NCD122": "&[",
    "NCD123": "@:",
    "NCD124": "*. %>(",
    "NCD125": "::(text)<ALL True>",
    "NCD126": "%{norm_input}",
    "NCD127": ":%(Name):",
    "NCD128": "the current form",
}
# Diagnostics whose *message* (not only the help) must name the current form (MANIFEST: "Legacy diagnostics MUST
# name the current equivalent in their message").
IN_MESSAGE = ("NCD120", "NCD128")


def run_check(path: Path) -> tuple[int, list[dict]]:
    process = subprocess.run(
        [sys.executable, "-m", "ncdc", "check", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert "Traceback" not in process.stderr, process.stderr
    return process.returncode, json.loads(process.stdout)["diagnostics"]


def parser_layer(diagnostics: list[dict]) -> set[tuple[int, str]]:
    return {(d["line"], d["code"]) for d in diagnostics if PARSER_LAYER.match(d["code"])}


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_negative_plans_report_the_listed_diagnostics(corpus: Path, name: str) -> None:
    expected_exit, must = NEGATIVE[name]
    status, diagnostics = run_check(corpus / name)
    found = parser_layer(diagnostics)
    assert status == expected_exit
    assert must <= found, sorted(must - found)
    assert SHOULD.get(name, set()) <= found, sorted(SHOULD.get(name, set()) - found)
    if name in EXACT:
        assert found == EXACT[name]
    for diagnostic in diagnostics:
        current = CURRENT_EQUIVALENT.get(diagnostic["code"])
        if current is not None:
            assert current in diagnostic["message"] + (diagnostic["help"] or ""), diagnostic
        if diagnostic["code"] in IN_MESSAGE:
            assert CURRENT_EQUIVALENT[diagnostic["code"]] in diagnostic["message"], diagnostic


@pytest.mark.parametrize("name", ["iter10_formalization.pf.ncd", "gold_syntax_coherence.ncd", "gold_example.ncd"])
def test_positive_plans_have_no_parser_errors(corpus: Path, name: str) -> None:
    status, diagnostics = run_check(corpus / name)
    assert parser_layer(diagnostics) == EXACT[name]
    assert not [d for d in diagnostics if d["severity"] == "error" and PARSER_LAYER.match(d["code"])]
    if name != "gold_example.ncd":
        assert status == 0


def test_ncd112_recovery_absorbs_the_joined_lines(corpus: Path) -> None:
    _, diagnostics = run_check(corpus / "translation_v2_fragment.ncd")
    assert not [d for d in diagnostics if d["code"] == "NCD110" and 16 <= d["line"] <= 28]
    (unbalanced,) = [d for d in diagnostics if d["code"] == "NCD112"]
    assert (unbalanced["line"], unbalanced["end_line"]) == (15, 28)


def test_commented_annotations_are_not_annotations(corpus: Path) -> None:
    """`/: Add annotation: | ?{sequence}: ...` comments are opaque (MANIFEST, iter10)."""
    from ncdc.frontend import parse_plan

    plan = parse_plan((corpus / "iter10_formalization.pf.ncd").read_bytes()).plan
    assert not [a for line in plan.lines for a in line.annotations if a.sigil == "?" and a.key == "sequence"]


def test_heads_only_indices_of_the_gold_plan_are_accepted(corpus: Path) -> None:
    from ncdc.frontend import parse_plan

    plan = parse_plan((corpus / "gold_syntax_coherence.ncd").read_bytes()).plan
    explicit = [(line, a.value) for line in plan.lines for a in line.annotations if a.key == "flow_index" and a.sigil == "?"]
    assert explicit and all(line.heads_only_index == value for line, value in explicit)
