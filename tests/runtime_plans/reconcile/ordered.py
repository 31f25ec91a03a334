"""Bindings of tests/runtime_plans/reconcile/ordered.ncd."""


def record(name):
    return {"zeta": 1, "alpha": 2, "name": name}


def fmt(rec):
    return ",".join(rec)


def fmt_v2(rec):
    return ";".join(rec)
