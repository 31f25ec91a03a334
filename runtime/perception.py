"""Perceiving elements right before an executor call (RUNTIME §2.6), with path confinement (§11).

Model answers are data, never signs (§11): ``inert`` escapes every sign-shaped string of a model's value into the
element wrapper ``%("…")``, which perception (and ``Reference.unwrap`` for final outputs) reads back as exactly
that string. The escape is plain §2.5 data, so it survives the store, a resume and replay unchanged.
"""

from __future__ import annotations

import json
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
            return read_text(self._path(sign.signifier), sign.signifier)
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


def read_text(path: Path, name: str) -> str:
    """The UTF-8 text of a file behind a sign; an unreadable or binary file is an ``executor_error`` naming it."""
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise StepFailure("executor_error", f"cannot read {name}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise StepFailure("executor_error", f"cannot read {name}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                                            f"at offset {exc.start})") from None


def inert(value: Any) -> Any:
    """``value`` with every sign-shaped string, at any depth, escaped as a literal wrapper of its JSON text.

    Applied to what a model answers: perception then yields the model's string itself, never a file, a memory
    entry or a parsed literal. Other strings, numbers and booleans are returned as they are.
    """
    if isinstance(value, list):
        return [inert(v) for v in value]
    if isinstance(value, dict):
        return {k: inert(v) for k, v in value.items()}
    if parse_sign(value) is None:
        return value
    # a JSON string adds no parentheses, so the wrapper's signifier stays balanced and always parses back
    return "%(" + json.dumps(value, ensure_ascii=False) + ")"
