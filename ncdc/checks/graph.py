"""Rule family placeholder; filled in by its owner."""

from __future__ import annotations

from ncdc.options import CheckOptions
from ncdc.plan import PlanModel
from ncdc.source import Reporter


def check(model: PlanModel, reporter: Reporter, options: CheckOptions) -> None:
    return None
