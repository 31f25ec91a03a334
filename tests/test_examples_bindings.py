"""The Python bindings of the offline example plans, composed the way the plans compose them, plus `ncdc` on both.

`examples/base_x_addition/plan.ncd` is simulated step by step (digit pairs → per position digit and carry, the carry
carried to the next position → grouping into a column → collapsed columns joined → final carry judged → carry
prepended or `$.` fallback) and must agree with Python's own integer arithmetic.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

PROJECT = Path(__file__).resolve().parents[1]
BASE_X = PROJECT / "examples" / "base_x_addition"
INVEST = PROJECT / "examples" / "investment_decision"
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    keep, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # leave no __pycache__ in the example folders
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = keep
    return module


digits = _load(BASE_X / "digits.py", "example_base_x_digits")
rules = _load(INVEST / "rules.py", "example_investment_rules")


def encode(value: int, base: int) -> str:
    if value == 0:
        return "0"
    out = []
    while value:
        value, d = divmod(value, base)
        out.append(ALPHABET[d])
    return "".join(reversed(out))


def plan_sum(a: str, b: str, base) -> tuple[str, bool]:
    """Run the bindings in the plan's order; returns ({sum}, whether the gated branch ran)."""
    pairs = digits.digit_pairs(a, b, base)                       # 1.6.2  ({number a}, {number b}, {base})
    carry = 0                                                    # {carry}*0
    columns = []                                                 # [columns], loop aggregate over `position`
    for pair in pairs:                                           # {digit pair} = position p
        digit = digits.sum_digit(pair, carry, base)              # 1.6.1.3 ({digit pair}, {carry}*-1, {base})
        new_carry = digits.carry_out(pair, carry, base)          # 1.6.1.4 ({digit pair}, {carry}*-1, {base})
        columns.append({"{digit}": digit, "{carry}": new_carry})  # 1.6.1.2 &[{}] %>[{digit}, {carry}]
        carry = new_carry                                        # {carry}*-1 of the next iteration
    joined = digits.join_digits(columns, base)                   # 1.3 ([columns] collapsed, {base})
    final = digits.final_carry(columns)                          # 1.5 ([columns] collapsed)
    if digits.has_carry(final):                                  # 1.4 judgement <ALL True>, gate 1.2.1
        return digits.prepend_carry(final, joined, base), True  # 1.2 ({final carry}, {joined digits}, {base})
    return joined, False                                         # 1  $. falls back to {joined digits}


def expected(a: str, b: str, base: int) -> str:
    return encode(int(a, base) + int(b, base), base)


FIXED = [
    ("ffff", "1", 16, True),                     # carry ripples through every digit, final carry
    ("1", "ffff", 16, True),
    ("999999999", "1", 10, True),
    ("1111111", "1", 2, True),
    ("bbbb", "1", 12, True),
    ("zzzzzz", "1", 36, True),
    ("zz0hello", "world", 36, False),
    ("123", "4567890", 10, False),               # different lengths
    ("1", "100000000000", 10, False),
    ("0", "0", 10, False),
    ("000", "0000", 2, False),
    ("0099", "1", 10, True),                     # leading zeros are dropped first
    ("0098", "1", 10, False),
    ("50", "50", 10, True),                      # top result digit 0 under a final carry
    ("a", "2", 12, True),
    ("BEEF", "cafe", 16, True),                  # upper case accepted
    ("10110", "1101", 2, True),
]


@pytest.mark.parametrize("a,b,base,carried", FIXED)
def test_fixed_cases(a, b, base, carried):
    result, gated = plan_sum(a, b, base)
    assert result == expected(a.lower(), b.lower(), base)
    assert gated is carried


@pytest.mark.parametrize("base", [2, 10, 12, 16, 36])
def test_full_ripple_in_every_base(base):
    top = ALPHABET[base - 1]
    a = top * 50
    result, gated = plan_sum(a, "1", base)
    assert result == "1" + "0" * 50 and gated


@pytest.mark.parametrize("base", [2, 10, 16, 36])
def test_two_thousand_digit_operands(base):
    import random

    rng = random.Random(base)
    a = ALPHABET[rng.randrange(1, base)] + "".join(rng.choice(ALPHABET[:base]) for _ in range(1999))
    b = ALPHABET[rng.randrange(1, base)] + "".join(rng.choice(ALPHABET[:base]) for _ in range(1999))
    assert plan_sum(a, b, base)[0] == expected(a, b, base)
    assert plan_sum(a, b[:700], base)[0] == expected(a, b[:700], base)


def test_base_arrives_as_text_or_int():
    assert plan_sum("ff", "1", "16")[0] == "100"


@pytest.mark.parametrize("a,b,base", [("12", "3", 2), ("1g", "1", 16), ("", "1", 10)])
def test_invalid_digits_are_rejected(a, b, base):
    with pytest.raises(ValueError):
        digits.digit_pairs(a, b, base)


@pytest.mark.parametrize("base", [1, 37])
def test_invalid_base_is_rejected(base):
    with pytest.raises(ValueError):
        digits.digit_pairs("1", "1", base)


def test_collapsed_columns_may_arrive_nested():
    columns = [[{"{digit}": 0, "{carry}": 1}], [{"digit": 0, "carry": 1}]]
    assert digits.join_digits(columns, 10) == "00"
    assert digits.final_carry(columns) == 1


