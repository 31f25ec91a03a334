"""``ncd-run``: argv → Orchestrator / store queries → exit code (RUNTIME §1). Thin: parsing, output, exit codes."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Iterator
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
    p.add_argument("--busy-timeout", type=_non_negative(int), default=5000, metavar="MS")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", nargs="?", help="a .ncd file, a compile output directory or a STEM.schedule.json")
    p.add_argument("--concepts", metavar="C.json", help="foreign repositories (§12): the concept repository")
    p.add_argument("--inferences", metavar="I.json", help="foreign repositories (§12): the inference repository")
    p.add_argument("--legacy-sequences", action="store_true",
                   help="run legacy semantic sequences of foreign repositories through --binding or --replay")
    p.add_argument("--inputs", metavar="FILE")
    p.add_argument("--input", action="append", default=[], metavar="NAME=JSON")
    p.add_argument("--max-concurrency", type=_positive(int), metavar="N")
    p.add_argument("--max-loop-iterations", type=_positive(int), metavar="N")
    p.add_argument("--max-cycles", type=_non_negative(int), metavar="N")
    p.add_argument("--max-retries-total", type=_non_negative(int), metavar="N")
    p.add_argument("--checkpoint-every", type=_non_negative(int), metavar="N")
    p.add_argument("--plan-dir", metavar="DIR")
    p.add_argument("--output-dir", metavar="DIR")
    p.add_argument("--allow-dir", action="append", default=[], metavar="DIR")
    p.add_argument("--binding", action="append", default=[], metavar="FLOW_INDEX=path.py:function")
    p.add_argument("--retries", type=_non_negative(int), metavar="N")
    p.add_argument("--backoff-base", type=_non_negative(float), metavar="S")
    p.add_argument("--backoff-max", type=_non_negative(float), metavar="S")
    p.add_argument("--llm-model", metavar="NAME")
    p.add_argument("--llm-base-url", metavar="URL")
    p.add_argument("--allow-model-change", action="store_true")
    p.add_argument("--keep-llm-results", action="store_true")
    p.add_argument("--llm-timeout", type=_positive(float), metavar="S")
    p.add_argument("--llm-concurrency", type=_positive(int), metavar="N")
    p.add_argument("--llm-system", metavar="TEXT")
    p.add_argument("--parse-retries", type=_non_negative(int), metavar="N")
    p.add_argument("--max-answer-bytes", type=_positive(int), metavar="N",
                   help="longest model answer accepted (default 1 MiB); longer is an answer_too_large error")
    p.add_argument("--price", action="append", default=[], metavar="MODEL=IN/OUT",
                   help="USD per million prompt/completion tokens")
    p.add_argument("--no-store-prompts", action="store_true")
    p.add_argument("--max-tokens", type=_non_negative(int), metavar="N")
    p.add_argument("--max-cost-usd", type=_non_negative(float), metavar="X")
    p.add_argument("--max-llm-calls", type=_non_negative(int), metavar="N")
    p.add_argument("--replay", metavar="FILE|run:ID", help="answer model calls from a recording (offline)")
    p.add_argument("--replay-fallback", choices=("live", "fail"))
    p.add_argument("--timeout", type=_non_negative(float), metavar="S", help="wall-clock budget of the run")
    p.add_argument("--max-executions", type=_non_negative(int), metavar="N", help="inferences executed at most")
    p.add_argument("--python-timeout", type=_positive(float), metavar="S", help="per binding call (default 300)")
    p.add_argument("--on-cell-error", choices=("fail", "skip"), help="fail the step (default) or skip the cell")
    p.add_argument("--fail-fast", action="store_true", help="start nothing new after the first failure")
    p.add_argument("--memory", metavar="FILE", help="JSON object read for memorized_parameter signs")
    p.add_argument("--interactive", action="store_true", help="ask for missing external inputs on stdin")
    p.add_argument("--lease-seconds", type=_positive(float), metavar="S",
                   help="the run's lease: another runner may take it over after S s without a heartbeat (30)")
    _storage(p)


def _non_negative(kind: type) -> Any:
    """An argparse type: a number of ``kind`` that is not negative (argparse names the flag on error)."""
    def parse(text: str) -> Any:
        value = kind(text)
        if not 0 <= value < float("inf"):  # NaN fails every comparison
            raise ValueError(text)
        return value
    parse.__name__ = f"non-negative {kind.__name__}"  # argparse's message: "invalid non-negative float value"
    return parse


def _positive(kind: type) -> Any:
    """An argparse type: a number of ``kind`` greater than zero."""
    def parse(text: str) -> Any:
        value = kind(text)
        if not value > 0 or value == float("inf"):
            raise ValueError(text)
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _address(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cycle", type=_non_negative(int), metavar="C")
    p.add_argument("--inference-count", type=_non_negative(int), metavar="K")
    p.add_argument("--at", type=_non_negative(int), metavar="SEQ", help="the checkpoint at this result sequence number")
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
    r.add_argument("--cycle", type=_non_negative(int), metavar="C")
    r.add_argument("--at", type=_non_negative(int), metavar="SEQ")
    _storage(r)
    _serve_parser(sub)
    for command in sub.choices.values():  # `ncd-run run PLAN --debug` as well as `ncd-run --debug run PLAN`
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--debug", action="store_true",
                   help="print the traceback of an internal error (also NCD_DEBUG=1)")
    return p


def _serve_parser(sub: Any) -> None:
    r = sub.add_parser("serve", help="the multi-tenant run server: HTTP API, live progress, a web page")
    r.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1); beyond loopback it needs --token-file")
    r.add_argument("--port", type=int, default=8000)
    r.add_argument("--allowed-hosts", metavar="H1,H2",
                   help="Host header names accepted (comma-separated, * for any; default: loopback names and --host)")
    r.add_argument("--insecure-open", action="store_true",
                   help="allow a non-loopback --host without --token-file (anyone who can connect runs plans)")
    r.add_argument("--input-files-dir", metavar="DIR",
                   help="read file signs of HTTP inputs from DIR only (default: such inputs are refused)")
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
    r.add_argument("--max-streams-per-owner", type=int, default=16, metavar="N",
                   help="open event streams per owner; more answer 429 (default 16)")
    r.add_argument("--max-queued-per-owner", type=int, default=32, metavar="N",
                   help="runs of one owner waiting for a slot; more answer 429 with Retry-After (default 32)")
    r.add_argument("--allowed-models", metavar="M1,M2",
                   help="the only models a request may name in `model` (comma-separated; default: any)")
    r.add_argument("--max-calls-per-run", type=int, default=0, metavar="N",
                   help="model calls of every run at most (a request may ask fewer, never more; default unlimited)")
    r.add_argument("--max-cost-usd-per-run", type=float, default=0.0, metavar="X",
                   help="model cost in USD of every run at most (a request may ask less, never more)")
    r.add_argument("--lease-seconds", type=_positive(float), default=30.0, metavar="S",
                   help="run leases: another runner may take one over after S s without a heartbeat (default 30)")
    r.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))


def _tenant_limits(args: argparse.Namespace) -> Any:
    """The serve options that limit each owner (``TenantLimits``); LoadError (exit 2) naming a bad flag."""
    import math

    from runtime.load import LoadError
    from runtime.server.runs import TenantLimits

    if args.max_streams_per_owner < 1 or args.max_queued_per_owner < 1:
        raise LoadError("--max-streams-per-owner and --max-queued-per-owner must be at least 1")
    if args.max_calls_per_run < 0 or not math.isfinite(args.max_cost_usd_per_run) or args.max_cost_usd_per_run < 0:
        raise LoadError("--max-calls-per-run and --max-cost-usd-per-run must be 0 (unlimited) or more")
    allowed = None
    if args.allowed_models is not None:
        allowed = frozenset(m.strip() for m in args.allowed_models.split(",") if m.strip())
        if not allowed:
            raise LoadError("--allowed-models: name at least one model (M1,M2,...)")
    return TenantLimits(max_queued_per_owner=args.max_queued_per_owner, allowed_models=allowed,
                        max_calls_per_run=args.max_calls_per_run, max_cost_usd_per_run=args.max_cost_usd_per_run)


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
    limits = _tenant_limits(args)
    try:
        tokens = read_token_file(args.token_file) if args.token_file else None
    except TokenFileError as exc:
        raise LoadError(str(exc)) from None
    addresses, allowed_hosts = _exposure(args, tokens)
    if args.input_files_dir is not None and not Path(args.input_files_dir).is_dir():
        raise LoadError(f"--input-files-dir {args.input_files_dir}: not a directory")
    import logging

    def _stopped(signum: int, frame: Any) -> None:  # uvicorn re-raises SIGTERM after its graceful shutdown
        raise SystemExit(0)

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _stopped)
    store = _store(args)  # opened here so that a bad --db/--runs-dir exits 2 before the server starts
    app = create_app(args.plans_dir, store, tokens, max_runs=args.max_runs,
                     per_run_concurrency=args.per_run_concurrency, max_body_bytes=args.max_body_bytes,
                     limits=limits, max_streams_per_owner=args.max_streams_per_owner,
                     input_files_dir=args.input_files_dir, allowed_hosts=allowed_hosts,
                     lease_seconds=args.lease_seconds)
    try:
        sock = _listener(args.host, addresses)
        with sock:
            serve(app, args.host, sock.getsockname()[1], log_level=args.log_level, sock=sock)
    finally:
        store.close()
    return 0


def _exposure(args: argparse.Namespace, tokens: dict[str, str] | None) -> tuple[list, tuple[str, ...]]:
    """(addresses of --host, Host names accepted). A server reachable beyond loopback without tokens is refused
    unless --insecure-open: every client could run plans (and spend the operator's model budget)."""
    from runtime.load import LoadError
    from runtime.server.guards import default_allowed_hosts
    from runtime.server.listen import ListenError, is_loopback, resolve

    try:
        addresses = resolve(args.host, args.port)
    except ListenError as exc:
        raise LoadError(str(exc)) from None
    if not tokens and not args.insecure_open and not is_loopback(addresses):
        raise LoadError(f"--host {args.host} is reachable beyond this machine: give --token-file, or "
                        f"--insecure-open to serve without tokens anyway")
    if args.allowed_hosts is None:
        if not is_loopback(addresses):
            print(f"ncd-run: warning: only Host headers {', '.join(default_allowed_hosts(args.host))} are "
                  f"accepted; name the server's public names with --allowed-hosts", file=sys.stderr)
        return addresses, default_allowed_hosts(args.host)
    hosts = tuple(h.strip().lower() for h in args.allowed_hosts.split(",") if h.strip())
    bad = [h for h in hosts if not (h.isascii() and h.isprintable()) or " " in h]
    if not hosts or bad:
        raise LoadError(f"--allowed-hosts {args.allowed_hosts!r}: expected host names separated by commas, or *")
    return addresses, hosts


def _listener(host: str, addresses: list) -> Any:
    from runtime.load import LoadError
    from runtime.server.listen import ListenError, listener

    try:
        return listener(host, addresses)
    except ListenError as exc:
        raise LoadError(str(exc)) from None


def _inputs(args: argparse.Namespace) -> dict[str, Any] | None:
    from runtime.load import LoadError, parse_json, read_inputs

    if not args.inputs and not args.input:
        return None
    data = dict(read_inputs(args.inputs)) if args.inputs else {}
    for item in args.input:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise LoadError(f"--input {item!r}: expected NAME=JSON")
        data[name] = parse_json(text, f"--input {name}: value")
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
            "parse_retries": args.parse_retries, "max_answer_bytes": args.max_answer_bytes,
            "price": tuple(args.price) or None,
            "no_store_prompts": args.no_store_prompts or None, "max_tokens": args.max_tokens,
            "max_cost_usd": args.max_cost_usd, "max_llm_calls": args.max_llm_calls, "replay": args.replay,
            "replay_fallback": args.replay_fallback, "timeout": args.timeout, "max_executions": args.max_executions,
            "python_timeout": args.python_timeout, "on_cell_error": args.on_cell_error,
            "fail_fast": args.fail_fast or None, "memory": args.memory, "interactive": args.interactive or None,
            "lease_seconds": args.lease_seconds, "legacy_sequences": args.legacy_sequences or None}
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


