"""Every check-layer rule has a bad fixture that triggers exactly that rule at the expected lines, and a fixed
twin that is clean (CHECKS.md §3.3-§3.6).

Fixtures live in ``tests/fixtures/checks/``: ``NCDxxx_bad[_variant].ncd`` starts with a header comment
``/: expect NCDxxx at L1, L2`` naming the lines the rule must report (and no other diagnostic may appear);
``NCDxxx_good[_variant].ncd`` must give no diagnostic at all, infos included.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ncdc.checker import check
from ncdc.options import CheckOptions
from ncdc.rules import RULES

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "checks"
EXPECT = re.compile(r"^/: expect (NCD\d{3}) at (\d+(?:\s*,\s*\d+)*)\s*$")
# Codes reported by the model checks (CHECKS.md §4): NCD3xx-NCD5xx and NCD923-NCD955 (NCD954/NCD955: FIDELITY.md §7).
CHECK_LAYER = sorted(
    code
    for code, rule in RULES.items()
    if rule.severity is not None and (code[3] in "345" or 923 <= int(code[3:]) <= 955)
)
BAD = sorted(FIXTURES.glob("NCD*_bad*.ncd"))
GOOD = sorted(FIXTURES.glob("NCD*_good*.ncd"))


def _check(path: Path):
    options = CheckOptions(check_files=True, plan_dir=path.parent)
    return check(path.read_bytes(), path.name, options).diagnostics


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_fixture_triggers_exactly_its_rule(path: Path) -> None:
    header = path.read_text(encoding="utf-8").splitlines()[0]
    match = EXPECT.match(header)
    assert match, f"{path.name}: first line must be `/: expect NCDxxx at L`"
    code = match.group(1)
    assert path.name.startswith(code)
    lines = sorted(int(n) for n in re.split(r"\s*,\s*", match.group(2)))
    diagnostics = _check(path)
    assert {d.code for d in diagnostics} == {code}, [(d.line, d.code, d.message) for d in diagnostics]
    assert sorted(d.line for d in diagnostics) == lines, [(d.line, d.code, d.message) for d in diagnostics]


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_fixed_twin_is_clean(path: Path) -> None:
    diagnostics = _check(path)
    assert diagnostics == [], [(d.line, d.code, d.message) for d in diagnostics]


@pytest.mark.parametrize("code", CHECK_LAYER)
def test_every_check_rule_has_a_bad_fixture_and_a_fixed_twin(code: str) -> None:
    assert any(p.name.startswith(code + "_bad") for p in BAD), f"no bad fixture for {code}"
    assert any(p.name.startswith(code + "_good") for p in GOOD), f"no fixed twin for {code}"
