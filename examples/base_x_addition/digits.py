"""Digit operations bound to `plan.ncd` (exact addition in any base from 2 to 36).

Each function is called by `ncd-run` once per cell with the perceived inputs as positional arguments, in the
inference's `value_order` (RUNTIME §10.1, §5.5), and returns one JSON-serializable element.

Digits are the characters ``0-9`` then ``a-z`` (upper case accepted on input); numbers are written most significant
digit first. A *pair* is ``[digit of a, digit of b]`` (integers) for one position. A *column* is what the loop body's
grouping ``&[{}] %>[{digit}, {carry}]`` builds for one position: an object labelled with the source concept names,
``{"{digit}": d, "{carry}": c}`` (RUNTIME §5.2); bare ``digit``/``carry`` keys are read too.
"""

from __future__ import annotations

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base(base) -> int:
    value = int(base)
    if not 2 <= value <= 36:
        raise ValueError(f"base must be between 2 and 36, got {value}")
    return value


def _digit_values(number, base: int) -> list[int]:
    """Digit values of ``number`` (a digit string), most significant first, leading zeros removed (at least one)."""
    text = str(number).strip().lower()
    if not text:
        raise ValueError("a number needs at least one digit")
    values = []
    for char in text:
        value = ALPHABET.find(char)
        if value < 0 or value >= base:
            raise ValueError(f"{char!r} is not a digit in base {base}")
        values.append(value)
    while len(values) > 1 and values[0] == 0:
        values.pop(0)
    return values


def _field(column, name: str) -> int:
    if not isinstance(column, dict):
        raise TypeError(f"a column must be an object, got {column!r}")
    for key in ("{" + name + "}", name):
        if key in column:
            return int(column[key])
    raise KeyError(f"column {column!r} has no {name}")


def _columns(columns) -> list:
    """The columns of the collapsed `[columns]` input, least significant first (nested lists are flattened)."""
    if isinstance(columns, dict):
        return [columns]
    flat: list = []
    for item in columns:
        flat.extend(_columns(item) if isinstance(item, (list, dict)) else [item])
    return flat


# 1.6.2  [digit pairs]  <- ({number a}, {number b}, {base}); the list is spread along the `position` axis.
def digit_pairs(number_a, number_b, base) -> list[list[int]]:
    """``[[a0, b0], [a1, b1], ...]``: the digit values of both numbers, least significant first, padded with 0.

    Leading zeros are dropped first, so the top result digit is only zero for ``0 + 0`` or when a final carry follows.
    """
    base = _base(base)
    a = _digit_values(number_a, base)[::-1]
    b = _digit_values(number_b, base)[::-1]
    width = max(len(a), len(b))
    a += [0] * (width - len(a))
    b += [0] * (width - len(b))
    return [[x, y] for x, y in zip(a, b)]


def _column_total(pair, carry_in, base) -> tuple[int, int]:
    base = _base(base)
    x, y = (int(v) for v in pair)
    carry = int(carry_in)
    if not (0 <= x < base and 0 <= y < base and 0 <= carry <= 1):
        raise ValueError(f"bad column {pair!r} with carry {carry_in!r} in base {base}")
    return x + y + carry, base


# 1.6.1.3  {digit}  <- ({digit pair}, {carry}*-1, {base})
def sum_digit(pair, carry_in, base) -> int:
    """The result digit of one position: (a + b + carry in) mod base."""
    total, base = _column_total(pair, carry_in, base)
    return total % base


# 1.6.1.4  {carry}  <- ({digit pair}, {carry}*-1, {base})
def carry_out(pair, carry_in, base) -> int:
    """The carry into the next position: (a + b + carry in) div base (0 or 1)."""
    total, base = _column_total(pair, carry_in, base)
    return total // base


# 1.3  {joined digits}  <- ([columns] collapsed, {base})
def join_digits(columns, base) -> str:
    """The result digits as a string, most significant first, without the final carry."""
    base = _base(base)
    digits = [_field(column, "digit") for column in _columns(columns)]
    if not digits:
        return "0"
    for digit in digits:
        if not 0 <= digit < base:
            raise ValueError(f"{digit} is not a digit value in base {base}")
    return "".join(ALPHABET[digit] for digit in reversed(digits))


# 1.5  {final carry}  <- ([columns] collapsed)
def final_carry(columns) -> int:
    """The carry out of the most significant (last) column; 0 when there are no columns."""
    flat = _columns(columns)
    return _field(flat[-1], "carry") if flat else 0


# 1.4  <there is a final carry>  <- ({final carry});  judgement <ALL True>
def has_carry(carry) -> bool:
    return int(carry) != 0


# 1.2  {sum with final carry}  <- ({final carry}, {joined digits}, {base});  gated by @:'(<there is a final carry>)
def prepend_carry(carry, joined_digits, base) -> str:
    """The final carry written as a new leading digit in front of the result digits."""
    base = _base(base)
    carry = int(carry)
    if not 0 < carry < base:
        raise ValueError(f"{carry} is not a non-zero digit value in base {base}")
    return ALPHABET[carry] + str(joined_digits)
