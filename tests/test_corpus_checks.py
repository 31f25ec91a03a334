"""Conformance with the corpus MANIFEST, all layers: exit status, MUST-report lines and, for the positive
plans and the spec's examples, the complete expected set of diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest

from ncdc.checker import check
from conftest import CORPUS

SPEC_EXAMPLES = CORPUS.parent / "spec" / "examples"

# file -> (exit status, MUST report, SHOULD report); FIDELITY.md §7 updated the MANIFEST: NCD302 is retired in
# favour of the NCD935 warning (gold_example.ncd then exits 0) and a `.py` provision with a `c_Execute` paradigm
# runs `main()` (no NCD953 at gold_recomposed.ncd:83).
EXPECTED: dict[str, tuple[int, set[tuple[int, str]], set[tuple[int, str]]]] = {
    "gold_example.ncd": (
        0,
        {(19, "NCD935")},
        {(55, "NCD924"), (60, "NCD924"), (65, "NCD924"), (16, "NCD942")}
        | {(n, "NCD948") for n in (7, 10, 13, 16, 21, 25, 30, 35, 40, 49, 54, 59, 64)}
        | {(n, "NCD945") for n in (7, 10, 13, 16, 21, 25, 30, 35, 40, 49, 54, 59, 64)},
    ),
    "gold_recomposed.ncd": (
        1,
        {(73, "NCD935"), (131, "NCD116"), (75, "NCD921"), (81, "NCD921"), (75, "NCD922")},
        {(81, "NCD930"), (75, "NCD931"), (29, "NCD933"), (81, "NCD933"), (160, "NCD924"), (173, "NCD924"),
         (186, "NCD924"), (164, "NCD910"), (177, "NCD910"), (163, "NCD916"), (176, "NCD916"), (62, "NCD953")},
    ),
    "iter10_formalization_output.ncd": (
        1,
        {(20, "NCD202"), (2, "NCD935"), (21, "NCD935"), (18, "NCD935"), (12, "NCD502"), (12, "NCD503"),
         (12, "NCD504"), (13, "NCD504"), (20, "NCD921"), (21, "NCD921")},
        {(1, "NCD920"), (20, "NCD920"), (3, "NCD931"), (4, "NCD931"), (19, "NCD931")},
    ),
}
# Pairs the MANIFEST says a file must NOT report.
MUST_NOT: dict[str, set[tuple[int, str]]] = {
    "gold_recomposed.ncd": {(83, "NCD953")},
}
# The complete expected set (CHECKS.md layers together) for the positive plans (NCD954: FIDELITY.md §7, a warning by
# erratum E18; no NCD953 at gold line 153: the script paradigm calls `main`, §3.14).
EXACT: dict[str, set[tuple[int, str]]] = {
    "iter10_formalization.pf.ncd": {
        (143, "NCD913"), (171, "NCD913"), (53, "NCD941"), (133, "NCD944"), (88, "NCD954"), (104, "NCD954"),
    },
    "gold_syntax_coherence.ncd": {
        (126, "NCD942"), (220, "NCD946"), (145, "NCD923"), (259, "NCD923"), (269, "NCD924"), (290, "NCD924"),
        (311, "NCD924"), (272, "NCD916"), (293, "NCD916"), (273, "NCD910"), (294, "NCD910"), (149, "NCD954"),
        (163, "NCD954"),
    },
}


def found(path: Path) -> tuple[int, set[tuple[int, str]], list]:
    result = check(path.read_bytes(), path.name)
    status = 1 if any(d.severity.value == "error" for d in result.diagnostics) else 0
    return status, {(d.line, d.code) for d in result.diagnostics}, result.diagnostics


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_negative_plans(corpus: Path, name: str) -> None:
    status, pairs, _ = found(corpus / name)
    expected_status, must, should = EXPECTED[name]
    assert status == expected_status
    assert must <= pairs, sorted(must - pairs)
    assert should <= pairs, sorted(should - pairs)
    assert not MUST_NOT.get(name, set()) & pairs, sorted(MUST_NOT[name] & pairs)


def test_gold_example_has_no_error_and_exits_0(corpus: Path) -> None:
    """FIDELITY.md §8 decision (1): NCD302 is retired everywhere, grouping sources included."""
    status, pairs, diagnostics = found(corpus / "gold_example.ncd")
    assert status == 0, [(d.line, d.code, d.message) for d in diagnostics if d.severity.value == "error"]
    (ncd935,) = [d for d in diagnostics if d.code == "NCD935"]
    assert ncd935.severity.value == "warning" and "{theoretical framework}" in ncd935.message


def test_gold_example_reports_no_ncd953_and_no_ncd921(corpus: Path) -> None:
    _, pairs, _ = found(corpus / "gold_example.ncd")
    assert not {code for _, code in pairs} & {"NCD953", "NCD921"}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_positive_plans_give_exactly_the_expected_set(corpus: Path, name: str) -> None:
    status, pairs, diagnostics = found(corpus / name)
    assert status == 0, [(d.line, d.code, d.message) for d in diagnostics if d.severity.value == "error"]
    assert pairs == EXACT[name], (sorted(pairs - EXACT[name]), sorted(EXACT[name] - pairs))


# REPOSITORY_FORMAT.md §6: "Expected diagnostics" of each worked example.
SPEC_EXAMPLE_DIAGNOSTICS = {"triage.ncd": set(), "chapters.ncd": set(), "followups.ncd": {(17, "NCD941")}}


@pytest.mark.parametrize("name", sorted(SPEC_EXAMPLE_DIAGNOSTICS))
def test_spec_examples_give_their_expected_diagnostics(corpus: Path, name: str) -> None:
    _, pairs, diagnostics = found(SPEC_EXAMPLES / name)
    assert pairs == SPEC_EXAMPLE_DIAGNOSTICS[name], [(d.line, d.code, d.message) for d in diagnostics]
