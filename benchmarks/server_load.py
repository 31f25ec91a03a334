#!/usr/bin/env python3
"""Load on `ncd-run serve`: many runs of the addition example submitted at once by concurrent HTTP clients.

Acceptance of the run-server issue: "200 runs of the addition example submitted concurrently by 20 clients: all
complete with correct results, p50/p95 submit latency reported, no 5xx, no 'database is locked'."

The script starts `ncd-run serve` in a subprocess on a free port of 127.0.0.1 with a fresh temporary store (`--db`
or `--runs-dir`) and a plans directory holding a copy of `examples/base_x_addition/`. `--clients` threads, each with
its own HTTP connection, are released together and submit `--runs` runs between them (`POST /api/runs`, run i by
client i mod clients; every run has its own seeded random operands of `--digits` digits in a random base 2..36).
The script then waits until the server reports no run executing or queued, fetches every result
(`GET /api/runs/{id}/result`, again from all clients) and compares `{sum}` with Python's exact big-int sum.

Printed: submit latency p50/p95/max (the time of each `POST /api/runs`, answered once the run row is stored), wall
time (first submit to last result verified) and throughput, HTTP answers that were not 2xx by status, whether the
server log (its stderr) or any answer mentions "database is locked" (a create that waits past the busy timeout is
answered 500 storage_error, which is not logged), tracebacks in the log, and PASS/FAIL. The exit status is 1 when an
acceptance condition fails (a run not completed or wrong, a 5xx, "database is locked" anywhere), 0 otherwise.

    python benchmarks/server_load.py                          # 200 runs, 20 clients, --db
    python benchmarks/server_load.py --store runs-dir --max-runs 8 --digits 40
    python benchmarks/server_load.py --runs 40 --clients 8 --json

tests/test_server_load.py runs a small configuration of the same code (`run_load`) as a test.

Limits between tenants and per finished run (issue 13, rules 6-8; `--part limits`, also part of the default
`--part all`), each printed with its target and PASS/MISS:

* /healthz p50/p99 while `--subscribers` (200) clients watch one busy run's event stream (target p99 < 250 ms);
  the clients read on one selector thread, as live browsers do.
* fairness: owner A fills its queue (--max-runs runs executing, 32 queued); then owner B submits a one-step run.
  Printed: B's wait from submit to completed, and how many of A's runs were still queued then (target: B's run
  completes before A's backlog drains, i.e. some of A's runs are still queued).
* memory: server RSS (VmRSS of the process) after 50 and after 500 finished runs (target: within 50 MB).

    python benchmarks/server_load.py --part limits
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# the oracle of the crash tests, and the run-server harness of the server tests
from crash_support.harness import expected_sum, random_operand
from server_support import Server

PLAN_ID = "base_x_addition"
BASES = tuple(range(2, 37))
LOCKED = "database is locked"


@dataclass
class Case:
    run_id: str
    a: str
    b: str
    base: int

    @property
    def inputs(self) -> dict[str, Any]:
        return {"{number a}": self.a, "{number b}": self.b, "{base}": self.base}

    @property
    def expected(self) -> str:
        return expected_sum(self.a, self.b, self.base)


@dataclass
class LoadReport:
    runs: int
    clients: int
    store: str
    max_runs: int
    per_run_concurrency: int
    digits: int
    submit_ms: dict[str, float]               # p50, p95, max, mean of POST /api/runs
    submit_phase_s: float                     # first submit to last 201
    wall_s: float                             # first submit to the last result verified
    runs_per_s: float
    requests: int
    non_2xx: dict[str, int]                   # HTTP status -> count (transport errors as "error")
    non_2xx_examples: list[str]               # the first few such answers
    server_errors: int                        # 5xx answers
    completed: int                            # runs whose outcome is completed
    correct: int                              # ... with the exact sum
    wrong: list[dict[str, Any]] = field(default_factory=list)   # up to 10 examples of runs that were not
    database_locked: bool = False             # "database is locked" in the server's stderr
    locked_answers: int = 0                   # ... or in answers (a create that timed out is a 500 storage_error)
    tracebacks: int = 0                       # "Traceback" lines in the server's stderr

    def failures(self) -> list[str]:
        out = []
        if self.correct != self.runs:
            out.append(f"{self.runs - self.correct} of {self.runs} runs did not complete with the exact sum")
        if self.server_errors:
            out.append(f"{self.server_errors} 5xx answers")
        if self.database_locked:
            out.append(f"{LOCKED!r} in the server log")
        if self.locked_answers:
            out.append(f"{LOCKED!r} in {self.locked_answers} answers")
        return out

    def text(self) -> str:
        s = self.submit_ms
        non = ", ".join(f"{k}: {v}" for k, v in sorted(self.non_2xx.items())) or "none"
        lines = [
            (f"server load: {self.runs} runs of the addition example ({self.digits}-digit operands) "
             f"submitted by {self.clients} concurrent clients"),
            (f"server:          --{self.store}, --max-runs {self.max_runs}, "
             f"--per-run-concurrency {self.per_run_concurrency}"),
            (f"submit latency:  p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms, max {s['max']:.1f} ms "
             f"(mean {s['mean']:.1f} ms)"),
            f"submit phase:    {self.submit_phase_s:.2f} s for {self.runs} submits",
            f"wall time:       {self.wall_s:.2f} s (first submit to last result verified)",
            f"throughput:      {self.runs_per_s:.1f} runs/s",
            (f"results:         {self.correct}/{self.runs} completed with the exact sum"
             + (f" ({self.completed} completed)" if self.completed != self.correct else "")),
            f"HTTP:            {self.requests} requests, non-2xx: {non}; 5xx: {self.server_errors}",
            (f"locking:         {LOCKED!r} in the server log: {'YES' if self.database_locked else 'no'}, "
             f"in answers: {self.locked_answers}; tracebacks in the log: {self.tracebacks}"),
        ]
        lines += [f"  non-2xx: {e}" for e in self.non_2xx_examples]
        for w in self.wrong:
            lines.append(f"  wrong: {json.dumps(w)}")
        fails = self.failures()
        lines.append("PASS" if not fails else "FAIL: " + "; ".join(fails))
        return "\n".join(lines)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def make_cases(runs: int, digits: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    out = []
    for i in range(runs):
        base = rng.choice(BASES)
        out.append(Case(f"load-{i:04d}", random_operand(rng, base, digits), random_operand(rng, base, digits), base))
    return out


def make_plans(plans: Path) -> Path:
    """A plans directory holding a copy of the addition example (its inputs files are not plans)."""
    target = plans / PLAN_ID
    shutil.copytree(ROOT / "examples" / PLAN_ID, target, ignore=shutil.ignore_patterns("__pycache__", ".ncd"))
    return plans


class Tally:
    """HTTP statuses of every request, from every client thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.locked = 0                       # answers whose body says "database is locked" (a 500 storage_error)
        self.examples: list[str] = []         # the first few non-2xx answers

    def request(self, client: httpx.Client, method: str, url: str, **kw: Any) -> httpx.Response | None:
        try:
            resp = client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            with self._lock:
                self.statuses[f"error ({type(exc).__name__})"] += 1
            return None
        with self._lock:
            self.statuses[str(resp.status_code)] += 1
            if not resp.is_success:
                self.locked += LOCKED in resp.text
                if len(self.examples) < 5:
                    self.examples.append(f"{method} {url}: {resp.status_code} {resp.text[:300]}")
        return resp


