"""Reading stored runs (RUNTIME §1: list-runs, list-checkpoints, show, export): plain dicts and their text form."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from runtime.load import LoadError
from runtime.reconcile import latest
from runtime.store import Store


def _run(store: Store, run_id: str) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None:
        raise LoadError(f"run {run_id!r} not found in the store")
    return run


def list_runs(store: Store) -> list[dict[str, Any]]:
    out = []
    for run in store.list_runs():
        outcome = run.get("outcome") or {}
        out.append({"run_id": run["run_id"], "parent_run_id": run.get("parent_run_id"),
                    "parent_seq": run.get("parent_seq"), "status": run["status"], "created_at": run["created_at"],
                    "finished_at": run.get("finished_at"), "plan_hash": run["plan_hash"],
                    "resume_mode": run.get("resume_mode"), "executed": outcome.get("executed"),
                    "owner": run.get("owner")})
    return out


def list_checkpoints(store: Store, run_id: str) -> list[dict[str, Any]]:
    _run(store, run_id)
    return store.checkpoints(run_id)


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 6)


def run_status(store: Store, run_id: str) -> dict[str, Any]:
    """Per inference and iteration path: status, attempts, duration, errors and the output; plus counts."""
    run = _run(store, run_id)
    rows = store.state_rows(run_id)
    steps: dict[tuple[str, str], dict[str, Any]] = {}
    for (iid, path), row in latest(r for r in rows if r["kind"] == "item").items():
        steps[(iid, path)] = {"flow_index": row["flow_index"], "inference_id": iid, "iteration": path,
                              "status": row["status"], "concept": row.get("concept_name"),
                              "output": (row.get("value") or {}).get("data") if row.get("value") else None,
                              "errors": (row.get("meta") or {}).get("errors", []), "attempts": 0,
                              "duration_s": 0.0, "inherited": row["run_id"] != run_id}
    for ex in store.executions(run_id):
        key = (ex["inference_id"], ex["iteration"])
        step = steps.setdefault(key, {"flow_index": ex["flow_index"], "inference_id": ex["inference_id"],
                                      "iteration": ex["iteration"], "status": ex["status"], "concept": None,
                                      "output": None, "errors": [], "attempts": 0, "duration_s": 0.0,
                                      "inherited": False})
        step["attempts"] += 1
        step["duration_s"] = round(step["duration_s"] + (_seconds(ex["started_at"], ex.get("finished_at")) or 0), 6)
        if ex["status"] == "running" and step["status"] not in ("completed", "skipped"):
            step["status"] = "running"
    counts: dict[str, int] = {}
    for step in steps.values():
        counts[step["status"]] = counts.get(step["status"], 0) + 1
    ordered = sorted(steps.values(), key=lambda s: (s["iteration"], [int(p) for p in s["flow_index"].split(".")]))
    return {"run_id": run_id, "status": run["status"], "parent_run_id": run.get("parent_run_id"),
            "parent_seq": run.get("parent_seq"), "outcome": run.get("outcome"), "counts": counts,
            "executions": len(store.executions(run_id)), "steps": ordered}


def export_state(store: Store, run_id: str, *, cycle: int | None = None, seq: int | None = None) -> dict[str, Any]:
    """The full state at a checkpoint (the latest by default): every (inference, iteration) result, last wins."""
    run = _run(store, run_id)
    marks = store.checkpoints(run_id)
    if seq is None and cycle is not None:
        found = [m for m in marks if m["cycle"] == cycle]
        if not found:
            raise LoadError(f"run {run_id!r} has no checkpoint in cycle {cycle} (see ncd-run list-checkpoints)")
        seq = found[-1]["seq"]
    elif seq is not None and not any(m["seq"] == seq for m in marks):
        raise LoadError(f"run {run_id!r} has no checkpoint at seq {seq} (see ncd-run list-checkpoints)")
    rows = store.state_rows(run_id, seq)
    state = [{"kind": r["kind"], "flow_index": r["flow_index"], "inference_id": r["inference_id"],
              "iteration": r["iteration"], "status": r["status"], "concept": r.get("concept_name"),
              "value": r.get("value"), "value_hash": r.get("value_hash"), "meta": r.get("meta"), "seq": r["seq"],
              "run_id": r["run_id"]} for r in latest(rows).values()]
    return {"run_id": run_id, "seq": seq if seq is not None else store.last_seq(run_id), "status": run["status"],
            "plan_hash": run["plan_hash"], "inputs": store.get_inputs(run_id), "results": state}


def format_runs(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "no runs"
    lines = [f"{'RUN':<24} {'STATUS':<17} {'PARENT':<24} {'CREATED':<27} EXECUTED"]
    for r in runs:
        parent = f"{r['parent_run_id']}@{r['parent_seq']}" if r["parent_run_id"] else "-"
        lines.append(f"{r['run_id']:<24} {r['status']:<17} {parent:<24} {r['created_at']:<27} "
                     f"{r['executed'] if r['executed'] is not None else '-'}")
    return "\n".join(lines)


def format_checkpoints(marks: list[dict[str, Any]]) -> str:
    if not marks:
        return "no checkpoints"
    lines = [f"{'SEQ':>6} {'CYCLE':>6} {'COUNT':>6}  CREATED"]
    lines += [f"{m['seq']:>6} {m['cycle']:>6} {m['inference_count']:>6}  {m['created_at']}" for m in marks]
    return "\n".join(lines)


def format_status(doc: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in sorted(doc["counts"].items()))
    lines = [f"run {doc['run_id']}: {doc['status']} ({counts}; {doc['executions']} executions)"]
    for s in doc["steps"]:
        where = f"{s['flow_index']}" + (f" [{s['iteration']}]" if s["iteration"] else "")
        out = json.dumps(s["output"], ensure_ascii=False) if s["output"] is not None else ""
        err = f"  {s['errors'][0]['kind']}: {s['errors'][0]['message']}" if s["errors"] else ""
        lines.append(f"  {where:<40} {s['status']:<9} x{s['attempts']:<2} {s['duration_s']:>9.3f}s "
                     f"{(s['concept'] or ''):<24} {out[:60]}{err}")
    return "\n".join(lines)


def usage(store: Store, run_id: str) -> dict[str, Any]:
    """``show --usage``: model calls, tokens and cost by step and by model (§8.4); replayed answers counted apart."""
    _run(store, run_id)
    by_step: dict[str, dict[str, Any]] = {}
    by_model: dict[str, dict[str, Any]] = {}
    total = _usage_totals()
    for call in store.llm_calls(run_id):
        for bucket in (by_step.setdefault(call["flow_index"], _usage_totals()),
                       by_model.setdefault(call["model"], _usage_totals()), total):
            _add_call(bucket, call)
    return {"run_id": run_id, "total": total, "by_step": dict(sorted(by_step.items())),
            "by_model": dict(sorted(by_model.items()))}


def _usage_totals() -> dict[str, Any]:
    return {"calls": 0, "replayed": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
            "cost_usd": None, "latency_ms": 0}


def _add_call(bucket: dict[str, Any], call: dict[str, Any]) -> None:
    if call["status"] == "replayed":
        bucket["replayed"] += 1
        return
    bucket["calls"] += 1
    bucket["errors"] += call["status"] == "error"
    for key in ("prompt_tokens", "completion_tokens", "total_tokens", "latency_ms"):
        bucket[key] += call.get(key) or 0
    if call.get("cost_usd") is not None:
        bucket["cost_usd"] = round((bucket["cost_usd"] or 0.0) + call["cost_usd"], 10)


def format_usage(doc: dict[str, Any]) -> str:
    def line(name: str, u: dict[str, Any]) -> str:
        cost = f"${u['cost_usd']:.6f}" if u["cost_usd"] is not None else "-"
        return (f"  {name:<28} {u['calls']:>6} {u['replayed']:>8} {u['errors']:>6} {u['prompt_tokens']:>10} "
                f"{u['completion_tokens']:>11} {cost:>12}")
    head = f"  {'':<28} {'calls':>6} {'replayed':>8} {'errors':>6} {'prompt tok':>10} {'completion':>11} {'cost':>12}"
    lines = [f"run {doc['run_id']}: model usage", head, line("total", doc["total"]), "  by step:"]
    lines += [line(fi, u) for fi, u in doc["by_step"].items()]
    lines += ["  by model:"] + [line(m, u) for m, u in doc["by_model"].items()]
    return "\n".join(lines)
