#!/usr/bin/env python3
"""Cost of persistence in `ncd-run` (RUNTIME §8): append-only result rows in SQLite vs. a whole-state snapshot per cycle.

The workload is the addition example (`examples/base_x_addition/`): two random operands of `--digits` digits
(seeded), added digit by digit in a `*.` loop (one iteration per digit, four executed steps per iteration). The plan
is loaded once; every run gets a fresh `Orchestrator` and a fresh store.

* **run time** — `Orchestrator(...)` + `run()` + `store.close()` (everything but loading the plan), wall and process
  CPU time, with `NullStore` (defined here: keeps nothing, the floor — the recorder, its writer thread and the value
  encoding still run), `MemoryStore` (no persistence) and `SqliteStore` on a new file in a temporary directory, with
  the default options (markers when a wave closes) and with `--checkpoint-every N` variants. Variants are
  interleaved, after a warm-up round; min and median are reported; overhead = median(sqlite) / median(baseline) - 1,
  against both MemoryStore and NullStore.
* **bytes per step** — growth of the database file over an empty database (schema only), measured after
  `PRAGMA wal_checkpoint(TRUNCATE)` (the -wal size when the run ended is shown too), divided by the executed steps
  (`RunResult.executed`); also per result row, the recorder's `bytes_written` (encoded values) and the payload of the
  text columns as SQLite counts them.
* **store time per step** — separate, untimed runs through `timed_store_class(...)` (defined here: a subclass adding
  `perf_counter()` around every store method, outermost call per thread, and around enter / exit (commit) of
  `transaction()`): seconds inside the store per executed step, by method, for SqliteStore and MemoryStore. Most of
  it runs on the recorder's writer thread, concurrently with the scheduler (and competing with it for the GIL).
* **baseline** — what a store that writes the whole state once per cycle would write for the same run: the result
  rows are replayed in (cycle, seq) order; the state maps (inference id, iteration) to the row's status, value and
  meta (what our rows carry about outcomes, none of their bookkeeping columns, no ground data — every omission favours
  the baseline); after the last row of every cycle that has rows the whole state is encoded as one JSON object. Sizes
  are computed for every length; for the smallest (and any run under `--snapshot-cap-mb`) the snapshots are also
  written to a second SQLite file (same pragmas, one row and one transaction per cycle), to check the computation
  against a real file size and to time it.
* **linearity** — the same figures for several operand lengths: bytes per step should be ~constant (the database
  grows linearly with steps); the baseline grows quadratically.

    python benchmarks/checkpoint_cost.py                        # 1,000 digits, base 10, lengths 250..2,000 (~1.5 min)
    python benchmarks/checkpoint_cost.py --bases 10,16 --checkpoint-every 1,10 --repeat 5
    python benchmarks/checkpoint_cost.py --quick                # 2 repeats, lengths 250/500/1,000
    python benchmarks/checkpoint_cost.py --profile              # cProfile one sqlite run (every thread merged)

It is a report, not a test: it prints figures and PASS/MISS against the issue's targets and exits 0 (1 if a run
does not complete or computes a wrong sum, which is a bug).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXAMPLE = ROOT / "examples" / "base_x_addition"
PLAN = EXAMPLE / "plan.ncd"
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
SEED = 20250611

TARGET_RATIO = 20.0       # baseline size / our size, at least
TARGET_OVERHEAD = 0.25    # (sqlite - memory) / memory, below
TARGET_LINEAR = 0.15      # bytes per step may vary by at most this fraction across operand lengths

STORE_METHODS = ("create_run", "update_run", "get_run", "list_runs", "put_inputs", "get_inputs", "append_results",
                 "results", "state_rows", "last_seq", "start_execution", "finish_execution", "executions", "add_log",
                 "logs", "add_checkpoint", "checkpoints", "add_llm_call", "llm_calls", "write_batch", "close")


# ----------------------------------------------------------------------------------------------
# Inputs and runs
# ----------------------------------------------------------------------------------------------

def operands(digits: int, base: int, seed: int = SEED) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{digits}:{base}")
    a = ALPHABET[rng.randrange(1, base)] + "".join(ALPHABET[rng.randrange(base)] for _ in range(digits - 1))
    b = ALPHABET[rng.randrange(1, base)] + "".join(ALPHABET[rng.randrange(base)] for _ in range(digits - 1))
    return {"{number a}": a, "{number b}": b, "{base}": base}


def expected(inputs: dict[str, Any]) -> str:
    base = inputs["{base}"]
    value = int(inputs["{number a}"], base) + int(inputs["{number b}"], base)
    out = []
    while value:
        value, d = divmod(value, base)
        out.append(ALPHABET[d])
    return "".join(reversed(out)) or "0"


_counter = [0]


def fresh_db(tmp: Path) -> Path:
    _counter[0] += 1
    return tmp / f"run{_counter[0]}.db"


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def open_sqlite(path: Path, cls: type | None = None) -> Any:
    """A SqliteStore on ``path`` as `ncd-run --db` opens it (``cls``: a subclass to construct instead)."""
    from runtime.store import open_store

    if cls is None:
        return open_store(db=path)
    return cls(path)


LAST_CPU = [0.0]  # CPU seconds of the process (every thread) during the last one_run


def one_run(plan: Any, inputs: dict[str, Any], store: Any, options: dict[str, Any],
            before_close: Any = None) -> tuple[float, Any, Any]:
    """(wall seconds for construct + run + close, RunResult, the orchestrator); CPU seconds go to LAST_CPU."""
    from runtime.orchestrator import Orchestrator

    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    orch = Orchestrator(plan, inputs=inputs, store=store, run_id="bench", options=options)
    result = orch.run()
    if before_close is not None:
        before_close()
    store.close()
    elapsed = time.perf_counter() - t0
    LAST_CPU[0] = time.process_time() - c0
    return elapsed, result, orch


def check_result(result: Any, inputs: dict[str, Any]) -> str | None:
    if result.outcome != "completed":
        return f"outcome {result.outcome}: {result.reasons[:2]}"
    got = result.final.get("{sum}", {}).get("data", [None])[0]
    want = expected(inputs)
    if got != want:
        return f"wrong sum: got {str(got)[:20]}..., want {want[:20]}..."
    return None


class NullStore:
    """Keeps nothing: the floor under every store (the recorder, its writer thread and the value encoding still
    run). Defined here for the measurement only; it implements just what a plain run calls."""

    def __init__(self) -> None:
        self._seq = 0
        self._ids = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def get_run(self, run_id: str) -> None:
        return None

    def create_run(self, run: dict[str, Any]) -> None:
        pass

    def put_inputs(self, run_id: str, inputs: dict[str, Any]) -> None:
        pass

    def update_run(self, run_id: str, **fields: Any) -> None:
        pass

    def last_seq(self, run_id: str) -> int:
        return self._seq

    def append_results(self, run_id: str, rows: list[dict[str, Any]]) -> list[int]:
        first = self._seq + 1
        self._seq += len(rows)
        return list(range(first, self._seq + 1))

    def start_execution(self, run_id: str, row: dict[str, Any]) -> int:
        self._ids += 1
        return self._ids

    def finish_execution(self, run_id: str, execution_id: int, **fields: Any) -> None:
        pass

    def add_checkpoint(self, run_id: str, seq: int) -> None:
        return None

    def checkpoints(self, run_id: str) -> list[dict[str, Any]]:
        return []

    def add_log(self, run_id: str, row: dict[str, Any]) -> None:
        pass

    def add_llm_call(self, run_id: str, row: dict[str, Any]) -> int:
        return 0

    def acquire_lease(self, run_id: str, holder: dict[str, Any], lease_seconds: float) -> dict[str, Any]:
        return {"run_id": run_id, **holder}

    def renew_lease(self, run_id: str, holder_id: str) -> bool:
        return True

    def release_lease(self, run_id: str, holder_id: str) -> None:
        pass

    def write_batch(self, run_id: str, batch: Any) -> None:
        for ex in batch.executions:  # ids and seqs are written back, as a real store does
            self._ids += 1
            ex["execution_id"] = self._ids
        for row in batch.results:
            self._seq += 1
            row["seq"] = self._seq

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------------------------
# The timed store (measurement only)
# ----------------------------------------------------------------------------------------------

_TIMED: dict[type, type] = {}


def timed_store_class(base_cls: type | None = None) -> type:
    """A subclass of ``base_cls`` (SqliteStore by default) that accumulates the time spent in each store method."""
    from runtime.store import SqliteStore

    base_cls = base_cls or SqliteStore
    if base_cls in _TIMED:
        return _TIMED[base_cls]

    class TimedStore(base_cls):  # type: ignore[misc, valid-type]
        """The store + perf_counter() around each method (outermost call per thread) and transaction enter/exit."""

        def __init__(self, *a: Any, **kw: Any) -> None:
            self.bench_clock: dict[str, float] = defaultdict(float)
            self.bench_calls: dict[str, int] = defaultdict(int)
            self._bench_depth = threading.local()
            self._bench_lock = threading.Lock()
            super().__init__(*a, **kw)

        def _bench_enter(self) -> bool:
            d = getattr(self._bench_depth, "n", 0)
            self._bench_depth.n = d + 1
            return d == 0

        def _bench_leave(self, name: str, outer: bool, t0: float) -> None:
            self._bench_depth.n -= 1
            if outer:
                dt = time.perf_counter() - t0
                with self._bench_lock:
                    self.bench_clock[name] += dt
                    self.bench_calls[name] += 1

        def transaction(self):  # type: ignore[override]
            inner = super().transaction()
            store = self

            class _Timed:
                def __enter__(self_inner) -> Any:
                    outer = store._bench_enter()
                    t0 = time.perf_counter()
                    try:
                        return inner.__enter__()
                    finally:
                        store._bench_leave("transaction:begin", outer, t0)

                def __exit__(self_inner, *exc: object) -> Any:
                    outer = store._bench_enter()
                    t0 = time.perf_counter()
                    try:
                        return inner.__exit__(*exc)
                    finally:
                        store._bench_leave("transaction:commit", outer, t0)
            return _Timed()

    def wrap(name: str) -> Any:
        base = getattr(base_cls, name)

        def method(self: Any, *a: Any, **kw: Any) -> Any:
            outer = self._bench_enter()
            t0 = time.perf_counter()
            try:
                return base(self, *a, **kw)
            finally:
                self._bench_leave(name, outer, t0)
        method.__name__ = name
        return method

    for name in STORE_METHODS:
        if hasattr(base_cls, name):
            setattr(TimedStore, name, wrap(name))
    TimedStore.__name__ = f"Timed{base_cls.__name__}"
    _TIMED[base_cls] = TimedStore
    return TimedStore


# ----------------------------------------------------------------------------------------------
# Database figures
# ----------------------------------------------------------------------------------------------

def file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def db_figures(path: Path, run_id: str = "bench") -> dict[str, Any]:
    """Sizes (main file and -wal before / after a TRUNCATE checkpoint) and row counts of a closed store's file."""
    wal = Path(f"{path}-wal")
    out: dict[str, Any] = {"wal_before": file_size(wal), "main_before": file_size(path)}
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in ("results", "executions", "checkpoints", "logs", "llm_calls"):
            if table in tables:
                out[table] = conn.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?", (run_id,)).fetchone()[0]
        if "results" in tables:
            cols = [r[1] for r in conn.execute("PRAGMA table_info(results)")]
            text = " + ".join(f"coalesce(length(CAST({c} AS BLOB)), 0)" for c in cols)
            out["results_payload"] = conn.execute(f"SELECT sum({text}) FROM results").fetchone()[0] or 0
            out["value_payload"] = conn.execute(
                "SELECT sum(coalesce(length(CAST(value_json AS BLOB)), 0)) FROM results").fetchone()[0] or 0
        if "executions" in tables:
            cols = [r[1] for r in conn.execute("PRAGMA table_info(executions)")]
            text = " + ".join(f"coalesce(length(CAST({c} AS BLOB)), 0)" for c in cols)
            out["executions_payload"] = conn.execute(f"SELECT sum({text}) FROM executions").fetchone()[0] or 0
        out["page_size"] = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    out["size"] = file_size(path)
    out["wal_after"] = file_size(wal)
    return out


