#!/usr/bin/env python3
"""Runtime overhead of `ncd-run` on purely syntactic plans of ~1k, 10k and 100k executed inferences.

The plans use only syntactic operators (no LLM, no Python binding), so every microsecond measured is the runtime's
own work: scheduling, views, References, result rows. Three shapes:

* chain  — N stages under the root, stage k reads stage k-1 (`$=`, `$.`, one-source `&[#]` in turn): one long
           dependency chain, one inference ready at a time;
* fan    — N-ish independent `$%` literals grouped by `&[#]` in levels of FANOUT (a wide ready queue, huge scopes);
* loop   — one `*.` loop over a literal collection `$% %>([...])` whose body is 10 syntactic inferences
           (`$.`, `&[#]`, `$%`, a `$=` chain); N/10 iterations, so the 100k plan runs 10,000 iterations.

Each (shape, size) runs in a fresh subprocess: the plan is compiled in memory (`ncdc.compile.compile_plan`, timed
separately and checked to have no error diagnostic, i.e. it passes `ncdc check`), loaded into an
`runtime.orchestrator.Orchestrator` (timed separately), then `Orchestrator.run()` alone is timed, best of several
runs (shared machines are noisy), with the cyclic GC enabled exactly as under the `ncd-run` CLI: the run applies
its own GC settings (runtime/gcpolicy.py; `--plain-gc` turns them off to compare), the harness only does a
`gc.collect()` before the timed region. Memory: the peak traced by tracemalloc during a separate, untimed `run()`
(the runtime's own allocations: scopes, values, result rows), plus the process's max RSS (compile and load
included). `final` and `rows` are hashes of the final values and of every result row: compare them across runtime
versions to check that a speed-up changed nothing.

    python benchmarks/runtime_overhead.py                      # all shapes, 1k/10k/100k
    python benchmarks/runtime_overhead.py --sizes 1000,10000 --shapes chain,loop --repeat 5
    python benchmarks/runtime_overhead.py --write-plans /tmp/plans   # also write the .ncd files (`ncdc check` them)
    python benchmarks/runtime_overhead.py --profile loop:10000       # cProfile one run, top 30 by tottime

It is a report, not a test: it prints figures and PASS/MISS against the targets and exits 0 (1 if a plan fails to
compile or a run does not complete, which is a bug in the generator or the runtime).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ("chain", "fan", "loop")
SIZES = (1_000, 10_000, 100_000)
FANOUT = 100
LOOP_BODY = 10          # inferences executed per loop iteration
TARGET_US = 100.0       # µs of runtime overhead per executed inference
TARGET_GROWTH = 12.0    # time(100k) / time(10k)
TARGET_MEM_GROWTH = 12.0


# ----------------------------------------------------------------------------------------------
# Plan generators: each returns the .ncd text; every plan is valid (`ncdc check` reports no error)
# ----------------------------------------------------------------------------------------------

def gen_chain(n: int) -> str:
    """Root + n-1 stages at depth 1; stage k (k >= 2) reads stage k-1, stage 1 is a `$%` literal.

    Stages cycle through `$=`, `$.` and a one-source `&[#]` (a grouping every third stage keeps copy-of-copy
    chains short, which `ncdc check` follows recursively).
    """
    last = n - 1
    lines = [":<:{out}", "    | %{ref_axes}: [item]", f"    <= $. %>({{c {last}}})"]
    for k in range(last, 1, -1):
        src = f"{{c {k - 1}}}"
        lines += [f"    <- {{c {k}}}", "        | %{ref_axes}: [item]"]
        if k % 3 == 0:
            lines += [f"        <= &[#] %>[{src}] %+(item)", f"        <- {src}"]
        else:
            lines += [f"        <= {'$=' if k % 3 == 1 else '$.'} %>({src})", f"        <- {src}"]
    lines += ["    <- {c 1}", "        | %{ref_axes}: [item]", '        <= $% %>(["seed"]) %:[item]']
    return "\n".join(lines) + "\n"


def gen_fan(n: int) -> str:
    """~n inferences: independent `$%` leaves grouped FANOUT at a time by `&[#]`, level above level, to one root."""
    # leaves L, groups ceil(L/F) + ceil(ceil(L/F)/F) + ... ; choose L so the total is close to n
    def total(leaves: int) -> int:
        t, level = leaves, leaves
        while level > 1:
            level = -(-level // FANOUT)
            t += level
        return t

    leaves = max(2, n * (FANOUT - 1) // FANOUT)
    while total(leaves) > n and leaves > 2:
        leaves -= 1
    counter = [0]
    lines: list[str] = []

    def node(depth: int, name: str, count: int, annotate: bool = True) -> None:
        """Concept `name` at `depth` producing `count` leaves (a leaf literal when count == 1)."""
        pad = "    " * depth
        if count == 1:
            counter[0] += 1
            lines.append(f'{pad}    <= $% %>("v{counter[0]}")')
            return
        # split count into at most FANOUT parts, each a power-of-FANOUT-ish chunk
        chunk = 1
        while chunk * FANOUT < count:
            chunk *= FANOUT
        parts = [min(chunk, count - i) for i in range(0, count, chunk)]
        names = [f"{{{name}.{i}}}" for i in range(1, len(parts) + 1)]
        if annotate:
            lines.append(f"{pad}    | %{{ref_axes}}: [item]")
        lines.append(f"{pad}    <= &[#] %>[{', '.join(names)}] %+(item)")
        for child, size in zip(names, parts):
            lines.append(f"{pad}    <- {child}")
            if size > 1:
                lines.append(f"{pad}        | %{{ref_axes}}: [item]")
            node(depth + 1, child[1:-1], size, annotate=False)

    lines.append(":<:{out}")
    node(0, "g", leaves)
    return "\n".join(lines) + "\n"


def gen_loop(n: int) -> str:
    """A `*.` loop over a literal collection of n/LOOP_BODY items; its body executes LOOP_BODY syntactic inferences."""
    iters = max(1, n // LOOP_BODY)
    chain = LOOP_BODY - 3  # `$=` links from {s 1} down to {item}
    items = json.dumps([f"i{k}" for k in range(iters)])
    lines = [":<:[results]", "    | %{ref_axes}: [item]",
             "    <= *. %>([items]) %<({r}) %:({item}) %@(1)",
             "        <= $. %>({r})",
             "        <- {r}",
             "            | %{ref_axes}: [part]",
             "            <= &[#] %>[{s 1}, {tag}] %+(part)",
             "            <- {s 1}"]
    depth = 4
    for k in range(1, chain + 1):
        src = f"{{s {k + 1}}}" if k < chain else "{item}"
        pad = "    " * depth
        lines += [f"{pad}<= $= %>({src})", f"{pad}<- {src}"]
        depth += 1
    lines += ["            <- {tag}", '                <= $% %>("t")',
              "    <- [items]", "        | %{ref_axes}: [item]", f"        <= $% %>({items}) %:[item]",
              "    <* {item}<$([items])*>"]
    return "\n".join(lines) + "\n"


GENERATORS = {"chain": gen_chain, "fan": gen_fan, "loop": gen_loop}


# ----------------------------------------------------------------------------------------------
# Worker: one (shape, size) in this process; prints one JSON object
# ----------------------------------------------------------------------------------------------

def _max_rss_mb() -> float:
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def worker(shape: str, size: int, repeat: int, memory: bool, profile: bool, plain_gc: bool = False) -> dict:
    import gc

    sys.path.insert(0, str(ROOT))
    if plain_gc:
        import runtime.gcpolicy
        runtime.gcpolicy.ENABLED = False
    from ncdc.compile import compile_plan
    from ncdc.severity import Severity
    from runtime.load import load_plan
    from runtime.orchestrator import Orchestrator
    from runtime.store import MemoryStore

    text = GENERATORS[shape](size)
    t0 = time.perf_counter()
    compiled = compile_plan(text, f"{shape}_{size}.ncd")
    compile_s = time.perf_counter() - t0
    diags = compiled.check.all_diagnostics
    errors = [f"{d.line}:{d.column}: {d.code} {d.message}" for d in diags if d.severity is Severity.ERROR]
    warnings = sum(1 for d in diags if d.severity is Severity.WARNING)
    out = {"shape": shape, "size": size, "lines": text.count("\n"), "compile_s": compile_s, "errors": errors[:5],
           "warnings": warnings}
    if errors or not compiled.ok:
        return out
    out["inferences"] = len(compiled.inferences)
    # What `ncd-run run plan.ncd` keeps is the validated Plan; the compiler's model is dropped (as in compile_ncd).
    t0 = time.perf_counter()
    plan = load_plan(compiled)
    validate_s = time.perf_counter() - t0
    del compiled

    gc_clock = [0.0, 0.0]  # seconds spent in the cyclic GC during the timed run, start of the current pass

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_clock[1] = time.perf_counter()
        else:
            gc_clock[0] += time.perf_counter() - gc_clock[1]

    best_run, best_gc, load_s, result, store = float("inf"), 0.0, float("inf"), None, None
    for _ in range(max(1, repeat)):
        result = store = None
        t0 = time.perf_counter()
        store = MemoryStore()
        orch = Orchestrator(plan, store=store, run_id="bench", options={"max_concurrency": 4})
        load_s = min(load_s, validate_s + time.perf_counter() - t0)
        gc.collect()  # garbage of earlier repeats / of the compiler is not this run's cost
        gc_clock[0] = 0.0
        gc.callbacks.append(on_gc)
        if profile:
            import cProfile
            import pstats
            prof = cProfile.Profile()
            prof.enable()
        t0 = time.perf_counter()
        result = orch.run()
        elapsed = time.perf_counter() - t0
        gc.callbacks.remove(on_gc)
        if elapsed < best_run:
            best_run, best_gc = elapsed, gc_clock[0]
        if profile:
            prof.disable()
            pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(30)
            break
        del orch
    assert result is not None and store is not None
    out.update(load_s=load_s, run_s=best_run, gc_s=best_gc, executed=result.executed, cycles=result.cycles,
               outcome=result.outcome, final_hash=_digest(result.final), rows_hash=_digest(store.results["bench"]))
    del result, store

    if memory:
        import tracemalloc
        orch = Orchestrator(plan, options={"max_concurrency": 4})
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        orch.run()
        out["run_peak_mb"] = (tracemalloc.get_traced_memory()[1] - base) / 1e6
        tracemalloc.stop()
    out["max_rss_mb"] = _max_rss_mb()
    return out


def _digest(value: object) -> str:
    """Short hash of JSON data: equal across runs and runtime versions when the results are identical."""
    import hashlib
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------

def _label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _spawn(shape: str, size: int, repeat: int, memory: bool, plain_gc: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", f"{shape}:{size}", "--repeat", str(repeat)]
    if not memory:
        cmd.append("--no-memory")
    if plain_gc:
        cmd.append("--plain-gc")
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        return {"shape": shape, "size": size, "crash": (proc.stderr or proc.stdout).strip().splitlines()[-3:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated inference counts")
    ap.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, from {', '.join(SHAPES)}")
    ap.add_argument("--repeat", type=int, default=0, help="timed runs per plan, best kept (default 5, 3 for 100k+)")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run (faster)")
    ap.add_argument("--plain-gc", action="store_true",
                    help="turn off the runtime's GC settings for a run (runtime.gcpolicy.ENABLED), to compare")
    ap.add_argument("--write-plans", type=Path, metavar="DIR", help="also write the generated .ncd plans to DIR")
    ap.add_argument("--worker", metavar="SHAPE:SIZE", help=argparse.SUPPRESS)
    ap.add_argument("--profile", metavar="SHAPE:SIZE", help="cProfile one run of one plan (stderr), then exit")
    args = ap.parse_args(argv)

    if args.worker or args.profile:
        shape, _, size = (args.worker or args.profile).partition(":")
        res = worker(shape, int(size), args.repeat or 1, not args.no_memory and not args.profile,
                     bool(args.profile), args.plain_gc)
        print(json.dumps(res))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s]
    shapes = [s for s in args.shapes.split(",") if s]
    if args.write_plans:
        args.write_plans.mkdir(parents=True, exist_ok=True)
        for shape in shapes:
            for size in sizes:
                (args.write_plans / f"{shape}_{_label(size)}.ncd").write_text(GENERATORS[shape](size))
        print(f"plans written to {args.write_plans}\n")

    gc_mode = "CPython defaults (--plain-gc)" if args.plain_gc else "as under ncd-run (runtime's run-time settings)"
    print(f"python {sys.version.split()[0]}, one process per plan, cyclic GC enabled, {gc_mode}; "
          f"run s = Orchestrator.run() only, best of repeats; gc s = time inside collections during it\n")
    head = (f"{'shape':<6} {'size':>5} {'infs':>7} {'executed':>8} {'compile s':>9} {'load s':>7} {'run s':>8} "
            f"{'gc s':>6} {'us/inf':>7} {'run MB':>7} {'B/inf':>6} {'rss MB':>7}  outcome")
    print(head)
    print("-" * len(head))
    results: dict[tuple[str, int], dict] = {}
    bad = False
    for shape in shapes:
        for size in sizes:
            repeat = args.repeat or (3 if size >= 100_000 else 5)
            r = _spawn(shape, size, repeat, not args.no_memory, args.plain_gc)
            results[(shape, size)] = r
            if "crash" in r or r.get("errors") or r.get("outcome") != "completed":
                bad = True
                why = r.get("crash") or r.get("errors") or [r.get("outcome")]
                print(f"{shape:<6} {_label(size):>5}  FAILED: {' | '.join(map(str, why))}")
                continue
            us = r["run_s"] / r["executed"] * 1e6
            mem = r.get("run_peak_mb")
            mem_s = f"{mem:7.1f} {mem * 1e6 / r['executed']:6.0f}" if mem is not None else f"{'-':>7} {'-':>6}"
            print(f"{shape:<6} {_label(size):>5} {r['inferences']:>7} {r['executed']:>8} {r['compile_s']:>9.2f} "
                  f"{r['load_s']:>7.2f} {r['run_s']:>8.3f} {r['gc_s']:>6.2f} {us:>7.1f} {mem_s} {r['max_rss_mb']:>7.0f}  "
                  f"{r['outcome']} ({r['cycles']} cycles, final {r['final_hash']}, rows {r['rows_hash']})")

    print(f"\nTargets: < {TARGET_US:g} us per executed inference; time(100k) <= {TARGET_GROWTH:g}x time(10k); "
          f"run memory(100k) <= {TARGET_MEM_GROWTH:g}x memory(10k)")
    for shape in shapes:
        ok = [(s, results[(shape, s)]) for s in sizes if results[(shape, s)].get("outcome") == "completed"]
        if not ok:
            continue
        worst = max(r["run_s"] / r["executed"] * 1e6 for _, r in ok)
        print(f"  {shape:<6} max us/inference {worst:8.1f}   {_verdict(worst < TARGET_US)}")
        a, b = results.get((shape, 10_000)), results.get((shape, 100_000))
        if a and b and a.get("outcome") == b.get("outcome") == "completed":
            ratio = b["run_s"] / a["run_s"]
            per = (b["run_s"] / b["executed"]) / (a["run_s"] / a["executed"])
            print(f"  {shape:<6} time 100k/10k     {ratio:8.2f}x  (per inference {per:.2f}x)   "
                  f"{_verdict(ratio <= TARGET_GROWTH)}")
            if a.get("run_peak_mb") and b.get("run_peak_mb"):
                mratio = b["run_peak_mb"] / a["run_peak_mb"]
                print(f"  {shape:<6} memory 100k/10k   {mratio:8.2f}x   {_verdict(mratio <= TARGET_MEM_GROWTH)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
