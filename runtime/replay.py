"""Recorded answers (RUNTIME §10.5): export a run's model answers, and answer model calls from a recording.

A recording maps a replay key (the inference signature, the perceived inputs and the template bytes) to the
model's answer text; a replayed answer goes through the same parser as a live one, so a replayed run computes
exactly what the recorded run did. Python bindings and built-ins are local and deterministic: they run as usual
under replay (docs/decisions.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.load import LoadError, parse_json
from runtime.store.base import Store


@dataclass(frozen=True)
class Recorded:
    key: str
    flow_index: str
    response_text: str
    output: Any = None


@dataclass
class Replay:
    """Answers by replay key. ``fallback`` is ``"fail"`` (a miss is a ``replay_miss`` error) or ``"live"``."""

    answers: dict[str, Recorded] = field(default_factory=dict)
    fallback: str = "fail"
    source: str = ""

    def get(self, key: str) -> Recorded | None:
        return self.answers.get(key)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]], fallback: str, source: str) -> Replay:
        out: dict[str, Recorded] = {}
        for row in rows:
            if row.get("status") in ("ok", "replayed") and not row.get("error_kind") \
                    and row.get("response_text") is not None:
                out.setdefault(row["replay_key"], Recorded(row["replay_key"], row["flow_index"],
                                                           row["response_text"], _output(row["response_text"])))
        return cls(out, fallback, source)

    @classmethod
    def from_file(cls, path: str | Path, fallback: str) -> Replay:
        out: dict[str, Recorded] = {}
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise LoadError(f"--replay {path}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise LoadError(f"--replay {path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                            f"{exc.start}); a replay file is JSON lines") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                doc = parse_json(line, f"--replay {path}:{n}")
                key, text = doc["key"], doc.get("response_text")
                if text is None:
                    out_value = doc["output"]
                    text = out_value if isinstance(out_value, str) else json.dumps(out_value, ensure_ascii=False)
                out.setdefault(key, Recorded(key, str(doc.get("flow_index", "")), text, doc.get("output")))
            except (ValueError, KeyError, TypeError) as exc:
                raise LoadError(f"--replay {path}:{n}: not a replay record ({type(exc).__name__}: {exc})") from None
        return cls(out, fallback, str(path))


def _output(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: the answer's text stands
        return text.strip()


def lineage_calls(store: Store, run_id: str) -> list[dict[str, Any]]:
    """Model calls of a run and its ancestors: what a resume or fork answers from before calling the model."""
    calls: list[dict[str, Any]] = []
    seen: set[str] = set()
    current: str | None = run_id
    while current is not None and current not in seen:
        seen.add(current)
        run = store.get_run(current)
        if run is None:
            break
        try:
            calls.extend(store.llm_calls(current))
        except Exception:  # noqa: BLE001 - a per-run directory of an ancestor may be gone: nothing to reuse
            pass
        current = run.get("parent_run_id")
    return calls


def open_replay(spec: str, fallback: str, store: Store | None) -> Replay:
    """``--replay FILE`` or ``--replay run:ID``."""
    if fallback not in ("fail", "live"):
        raise LoadError(f"--replay-fallback {fallback!r}: expected live or fail")
    if spec.startswith("run:"):
        if store is None or store.get_run(spec[4:]) is None:
            raise LoadError(f"--replay {spec}: no such run in the store")
        return Replay.from_rows(lineage_calls(store, spec[4:]), fallback, spec)
    return Replay.from_file(spec, fallback)


def export_lines(store: Store, run_id: str) -> list[str]:
    """``ncd-run export-replay``: one JSON object per answered model call of the run (and its ancestors)."""
    if store.get_run(run_id) is None:
        raise LoadError(f"run {run_id!r} not found in the store")
    replay = Replay.from_rows(lineage_calls(store, run_id), "fail", run_id)
    return [json.dumps({"key": r.key, "flow_index": r.flow_index, "kind": "llm", "output": r.output,
                        "response_text": r.response_text}, ensure_ascii=False, sort_keys=True)
            for r in sorted(replay.answers.values(), key=lambda r: (r.flow_index, r.key))]
