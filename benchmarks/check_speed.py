#!/usr/bin/env python3
"""Speed report for `ncdc check` on synthetic plans of ~1k, 10k and 100k lines.

Standalone (stdlib only, does not import ncdc) so it measures what a user sees: a whole process,
interpreter start-up and imports included.

    python benchmarks/check_speed.py                       # generate, time, print the table
    python benchmarks/check_speed.py --sizes 1000,10000 --repeat 5
    python benchmarks/check_speed.py --generate-only /tmp/plans   # just write the plans (profiling)
    python benchmarks/check_speed.py --ncdc "python -m ncdc"      # choose the command

It is a report, not a test: it always exits 0, except 2 when ncdc cannot be run at all and 1 when the
generator's own self-check fails (a bug in this script).
"""
from __future__ import annotations

import argparse
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOPICS = ["invoice", "contract", "ticket", "survey", "incident", "order", "claim", "lease", "audit", "shipment"]
LLM = "v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal"
LLM_BOOL = "v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Boolean"
PY_BOOL = "v_ScriptLocation-h_Literal-c_Execute-o_Boolean"

# Targets printed next to the measurements.
TARGET_CHECKS_OVERHEAD = 0.30  # the check layer adds < 30% to the parser layer's time
TARGET_10K_S = 1.0
TARGET_SCALING = 12.0
TARGET_VERSION_S = 0.15


# ----------------------------------------------------------------------------------------------
# Plan generator
# ----------------------------------------------------------------------------------------------

