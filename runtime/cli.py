"""``ncd-run``: argv → Orchestrator / store queries → exit code (RUNTIME §1). Thin: parsing, output, exit codes."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

EXIT = {"completed": 0, "failed": 1, "blocked": 3, "budget_exhausted": 4, "interrupted": 130}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"ncd-run: {message}", file=sys.stderr)
        raise SystemExit(2)


def _storage(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--db", metavar="FILE", help="one shared store for many runs (default .ncd/runs.db)")
    where.add_argument("--runs-dir", metavar="DIR", help="one directory per run: DIR/<run_id>/run.db")
    p.add_argument("--busy-timeout", type=int, default=5000, metavar="MS")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan")
    p.add_argument("--inputs", metavar="FILE")
    p.add_argument("--input", action="append", default=[], metavar="NAME=JSON")
    p.add_argument("--max-concurrency", type=int, metavar="N")
    p.add_argument("--max-loop-iterations", type=int, metavar="N")
    p.add_argument("--max-cycles", type=int, metavar="N")
    p.add_argument("--max-retries-total", type=int, metavar="N")
    p.add_argument("--checkpoint-every", type=int, metavar="N")
    p.add_argument("--plan-dir", metavar="DIR")
    p.add_argument("--output-dir", metavar="DIR")
    p.add_argument("--allow-dir", action="append", default=[], metavar="DIR")
    p.add_argument("--binding", action="append", default=[], metavar="FLOW_INDEX=path.py:function")
    p.add_argument("--retries", type=int, metavar="N")
    p.add_argument("--backoff-base", type=float, metavar="S")
    p.add_argument("--backoff-max", type=float, metavar="S")
    p.add_argument("--llm-model", metavar="NAME")
    p.add_argument("--llm-base-url", metavar="URL")
    p.add_argument("--allow-model-change", action="store_true")
    p.add_argument("--keep-llm-results", action="store_true")
    p.add_argument("--llm-timeout", type=float, metavar="S")
    p.add_argument("--llm-concurrency", type=int, metavar="N")
    p.add_argument("--llm-system", metavar="TEXT")
    p.add_argument("--parse-retries", type=int, metavar="N")
    p.add_argument("--price", action="append", default=[], metavar="MODEL=IN/OUT",
                   help="USD per million prompt/completion tokens")
    p.add_argument("--no-store-prompts", action="store_true")
    p.add_argument("--max-tokens", type=int, metavar="N")
    p.add_argument("--max-cost-usd", type=float, metavar="X")
    p.add_argument("--max-llm-calls", type=int, metavar="N")
    p.add_argument("--replay", metavar="FILE|run:ID", help="answer model calls from a recording (offline)")
    p.add_argument("--replay-fallback", choices=("live", "fail"))
    _storage(p)


def _address(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cycle", type=int, metavar="C")
    p.add_argument("--inference-count", type=int, metavar="K")
    p.add_argument("--at", type=int, metavar="SEQ", help="the checkpoint at this result sequence number")
    p.add_argument("--mode", choices=("patch", "overwrite", "fill-gaps"), default="patch")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ncd-run", description="Run NormCode plans; resume, fork and inspect stored runs.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="run a plan (.ncd, compile output directory, or STEM.schedule.json)")
    _run_options(r)
    r.add_argument("--run-id", metavar="ID")
    r = sub.add_parser("resume", help="continue a stored run (forks automatically when the plan changed)")
    _run_options(r)
    r.add_argument("--run-id", metavar="ID", required=True)
    _address(r)
    r = sub.add_parser("fork", help="start a new run from a checkpoint of a stored run")
    _run_options(r)
    r.add_argument("--from-run", metavar="ID", required=True)
    r.add_argument("--new-run-id", metavar="ID")
    _address(r)
    r = sub.add_parser("list-runs", help="runs with their parents and outcomes")
    _storage(r)
    r = sub.add_parser("list-checkpoints", help="checkpoint markers of one run")
    r.add_argument("--run-id", metavar="ID", required=True)
    _storage(r)
    r = sub.add_parser("show", help="per-step status, attempts, durations and outputs of a run")
    r.add_argument("--run-id", metavar="ID", required=True)
    r.add_argument("--usage", action="store_true", help="model calls, tokens and cost by step and by model")
    _storage(r)
    r = sub.add_parser("export-replay", help="a run's model answers as JSON lines, for --replay")
    r.add_argument("--run-id", metavar="ID", required=True)
    r.add_argument("-o", "--output", metavar="FILE.jsonl", required=True)
    _storage(r)
    r = sub.add_parser("export", help="the full state of a run at a checkpoint, as JSON")
    r.add_argument("--run-id", metavar="ID", required=True)
    r.add_argument("--cycle", type=int, metavar="C")
    r.add_argument("--at", type=int, metavar="SEQ")
    _storage(r)
    _serve_parser(sub)
    return p


def _serve_parser(sub: Any) -> None:
    r = sub.add_parser("serve", help="the multi-tenant run server: HTTP API, live progress, a web page")
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--port", type=int, default=8000)
    r.add_argument("--plans-dir", metavar="DIR", default=".",
                   help="plans: NAME.ncd, NAME.schedule.json or NAME/ holding one plan (default: .)")
    where = r.add_mutually_exclusive_group()
    where.add_argument("--db", metavar="FILE", help="one shared store for every run (default .ncd/runs.db)")
    where.add_argument("--runs-dir", metavar="DIR", help="one directory per run: DIR/<run_id>/run.db")
    r.add_argument("--busy-timeout", type=int, default=5000, metavar="MS")
    r.add_argument("--token-file", metavar="FILE", help="'TOKEN OWNER' per line; without it the server is open")
    r.add_argument("--max-runs", type=int, default=4, metavar="N", help="runs executing at once (default 4)")
    r.add_argument("--per-run-concurrency", type=int, default=4, metavar="N",
                   help="inferences running at once inside one run (default 4)")
    r.add_argument("--max-body-bytes", type=int, default=1 << 20, metavar="N", help="request body limit (1 MiB)")
    r.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))


def _serve(args: argparse.Namespace) -> int:
    """``ncd-run serve``: build the app (runtime/server) and run it under uvicorn until SIGINT/SIGTERM."""
    from runtime.load import LoadError

    try:
        from runtime.server import TokenFileError, create_app, read_token_file, serve
    except ImportError as exc:
        raise LoadError(f"serve needs the server dependencies (pip install fastapi uvicorn): {exc}") from None
    if not Path(args.plans_dir).is_dir():
        raise LoadError(f"--plans-dir {args.plans_dir}: not a directory")
    if args.max_runs < 1 or args.per_run_concurrency < 1 or args.max_body_bytes < 1:
        raise LoadError("--max-runs, --per-run-concurrency and --max-body-bytes must be at least 1")
    try:
        tokens = read_token_file(args.token_file) if args.token_file else None
    except TokenFileError as exc:
        raise LoadError(str(exc)) from None
    import logging

    def _stopped(signum: int, frame: Any) -> None:  # uvicorn re-raises SIGTERM after its graceful shutdown
        raise SystemExit(0)

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _stopped)
    store = _store(args)  # opened here so that a bad --db/--runs-dir exits 2 before the server starts
    app = create_app(args.plans_dir, store, tokens, max_runs=args.max_runs,
                     per_run_concurrency=args.per_run_concurrency, max_body_bytes=args.max_body_bytes)
    try:
        serve(app, args.host, args.port, log_level=args.log_level)
    finally:
        store.close()
    return 0


def _inputs(args: argparse.Namespace) -> dict[str, Any] | None:
    from runtime.load import LoadError, read_inputs

    if not args.inputs and not args.input:
        return None
    data = dict(read_inputs(args.inputs)) if args.inputs else {}
    for item in args.input:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise LoadError(f"--input {item!r}: expected NAME=JSON")
        try:
            data[name] = json.loads(text)
        except ValueError as exc:
            raise LoadError(f"--input {name}: value is not valid JSON: {exc}") from None
    return data


def _bindings(items: list[str]) -> dict[str, str] | None:
    from runtime.load import LoadError

    out = {}
    for item in items:
        fi, sep, target = item.partition("=")
        if not sep or not fi or not target:
            raise LoadError(f"--binding {item!r}: expected FLOW_INDEX=path.py:function")
        out[fi] = target
    return out or None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """Only what was given: unset options fall back to the stored run's (resume) or the defaults (§1)."""
    opts = {"max_concurrency": args.max_concurrency, "max_loop_iterations": args.max_loop_iterations,
            "max_cycles": args.max_cycles, "max_retries_total": args.max_retries_total,
            "checkpoint_every": args.checkpoint_every, "plan_dir": args.plan_dir, "output_dir": args.output_dir,
            "allow_dir": tuple(args.allow_dir) or None, "bindings": _bindings(args.binding),
            "retries": args.retries, "backoff_base": args.backoff_base, "backoff_max": args.backoff_max,
            "llm_model": args.llm_model, "llm_base_url": args.llm_base_url, "busy_timeout": args.busy_timeout,
            "allow_model_change": args.allow_model_change or None, "keep_llm_results": args.keep_llm_results or None,
            "llm_timeout": args.llm_timeout, "llm_concurrency": args.llm_concurrency, "llm_system": args.llm_system,
            "parse_retries": args.parse_retries, "price": tuple(args.price) or None,
            "no_store_prompts": args.no_store_prompts or None, "max_tokens": args.max_tokens,
            "max_cost_usd": args.max_cost_usd, "max_llm_calls": args.max_llm_calls, "replay": args.replay,
            "replay_fallback": args.replay_fallback}
    return {k: v for k, v in opts.items() if v is not None}


