"""Bindings of tests/runtime_plans/reconcile/small.ncd."""


def double(seed):
    return seed * 2


def double_v2(seed):
    return seed * 3


def add(a, seed):
    return a + seed


def combine(a, b):
    return f"{a}/{b}"