class Plan:
    """Accumulates lines; annotations are indented one level deeper than their owner (L§1.5)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def concept(self, depth: int, marker: str, payload: str, *annotations: str) -> None:
        text = f":<:{payload}" if marker == ":<:" else f"{marker} {payload}"
        self.lines.append(" " * (4 * depth) + text)
        self.lines.extend(" " * (4 * depth + 4) + f"| {a}" for a in annotations)

    def comment(self, depth: int, text: str) -> None:
        self.lines.append(" " * (4 * depth) + f"/: {text}")

    def semantic(self, depth: int, body: str, prompt: str, assertion: str = "", python: str = "") -> None:
        """A `<=` imperative (or judgement, with an assertion) with its executor annotations."""
        if python:
            anns = [f"%{{norm_input}}: {PY_BOOL}", f"%{{python}}: {python}", "%{body_faculty}: python_interpreter"]
        else:
            anns = [f"%{{norm_input}}: {LLM_BOOL if assertion else LLM}",
                    f"%{{v_input_provision}}: prompts/{prompt}.md", "%{body_faculty}: llm"]
        self.concept(depth, "<=", f"::({body}){assertion}", *anns)


def _block(p: Plan, k: int, rng: random.Random, prev_report: str) -> str:
    """Append stage k under the root (depth 1) and return the name of the report it produces.

    Every stage reads the previous stage's report, so the whole plan is one dependency chain ending
    at the root: nothing is unreachable, every leaf input is ground or produced by a sibling subtree.
    Names carry k, so each produced concept, gated text and loop expression is unique.
    """
    t = rng.choice(TOPICS)
    doc, guide, ok = f"{{{t} document {k}}}", f"{{{t} guide {k}}}", f"<{t} batch {k} is ok>"
    report = f"{{stage {k} report}}"
    if rng.random() < 0.35:
        p.lines.append("")

    # Ground inputs of the stage: a file and a literal.
    p.concept(1, "<-", doc, f"%{{file_location}}: data/{t}_{k}.json", "%{ref_axes}: [_none_axis]")
    p.concept(1, "<-", guide, f'%{{literal_value}}: "{t} house style, revision {k}"')

    # Judgement producing the gate condition (LLM or Python executor).
    p.concept(1, "<-", ok, "%{ref_element}: %{truth_value}")
    py = f"checks/{t}.py:is_ok" if rng.random() < 0.4 else ""
    p.semantic(2, f"is {{1}} ok for stage {k}", f"{t}_ok", "<ALL True>", python=py)
    p.concept(2, "<-", f"{doc}<:{{1}}>")

    # The stage report: one imperative whose inputs are a random mix of the constructs below.
    p.concept(1, "<-", report, "%{ref_axes}: [_none_axis]", "%{ref_element}: str")
    # Comment lines attach to the preceding concept line (L§1.5), so descriptions follow their owner.
    p.comment(2, f"Stage {k}: review the {t} batch and write the stage report.")
    kinds = [x for x in ("gate", "loop", "group", "assign") if rng.random() < 0.7] or ["gate"]
    slots = ", ".join(f"{{{i}}}" for i in range(1, len(kinds) + 2))
    p.semantic(2, f"write the stage {k} report from {slots}", "stage_report")
    if rng.random() < 0.5:
        p.comment(3, "The previous stage's report is always the last input.")
    for slot, kind in enumerate(kinds, start=1):
        b = f"<:{{{slot}}}>"
        if kind == "gate":  # gated operation: `<=` semantic whose first child is the timing line
            p.concept(2, "<-", f"{{{t} summary {k}}}{b}", "%{ref_axes}: [_none_axis]")
            p.semantic(3, f"summarize {{1}} for stage {k}", "summarize")
            timing = "@:'" if rng.random() < 0.8 else "@:!"
            p.concept(4, "<=", f"{timing}({ok})")
            p.concept(4, "<*", ok)
            p.concept(3, "<-", f"{doc}<:{{1}}>")
        elif kind == "loop":  # shaped like the LANGUAGE.md Appendix
            notes, note, checked = f"[{t} notes {k}]", f"{{{t} note {k}}}", f"{{checked note {k}}}"
            p.concept(2, "<-", f"[checked notes {k}]{b}", "%{ref_axes}: [note]", "%{selector_collapse}: true")
            p.concept(3, "<=", f"*. %>({notes}) %<({checked}) %:({note}) %@({k})")
            p.concept(4, "<=", f"$. %>({checked})")
            p.concept(4, "<-", checked)
            p.semantic(5, f"check {{1}} against {{2}} for stage {k}", "check_note")
            p.concept(5, "<-", f"{note}<:{{1}}>")
            p.concept(5, "<-", f"{guide}<:{{2}}>")
            p.concept(3, "<-", notes, f"%{{file_location}}: data/{t}_notes_{k}.json", "%{ref_axes}: [note]")
            p.concept(3, "<*", f"{note}<$({notes})*>")
        elif kind == "group":
            p.concept(2, "<-", f"[{t} bundle {k}]{b}", "%{ref_axes}: [part]")
            p.concept(3, "<=", f"&[#] %>[{doc}, {guide}] %+(part)")
            p.concept(3, "<-", doc)
            p.concept(3, "<-", guide)
        else:  # `$.` specification selecting a sibling that an imperative produces
            draft = f"{{draft title {k}}}"
            p.concept(2, "<-", f"{{{t} title {k}}}{b}", "%{ref_element}: str")
            p.concept(3, "<=", f"$. %>({draft})")
            p.concept(3, "<-", draft)
            p.semantic(4, f"propose a title for {{1}} in stage {k}", "title")
            p.concept(4, "<-", f"{doc}<:{{1}}>")
    p.concept(2, "<-", f"{prev_report}<:{{{len(kinds) + 1}}}>")
    return report


def generate(target_lines: int) -> str:
    """A valid plan of about `target_lines` lines (overshoots by less than one stage)."""
    rng = random.Random(0)
    body = Plan()
    body.concept(1, "<-", "{seed report}", '%{literal_value}: "(no earlier stage)"')
    body.comment(2, "Ground seed: stage 1 continues from this.")
    report, k = "{seed report}", 0
    header_lines = 5  # the root block below
    while len(body.lines) + header_lines < target_lines:
        k += 1
        report = _block(body, k, rng, report)
    root = Plan()
    root.concept(0, ":<:", "{plan output}", "%{ref_axes}: [_none_axis]", "%{ref_element}: str")
    root.concept(1, "<=", f"$. %>({report})")  # the output is the last stage's report
    root.comment(2, f"Synthetic benchmark plan: {k} chained stages.")
    return "\n".join(root.lines + body.lines) + "\n"


def _self_check(text: str) -> list[str]:
    """Structural sanity of a generated plan (L§1.3, L§5.1); returns problems, empty when fine."""
    problems: list[str] = []
    lines = text.splitlines()
    if not lines or not lines[0].startswith(":<:"):
        problems.append("line 1: the first line is not a `:<:` root at column 1")
    concepts = [(n, ln) for n, ln in enumerate(lines, 1) if ln.lstrip().startswith((":<:", "<=", "<-", "<*"))]
    prev_depth = -1
    for i, (n, ln) in enumerate(concepts):
        indent = len(ln) - len(ln.lstrip(" "))
        if indent % 4:
            problems.append(f"line {n}: indentation {indent} is not a multiple of 4")
        depth = indent // 4
        if depth > prev_depth + 1:
            problems.append(f"line {n}: depth jumps from {prev_depth} to {depth}")
        if depth == 0 and i > 0:
            problems.append(f"line {n}: second depth-0 line")
        # A line with children must have a `<=` first child (L§5.1 rule 1).
        if i > 0 and depth == prev_depth + 1 and not ln.lstrip().startswith("<="):
            problems.append(f"line {n}: first child is not a `<=` line")
        prev_depth = depth
    return problems


# ----------------------------------------------------------------------------------------------
# Timing harness
# ----------------------------------------------------------------------------------------------

def _label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def _best_of(cmd: list[str], runs: int) -> tuple[float, subprocess.CompletedProcess]:
    best, proc = float("inf"), None
    for _ in range(max(1, runs)):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        best = min(best, time.perf_counter() - t0)
    return best, proc


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def write_plans(sizes: list[int], out: Path) -> list[tuple[int, Path, int]]:
    out.mkdir(parents=True, exist_ok=True)
    plans = []
    for size in sizes:
        text = generate(size)
        problems = _self_check(text)
        if problems:
            sys.exit(f"generator self-check failed for {size}: " + "; ".join(problems[:5]))
        path = out / f"plan_{_label(size)}.ncd"
        path.write_text(text, encoding="utf-8")
        lines = text.splitlines()
        n_concept = sum(1 for ln in lines if ln.lstrip().startswith((":<:", "<=", "<-", "<*")))
        print(f"wrote {path}  {len(lines)} lines, {100 * n_concept / len(lines):.0f}% concept lines, self-check OK")
        plans.append((size, path, len(lines)))
    return plans


# Runs in a fresh interpreter (like the CLI: cyclic GC off) and prints "parse_seconds checks_seconds".
_PHASES = """
import gc, sys, time
from ncdc.checker import check_layer, parser_layer
from ncdc.options import CheckOptions
import ncdc.plan, ncdc.checks.graph, ncdc.checks.loops, ncdc.checks.typing_rules  # imports are not check time
gc.disable()
data = open(sys.argv[1], "rb").read()
t0 = time.perf_counter()
parsed, reporter = parser_layer(data, sys.argv[1])
t1 = time.perf_counter()
check_layer(parsed, reporter, CheckOptions())
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def phases(python: str, path: Path, runs: int) -> tuple[float, float]:
    """Best-of-``runs`` in-process times of the parser layer and of the check layer."""
    best = (float("inf"), float("inf"))
    for _ in range(runs):
        out = subprocess.run([python, "-c", _PHASES, str(path)], capture_output=True, text=True, check=True).stdout
        parse_s, checks_s = map(float, out.split())
        if parse_s + checks_s < sum(best):
            best = (parse_s, checks_s)
    return best