def _store(args: argparse.Namespace):
    from runtime.store import open_store

    return open_store(db=args.db, runs_dir=args.runs_dir, busy_timeout_ms=args.busy_timeout)


class Progress:
    """A one-line progress display on a terminal's stderr: steps done so far and the latest one."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.done = 0

    def __call__(self, row: dict) -> None:
        if row.get("kind") != "item":
            return
        self.done += 1
        name = row.get("concept_name") or ""
        line = f"  {self.done} steps  wave {row.get('cycle')}  {row.get('flow_index')} {row.get('status')} {name}"
        self.stream.write("\r" + line[:100].ljust(100))
        self.stream.flush()

    def close(self) -> None:
        if self.done:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


def _execute(args: argparse.Namespace) -> int:
    from runtime.orchestrator import Orchestrator

    store = _store(args)
    try:
        if args.command == "run":
            orch = Orchestrator(args.plan, inputs=_inputs(args) or {}, store=store, run_id=args.run_id,
                                options=_options(args))
        else:
            source = args.run_id if args.command == "resume" else args.from_run
            orch = Orchestrator.load_checkpoint(
                args.plan, store=store, run_id=source, cycle=args.cycle, inference_count=args.inference_count,
                seq=args.at, mode=args.mode, new_run_id=getattr(args, "new_run_id", None), inputs=_inputs(args),
                options=_options(args), fork=args.command == "fork")
            if orch.forked_from is not None:
                print(f"ncd-run: forked run {orch.run_id} from run {orch.forked_from} at seq {orch.parent[1]} "
                      f"({orch.reconciliation.mode}: {len(orch.reconciliation.restore)} results kept, "
                      f"{len(orch.reconciliation.invalidated)} inferences invalidated)", file=sys.stderr)
        for warning in orch.plan.warnings:
            print(warning, file=sys.stderr)
        progress = Progress(sys.stderr) if not args.json and sys.stderr.isatty() else None
        orch.on_result = progress
        try:
            result = orch.run()
        finally:
            if progress is not None:
                progress.close()
    finally:
        store.close()
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print(f"run {result.run_id}: {result.outcome} ({result.executed} executed, {result.cycles} cycles)")
        for name, value in result.final.items():
            print(f"{name} = {json.dumps(value['data'], ensure_ascii=False)}")
    if result.outcome != "completed":
        for reason in result.reasons[:20]:
            print(f"ncd-run: {json.dumps(reason, ensure_ascii=False)}", file=sys.stderr)
    return EXIT[result.outcome]


def _query(args: argparse.Namespace) -> int:
    from runtime import history
    from runtime.load import LoadError

    store = _store(args)
    try:
        if args.command == "list-runs":
            doc: Any = history.list_runs(store)
            text = history.format_runs(doc)
        elif args.command == "list-checkpoints":
            doc = history.list_checkpoints(store, args.run_id)
            text = history.format_checkpoints(doc)
        elif args.command == "show" and args.usage:
            doc = history.usage(store, args.run_id)
            text = history.format_usage(doc)
        elif args.command == "show":
            doc = history.run_status(store, args.run_id)
            text = history.format_status(doc)
        elif args.command == "export-replay":
            from ncdc.errors import OutputError
            from ncdc.output import write_atomically
            from runtime.replay import export_lines

            lines = export_lines(store, args.run_id)
            out = Path(args.output)
            try:
                write_atomically(out.parent, {out.name: "".join(f"{ln}\n" for ln in lines).encode()})
            except OutputError as exc:
                raise LoadError(str(exc)) from None
            doc = {"run_id": args.run_id, "output": args.output, "answers": len(lines)}
            text = f"wrote {len(lines)} recorded answers of run {args.run_id} to {args.output}"
        else:
            doc = history.export_state(store, args.run_id, cycle=args.cycle, seq=args.at)
            text = json.dumps(doc, ensure_ascii=False, indent=2)
    finally:
        store.close()
    print(json.dumps(doc, ensure_ascii=False) if args.json else text)
    return 0


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from runtime.load import LoadError
    from runtime.store import StoreError

    try:
        if args.command == "serve":
            return _serve(args)
        if args.command in ("run", "resume", "fork"):
            signal.signal(signal.SIGTERM, _terminate)  # SIGTERM stops a run like Ctrl-C: resumable (§6.4)
            return _execute(args)
        return _query(args)
    except (LoadError, StoreError) as exc:
        print(f"ncd-run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ncd-run: interrupted (the run can be resumed)", file=sys.stderr)
        return 130
    except Exception as exc:  # internal error: one line, never a traceback
        print(f"ncd-run: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
