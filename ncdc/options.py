"""Options of a check run (CHECKS.md §1.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CheckOptions:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    check_files: bool = False  # NCD949: files named by annotations must exist under plan_dir
    plan_dir: Path | None = None  # directory relative paths in the plan are resolved against