def ncdc_command(given: str | None) -> list[str]:
    """The command that runs ncdc: ``--ncdc`` (shell-split), else `ncdc` on PATH, else `python -m ncdc`."""
    if given:
        return shlex.split(given)
    found = shutil.which("ncdc")
    return [found] if found else [sys.executable, "-m", "ncdc"]


def probe_failure(cmd: list[str], proc: subprocess.CompletedProcess | None, error: OSError | None = None) -> str | None:
    """Why ``cmd --version`` shows that ncdc cannot run at all, or None when it ran."""
    if error is not None:
        return f"error: cannot run {shlex.join(cmd)}: {error}"
    if proc is not None and proc.returncode != 0:
        return (f"error: `{shlex.join(cmd + ['--version'])}` exited {proc.returncode}:\n"
                f"{(proc.stderr or proc.stdout).strip()}")
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ncdc", help="command to run ncdc (shell-split); default: `ncdc` on PATH, "
                                   "else `python -m ncdc`")
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated target line counts")
    ap.add_argument("--repeat", type=int, help="runs per plan, best taken (default 3; 1 for plans >= 100k lines)")
    ap.add_argument("--out", type=Path, help="keep the generated plans in DIR (default: a temp dir)")
    ap.add_argument("--generate-only", type=Path, metavar="DIR", help="write the plans to DIR and exit")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter with ncdc importable, for the per-phase figures (default: this one)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    if args.generate_only:
        write_plans(sizes, args.generate_only)
        return 0

    cmd = ncdc_command(args.ncdc)
    # Cold start first: it doubles as the "can ncdc run at all?" probe.
    try:
        t_version, proc = _best_of(cmd + ["--version"], 10)
        failure = probe_failure(cmd, proc)
    except OSError as exc:
        failure = probe_failure(cmd, None, exc)
    if failure:
        print(failure, file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="ncdc-speed-") as tmp:
        plans = write_plans(sizes, args.out or Path(tmp))
        print(f"\nncdc command: {shlex.join(cmd)}\n")
        print(f"{'size':>6} {'lines':>8} {'runs':>4} {'seconds':>9} {'lines/s':>10}  exit")
        times: dict[int, float] = {}
        for size, path, n_lines in plans:
            runs = args.repeat or (1 if size >= 100_000 else 3)
            secs, proc = _best_of(cmd + ["check", str(path)], runs)
            times[size] = secs
            print(f"{_label(size):>6} {n_lines:>8} {runs:>4} {secs:>9.3f} {n_lines / secs:>10.0f}  {proc.returncode}")
            if proc.returncode != 0:  # a valid plan should check clean; show why it did not
                first = (proc.stdout + proc.stderr).strip().splitlines()[:3]
                print("".join(f"{'':8}| {ln}\n" for ln in first), end="")
        print(f"\nper phase, in process ({args.python}):")
        print(f"{'size':>6} {'parser layer s':>15} {'check layer s':>14} {'overhead':>9}")
        overheads: dict[int, float] = {}
        check_times: dict[int, float] = {}
        for size, path, _ in plans:
            runs = args.repeat or (1 if size >= 100_000 else 3)
            try:
                parse_s, checks_s = phases(args.python, path, runs)
            except (OSError, subprocess.CalledProcessError) as exc:
                print(f"  per-phase timing unavailable: {exc}")
                break
            overheads[size] = checks_s / parse_s
            check_times[size] = checks_s
            print(f"{_label(size):>6} {parse_s:>15.3f} {checks_s:>14.3f} {checks_s / parse_s:>8.0%}")

    print(f"\n{'--version cold start (best of 10)':<36} {t_version:7.3f} s   target < {TARGET_VERSION_S} s   "
          f"{_verdict(t_version < TARGET_VERSION_S)}")
    if 10_000 in times:
        t = times[10_000]
        print(f"{'10k plan':<36} {t:7.3f} s   target < {TARGET_10K_S} s    {_verdict(t < TARGET_10K_S)}")
    if 10_000 in times and 100_000 in times:
        ratio = times[100_000] / times[10_000]
        print(f"{'100k / 10k time ratio':<36} {ratio:7.2f} x   target < {TARGET_SCALING:g}x     "
              f"{_verdict(ratio < TARGET_SCALING)}")
    for size, overhead in sorted(overheads.items()):
        if size >= 10_000:
            print(f"{'check layer / parser layer, ' + _label(size):<36} {overhead:7.0%}     target < "
                  f"{TARGET_CHECKS_OVERHEAD:.0%}      {_verdict(overhead < TARGET_CHECKS_OVERHEAD)}")
    if 10_000 in check_times and 100_000 in check_times:
        ratio = check_times[100_000] / check_times[10_000]
        print(f"{'check layer 100k / 10k ratio':<36} {ratio:7.2f} x   target < {TARGET_SCALING:g}x     "
              f"{_verdict(ratio < TARGET_SCALING)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