def _plan(args: argparse.Namespace) -> Any:
    """PLAN, or the foreign repository pair of --concepts/--inferences (§12); exactly one of the two."""
    from runtime.load import LoadError

    if args.concepts is None and args.inferences is None:
        if args.plan is None:
            raise LoadError(f"{args.command}: give PLAN, or --concepts C.json --inferences I.json")
        return args.plan
    if args.plan is not None:
        raise LoadError(f"{args.command}: give either PLAN or --concepts/--inferences, not both")
    if args.concepts is None or args.inferences is None:
        raise LoadError(f"{args.command}: --concepts and --inferences are given together")
    from runtime.foreign import load_foreign

    return load_foreign(args.concepts, args.inferences)


def _execute(args: argparse.Namespace) -> int:
    from runtime.orchestrator import Orchestrator

    plan = _plan(args)
    store = _store(args)
    try:
        if args.command == "run":
            orch = Orchestrator(plan, inputs=_inputs(args) or {}, store=store, run_id=args.run_id,
                                options=_options(args))
        else:
            source = args.run_id if args.command == "resume" else args.from_run
            orch = Orchestrator.load_checkpoint(
                plan, store=store, run_id=source, cycle=args.cycle, inference_count=args.inference_count,
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
    else:  # a completed run can still carry warnings (an all-Skip output lost to shape, issue 14)
        for reason in result.reasons:
            if "warning" in reason:
                print(f"ncd-run: warning: {reason['message']}", file=sys.stderr)
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


class _OneLine(logging.Formatter):
    """A log record as one stderr line; the traceback of a logged exception (a sequence bug) only with --debug."""

    def __init__(self, debug: bool) -> None:
        super().__init__("ncd-run: %(levelname)s: %(message)s")
        self.debug = debug

    def formatException(self, ei: Any) -> str:
        return super().formatException(ei) if self.debug else ""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return line if self.debug or not record.exc_info else f"{line} (--debug shows the traceback)"


@contextlib.contextmanager
def _stderr_logging(debug: bool) -> Iterator[None]:
    """Warnings and errors of the runtime on stderr for the span of one command (removed after: main() may be
    called in-process)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine(debug))
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def debug_requested(flag: bool) -> bool:
    """``--debug`` or ``NCD_DEBUG`` set to anything but empty or ``0``."""
    return flag or os.environ.get("NCD_DEBUG", "").strip() not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    debug = debug_requested(args.debug)
    if args.command == "serve":  # the server logs through uvicorn's configuration (--log-level)
        return _guarded(args, debug)
    with _stderr_logging(debug):
        return _guarded(args, debug)


def _guarded(args: argparse.Namespace, debug: bool) -> int:
    """The command, with every failure mapped to one stderr line and an exit code (§1)."""
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
    except Exception as exc:  # internal error: one line; the traceback only when asked for
        if debug:
            traceback.print_exc(file=sys.stderr)
        print(f"ncd-run: internal error: {type(exc).__name__}: {exc}"
              f"{'' if debug else ' (--debug or NCD_DEBUG=1 shows the traceback)'}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
