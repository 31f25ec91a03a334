"""``ncdc`` command line: argv → calls → exit code. Thin by design; heavy modules are imported per command so
that ``ncdc --version`` stays fast.

Exit status (CHECKS.md §1.2): 0 no error, 1 errors (or warnings with -W), 2 usage error, unreadable or missing
path, or internal error (one line on stderr; the traceback only with ``--debug`` or ``NCD_DEBUG=1``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
FORMATS = ("text", "full", "json", "sarif", "github")


def _parser():
    import argparse

    from ncdc import __version__

    parser = argparse.ArgumentParser(prog="ncdc", description="The NormCode compiler: check and compile .ncd plans.")
    parser.add_argument("--version", action="version", version=f"ncdc {__version__}")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an internal error (also NCD_DEBUG=1)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="check plans and report diagnostics")
    check.add_argument("paths", nargs="+", metavar="PATH", help='a .ncd file, a directory (searched recursively), or "-" (stdin)')
    _diagnostic_options(check)
    check.add_argument("--stdin-filename", metavar="NAME", help='path to print for input read from "-"')

    compile_ = commands.add_parser("compile", help="check a plan and write its concept, inference and schedule files")
    compile_.add_argument("path", metavar="PLAN", help="a .ncd file")
    compile_.add_argument("-o", "--output", metavar="OUTDIR", help='output directory (default: build/ beside the plan); "-" prints one JSON document')
    _diagnostic_options(compile_)

    graph = commands.add_parser("graph", help="draw the inference graph of a plan")
    graph.add_argument("path", metavar="PLAN", help="a .ncd file")
    graph.add_argument("--format", choices=("dot", "json", "mermaid", "svg"), default="dot", help="output format (default: dot)")

    commands.add_parser("schema", help="print the JSON Schemas of the three compile outputs")

    explain = commands.add_parser("explain", help="explain a diagnostic code (what, why, bad example, fix)")
    explain.add_argument("code", nargs="?", metavar="CODE", help="e.g. NCD301; without it, list every code")

    parse = commands.add_parser("parse", help="parse one plan and print its IR (for debugging and tests)")
    parse.add_argument("path", metavar="PLAN", help='a .ncd file or "-"')
    parse.add_argument("--json", action="store_true", help="print the IR (with spans and flow indices) as JSON")
    parse.add_argument("--stdin-filename", metavar="NAME", help='path to print for input read from "-"')
    for command in commands.choices.values():  # `ncdc check PLAN --debug` as well as `ncdc --debug check PLAN`
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _debug_requested(flag: bool) -> bool:
    """``--debug`` or ``NCD_DEBUG`` set to anything but empty or ``0``."""
    import os

    return flag or os.environ.get("NCD_DEBUG", "").strip() not in ("", "0")


def _diagnostic_options(parser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument("--select", action="append", default=[], metavar="CODES", help="report only these codes or prefixes (comma-separated, repeatable)")
    parser.add_argument("--ignore", action="append", default=[], metavar="CODES", help="never report these codes or prefixes (applied after --select)")
    parser.add_argument("-W", "--warnings-as-errors", action="store_true", help="reported warnings make the exit status 1")
    parser.add_argument("--show-info", action="store_true", help="show info diagnostics in text, full and github output")
    parser.add_argument("--check-files", action="store_true", help="also check that files named by annotations exist (NCD949) and that prompt files render (NCD956)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from ncdc.errors import NcdcError

    try:
        if args.command == "check":
            return _check(args)
        if args.command == "parse":
            return _parse(args)
        if args.command == "explain":
            return _explain(args)
        if args.command == "compile":
            return _compile(args)
        if args.command == "graph":
            return _graph(args)
        if args.command == "schema":
            return _schema()
    except NcdcError as error:
        print(f"ncdc: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ncdc: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # an internal error is one clear line; the traceback only when asked for
        debug = _debug_requested(args.debug)
        if debug:
            import traceback

            traceback.print_exc(file=sys.stderr)
        hint = "" if debug else " (--debug or NCD_DEBUG=1 shows the traceback)"
        print(f"ncdc: internal error: {type(error).__name__}: {error}{hint}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_USAGE  # pragma: no cover - argparse restricts commands


def _codes(values: list[str]) -> list[str]:
    from ncdc.errors import UsageError
    from ncdc.rules import is_known_code_or_prefix

    codes = [code.strip() for value in values for code in value.split(",") if code.strip()]
    for code in codes:
        if not is_known_code_or_prefix(code):
            raise UsageError(f"unknown code or prefix {code!r} (codes look like NCD301; prefixes like NCD3)")
    return codes


def _check(args) -> int:
    import gc
    from pathlib import Path

    from ncdc.checker import CheckOptions, check
    from ncdc.inputs import collect_inputs
    from ncdc.severity import Severity

    # The IR is acyclic and this process is short-lived: the cyclic collector would only rescan the growing
    # heap again and again (it made checking 100k lines superlinear). Reference counting still frees memory.
    gc.disable()
    selected, ignored = _codes(args.select), _codes(args.ignore)
    inputs = collect_inputs(args.paths, args.stdin_filename)
    diagnostics = []
    sources: dict[str, list[str]] = {}
    for path, data in inputs:
        # Relative paths in a plan resolve against its directory (for stdin: that of --stdin-filename, else cwd).
        options = CheckOptions(select=selected, ignore=ignored, check_files=args.check_files, plan_dir=Path(path).parent)
        result = check(data, path, options)
        diagnostics.extend(result.diagnostics)
        sources[path] = list(result.plan.source_lines)
    _report(diagnostics, sources, args, sys.stdout)
    if any(d.severity is Severity.ERROR for d in diagnostics):
        return EXIT_FINDINGS
    if args.warnings_as_errors and any(d.severity is Severity.WARNING for d in diagnostics):
        return EXIT_FINDINGS
    return EXIT_OK


def _parse(args) -> int:
    import json

    from ncdc.checker import check
    from ncdc.inputs import collect_inputs
    from ncdc.ir_json import plan_data, to_data
    from ncdc.report import render
    from ncdc.severity import Severity

    ((path, data),) = collect_inputs([args.path], args.stdin_filename, single=True)
    result = check(data, path)
    if args.json:
        document = plan_data(result.plan)
        document["diagnostics"] = [to_data(d) | {"severity": d.severity.value} for d in result.diagnostics]
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    else:
        for line in result.plan.lines:
            sys.stdout.write(f"{line.flow_index:<16} {'    ' * line.depth}{line.marker.value} {line.payload}\n")
        sys.stderr.write(render("text", result.diagnostics, {}, True))
    return EXIT_FINDINGS if any(d.severity is Severity.ERROR for d in result.diagnostics) else EXIT_OK


def _explain(args) -> int:
    from ncdc.explain import explain, index

    if args.code is None:
        sys.stdout.write(index())
        return EXIT_OK
    text = explain(args.code.strip().upper())
    if text is None:
        from ncdc.errors import UsageError

        raise UsageError(f"unknown code {args.code!r}; `ncdc explain` lists every code")
    sys.stdout.write(text)
    return EXIT_OK


def _report(diagnostics, sources, args, stream) -> None:
    from ncdc.report import render, summary_line

    output = render(args.format, diagnostics, sources, args.show_info)
    if output:
        stream.write(output)
    print(summary_line(diagnostics), file=sys.stderr)


def _compile(args) -> int:
    import gc
    from pathlib import Path

    from ncdc.compile import compile_plan
    from ncdc.inputs import collect_inputs
    from ncdc.options import CheckOptions
    from ncdc.output import write_atomically

    gc.disable()  # see _check
    ((path, data),) = collect_inputs([args.path], None, single=True)
    options = CheckOptions(
        select=_codes(args.select), ignore=_codes(args.ignore), check_files=args.check_files, plan_dir=Path(path).parent
    )
    result = compile_plan(data, path, options, warnings_as_errors=args.warnings_as_errors)
    to_stdout = args.output == "-"
    _report(result.check.diagnostics, {path: list(result.check.plan.source_lines)}, args, sys.stderr if to_stdout else sys.stdout)
    if not result.ok:
        return EXIT_FINDINGS
    if to_stdout:
        sys.stdout.write(result.document())
        return EXIT_OK
    outdir = Path(args.output) if args.output else Path(path).parent / "build"
    write_atomically(outdir, result.files(path))
    return EXIT_OK


def _graph(args) -> int:
    import shutil
    import subprocess

    from ncdc.checker import check
    from ncdc.errors import UsageError
    from ncdc.graph_export import graph_data, to_dot, to_json, to_mermaid
    from ncdc.inputs import collect_inputs
    from ncdc.report import render
    from ncdc.severity import Severity

    ((path, data),) = collect_inputs([args.path], None, single=True)
    result = check(data, path)
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    if errors:
        sys.stderr.write(render("text", errors, {}, False))
        print(f"ncdc: {path} has errors; fix them to draw its graph", file=sys.stderr)
        return EXIT_FINDINGS
    data_ = graph_data(result.model)
    if args.format == "json":
        sys.stdout.write(to_json(data_))
    elif args.format == "mermaid":
        sys.stdout.write(to_mermaid(data_))
    elif args.format == "dot":
        sys.stdout.write(to_dot(data_))
    else:
        dot = shutil.which("dot")
        if dot is None:
            raise UsageError("--format svg needs Graphviz's `dot` on PATH (e.g. `apt-get install graphviz`); use --format dot")
        rendered = subprocess.run([dot, "-Tsvg"], input=to_dot(data_), capture_output=True, text=True)
        if rendered.returncode != 0:
            raise UsageError(f"dot failed: {rendered.stderr.strip()}")
        sys.stdout.write(rendered.stdout)
    return EXIT_OK


def _schema() -> int:
    import json

    from ncdc.format import schemas

    sys.stdout.write(json.dumps(schemas(), indent=2) + "\n")
    return EXIT_OK
