"""Python bindings for the seven semantic steps of the reference's addition repository (tests/foreign/).

The reference ran model-generated scripts for these steps; a foreign run never does (RUNTIME §12), so these
hand-written functions stand in for them through `--binding FLOW_INDEX=addition_bindings.py:FUNCTION`. Each receives
the step's `value_order` inputs after perception, in order; the script and prompt locations and the descriptions bound
to query slots `{N}?` fed the reference's code generator and are not passed.
"""

from __future__ import annotations

from typing import Any


def _numbers(x: Any) -> list[int]:
    """Every integer inside ``x``: element values arrive as ints, digit strings, or lists of them (a grouping)."""
    if isinstance(x, list):
        return [n for item in x for n in _numbers(item)]
    if isinstance(x, bool):
        return [int(x)]
    return [int(str(x).strip())]


def _one(x: Any) -> int:
    values = _numbers(x)
    if len(values) != 1:
        raise ValueError(f"expected one number, got {x!r}")
    return values[0]


def digit_sum(unit_place_values: Any, carry: Any) -> int:
    """1.1.2: the unit-place digits of all numbers plus the carry."""
    return sum(_numbers(unit_place_values)) + sum(_numbers(carry))


def unit_digit(number: Any) -> int:
    """1.1.2.4.2.1.2: the last digit of a number."""
    return _one(number) % 10


def remove_digit(number: Any) -> int:
    """1.1.3.2.1.2: the number without its last digit (0 below 10)."""
    return _one(number) // 10


def is_zero(number: Any) -> bool:
    """1.1.3.3: the number is 0."""
    return all(n == 0 for n in _numbers(number))


def carry_is_zero(carry: Any) -> bool:
    """1.1.3.4: the carry is 0."""
    return all(n == 0 for n in _numbers(carry))


def quotient(digit_sum_value: Any) -> int:
    """1.1.3.4.2.2: the new carry, digit sum // 10."""
    return _one(digit_sum_value) // 10


def remainder(digit_sum_value: Any) -> int:
    """1.1.4: the digit of this place, digit sum % 10."""
    return _one(digit_sum_value) % 10


def split_words(text: Any) -> list[str]:
    """A one-step foreign repository of tests/test_foreign_repos.py: the words of a text (a list answer)."""
    return str(text).split()
