#!/usr/bin/env python3
"""Speed report for `ncdc compile` on the synthetic plans of check_speed.py (~10k and ~100k lines).

Times `ncdc compile PLAN -o OUTDIR` as a whole process (interpreter start-up, imports, checks, emission and the
atomic writes of the three files included), best of 3 runs for the 10k plan and 1 run for the 100k plan.

    python benchmarks/compile_speed.py
    python benchmarks/compile_speed.py --ncdc "python -m ncdc" --out /tmp/plans

It is a report, not a test: it always exits 0, except 2 when ncdc cannot be run at all.
"""
from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from check_speed import generate, ncdc_command, probe_failure  # noqa: E402  (the same plans and probe)

SIZES = (10_000, 100_000)
RUNS = {10_000: 3, 100_000: 1}
TARGET_10K_S = 1.5
TARGET_SCALING = 12.0


def _label(size: int) -> str:
    return f"{size // 1000}k"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _time_compile(cmd: list[str], plan: Path, outdir: Path, runs: int) -> tuple[float, subprocess.CompletedProcess]:
    best, proc = float("inf"), None
    for _ in range(runs):
        shutil.rmtree(outdir, ignore_errors=True)  # every run writes from scratch
        t0 = time.perf_counter()
        proc = subprocess.run(cmd + ["compile", str(plan), "-o", str(outdir)], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True)
        best = min(best, time.perf_counter() - t0)
    return best, proc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ncdc", help="command to run ncdc (shell-split); default: `ncdc` on PATH, else `python -m ncdc`")
    ap.add_argument("--out", type=Path, help="keep the generated plans and outputs in DIR (default: a temp dir)")
    args = ap.parse_args(argv)

    cmd = ncdc_command(args.ncdc)
    try:
        probe = subprocess.run(cmd + ["--version"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        failure = probe_failure(cmd, probe)
    except OSError as exc:
        failure = probe_failure(cmd, None, exc)
    if failure:
        print(failure, file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="ncdc-compile-speed-") as tmp:
        work = args.out or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f"ncdc command: {shlex.join(cmd)}  ({probe.stdout.strip()})\n")
        print(f"{'size':>6} {'lines':>8} {'runs':>4} {'seconds':>9} {'lines/s':>10}  exit  outputs")
        times: dict[int, float] = {}
        for size in SIZES:
            text = generate(size)
            plan = work / f"plan_{_label(size)}.ncd"
            plan.write_text(text, encoding="utf-8")
            n_lines = len(text.splitlines())
            outdir = work / f"out_{_label(size)}"
            secs, proc = _time_compile(cmd, plan, outdir, RUNS[size])
            written = sorted(p.name for p in outdir.iterdir()) if outdir.is_dir() else []
            out_bytes = sum((outdir / name).stat().st_size for name in written)
            times[size] = secs
            print(f"{_label(size):>6} {n_lines:>8} {RUNS[size]:>4} {secs:>9.3f} {n_lines / secs:>10.0f}  "
                  f"{proc.returncode:>4}  {len(written)} files, {out_bytes / 1e6:.1f} MB")
            if proc.returncode != 0 or len(written) != 3:  # a valid plan should compile; show why it did not
                first = (proc.stdout + proc.stderr).strip().splitlines()[:3]
                print("".join(f"{'':8}| {ln}\n" for ln in first), end="")

    t10 = times[10_000]
    print(f"\n{'10k compile':<24} {t10:7.3f} s   target < {TARGET_10K_S} s    {_verdict(t10 < TARGET_10K_S)}")
    ratio = times[100_000] / t10
    print(f"{'100k / 10k time ratio':<24} {ratio:7.2f} x   target < {TARGET_SCALING:g}x     "
          f"{_verdict(ratio < TARGET_SCALING)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
