"""Real ``ncd-run`` subprocesses against real SQLite files, for the crash-safety and isolation tests.

Nothing here imports the runtime: the tests observe it only as a user would, through its command line and through
the database file it writes (opened read-only while a run may still be writing, RUNTIME §8.1).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLE = PROJECT / "examples" / "base_x_addition"
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
NCDC_MAIN = "import sys; from ncdc.cli import main; sys.exit(main())"

# Tables of RUNTIME §8.2 (plus run_inputs, docs/decisions.md) that carry a run_id column.
RUN_TABLES = ("runs", "results", "executions", "checkpoints", "run_inputs", "logs", "llm_calls")


# ---------------------------------------------------------------- arithmetic (the oracle)


def to_base(n: int, base: int) -> str:
    if n == 0:
        return "0"
    out = []
    while n:
        n, d = divmod(n, base)
        out.append(ALPHABET[d])
    return "".join(reversed(out))


def expected_sum(a: str, b: str, base: int) -> str:
    """Python's exact big-int sum, written back in ``base`` the way digits.py writes it (lower case, no 0 prefix)."""
    return to_base(int(a, base) + int(b, base), base)


def random_operand(rng: random.Random, base: int, digits: int) -> str:
    return ALPHABET[rng.randrange(1, base)] + "".join(ALPHABET[rng.randrange(base)] for _ in range(digits - 1))


def full_ripple(base: int, digits: int) -> tuple[str, str]:
    """(base-1)(base-1)...(base-1) + 1: the carry ripples through every position and leaves a final carry."""
    return ALPHABET[base - 1] * digits, "1"


def loop_iterations(a: str, b: str, base: int) -> int:
    """How many loop iterations the plan makes: one per digit of the longer operand (leading zeros dropped)."""
    return max(len(to_base(int(a, base), base)), len(to_base(int(b, base), base)))


# ---------------------------------------------------------------- the plan copy


SLOW_DIGITS = '''"""digits.py with a sleep in front of every operation: the same answers, slowly (crash tests only)."""

import importlib.util
import time
from pathlib import Path

_spec = importlib.util.spec_from_file_location("slow_digits_base", Path(__file__).with_name("digits.py"))
_digits = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_digits)

LOOP_DELAY = {loop_delay!r}
OTHER_DELAY = {other_delay!r}


def _slow(name, delay):
    fn = getattr(_digits, name)

    def wrapper(*args):
        time.sleep(delay)
        return fn(*args)
    wrapper.__name__ = name
    return wrapper


sum_digit = _slow("sum_digit", LOOP_DELAY)
carry_out = _slow("carry_out", LOOP_DELAY)
digit_pairs = _slow("digit_pairs", OTHER_DELAY)
final_carry = _slow("final_carry", OTHER_DELAY)
has_carry = _slow("has_carry", OTHER_DELAY)
join_digits = _slow("join_digits", OTHER_DELAY)
prepend_carry = _slow("prepend_carry", OTHER_DELAY)
'''


@dataclass
class PlanCopy:
    dir: Path
    plan: Path
    flow_of_function: dict[str, str]          # binding function name -> flow index (from the compiled plan)
    ids: dict[str, str]                       # flow index -> inference id
    loop_id: str                              # inference id of the `*.` loop (iteration paths are `<loop_id>#i`)
    slow: bool = False

    def bindings(self) -> list[str]:
        """``--binding`` arguments sending every Python-bound step through slow_digits.py (none when not slow)."""
        if not self.slow:
            return []
        out = []
        for fn, fi in sorted(self.flow_of_function.items(), key=lambda kv: kv[1]):
            out += ["--binding", f"{fi}=slow_digits.py:{fn}"]
        return out

    def write_inputs(self, name: str, a: str, b: str, base: int) -> Path:
        path = self.dir / f"{name}.inputs.json"
        path.write_text(json.dumps({"{number a}": a, "{number b}": b, "{base}": base}))
        return path