def empty_db_size(tmp: Path) -> int:
    """Size of a database holding only the schema: what the growth is measured from."""
    path = tmp / "empty.db"
    store = open_sqlite(path)
    store.close()
    size = db_figures(path)["size"]
    remove_db(path)
    return size


# ----------------------------------------------------------------------------------------------
# The whole-state-per-cycle baseline
# ----------------------------------------------------------------------------------------------

def snapshot_rows(path: Path, run_id: str = "bench") -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT cycle, seq, inference_id, iteration, status, value_json, meta_json FROM results "
                            "WHERE run_id = ? ORDER BY cycle, seq", (run_id,)).fetchall()
    finally:
        conn.close()


def snapshots(rows: list[tuple]):
    """Yield (cycle, size in bytes, builder) after the last row of each cycle; builder() returns the JSON text."""
    entries: dict[tuple[str, str], str] = {}
    total = 0  # sum of len(entry) over entries, in bytes (ASCII-safe: json.dumps escapes, values are canonical)
    i, n = 0, len(rows)
    while i < n:
        cycle = rows[i][0]
        while i < n and rows[i][0] == cycle:
            _, _, inf, it, status, value, meta = rows[i]
            key = (inf, it)
            entry = (f'{json.dumps(f"{inf}|{it}")}:{{"status":{json.dumps(status)},'
                     f'"value":{value or "null"},"meta":{meta or "null"}}}')
            size = len(entry.encode())
            old = entries.get(key)
            if old is not None:
                total -= len(old.encode())
            entries[key] = entry
            total += size
            i += 1
        count = len(entries)
        nbytes = 2 + total + max(0, count - 1)  # braces + entries + commas

        def build(snapshot: dict = entries) -> str:
            return "{" + ",".join(snapshot.values()) + "}"
        yield cycle, nbytes, build