def _parallel(clients: list[httpx.Client], cases: list[Case], work) -> list[Any]:
    """``work(client, case)`` for every case, case i on client i mod len(clients), all clients released together;
    the answers in case order."""
    out: list[Any] = [None] * len(cases)
    barrier = threading.Barrier(len(clients))
    failures: list[Exception] = []

    def client_loop(k: int) -> None:
        try:
            barrier.wait()
            for i in range(k, len(cases), len(clients)):
                out[i] = work(clients[k], cases[i])
        except Exception as exc:  # noqa: BLE001 - re-raised by the caller
            failures.append(exc)

    threads = [threading.Thread(target=client_loop, args=(k,), name=f"load-client-{k}") for k in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return out


def run_load(url: str, cases: list[Case], clients: int, *, timeout_s: float = 600) -> dict[str, Any]:
    """Submit ``cases`` from ``clients`` concurrent clients, wait for every run, fetch and check every result."""
    tally = Tally()
    pool = [httpx.Client(base_url=url, timeout=60) for _ in range(clients)]
    try:
        def submit(client: httpx.Client, case: Case) -> tuple[float, float, int | None]:
            t0 = time.perf_counter()
            resp = tally.request(client, "POST", "/api/runs",
                                 json={"plan_id": PLAN_ID, "run_id": case.run_id, "inputs": case.inputs})
            t1 = time.perf_counter()
            return t0, t1, resp.status_code if resp is not None else None

        submits = _parallel(pool, cases, submit)
        first = min(t0 for t0, _, _ in submits)
        submitted = max(t1 for _, t1, _ in submits)
        latencies = [(t1 - t0) * 1000 for t0, t1, _ in submits]

        # every run finished: nothing executing or queued, nothing stored as running
        deadline = time.monotonic() + timeout_s
        while True:
            health = tally.request(pool[0], "GET", "/healthz")
            running = tally.request(pool[0], "GET", "/api/runs", params={"status": "running", "limit": 1})
            if (health is not None and running is not None and health.status_code == 200
                    and running.status_code == 200):
                h = health.json()
                if h["active_runs"] == 0 and h["queued_runs"] == 0 and running.json()["total"] == 0:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs still in progress after {timeout_s} s")
            time.sleep(0.05)

        def check(client: httpx.Client, case: Case) -> dict[str, Any] | None:
            resp = tally.request(client, "GET", f"/api/runs/{case.run_id}/result")
            if resp is None or resp.status_code != 200:
                return {"run_id": case.run_id, "http": resp.status_code if resp is not None else None}
            doc = resp.json()
            got = ((doc.get("final") or {}).get("{sum}") or {}).get("data")
            if doc.get("outcome") != "completed" or got != [case.expected]:
                return {"run_id": case.run_id, "outcome": doc.get("outcome"), "got": got,
                        "expected": case.expected, "reasons": doc.get("reasons")}
            return None

        checked = _parallel(pool, cases, check)
        done = time.perf_counter()
    finally:
        for c in pool:
            c.close()
    wrong = [w for w in checked if w is not None]
    return {"latencies_ms": latencies, "submit_phase_s": submitted - first, "wall_s": done - first,
            "statuses": dict(tally.statuses), "wrong": wrong, "locked_answers": tally.locked,
            "examples": tally.examples,
            "completed": sum(1 for w in checked if w is None or w.get("outcome") == "completed")}


def benchmark(*, runs: int = 200, clients: int = 20, max_runs: int = 8, per_run_concurrency: int = 4,
              store: str = "db", digits: int = 20, seed: int = 20250611, workdir: Path | None = None,
              timeout_s: float = 600) -> LoadReport:
    """Start a server on a fresh store in ``workdir`` (a temporary directory by default), load it, stop it."""
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="ncd-server-load-")) if own else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    try:
        plans = make_plans(work / "plans")
        store_args = ["--db", str(work / "runs.db")] if store == "db" else ["--runs-dir", str(work / "runs")]
        log = work / "server.log"
        # every run is queued at once by one (open-server) owner: the per-owner queue cap must not refuse them
        server = Server(plans, store_args, None, log).start("--max-queued-per-owner", str(runs), max_runs=max_runs,
                                                            per_run_concurrency=per_run_concurrency)
        try:
            cases = make_cases(runs, digits, seed)
            out = run_load(server.url, cases, clients, timeout_s=timeout_s)
        finally:
            server.stop()
        text = log.read_text(errors="replace")
        lat = out["latencies_ms"]
        non_2xx = {k: v for k, v in out["statuses"].items() if not k.startswith("2")}
        return LoadReport(
            runs=runs, clients=clients, store="db" if store == "db" else "runs-dir", max_runs=max_runs,
            per_run_concurrency=per_run_concurrency, digits=digits,
            submit_ms={"p50": percentile(lat, 50), "p95": percentile(lat, 95), "max": max(lat),
                       "mean": sum(lat) / len(lat)},
            submit_phase_s=out["submit_phase_s"], wall_s=out["wall_s"], runs_per_s=runs / out["wall_s"],
            requests=sum(out["statuses"].values()), non_2xx=non_2xx, non_2xx_examples=out["examples"],
            server_errors=sum(v for k, v in non_2xx.items() if k.startswith("5")),
            completed=out["completed"], correct=runs - len(out["wrong"]), wrong=out["wrong"][:10],
            database_locked=LOCKED in text, locked_answers=out["locked_answers"], tracebacks=text.count("Traceback"))
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- limits (issue 13 rules 6-8)