def copy_example(dest: Path, *, slow: bool = False, loop_delay: float = 0.02, other_delay: float = 0.03,
                 extra: str | None = None) -> PlanCopy:
    """A private copy of examples/base_x_addition under ``dest`` (the plan text is never changed)."""
    target = dest / "addition"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", ".ncd"))
    if slow:
        (target / "slow_digits.py").write_text(SLOW_DIGITS.format(loop_delay=loop_delay, other_delay=other_delay))
    if extra is not None:
        (target / "extra_bindings.py").write_text(extra)
    compiled = dest / "compiled"
    proc = subprocess.run([sys.executable, "-c", NCDC_MAIN, "compile", str(target / "plan.ncd"), "-o", str(compiled)],
                          capture_output=True, text=True, timeout=120, env=clean_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    inferences = json.loads((compiled / "plan.inference.json").read_text())
    schedule = json.loads((compiled / "plan.schedule.json").read_text())
    ids = {e["flow_index"]: e["id"] for e in schedule["inferences"]}
    flow_of_function = {}
    loop_id = None
    for inf in inferences:
        fi = inf["flow_info"]["flow_index"]
        binding = (inf.get("working_interpretation") or {}).get("python_binding")
        if binding:
            flow_of_function[binding["function"]] = fi
        if inf["inference_sequence"] == "looping":
            loop_id = ids[fi]
    assert loop_id is not None and {"sum_digit", "carry_out"} <= set(flow_of_function), flow_of_function
    return PlanCopy(target, target / "plan.ncd", flow_of_function, ids, loop_id, slow)


# ---------------------------------------------------------------- processes


def clean_env() -> dict[str, str]:
    """The environment without model settings (the example is offline) and without a buffered stdout surprise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def ncd_run(*args: str | Path, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=clean_env(), timeout=timeout, check=False)


def ncd_json(*args: str | Path, cwd: Path, timeout: float = 60) -> Any:
    proc = ncd_run(*args, "--json", cwd=cwd, timeout=timeout)
    assert proc.returncode == 0, f"ncd-run {' '.join(map(str, args))}: exit {proc.returncode}\n{proc.stderr}"
    return json.loads(proc.stdout)


@dataclass
class Proc:
    """One ``ncd-run`` child whose stdout/stderr go to files (no pipe can fill up and stall it)."""

    popen: subprocess.Popen
    out: Path
    err: Path
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls, *args: str | Path, cwd: Path, logs: Path, name: str) -> Proc:
        logs.mkdir(parents=True, exist_ok=True)
        out, err = logs / f"{name}.out", logs / f"{name}.err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            popen = subprocess.Popen([sys.executable, "-m", "runtime.cli", *map(str, args)], stdout=fo, stderr=fe,
                                     stdin=subprocess.DEVNULL, cwd=cwd, env=clean_env(), start_new_session=True)
        return cls(popen, out, err)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> bool:
        """Send ``sig`` to this child (by its pid); False when it had already exited."""
        if not self.alive():
            return False
        try:
            os.kill(self.popen.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def wait(self, timeout: float = 60) -> int:
        return self.popen.wait(timeout=timeout)

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()

    def reap(self) -> None:
        """finally-clause cleanup: SIGKILL this child if it still runs, and collect it."""
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


# ---------------------------------------------------------------- reading the database


def ro_connect(db: Path) -> sqlite3.Connection:
    """A read-only connection (never writes, never recovers anything on the runtime's behalf)."""
    conn = sqlite3.connect(Path(db).resolve().as_uri() + "?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    return conn


def query(db: Path, sql: str, params: Iterable[Any] = (), attempts: int = 50) -> list[sqlite3.Row]:
    """Rows of a read-only query; a database that is being created (no file or table yet) is retried briefly."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            with closing(ro_connect(db)) as conn:
                return conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as exc:
            last = exc
            time.sleep(0.01)
    raise AssertionError(f"cannot read {db}: {last}")


def try_query(db: Path, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row] | None:
    """Like ``query`` but a single attempt: None when the file or the tables do not exist (yet)."""
    if not Path(db).exists():
        return None
    try:
        with closing(ro_connect(db)) as conn:
            return conn.execute(sql, tuple(params)).fetchall()
    except sqlite3.OperationalError:
        return None


def wait_until(proc: Proc, probe: Callable[[], bool], timeout: float, interval: float = 0.002) -> bool:
    """Poll ``probe`` until it is true (True), the process exits or the time is up (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            return False
        if probe():
            return True
        time.sleep(interval)
    return False


def integrity(db: Path) -> str:
    with closing(sqlite3.connect(db, timeout=10)) as conn:
        return "; ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall())


def count(db: Path, table: str, run_id: str) -> int:
    rows = try_query(db, f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (run_id,))
    return int(rows[0][0]) if rows else 0


def run_row(db: Path, run_id: str) -> sqlite3.Row | None:
    rows = try_query(db, "SELECT * FROM runs WHERE run_id = ?", (run_id,))
    return rows[0] if rows else None


def executions(db: Path, run_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in query(db, "SELECT execution_id, flow_index, inference_id, iteration, cell, attempt, "
                                       "status, started_at, finished_at FROM executions WHERE run_id = ? "
                                       "ORDER BY execution_id", (run_id,))]


def results(db: Path, run_id: str) -> list[dict[str, Any]]:
    return [dict(r) for r in query(db, "SELECT seq, cycle, inference_count, kind, flow_index, inference_id, "
                                       "iteration, status, concept_name, value_json, value_hash FROM results "
                                       "WHERE run_id = ? ORDER BY seq", (run_id,))]


def iso(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def contains_value(doc: Any, wanted: Any) -> bool:
    """Whether ``wanted`` occurs anywhere in a decoded JSON document (encoded References nest their data)."""
    if doc == wanted:
        return True
    if isinstance(doc, dict):
        return any(contains_value(v, wanted) for v in doc.values())
    if isinstance(doc, list):
        return any(contains_value(v, wanted) for v in doc)
    return False
