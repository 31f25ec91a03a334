"""Row conventions shared by every store backend: run ids, JSON, column checks, defaults, fork lineage.

All backends encode a row through ``encode_row`` and decode it through ``decode_row``, and take their column lists
from the migrations (``schema()``), so the in-memory store keeps and returns exactly what SQLite would.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from runtime.reference import canonical_json
from runtime.store.base import RUN_STATUSES, StoreError
from runtime.store.migrations import Column, schema

JSON_SUFFIX = "_json"

# Values the spec enumerates for columns resume depends on; anything else is a caller bug, refused before it is kept.
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("runs", "status"): RUN_STATUSES,
    ("results", "kind"): ("item", "loop_iteration"),
    ("results", "status"): ("completed", "skipped", "failed"),
}

# Letters, digits, '-', '_' and '.', not starting with '.' (no hidden directories, no '.' or '..'); the length
# bound keeps ``DIR/<run_id>/run.db-wal`` inside every file system's name limit.
_RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


def validate_run_id(run_id: str) -> str:
    """The run id unchanged, or StoreError: ids become directory names under ``--runs-dir`` (RUNTIME §1)."""
    if not isinstance(run_id, str) or _RUN_ID.fullmatch(run_id) is None:
        raise StoreError(f"run id {run_id!r} is not valid: use letters, digits, '-', '_' and '.'")
    return run_id


# What a run row may leave out; ``created_at`` is added at insert time.
RUN_DEFAULTS: dict[str, Any] = {"status": "running", "env_json": "{}", "options_json": "{}"}


def now() -> str:
    """ISO 8601 UTC with microseconds: sorts as text in time order."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def dumps(value: Any, where: str) -> str:
    """JSON text of ``value``. What JSON cannot represent (NaN, infinities, objects, bytes, sets) is refused; tuples
    come back as lists and keys as strings, exactly as from a database."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{where} is not plain JSON: {exc}") from None


def value_hash(value: Any) -> str:
    """``sha256:`` of the canonical JSON (§2.5): equals ``Reference.value_hash()`` for an encoded Reference."""
    try:
        return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()
    except (TypeError, ValueError) as exc:
        raise StoreError(f"value is not plain JSON: {exc}") from None


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def api_name(column: str) -> str:
    """``value_json`` is passed and returned as ``value`` (base.py)."""
    return column.removesuffix(JSON_SUFFIX)


def columns(table: str) -> tuple[Column, ...]:
    return schema()[table]


@functools.cache
def _by_name(table: str) -> dict[str, Column]:
    return {c.name: c for c in columns(table)}


def encode_row(table: str, row: Mapping[str, Any], *, fixed: Mapping[str, Any] | None = None,
               defaults: Mapping[str, Any] | None = None, partial: bool = False) -> dict[str, Any]:
    """The stored form of ``row``: every non-automatic column of ``table``, ``*_json`` columns as JSON text.

    ``row`` may give a JSON column decoded under its API name (``value``) or already encoded under the column name
    (``value_json``, a str kept verbatim: the recorder hands over a Reference's canonical text to avoid encoding it
    twice). ``fixed`` holds values the store decides (``run_id``, ``seq``); the row may repeat them but not differ.
    ``defaults`` fill columns the row leaves out before the schema's own DEFAULTs do. ``partial`` encodes only the
    columns given (an UPDATE).
    """
    cols = _by_name(table)
    keys = _keys(table)
    fixed = fixed or {}
    values: dict[str, Any] = {}
    for key, value in row.items():
        found = keys.get(key)
        if found is None:
            raise StoreError(f"{table} has no column {key!r}")
        column, decoded = found
        if decoded:
            value = None if value is None else dumps(value, f"{table}.{key}")
        elif value is not None and column.endswith(JSON_SUFFIX) and not isinstance(value, str):
            raise StoreError(f"{table}.{key} must be JSON text; pass the decoded value as {api_name(key)!r}")
        if column in values:
            raise StoreError(f"{table}.{api_name(column)} is given twice (as {api_name(column)!r} and {column!r})")
        if column in fixed and value is not None and value != fixed[column]:
            raise StoreError(f"{table}.{column} is set by the store ({fixed[column]!r}), not {value!r}")
        values[column] = value
    values.update(fixed)
    if partial:
        return {name: _checked(table, cols[name], value) for name, value in values.items()}
    out: dict[str, Any] = {}
    defaults = defaults or {}
    for col in cols.values():
        value = values.get(col.name)
        if col.auto:
            if value is not None:
                raise StoreError(f"{table}.{col.name} is assigned by the store")
            continue
        if value is None:
            value = defaults.get(col.name, col.default)
        out[col.name] = _checked(table, col, value)
    return out


@functools.cache
def _keys(table: str) -> dict[str, tuple[str, bool]]:
    """Every key a row may use -> (its column, whether it is a decoded JSON value to encode)."""
    out: dict[str, tuple[str, bool]] = {}
    for name in _by_name(table):
        out[name] = (name, False)
        if name.endswith(JSON_SUFFIX):
            out[api_name(name)] = (name, True)
    return out


def _checked(table: str, col: Column, value: Any) -> Any:
    """Refuse what SQLite would silently convert (numbers in TEXT, text in numbers); mirror its numeric affinity."""
    # hot path (every column of every row): the message text is only built for a refusal
    if value is None:
        if col.notnull:
            raise StoreError(f"{table}.{col.name} is required")
        return None
    if col.type == "TEXT":
        if not isinstance(value, str):
            raise StoreError(f"{table}.{col.name} must be text, not {type(value).__name__}")
        allowed = CHOICES.get((table, col.name))
        if allowed is not None and value not in allowed:
            raise StoreError(f"{table}.{col.name} must be one of {', '.join(allowed)}, not {value!r}")
        return value
    if value.__class__ is int and -(2**63) <= value < 2**63:
        return value if col.type != "REAL" else float(value)
    where = f"{table}.{col.name}"
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, (int, float)):
        raise StoreError(f"{where} must be a number, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise StoreError(f"{where} must be a finite number, not {value!r}")
    if col.type == "REAL":
        return float(value)
    # INTEGER affinity: SQLite keeps 3.0 as the integer 3 and 2.5 as a real; do the same in every backend.
    value = int(value) if isinstance(value, float) and value.is_integer() else value
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise StoreError(f"{where} is out of range for a 64-bit integer: {value}")
    return value


def decode_row(table: str, stored: Mapping[str, Any]) -> dict[str, Any]:
    """The API form of a stored row: ``*_json`` columns decoded under their names without the suffix."""
    out: dict[str, Any] = {}
    for col in columns(table):
        value = stored[col.name]
        if col.name.endswith(JSON_SUFFIX):
            out[api_name(col.name)] = loads(value)
        else:
            out[col.name] = value
    return out


def seq_arg(value: Any, name: str = "seq", *, optional: bool = False) -> int | None:
    """A seq argument: an int (None only where ``optional``); SQLite would otherwise match '3' against 3."""
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise StoreError(f"{name} must be an integer, not {value!r}")
    return value


def run_changes(status: str | None, finished_at: str | None, outcome: Any) -> dict[str, Any]:
    """The fields ``update_run`` sets: only those given (§8.3: status, finished_at, outcome)."""
    changes: dict[str, Any] = {k: v for k, v in (("status", status), ("finished_at", finished_at)) if v is not None}
    if outcome is not None:
        changes["outcome"] = outcome
    return changes


def finish_changes(status: str, finished_at: str, error_kind: str | None,
                   error_message: str | None) -> dict[str, Any]:
    if status is None or finished_at is None:
        raise StoreError("finish_execution needs a status and finished_at")
    return {"status": status, "finished_at": finished_at, "error_kind": error_kind, "error_message": error_message}


def input_row(run_id: str, name: Any, value: Any) -> dict[str, Any]:
    """The stored ``run_inputs`` row of one concept's encoded value."""
    if not isinstance(name, str):
        raise StoreError(f"run_inputs.concept_name must be text, not {type(name).__name__}")
    return encode_row("run_inputs", {"run_id": run_id, "concept_name": name,
                                     "value_json": dumps(value, f"input '{name}'"), "value_hash": value_hash(value)})