def baseline(path: Path, tmp: Path, write_cap: float) -> dict[str, Any]:
    """Computed whole-state snapshots of the run stored in ``path``; actually written to a second database too
    when they total at most ``write_cap`` bytes."""
    rows = snapshot_rows(path)
    out: dict[str, Any] = {"cycles": 0, "bytes": 0, "last": 0}
    for cycle, nbytes, _ in snapshots(rows):
        out["cycles"] += 1
        out["bytes"] += nbytes
        out["last"] = nbytes
    if out["bytes"] > write_cap:
        return out
    computed = out["bytes"]
    out = {"cycles": 0, "bytes": 0, "last": 0}
    snap = tmp / "snapshots.db"
    remove_db(snap)
    conn = sqlite3.connect(snap, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE snapshots (run_id TEXT NOT NULL, cycle INTEGER NOT NULL, state_json TEXT NOT NULL, "
                 "created_at TEXT NOT NULL, PRIMARY KEY (run_id, cycle))")
    empty = file_size(snap)
    spent = 0.0
    for cycle, nbytes, build in snapshots(rows):
        t0 = time.perf_counter()
        text = build()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?)", ("bench", cycle, text, "2025-06-11T00:00:00Z"))
        conn.execute("COMMIT")
        spent += time.perf_counter() - t0
        assert len(text.encode()) == nbytes, (len(text), nbytes)
        out["cycles"] += 1
        out["bytes"] += nbytes
        out["last"] = nbytes
    out["wal_before"] = file_size(Path(f"{snap}-wal"))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    out["file"] = file_size(snap) - empty
    out["write_s"] = spent
    assert out["bytes"] == computed
    remove_db(snap)
    return out


