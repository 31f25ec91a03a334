"""``compile``: a checked plan → the three output files as bytes (REPOSITORY_FORMAT.md §1).

Nothing here touches the file system; ``ncdc.cli`` writes the files atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from ncdc.checker import CheckResult, check
from ncdc.emit import build_repositories
from ncdc.ids import sha256_hex
from ncdc.options import CheckOptions
from ncdc.schedule import build_schedule
from ncdc.severity import Severity

SCHEMA_VERSION = "ncdc.schedule/1"


def dumps(value: Any) -> str:
    """The one serialisation of every output (§1.2)."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def stem(path: str) -> str:
    name = PurePath(path).name
    for suffix in (".pf.ncd", ".ncd"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class CompileResult:
    check: CheckResult
    concepts: list[dict[str, Any]] | None = None
    inferences: list[dict[str, Any]] | None = None
    schedule: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.schedule is not None

    def files(self, path: str) -> dict[str, bytes]:
        """File name → bytes, in the order they are written."""
        assert self.ok
        base = stem(path)
        return {
            f"{base}.concept.json": dumps(self.concepts).encode("utf-8"),
            f"{base}.inference.json": dumps(self.inferences).encode("utf-8"),
            f"{base}.schedule.json": dumps(self.schedule).encode("utf-8"),
        }

    def document(self) -> str:
        """The ``-o -`` document (§1.4)."""
        return dumps({"concepts": self.concepts, "inferences": self.inferences, "schedule": self.schedule})


def compile_plan(
    data: bytes | str, path: str = "plan.ncd", options: CheckOptions | None = None, warnings_as_errors: bool = False
) -> CompileResult:
    """Check, then emit; outputs only when the plan has no error at all (CHECKS.md §1.2)."""
    result = check(data, path, options)
    blocking = {Severity.ERROR, Severity.WARNING} if warnings_as_errors else {Severity.ERROR}
    if any(d.severity is Severity.ERROR for d in result.all_diagnostics) or any(
        d.severity in blocking for d in result.diagnostics
    ):
        return CompileResult(result)
    table, repositories = build_repositories(result.model)
    concepts_bytes = dumps(repositories.concepts).encode("utf-8")
    inferences_bytes = dumps(repositories.inferences).encode("utf-8")
    base = stem(path)
    source = data.encode("utf-8") if isinstance(data, str) else data
    from ncdc import __version__

    schedule = {
        "schema_version": SCHEMA_VERSION,
        "ncdc_version": __version__,
        "source": {"file": PurePath(path).name, "sha256": sha256_hex(source)},
        "artifacts": {
            "concepts": {"file": f"{base}.concept.json", "sha256": sha256_hex(concepts_bytes)},
            "inferences": {"file": f"{base}.inference.json", "sha256": sha256_hex(inferences_bytes)},
        },
        "plan_hash": "sha256:" + sha256_hex(concepts_bytes + inferences_bytes),
        **build_schedule(table, repositories),
    }
    return CompileResult(result, repositories.concepts, repositories.inferences, schedule)