@st.composite
def operands(draw):
    base = draw(st.integers(min_value=2, max_value=36))
    alphabet = ALPHABET[:base]
    a = draw(st.text(alphabet=alphabet, min_size=1, max_size=60))
    b = draw(st.text(alphabet=alphabet, min_size=1, max_size=60))
    return a, b, base


@settings(max_examples=200, deadline=None)
@given(operands())
def test_property_matches_python_arithmetic(case):
    a, b, base = case
    result, gated = plan_sum(a, b, base)
    assert result == expected(a, b, base)
    assert gated == (len(result) > max(len(a.lstrip("0") or "0"), len(b.lstrip("0") or "0")))


# ---------- investment decision rules ----------

def _read(name: str) -> str:
    return (INVEST / "data" / name).read_text(encoding="utf-8")


def plan_decision(thresholds) -> dict:
    signals = rules.price_signals(_read("price_data.json")) + rules.news_signals(_read("news_data.json"))
    bullish = [rules.is_bullish(s, thresholds) for s in signals]
    bearish = [rules.is_bearish(s, thresholds) for s in signals]
    evidence = {}
    if any(bullish):
        evidence["[bullish notes]"] = [rules.bullish_note(s) for s, f in zip(signals, bullish) if f]
    if any(bearish):
        evidence["[bearish notes]"] = [rules.bearish_note(s) for s, f in zip(signals, bearish) if f]
    profile = _read("risk_profile.json")
    if rules.outnumbers(bullish, bearish, thresholds):
        return rules.buy_decision(evidence, profile)
    if rules.outnumbers(bearish, bullish, thresholds):
        return rules.sell_decision(evidence, profile)
    return rules.hold_decision(signals)


def test_investment_shipped_data_buys():
    decision = plan_decision(_read("thresholds.json"))
    assert decision["action"] == "buy" and decision["size"] == 0.04 and decision["stop_loss"] == 0.08
    assert decision["rationale"].count("is bullish") == 4


def test_investment_inputs_file_holds():
    thresholds = json.loads((INVEST / "inputs.json").read_text(encoding="utf-8"))["{thresholds}"]
    assert plan_decision(thresholds)["action"] == "hold"


def test_investment_bearish_thresholds_sell():
    decision = plan_decision({"bullish_above": 0.65, "bearish_below": 0.5, "margin": 2})
    assert decision["action"] == "sell"


# ---------- the compiler accepts both plans ----------

@pytest.mark.parametrize("folder", [BASE_X, INVEST], ids=["base_x_addition", "investment_decision"])
def test_ncdc_check_is_clean(folder):
    proc = subprocess.run([sys.executable, "-m", "ncdc", "check", "--check-files", str(folder)],
                          capture_output=True, text=True, cwd=PROJECT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No problems found." in proc.stderr, proc.stdout + proc.stderr
    report = subprocess.run([sys.executable, "-m", "ncdc", "check", "--check-files", "--show-info", "--format", "json",
                             str(folder)], capture_output=True, text=True, cwd=PROJECT)
    assert report.returncode == 0, report.stdout + report.stderr
    assert json.loads(report.stdout)["diagnostics"] == []


@pytest.mark.parametrize("folder", [BASE_X, INVEST], ids=["base_x_addition", "investment_decision"])
def test_ncdc_compile_succeeds(folder, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ncdc", "compile", str(folder / "plan.ncd"), "-o", str(tmp_path)],
                          capture_output=True, text=True, cwd=PROJECT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    inferences = json.loads((tmp_path / "plan.inference.json").read_text(encoding="utf-8"))
    bindings = {e["flow_info"]["flow_index"]: e["working_interpretation"].get("python_binding")
                for e in inferences}
    module = digits if folder == BASE_X else rules
    for binding in filter(None, bindings.values()):
        assert callable(getattr(module, binding["function"])), binding


def test_base_x_value_orders_match_the_bindings(tmp_path):
    subprocess.run([sys.executable, "-m", "ncdc", "compile", str(BASE_X / "plan.ncd"), "-o", str(tmp_path)],
                   check=True, capture_output=True, cwd=PROJECT)
    inferences = json.loads((tmp_path / "plan.inference.json").read_text(encoding="utf-8"))
    orders = {e["working_interpretation"]["python_binding"]["function"]: list(e["working_interpretation"]["value_order"])
              for e in inferences if e["working_interpretation"].get("python_binding")}
    assert orders == {
        "digit_pairs": ["{number a}", "{number b}", "{base}"],
        "sum_digit": ["{digit pair}", "{carry}*-1", "{base}"],
        "carry_out": ["{digit pair}", "{carry}*-1", "{base}"],
        "join_digits": ["[columns]", "{base}"],
        "final_carry": ["[columns]"],
        "has_carry": ["{final carry}"],
        "prepend_carry": ["{final carry}", "{joined digits}", "{base}"],
    }
    loop = next(e for e in inferences if e["inference_sequence"] == "looping")
    assert loop["working_interpretation"]["syntax"]["InLoopConcept"] == {
        "{carry}": {"current_name": "{carry}*-1", "carry_over": 1, "initial_concept": "{carry}*0"}}
