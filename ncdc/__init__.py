"""ncdc — the NormCode compiler: static analysis and compilation of `.ncd` plans.

The public API is imported lazily so that ``ncdc --version`` starts without loading lark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "check", "CheckOptions", "CheckResult", "parse_plan", "Diagnostic", "Severity", "NcdcError"]

if TYPE_CHECKING:
    from ncdc.checker import CheckOptions, CheckResult, check
    from ncdc.diagnostics import Diagnostic
    from ncdc.errors import NcdcError
    from ncdc.frontend import parse_plan
    from ncdc.severity import Severity

_LAZY = {
    "check": "ncdc.checker",
    "CheckOptions": "ncdc.checker",
    "CheckResult": "ncdc.checker",
    "parse_plan": "ncdc.frontend",
    "Diagnostic": "ncdc.diagnostics",
    "Severity": "ncdc.severity",
    "NcdcError": "ncdc.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ncdc' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
