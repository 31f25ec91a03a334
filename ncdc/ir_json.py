"""The IR as plain JSON data (``ncdc parse --json``): every node with its kind, fields and span."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from ncdc.ir import Plan, Span


def to_data(value: Any) -> Any:
    if isinstance(value, Span):
        return [value.line, value.column, value.end_line, value.end_column]
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data: dict[str, Any] = {"node": type(value).__name__}
        for f in dataclasses.fields(value):
            data[f.name] = to_data(getattr(value, f.name))
        return data
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    return value


def plan_data(plan: Plan) -> dict[str, Any]:
    return {
        "path": plan.path,
        "header_annotations": to_data(plan.header_annotations),
        "lines": [to_data(line) for line in plan.lines],
    }
