"""Perceiving elements right before an executor call (RUNTIME §2.6), with path confinement (§11)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from runtime.load import confine
from runtime.reference import TRUTH_NORMS, parse_sign, unwrap_element
from runtime.sequences import StepFailure

log = logging.getLogger("ncd_run.perception")


class Perceiver:
    """Per-run perception: reads files under the plan directory (or allowed roots) and the memory mapping."""

    def __init__(self, plan_dir: Path, allow: tuple[Path, ...] = (), memory: dict[str, Any] | None = None) -> None:
        self.plan_dir = plan_dir
        self.allow = allow
        self.memory = memory or {}
        self._warned: set[str] = set()

    def _path(self, rel: str) -> Path:
        try:
            return confine(self.plan_dir, rel, self.allow)
        except PermissionError as exc:
            raise StepFailure("path_violation", str(exc)) from None

    def __call__(self, x: Any) -> Any:
        if isinstance(x, list):
            return [self(i) for i in x]
        if isinstance(x, dict):
            return {k: self(v) for k, v in x.items()}
        sign = parse_sign(x)
        if sign is None:
            return x
        norm = sign.norm
        if norm in ("file_location", "prompt_location"):
            path = self._path(sign.signifier)
            try:
                return path.read_text(encoding="utf-8")
            except OSError as exc:
                raise StepFailure("executor_error", f"cannot read {sign.signifier}: {exc.strerror or exc}") from None
        if norm in ("script_location", "save_path"):
            return str(self._path(sign.signifier))
        if norm == "memorized_parameter":
            if sign.signifier not in self.memory:
                raise StepFailure("missing_input", f"memorized parameter {sign.signifier!r} is not in the memory file")
            return self.memory[sign.signifier]
        if norm is None or norm == "literal" or norm in TRUTH_NORMS:
            return unwrap_element(x)
        if norm == "dummy":
            return x
        if norm not in self._warned:
            self._warned.add(norm)
            log.warning("unknown perception norm %r: passing the signifier as text", norm)
        return sign.signifier
