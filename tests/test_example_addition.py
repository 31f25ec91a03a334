"""The addition example (`examples/base_x_addition/`) is exact: its `{sum}` equals Python's own big-integer sum.

Acceptance point of the "ncd-run runtime" issue: 300 random pairs with fixed seeds (60 in each of the bases 2, 10, 12,
16 and 36, operands of 1-2,000 digits, mostly of different lengths, some with leading zeros, some whose carry ripples
through every digit), dedicated ripple and no-final-carry cases, a hypothesis property, and one real `ncd-run --json`
subprocess on a 2,000-digit ripple.

The plan is compiled once and the loaded `Plan` is reused by every in-process `Orchestrator` (a 2,000-digit addition
takes about 1.5 s, so most random lengths are drawn log-uniformly and only a few pairs are exactly 2,000 digits long).
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.load import Plan, load_plan
from runtime.orchestrator import Orchestrator
from runtime.store import MemoryStore

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE = PROJECT / "examples" / "base_x_addition"
PLAN = EXAMPLE / "plan.ncd"

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
BASES = (2, 10, 12, 16, 36)
PAIRS_PER_BASE = 60
MAX_DIGITS = 2000
SEED = 20250611  # fixed: the random pairs are the same on every run


# ---------------------------------------------------------------- the oracle: Python's own integers

def encode(value: int, base: int) -> str:
    """``value`` (>= 0) in ``base``: lower-case digits, most significant first, no leading zeros, "0" for zero."""
    assert value >= 0
    if value == 0:
        return "0"
    out = []
    while value:
        value, digit = divmod(value, base)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def expected_sum(a: str, b: str, base: int) -> str:
    return encode(int(a, base) + int(b, base), base)


def test_oracle_round_trips():
    rng = random.Random(SEED)
    for base in BASES:
        for _ in range(50):
            value = rng.randrange(base ** rng.randint(1, 300))
            assert int(encode(value, base), base) == value
    assert encode(0, 10) == "0" and encode(35, 36) == "z" and encode(36, 36) == "10" and encode(255, 16) == "ff"
    assert expected_sum("zzzz", "1", 36) == "10000"


# ---------------------------------------------------------------- running the plan in process

@functools.lru_cache(maxsize=1)
def compiled_plan() -> Plan:
    """The example compiled once (in memory); the Plan is read-only during a run and is shared by every run."""
    return load_plan(PLAN)


def run_addition(a: str, b: str, base: int) -> str:
    """``{sum}`` of one in-process run of the example plan on ``a + b`` in ``base``."""
    result = Orchestrator(compiled_plan(), inputs={"{number a}": a, "{number b}": b, "{base}": base},
                          store=MemoryStore()).run()
    assert result.outcome == "completed", (result.outcome, result.reasons, len(a), len(b), base)
    assert set(result.final) == {"{sum}"}, result.final
    final = result.final["{sum}"]
    assert final["axes"] == ["_none_axis"], final["axes"]
    assert len(final["data"]) == 1 and isinstance(final["data"][0], str), final["data"]
    return final["data"][0]


def short(text: str, keep: int = 24) -> str:
    return text if len(text) <= 2 * keep + 3 else f"{text[:keep]}...{text[-keep:]} ({len(text)} digits)"


def check_addition(a: str, b: str, base: int) -> None:
    want = expected_sum(a, b, base)
    got = run_addition(a, b, base)
    assert got == want, (f"base {base}: {short(a)} + {short(b)}: plan gave {short(got)}, "
                         f"Python gives {short(want)}")


# ---------------------------------------------------------------- 300 random pairs with fixed seeds

def log_uniform_length(rng: random.Random, low: int = 1, high: int = MAX_DIGITS) -> int:
    """A length in [low, high], log-uniform: mostly short operands (fast), now and then long ones."""
    return min(high, max(low, int(math.exp(rng.uniform(math.log(low), math.log(high + 1))))))


def random_digits(rng: random.Random, base: int, length: int, *, top_nonzero: bool = True) -> str:
    """``length`` random digits in ``base``; the first is non-zero when asked (and length > 1)."""
    digits = [rng.randrange(base) for _ in range(length)]
    if top_nonzero and length > 1 and digits[0] == 0:
        digits[0] = rng.randrange(1, base)
    return "".join(ALPHABET[d] for d in digits)


def ripple_pair(rng: random.Random, base: int, length: int) -> tuple[str, str]:
    """(a, b) with ``a + b == base**length``: every column carries, and a final carry adds a new leading digit.

    ``a`` has ``length`` digits; ``b`` is written with leading zeros up to ``length`` digits or without them (shorter).
    """
    low = base ** (length - 1)
    a_value = rng.randrange(max(low, 1), base ** length)
    if a_value % base == 0:  # the lowest column must carry: a0 + b0 == base
        a_value += 1 if a_value + 1 < base ** length else -1
    b_value = base ** length - a_value
    a = encode(a_value, base)
    b = encode(b_value, base)
    if rng.random() < 0.5:
        b = b.rjust(length, "0")
    return a, b


def all_max_no_carry_pair(rng: random.Random, base: int, length: int) -> tuple[str, str]:
    """(a, b) with ``a + b == base**length - 1``: every result digit is the top digit and no column carries."""
    a_value = rng.randrange(base ** length)
    a = encode(a_value, base).rjust(length, "0") if rng.random() < 0.3 else encode(a_value, base)
    return a, encode(base ** length - 1 - a_value, base)


def random_cases() -> list[tuple[str, int, str, str]]:
    """(id, base, a, b): 60 pairs per base, drawn from a fixed seed per base."""
    cases = []
    for base in BASES:
        rng = random.Random(SEED * 100 + base)
        for i in range(PAIRS_PER_BASE):
            if i == 0:  # both operands exactly 2,000 digits
                kind, la, lb = "random", MAX_DIGITS, MAX_DIGITS
            elif i == 1:  # exactly 2,000 digits plus a short one
                kind, la, lb = "random", MAX_DIGITS, log_uniform_length(rng, 1, 40)
            elif i == 2:  # exactly 2,000 digits, the carry ripples through all of them
                kind, la, lb = "ripple", MAX_DIGITS, MAX_DIGITS
            else:
                longer = log_uniform_length(rng)
                roll = rng.random()
                if roll < 0.15:
                    kind, la, lb = "ripple", longer, longer
                elif roll < 0.22:
                    kind, la, lb = "all-max", longer, longer
                else:
                    other = longer if rng.random() < 0.15 else rng.randint(1, longer)
                    kind, la, lb = ("random", longer, other) if rng.random() < 0.5 else ("random", other, longer)
            if kind == "ripple":
                a, b = ripple_pair(rng, base, la)
            elif kind == "all-max":
                a, b = all_max_no_carry_pair(rng, base, la)
            else:
                a, b = random_digits(rng, base, la), random_digits(rng, base, lb)
                if rng.random() < 0.1:  # leading zeros (digit_pairs drops them), at most 2,000 characters in all
                    a = "0" * min(rng.randint(1, 5), MAX_DIGITS - len(a)) + a
                if rng.random() < 0.1:
                    b = "0" * min(rng.randint(1, 5), MAX_DIGITS - len(b)) + b
            if rng.random() < 0.5:
                a, b = b, a
            cases.append((f"b{base}-{i:02d}-{kind}-{len(a)}+{len(b)}", base, a, b))
    return cases


RANDOM_CASES = random_cases()


def test_random_cases_cover_the_acceptance_point():
    """300 pairs, 60 per base, 1..2,000 digits, several at exactly 2,000, most of different lengths."""
    assert len(RANDOM_CASES) == 300
    for base in BASES:
        assert sum(1 for _, b, _, _ in RANDOM_CASES if b == base) == PAIRS_PER_BASE
    lengths = [len(x.lstrip("0") or "0") for _, _, a, b in RANDOM_CASES for x in (a, b)]
    assert min(lengths) == 1 and max(lengths) == MAX_DIGITS
    assert sum(1 for _, _, a, b in RANDOM_CASES if max(len(a), len(b)) == MAX_DIGITS) >= 3 * len(BASES)
    assert sum(1 for _, _, a, b in RANDOM_CASES if len(a) != len(b)) >= 150
    assert sum(1 for _, _, a, b in RANDOM_CASES if (a[:1] == "0" and len(a) > 1) or (b[:1] == "0" and len(b) > 1)) >= 10
    for _, base, a, b in RANDOM_CASES:
        assert 1 <= len(a) <= MAX_DIGITS and 1 <= len(b) <= MAX_DIGITS
        assert set(a + b) <= set(ALPHABET[:base])
    # both $. paths: some sums gain a new leading digit (gate passes), others do not (fallback to the joined digits)
    grew = [len(expected_sum(a, b, base)) > max(len(a.lstrip("0")), len(b.lstrip("0")), 1)
            for _, base, a, b in RANDOM_CASES]
    assert sum(grew) >= 30 and grew.count(False) >= 30


@pytest.mark.parametrize(("base", "a", "b"), [c[1:] for c in RANDOM_CASES], ids=[c[0] for c in RANDOM_CASES])
def test_random_pair_is_exact(base, a, b):
    check_addition(a, b, base)


# ---------------------------------------------------------------- dedicated cases

RIPPLE_2000 = [
    ("z" * MAX_DIGITS, "1", 36),  # zzz...z + 1 -> 1000...0 (2,001 digits)
    ("1" * MAX_DIGITS, "1", 2),  # 111...1 + 1 in base 2
    ("9" * MAX_DIGITS, "1", 10),
    ("1", "f" * MAX_DIGITS, 16),  # the long operand second
    ("b" * MAX_DIGITS, "b" * MAX_DIGITS, 12),  # every column 11 + 11 (+ 1) carries: bbb...b + bbb...b = 1bbb...ba
]


@pytest.mark.parametrize(("a", "b", "base"), RIPPLE_2000, ids=[f"b{c[2]}-{c[0][:1]}x{len(c[0])}+{c[1][:1]}x{len(c[1])}"
                                                               for c in RIPPLE_2000])
def test_carry_ripples_through_all_2000_digits(a, b, base):
    got = run_addition(a, b, base)
    assert len(got) == MAX_DIGITS + 1 and got[0] == "1"  # the final carry is a new leading digit
    assert got == expected_sum(a, b, base)


SMALL_CASES = [
    # final carry through every digit -> a new leading digit (gate passes, {sum with final carry})
    ("9999", "1", 10, "10000"),
    ("9", "1", 10, "10"),
    ("1", "1", 2, "10"),
    ("1111", "1", 2, "10000"),
    ("ffff", "1", 16, "10000"),
    ("bbb", "1", 12, "1000"),
    ("zzzz", "1", 36, "10000"),
    ("1", "zzzz", 36, "10000"),
    ("z", "z", 36, "1y"),
    ("ff", "ff", 16, "1fe"),
    ("00099", "001", 10, "100"),  # leading zeros are dropped before the carry reaches the top
    # no final carry: the gated step is skipped and $. falls back to {joined digits}
    ("0", "0", 10, "0"),
    ("0", "0", 2, "0"),
    ("000", "0", 36, "0"),
    ("0", "7", 10, "7"),
    ("1", "0", 2, "1"),
    ("8", "1", 10, "9"),
    ("12", "34", 10, "46"),
    ("1010", "101", 2, "1111"),
    ("a", "1", 12, "b"),
    ("8999", "1", 10, "9000"),  # ripples through all but the top digit, no final carry
    ("y" + "z" * 50, "1", 36, "z" + "0" * 50),
    ("1" + "0" * 99, "1", 2, "1" + "0" * 98 + "1"),  # operands of very different lengths
    ("zz0hello", "world", 36, "zz1e3d71"),  # inputs_no_final_carry.json
    ("00000000001", "0000002", 16, "3"),
    ("FFFF", "1", 16, "10000"),  # upper case digits are accepted on input (digits.py)
]


@pytest.mark.parametrize(("a", "b", "base", "want"), SMALL_CASES,
                         ids=[f"b{c[2]}-{short(c[0], 6)}+{short(c[1], 6)}" for c in SMALL_CASES])
def test_small_cases(a, b, base, want):
    assert want == expected_sum(a, b, base)
    assert run_addition(a, b, base) == want


def test_example_input_files():
    """The two inputs files shipped with the example give the sums its README states."""
    for name, want in (("inputs.json", "10000"), ("inputs_no_final_carry.json", "zz1e3d71")):
        data = json.loads((EXAMPLE / name).read_text(encoding="utf-8"))
        result = Orchestrator(compiled_plan(), inputs=EXAMPLE / name, store=MemoryStore()).run()
        assert result.outcome == "completed", result.reasons
        assert result.final == {"{sum}": {"axes": ["_none_axis"], "data": [want]}}
        assert want == expected_sum(data["{number a}"], data["{number b}"], data["{base}"])


# ---------------------------------------------------------------- hypothesis property

@st.composite
def additions(draw) -> tuple[str, str, int]:
    base = draw(st.sampled_from(BASES))
    digits = st.text(alphabet=ALPHABET[:base], min_size=1, max_size=60)
    return draw(digits), draw(digits), base


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(additions())
def test_property_sum_is_exact(case):
    a, b, base = case
    check_addition(a, b, base)


# ---------------------------------------------------------------- the real CLI

def ncd_run_command() -> list[str]:
    script = Path(sys.executable).parent / "ncd-run"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "runtime.cli"]


def test_cli_json_on_a_2000_digit_ripple(tmp_path):
    a, b, base = "z" * MAX_DIGITS, "1", 36
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"{number a}": a, "{number b}": b, "{base}": base}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_"))}
    proc = subprocess.run([*ncd_run_command(), "run", str(PLAN), "--inputs", str(inputs), "--json"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["outcome"] == "completed"
    assert doc["final"] == {"{sum}": {"axes": ["_none_axis"], "data": ["1" + "0" * MAX_DIGITS]}}
    assert doc["final"]["{sum}"]["data"][0] == expected_sum(a, b, base)
