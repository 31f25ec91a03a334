"""The one binding of the loop's bonus step, in its own module so that editing its body changes only that step's
provision hash (tests/test_reconcile.py rewrites this file in a copy of the plan)."""


def bonus(item):
    return 1 if item % 2 else 0


def bonus_v2(item):
    return 3 if item % 3 == 0 else 0
