"""``ncd-run``: argv → Orchestrator → exit code (RUNTIME §1). Thin: parsing, output and exit codes only."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT = {"completed": 0, "failed": 1, "blocked": 3, "budget_exhausted": 4}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"ncd-run: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ncd-run", description="Run NormCode plans.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="run a plan (.ncd, compile output directory, or STEM.schedule.json)")
    r.add_argument("plan")
    r.add_argument("--inputs", metavar="FILE")
    r.add_argument("--input", action="append", default=[], metavar="NAME=JSON")
    r.add_argument("--max-concurrency", type=int, default=4, metavar="N")
    r.add_argument("--max-loop-iterations", type=int, default=10000, metavar="N")
    r.add_argument("--max-cycles", type=int, default=0, metavar="N")
    r.add_argument("--plan-dir", metavar="DIR")
    r.add_argument("--output-dir", metavar="DIR")
    r.add_argument("--allow-dir", action="append", default=[], metavar="DIR")
    r.add_argument("--binding", action="append", default=[], metavar="FLOW_INDEX=path.py:function")
    r.add_argument("--retries", type=int, default=5, metavar="N")
    r.add_argument("--llm-model", metavar="NAME")
    r.add_argument("--llm-base-url", metavar="URL")
    r.add_argument("--run-id", metavar="ID")
    r.add_argument("--json", action="store_true", help="print exactly one JSON result object on stdout")
    return p


def _inputs(args: argparse.Namespace) -> dict[str, Any]:
    from runtime.load import LoadError, read_inputs

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


def _bindings(items: list[str]) -> dict[str, str]:
    from runtime.load import LoadError

    out = {}
    for item in items:
        fi, sep, target = item.partition("=")
        if not sep or not fi or not target:
            raise LoadError(f"--binding {item!r}: expected FLOW_INDEX=path.py:function")
        out[fi] = target
    return out


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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from runtime.load import LoadError
    from runtime.orchestrator import Orchestrator

    try:
        orch = Orchestrator(args.plan, inputs=_inputs(args), run_id=args.run_id, options={
            "max_concurrency": args.max_concurrency, "max_loop_iterations": args.max_loop_iterations,
            "max_cycles": args.max_cycles, "plan_dir": args.plan_dir, "output_dir": args.output_dir,
            "allow_dir": tuple(args.allow_dir), "bindings": _bindings(args.binding), "retries": args.retries,
            "llm_model": args.llm_model, "llm_base_url": args.llm_base_url})
        for warning in orch.plan.warnings:
            print(warning, file=sys.stderr)
        progress = Progress(sys.stderr) if not args.json and sys.stderr.isatty() else None
        orch.on_result = progress
        try:
            result = orch.run()
        finally:
            if progress is not None:
                progress.close()
    except LoadError as exc:
        print(f"ncd-run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ncd-run: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # internal error: one line, never a traceback
        print(f"ncd-run: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
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


if __name__ == "__main__":
    raise SystemExit(main())