IDENTITY = ROOT / "tests" / "runtime_plans" / "identity.ncd"
TOKENS = {"owner-a": "owner-a-token-0123456789abcdef", "owner-b": "owner-b-token-0123456789abcdef"}


@dataclass
class Figure:
    name: str
    value: str
    target: str
    ok: bool

    def line(self) -> str:
        return f"{self.name:<44} {self.value:<34} target {self.target:<30} {'PASS' if self.ok else 'MISS'}"


def _proc_status(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field_name} in /proc/{pid}/status")


def _settled_rss_mb(pid: int, timeout_s: float = 30.0) -> tuple[float, int]:
    """(RSS in MB, threads) once the server's thread count has stopped falling: binding worker threads of
    finished runs leave after a few idle seconds, and their stacks are not memory the runs keep."""
    deadline = time.monotonic() + timeout_s
    threads, since = _proc_status(pid, "Threads"), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < 2.0:
        time.sleep(0.2)
        now_threads = _proc_status(pid, "Threads")
        if now_threads < threads:
            threads, since = now_threads, time.monotonic()
    return _proc_status(pid, "VmRSS") / 1024, threads


def _limits_server(work: Path, name: str, *extra: str, tokens: bool = False, max_runs: int = 2) -> Server:
    plans = work / f"plans-{name}"
    if not plans.exists():
        make_plans(plans)
        shutil.copy(IDENTITY, plans / "identity.ncd")
    token_file = None
    if tokens:
        token_file = work / "tokens.txt"
        token_file.write_text("".join(f"{t} {o}\n" for o, t in TOKENS.items()))
    return Server(plans, ["--db", str(work / f"{name}.db")], token_file, work / f"{name}.log").start(
        *extra, max_runs=max_runs, per_run_concurrency=4)