# ----------------------------------------------------------------------------------------------
# Measurements
# ----------------------------------------------------------------------------------------------

def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def timing(plan: Any, inputs: dict[str, Any], variants: dict[str, dict[str, Any] | None], repeat: int,
           tmp: Path) -> tuple[dict[str, list[float]], dict[str, list[float]], list[str]]:
    """Interleaved timed runs: ({variant: [wall seconds]}, {variant: [CPU seconds]}, problems)."""
    from runtime.store import MemoryStore

    times: dict[str, list[float]] = {v: [] for v in variants}
    cpus: dict[str, list[float]] = {v: [] for v in variants}
    problems: list[str] = []
    for rep in range(repeat + 1):  # the first round warms up (imports, the binding module, caches) and is not kept
        for name, opts in variants.items():
            if name == "memory":
                store: Any = MemoryStore()
            elif name == "null":
                store = NullStore()
            else:
                path = fresh_db(tmp)
                store = open_sqlite(path)
            elapsed, result, _ = one_run(plan, inputs, store, {"max_concurrency": 4, **(opts or {})})
            bad = check_result(result, inputs)
            if bad:
                problems.append(f"{name}: {bad}")
            if rep:
                times[name].append(elapsed)
                cpus[name].append(LAST_CPU[0])
            if name.startswith("sqlite"):
                remove_db(path)
    return times, cpus, problems