def invalidated(run: Mapping[str, Any]) -> frozenset[str]:
    """Inference ids whose ancestor rows a fork does not inherit (``reconcile.invalidated``)."""
    reconcile = run.get("reconcile") or {}
    return frozenset(reconcile.get("invalidated") or ()) if isinstance(reconcile, dict) else frozenset()


def check_reconcile(reconcile: Any) -> None:
    if reconcile is None:
        return
    ids = reconcile.get("invalidated", []) if isinstance(reconcile, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise StoreError("runs.reconcile must be an object whose 'invalidated' is a list of inference ids")


def lineage_rows(run_id: str, upto: int | None, get_run: Callable[[str], dict[str, Any] | None],
                 own_rows: Callable[[str, int | None], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``state_rows`` for any backend (RUNTIME §8.3, §9.6), given its run lookup and its own-rows reader.

    Walk up from the run: each ancestor contributes its rows up to the seq its child forked at (and never above
    ``upto``), minus rows of inferences that any descendant on the way down invalidated.
    """
    chain: list[tuple[str, int | None, frozenset[str]]] = []
    excluded: frozenset[str] = frozenset()
    cap, current = upto, run_id
    while True:
        run = get_run(current)
        if run is None:
            missing = "run" if current == run_id else f"ancestor run of '{run_id}'"
            raise StoreError(f"no {missing} '{current}' in this store")
        chain.append((current, cap, excluded))
        parent = run.get("parent_run_id")
        if parent is None:
            break
        if any(parent == seen for seen, _, _ in chain):
            raise StoreError(f"run '{run_id}' has a cycle in its ancestry at '{parent}'")
        excluded = excluded | invalidated(run)
        fork_seq = int(run.get("parent_seq") or 0)
        cap = fork_seq if cap is None else min(cap, fork_seq)
        current = parent
    rows: list[dict[str, Any]] = []
    for current, cap, drop in reversed(chain):
        rows.extend(r for r in own_rows(current, cap) if r["inference_id"] not in drop)
    rows.sort(key=lambda r: r["seq"])
    return rows


def covered_row(run_id: str, seq: int, get_run: Callable[[str], dict[str, Any] | None],
                own_row: Callable[[str, int], dict[str, Any] | None]) -> dict[str, Any] | None:
    """The result row at ``seq`` of the run's history: its own row, or for a seq not above its ``parent_seq`` the
    ancestor's row there. A fork that re-ran nothing still gets a marker over the point it forked at; the marker is
    addressed by that row even if the fork does not inherit it (the address names a position, not a value)."""
    current: str | None = run_id
    seen: set[str] = set()
    while current is not None and current not in seen:
        seen.add(current)
        run = get_run(current)
        if run is None:
            return None
        if run.get("parent_run_id") is None or seq > int(run.get("parent_seq") or 0):
            return own_row(current, seq)
        current = run["parent_run_id"]
    return None


def next_count(run_id: str, cycle: int, last: Mapping[str, Any] | None,
               get_run: Callable[[str], Mapping[str, Any] | None],
               count_own: Callable[[str, int, int | None], int]) -> int:
    """``inference_count`` of a new row: the rows with this cycle in the run's history so far, this one included.

    The history includes the ancestors' rows up to each fork point (invalidated ones too: they are still positions
    of the history), so a fork that continues a cycle continues its count, and a (cycle, inference_count) address
    is unique along a lineage: a marker a fork puts over its inherited fork point can never collide with one over
    its own later rows. ``last`` is the history's last row; consecutive rows mostly share a cycle, so its count + 1
    answers without counting.
    """
    if last is not None and last["cycle"] == cycle:
        return int(last["inference_count"]) + 1
    total, cap, current = 0, None, run_id
    seen: set[str] = set()
    while current is not None and current not in seen:
        seen.add(current)
        total += count_own(current, cycle, cap)
        run = get_run(current)
        if run is None or run.get("parent_run_id") is None:
            break
        fork_seq = int(run.get("parent_seq") or 0)
        cap = fork_seq if cap is None else min(cap, fork_seq)
        current = run["parent_run_id"]
    return total + 1


def check_fork(run: Mapping[str, Any], parent_last_seq: Callable[[str], int | None]) -> None:
    """A fork names an existing parent and a ``parent_seq`` that parent has reached; a root run names neither."""
    parent, seq = run.get("parent_run_id"), run.get("parent_seq")
    check_reconcile(run.get("reconcile"))
    if parent is None:
        if seq is not None:
            raise StoreError(f"run '{run.get('run_id')}' has a parent_seq but no parent_run_id")
        return
    if not isinstance(parent, str):
        raise StoreError(f"runs.parent_run_id must be text, not {type(parent).__name__}")
    reached = parent_last_seq(parent)
    if reached is None:
        raise StoreError(f"cannot fork run '{run.get('run_id')}': parent run '{parent}' does not exist")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= reached:
        raise StoreError(f"cannot fork run '{run.get('run_id')}': parent_seq {seq!r} is not a seq parent "
                         f"'{parent}' has reached (0..{reached})")