def _busy_case(digits: int) -> Case:
    rng = random.Random(7)
    return Case("busy", random_operand(rng, 10, digits), random_operand(rng, 10, digits), 10)


def subscribers_healthz(work: Path, subscribers: int = 200, digits: int = 12000, samples: int = 200) -> list[Figure]:
    """/healthz latency while ``subscribers`` clients stream one busy run's events. The run (an addition of
    ``digits``-digit operands: ~12 s and ~14 MB of events on its own) stays busy for the whole sampling window,
    which the second figure checks."""
    import selectors
    import socket

    server = _limits_server(work, "subscribers", "--max-streams-per-owner", str(subscribers + 8))
    socks: list[socket.socket] = []
    stop = threading.Event()
    received = [0]

    def drain() -> None:
        sel = selectors.DefaultSelector()
        for sock in socks:
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ)
        while not stop.is_set():
            for key, _ in sel.select(0.1):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                received[0] += len(data)
                if not data:
                    sel.unregister(key.fileobj)
        sel.close()

    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            case = _busy_case(digits)
            assert c.post("/api/runs", json={"plan_id": PLAN_ID, "run_id": case.run_id,
                                             "inputs": case.inputs}).status_code == 201
            for _ in range(subscribers):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
                sock.sendall(b"GET /api/runs/busy/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                socks.append(sock)
            reader = threading.Thread(target=drain, daemon=True)
            reader.start()
            times, busy, streams = [], 0, 0
            for _ in range(samples):
                t0 = time.perf_counter()
                h = c.get("/healthz").json()
                times.append((time.perf_counter() - t0) * 1000)
                busy += h["active_runs"] > 0
                streams = max(streams, h["open_streams"])
                time.sleep(0.01)
            stop.set()
            reader.join(10)
            for sock in socks:
                sock.close()
            deadline = time.monotonic() + 30
            while c.get("/healthz").json()["open_streams"] and time.monotonic() < deadline:
                time.sleep(0.05)
            left = c.get("/healthz").json()["open_streams"]
    finally:
        stop.set()
        server.stop()
    p50, p99 = percentile(times, 50), percentile(times, 99)
    return [Figure(f"/healthz, {subscribers} subscribers of a busy run",
                   f"p50 {p50:.1f} ms, p99 {p99:.1f} ms", "p99 < 250 ms", p99 < 250),
            Figure("  ... run busy during the samples", f"{busy}/{samples} samples, {streams} streams open, "
                   f"{received[0] // 1024} KiB read", f"all samples, {subscribers} streams",
                   busy == samples and streams == subscribers),
            Figure("  ... open streams after the clients went", str(left), "0", left == 0)]


def fairness(work: Path, digits: int = 1500, max_runs: int = 2, backlog: int = 32) -> list[Figure]:
    """Owner B's one-step run while owner A has ``max_runs`` runs executing and ``backlog`` queued."""
    server = _limits_server(work, "fairness", "--max-queued-per-owner", str(backlog), tokens=True,
                            max_runs=max_runs)
    a = httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {TOKENS['owner-a']}"})
    b = httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {TOKENS['owner-b']}"})
    try:
        for case in make_cases(max_runs + backlog, digits, 11):
            assert a.post("/api/runs", json={"plan_id": PLAN_ID, "run_id": case.run_id,
                                             "inputs": case.inputs}).status_code == 201
        extra = make_cases(1, digits, 12)[0].inputs
        for _ in range(max_runs + 2):  # runs may have finished meanwhile: one more each time until the cap holds
            refused = a.post("/api/runs", json={"plan_id": PLAN_ID, "inputs": extra})
            if refused.status_code == 429:
                break
        t0 = time.perf_counter()
        assert b.post("/api/runs", json={"plan_id": "identity", "inputs": {}, "run_id": "b-one"}).status_code == 201
        while b.get("/api/runs/b-one").json()["status"] == "running":
            time.sleep(0.01)
        waited = time.perf_counter() - t0
        a_queued = a.get("/healthz").json()["queued_runs"]
        a_done = a.get("/api/runs", params={"status": "completed", "limit": 1}).json()["total"]
    finally:
        a.close()
        b.close()
        server.stop(timeout=60)
    return [Figure(f"fairness: B's one-step run, A {max_runs}+{backlog} queued", f"{waited:.2f} s "
                   f"({a_done} of A's runs done, {a_queued} queued)", "A's backlog not drained", a_queued > 0),
            Figure("  ... A's run past its queue cap", f"HTTP {refused.status_code}, Retry-After "
                   f"{refused.headers.get('retry-after')}", "429 with Retry-After",
                   refused.status_code == 429 and refused.headers.get("retry-after") is not None)]


def memory(work: Path, first: int = 50, total: int = 500, digits: int = 8) -> list[Figure]:
    """Server RSS after ``first`` and after ``total`` finished runs of the addition example."""
    server = _limits_server(work, "memory", "--max-queued-per-owner", "64", max_runs=4)
    rss: dict[int, tuple[float, int]] = {}
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            cases = make_cases(total, digits, 13)
            done = 0
            for start in range(0, total, 25):
                for case in cases[start:start + 25]:
                    assert c.post("/api/runs", json={"plan_id": PLAN_ID, "run_id": case.run_id,
                                                     "inputs": case.inputs}).status_code == 201
                while True:
                    h = c.get("/healthz").json()
                    if h["active_runs"] == 0 and h["queued_runs"] == 0:
                        break
                    time.sleep(0.02)
                done = start + 25
                if done in (first, total):
                    rss[done] = _settled_rss_mb(server.proc.pid)
            wrong = sum(1 for case in (cases[0], cases[-1]) if (c.get(f"/api/runs/{case.run_id}/result").json()
                        .get("final", {}).get("{sum}", {}).get("data") != [case.expected]))
    finally:
        server.stop(timeout=60)
    growth = rss[total][0] - rss[first][0]
    return [Figure(f"server RSS after {first} / {total} finished runs", f"{rss[first][0]:.1f} MB / "
                   f"{rss[total][0]:.1f} MB (+{growth:.1f} MB)", "growth < 50 MB", growth < 50 and not wrong),
            Figure("  ... server threads then", f"{rss[first][1]} / {rss[total][1]}", "no growth",
                   rss[total][1] <= rss[first][1])]


def limits_benchmark(*, subscribers: int = 200, workdir: Path | None = None) -> list[Figure]:
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="ncd-server-limits-")) if own else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    try:
        return [*subscribers_healthz(work, subscribers), *fairness(work), *memory(work)]
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=200, help="runs to submit (default 200)")
    p.add_argument("--clients", type=int, default=20, help="concurrent HTTP clients (default 20)")
    p.add_argument("--max-runs", type=int, default=8, help="the server's --max-runs (default 8)")
    p.add_argument("--per-run-concurrency", type=int, default=4, help="the server's --per-run-concurrency (4)")
    p.add_argument("--store", choices=("db", "runs-dir"), default="db",
                   help="a fresh --db FILE (default) or --runs-dir DIR in the work directory")
    p.add_argument("--digits", type=int, default=20, help="digits of each operand (default 20)")
    p.add_argument("--seed", type=int, default=20250611)
    p.add_argument("--workdir", type=Path, help="keep the plans, store and server log here (default: a temporary "
                                                "directory, removed afterwards)")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the runs to finish")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--part", choices=("all", "load", "limits"), default="all",
                   help="the concurrent-load figures, the limits figures (issue 13), or both (default)")
    p.add_argument("--subscribers", type=int, default=200, help="event-stream clients of the busy run (200)")
    args = p.parse_args(argv)
    failed = False
    if args.part in ("all", "limits"):
        figures = limits_benchmark(subscribers=args.subscribers, workdir=args.workdir)
        if args.json:
            print(json.dumps([asdict(f) for f in figures], indent=2))
        else:
            print("\n".join(f.line() for f in figures))
        failed = not all(f.ok for f in figures)
        if args.part == "limits":
            return 1 if failed else 0
    if args.runs < 1 or args.clients < 1 or args.digits < 1:
        p.error("--runs, --clients and --digits must be at least 1")
    report = benchmark(runs=args.runs, clients=args.clients, max_runs=args.max_runs,
                       per_run_concurrency=args.per_run_concurrency, store=args.store, digits=args.digits,
                       seed=args.seed, workdir=args.workdir, timeout_s=args.timeout)
    if args.json:
        print(json.dumps({**asdict(report), "failures": report.failures(), "ok": not report.failures()}, indent=2))
    else:
        print(report.text())
    return 1 if report.failures() or failed else 0


if __name__ == "__main__":
    sys.exit(main())