def instrumented(plan: Any, inputs: dict[str, Any], tmp: Path, empty: int, options: dict[str, Any],
                 write_cap: float = 0) -> dict[str, Any]:
    """One untimed run through TimedSqliteStore: store time, bytes, rows; then the snapshot baseline."""
    path = fresh_db(tmp)
    store = open_sqlite(path, timed_store_class())
    wal: list[int] = []
    elapsed, result, orch = one_run(plan, inputs, store, {"max_concurrency": 4, **options},
                                    before_close=lambda: wal.append(file_size(Path(f"{path}-wal"))))
    out: dict[str, Any] = {"problem": check_result(result, inputs), "executed": result.executed,
                           "cycles": result.cycles, "wall_s": elapsed}
    rec = getattr(orch, "_recorder", None)
    out["recorder_bytes"] = getattr(rec, "bytes_written", None)
    out["recorder_rows"] = getattr(rec, "rows_written", None)
    out["clock"] = dict(store.bench_clock)
    out["calls"] = dict(store.bench_calls)
    out["store_s"] = sum(store.bench_clock.values())
    figs = db_figures(path)
    out.update(figs)
    out["growth"] = figs["size"] - empty
    out["wal_before"] = wal[0] if wal else 0  # the -wal file when the run ended, before the store closed
    out["baseline"] = baseline(path, tmp, write_cap)
    remove_db(path)
    return out


def memory_store_time(plan: Any, inputs: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """One untimed run through a timed MemoryStore: the in-memory store's own time (the baseline's share)."""
    from runtime.store import MemoryStore

    store = timed_store_class(MemoryStore)()
    elapsed, result, _ = one_run(plan, inputs, store, {"max_concurrency": 4, **options})
    return {"problem": check_result(result, inputs), "executed": result.executed, "wall_s": elapsed,
            "store_s": sum(store.bench_clock.values()), "clock": dict(store.bench_clock),
            "calls": dict(store.bench_calls)}


def profile_run(plan: Any, inputs: dict[str, Any], tmp: Path, top: int = 30) -> None:
    """cProfile of one sqlite run, the main thread and the recorder's writer thread together (threading.setprofile)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    path = fresh_db(tmp)
    store = open_sqlite(path)
    # cProfile.Profile hooks one thread: every thread started during the run (the recorder's writer, the executor
    # pool) enables its own profiler on its first call event; all are merged at the end.
    profs = [prof]
    lock = threading.Lock()

    def start_in_thread(frame: Any, event: str, arg: Any) -> None:
        sys.setprofile(None)
        p = cProfile.Profile()
        with lock:
            profs.append(p)
        p.enable()

    threading.setprofile(start_in_thread)
    prof.enable()
    elapsed, result, _ = one_run(plan, inputs, store, {"max_concurrency": 4})
    prof.disable()
    threading.setprofile(None)
    remove_db(path)
    print(f"profile: one sqlite run, {elapsed:.3f} s (profiled), {result.executed} steps; "
          f"{len(profs) - 1} other thread(s) profiled; top {top} by tottime, all threads merged\n", file=sys.stderr)
    stats = pstats.Stats(profs[0], stream=sys.stderr)
    for p in profs[1:]:
        stats.add(p)  # create_stats() disables the thread's profiler first
    stats.sort_stats("tottime").print_stats(top)


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------

def kb(n: float) -> str:
    return f"{n / 1024:,.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.2f} MiB"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--digits", type=int, default=1000, help="operand length for the main figures (default 1000)")
    ap.add_argument("--bases", default="10", help="comma-separated bases for the run-time table (default 10; "
                                                  "e.g. 10,16)")
    ap.add_argument("--repeat", type=int, default=0, help="timed runs per variant (default 3, 2 with --quick)")
    ap.add_argument("--checkpoint-every", default="1",
                    help="comma-separated --checkpoint-every values timed besides the default (default 1; e.g. 1,10)")
    ap.add_argument("--linearity", default="", help="comma-separated operand lengths (default 250,500,1000,2000)")
    ap.add_argument("--quick", action="store_true", help="2 repeats, lengths 250,500,1000")
    ap.add_argument("--snapshot-cap-mb", type=float, default=512.0,
                    help="write the baseline snapshots of a run to a real SQLite file only when they total less than "
                         "this (default 512; the smallest length is always written when under it)")
    ap.add_argument("--dir", type=Path, default=None, help="where the temporary databases go (default: system temp)")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile one sqlite run at --digits, every thread merged (stderr), and exit")
    args = ap.parse_args(argv)

    from runtime.load import load_plan

    repeat = args.repeat or (2 if args.quick else 3)
    bases = [int(b) for b in args.bases.split(",") if b]
    lengths = [int(x) for x in args.linearity.split(",") if x] or (
        [250, 500, 1000] if args.quick else [250, 500, 1000, 2000])
    cap = args.snapshot_cap_mb * 1024 * 1024
    variants: dict[str, dict[str, Any] | None] = {"null": None, "memory": None, "sqlite": {}}
    for every in (int(x) for x in args.checkpoint_every.split(",") if x):
        variants[f"sqlite ce={every}"] = {"checkpoint_every": every}

    plan = load_plan(PLAN)
    bad = False
    with tempfile.TemporaryDirectory(prefix="ncd-ckpt-", dir=args.dir) as tmpname:
        tmp = Path(tmpname)
        if args.profile:
            profile_run(plan, operands(args.digits, bases[0]), tmp)
            return 0
        empty = empty_db_size(tmp)
        print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs; databases "
              f"in {tmp} (empty database: {empty:,} B); max_concurrency 4\n")

        # ---- run time
        print(f"Run time, {args.digits}-digit operands: construct + run + close, {repeat} interleaved repeats after a "
              f"warm-up round; cpu = process CPU time, all threads.\n  null = NullStore (defined here, keeps "
              f"nothing: the floor), memory = MemoryStore (no persistence), sqlite = SqliteStore (default: markers "
              f"when a wave closes; ce=N: --checkpoint-every N too)")
        head = (f"  {'base':>4} {'variant':<13} {'min s':>7} {'median s':>9} {'cpu s':>7} {'vs memory':>10} "
                f"{'vs null':>9} {'cpu vs null':>11}")
        print(head)
        print("  " + "-" * (len(head) - 2))
        overheads: dict[tuple[int, str], tuple[float, float]] = {}
        floor: dict[int, float] = {}
        for base in bases:
            inputs = operands(args.digits, base)
            times, cpus, problems = timing(plan, inputs, variants, repeat, tmp)
            for p in problems:
                print(f"  FAILED base {base}: {p}")
                bad = True
            m_med, n_med, n_cpu = median(times["memory"]), median(times["null"]), median(cpus["null"])
            floor[base] = m_med / n_med - 1
            for name, ts in times.items():
                ov, nv = median(ts) / m_med - 1, median(ts) / n_med - 1
                if name.startswith("sqlite"):
                    overheads[(base, name)] = (ov, nv)
                print(f"  {base:>4} {name:<13} {min(ts):>7.3f} {median(ts):>9.3f} {median(cpus[name]):>7.3f} "
                      f"{ov:>+10.1%} {nv:>+9.1%} {median(cpus[name]) / n_cpu - 1:>+11.1%}")

        # ---- bytes and store time per step, at --digits
        print(f"\nStore figures, {args.digits}-digit operands, base {bases[0]} (one instrumented run per option). "
              f"B/step = database growth (after wal_checkpoint(TRUNCATE)) / executed steps; store = time inside the "
              f"store's methods, mostly on the recorder's writer thread")
        main_runs: dict[str, dict[str, Any]] = {}
        for label, opts in {"default": {}, "ce=1": {"checkpoint_every": 1}}.items():
            r = instrumented(plan, operands(args.digits, bases[0]), tmp, empty, opts,
                             write_cap=cap if label == "default" else 0)
            main_runs[label] = r
            if r["problem"]:
                print(f"  FAILED {label}: {r['problem']}")
                bad = True
        head = (f"  {'ckpt':<7} {'steps':>6} {'cycles':>6} {'results':>7} {'execs':>6} {'marks':>6} {'db size':>10} "
                f"{'B/step':>7} {'B/row':>6} {'value B/step':>12} {'wal at end':>10} {'wall s':>7} {'store s':>8} "
                f"{'store us/step':>13}")
        print(head)
        print("  " + "-" * (len(head) - 2))
        for label, r in main_runs.items():
            steps = max(1, r["executed"])
            print(f"  {label:<7} {r['executed']:>6} {r['cycles']:>6} {r.get('results', 0):>7} "
                  f"{r.get('executions', 0):>6} {r.get('checkpoints', 0):>6} {kb(r['growth']):>10} "
                  f"{r['growth'] / steps:>7.0f} {r['growth'] / max(1, r.get('results', 1)):>6.0f} "
                  f"{(r['recorder_bytes'] or 0) / steps:>12.1f} {kb(r['wal_before']):>10} {r['wall_s']:>7.3f} "
                  f"{r['store_s']:>8.3f} {r['store_s'] / steps * 1e6:>13.1f}")
        r = main_runs["default"]
        steps = max(1, r["executed"])
        print(f"  payload of the text columns (before SQLite's page and index overhead): results "
              f"{kb(r.get('results_payload', 0))} = {r.get('results_payload', 0) / steps:.0f} B/step, of which "
              f"value_json {r.get('value_payload', 0) / steps:.0f}; executions {kb(r.get('executions_payload', 0))} = "
              f"{r.get('executions_payload', 0) / steps:.0f} B/step; recorder: {r['recorder_rows']} rows, "
              f"bytes_written {kb(r['recorder_bytes'] or 0)} (encoded values only)")
        split = sorted(r["clock"].items(), key=lambda kv: -kv[1])
        print("  SqliteStore by method, ms / calls = us per call: " + ", ".join(
            f"{k} {v * 1e3:.0f}/{r['calls'][k]} = {v / r['calls'][k] * 1e6:.0f}" for k, v in split
            if v * 1e3 >= 0.5))
        m = memory_store_time(plan, operands(args.digits, bases[0]), {})
        split = sorted(m["clock"].items(), key=lambda kv: -kv[1])
        print(f"  MemoryStore for comparison: {m['store_s']:.3f} s in the store = "
              f"{m['store_s'] / max(1, m['executed']) * 1e6:.0f} us/step: " + ", ".join(
                  f"{k} {v * 1e3:.0f}/{m['calls'][k]} = {v / m['calls'][k] * 1e6:.0f}" for k, v in split[:4]))

        # ---- linearity and the baseline
        print(f"\nLinearity and the whole-state baseline (base {bases[0]}, default options). Baseline = the whole "
              f"state (status, value, meta per inference and iteration) written once per cycle")
        head = (f"  {'digits':>6} {'steps':>6} {'db size':>10} {'B/step':>7} {'store us/step':>13} "
                f"{'append us/row':>13} {'mem store us/step':>17} {'cycles':>6} {'last snapshot':>13} "
                f"{'baseline':>12} {'B/step':>9} {'ratio':>6}")
        print(head)
        print("  " + "-" * (len(head) - 2))
        per_step: list[float] = []
        lin_runs: list[tuple[int, dict[str, Any]]] = []
        for k, n in enumerate(lengths):
            r = main_runs["default"] if n == args.digits else instrumented(
                plan, operands(n, bases[0]), tmp, empty, {}, write_cap=cap if k == 0 else 0)
            m = memory_store_time(plan, operands(n, bases[0]), {})
            if r["problem"]:
                print(f"  FAILED {n} digits: {r['problem']}")
                bad = True
                continue
            lin_runs.append((n, r))
            steps = max(1, r["executed"])
            per_step.append(r["growth"] / steps)
            b = r["baseline"]
            app = r["clock"].get("append_results", 0) / max(1, r["calls"].get("append_results", 1)) * 1e6
            print(f"  {n:>6} {r['executed']:>6} {kb(r['growth']):>10} {r['growth'] / steps:>7.0f} "
                  f"{r['store_s'] / steps * 1e6:>13.0f} {app:>13.0f} "
                  f"{m['store_s'] / max(1, m['executed']) * 1e6:>17.0f} {b['cycles']:>6} {kb(b['last']):>13} "
                  f"{kb(b['bytes']):>12} {b['bytes'] / steps:>9,.0f} {b['bytes'] / max(1, r['growth']):>5.0f}x")
        for n, r in lin_runs:
            b = r["baseline"]
            if "file" in b:
                print(f"  {n} digits, snapshots really written: file {kb(b['file'])} (computed {kb(b['bytes'])}, "
                      f"x{b['file'] / b['bytes']:.3f}), {b['write_s']:.2f} s = "
                      f"{b['write_s'] / max(1, r['executed']) * 1e6:.0f} us/step to build and write; ours "
                      f"{r['store_s']:.2f} s; real ratio {b['file'] / max(1, r['growth']):.0f}x")
        if len(lin_runs) >= 2:
            (n0, a), (n1, b) = lin_runs[0], lin_runs[-1]
            print(f"  {n1} vs {n0} digits: steps x{b['executed'] / a['executed']:.2f}, db size "
                  f"x{b['growth'] / a['growth']:.2f}, SqliteStore time x{b['store_s'] / a['store_s']:.2f}, "
                  f"baseline x{b['baseline']['bytes'] / a['baseline']['bytes']:.2f}")

        # ---- verdicts
        print("\nTargets")
        if per_step:
            spread = (max(per_step) - min(per_step)) / median(per_step)
            print(f"  database size grows linearly with steps: {min(per_step):.0f}..{max(per_step):.0f} B/step "
                  f"(spread {spread:.1%}, allowed {TARGET_LINEAR:.0%})   {verdict(spread <= TARGET_LINEAR)}")
        at = [r for n, r in lin_runs if n == args.digits]
        if at:
            ratio = at[0]["baseline"]["bytes"] / max(1, at[0]["growth"])
            print(f"  >= {TARGET_RATIO:g}x smaller than a whole-state snapshot per cycle ({args.digits} digits): "
                  f"{ratio:.0f}x   {verdict(ratio >= TARGET_RATIO)}")
        for (base, name), (ov, nv) in overheads.items():
            print(f"  checkpointing adds < {TARGET_OVERHEAD:.0%} to run time, base {base}, {name:<12}: "
                  f"{ov:+.1%} vs MemoryStore {verdict(ov < TARGET_OVERHEAD)};  {nv:+.1%} vs NullStore "
                  f"{verdict(nv < TARGET_OVERHEAD)}")
        for base, f in floor.items():
            if f > TARGET_OVERHEAD:
                print(f"  note: base {base}: MemoryStore itself runs {f:+.0%} over NullStore, so 'vs MemoryStore' "
                      f"understates what persistence costs")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
