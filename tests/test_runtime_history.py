"""The Python API of stored runs (RUNTIME §13) and the inspection verbs of `ncd-run` (§1): step/run/run_async,
orchestrators side by side, list-runs, list-checkpoints, show, export and fork, over `--db` and `--runs-dir`.

Plans: tests/runtime_plans/reconcile/pipeline.ncd (22 Python steps, a loop with a carried value; 29 waves) and
small.ncd (three steps over a ground `{seed}`). Every database lives under tmp_path; CLI calls are real subprocesses.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from runtime.orchestrator import Orchestrator
from cli_support import one_line_error

PLAN_DIR = Path(__file__).parent / "runtime_plans" / "reconcile"
ROW_FIELDS = ("kind", "cycle", "flow_index", "inference_id", "iteration", "status", "concept_name", "value_json",
              "value_hash", "inputs_hash", "provision_hash", "meta_json")


# ---------------------------------------------------------------- helpers


@pytest.fixture(autouse=True, scope="module")
def _no_model_environment():
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("NCD_LLM", "OPENAI_")):
                mp.delenv(name)
        yield


def plans(dest: Path) -> Path:
    shutil.copytree(PLAN_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def ncd_run(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_"))}
    return subprocess.run([sys.executable, "-m", "runtime.cli", *map(str, args)], capture_output=True, text=True,
                          check=False, cwd=cwd, env=env, timeout=120)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stdout


def query(db: Path, sql: str, *args) -> list[dict]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, args)]
    finally:
        con.close()


def result_rows(db: Path, run_id: str) -> list[tuple]:
    """The run's result rows without seq, inference_count (batching) and timestamps, as a sorted multiset."""
    rows = query(db, f"SELECT {', '.join(ROW_FIELDS)} FROM results WHERE run_id = ?", run_id)
    return sorted((tuple(r[f] for f in ROW_FIELDS) for r in rows), key=repr)


def executed_keys(db: Path, run_id: str) -> list[tuple[str, str]]:
    return sorted((r["inference_id"], r["iteration"])
                  for r in query(db, "SELECT * FROM executions WHERE run_id = ?", run_id))


def finish(orch: Orchestrator):
    result = orch.run()
    orch.store.close()
    return result


@pytest.fixture()
def plan_dir(tmp_path) -> Path:
    return plans(tmp_path / "plans")


@pytest.fixture()
def reference(plan_dir, tmp_path):
    """One uninterrupted run of each plan in its own database: what every other way of running must reproduce."""
    db = tmp_path / "reference.db"
    big = finish(Orchestrator(plan_dir / "pipeline.ncd", store=db, run_id="whole"))
    small = finish(Orchestrator(plan_dir / "small.ncd", inputs={"{seed}": 3}, store=db, run_id="whole-small"))
    assert big.outcome == small.outcome == "completed"
    return {"db": db, "big": big, "small": small}


# ---------------------------------------------------------------- step / run / run_async


def test_step_by_step_equals_run(plan_dir, tmp_path, reference):
    db = tmp_path / "runs.db"
    orch = Orchestrator(plan_dir / "pipeline.ncd", store=db, run_id="stepped")
    waves = []
    for _ in range(500):
        wave = orch.step()
        waves.append(wave)
        if wave.outcome is not None:
            break
    assert waves[-1].outcome == "completed"
    assert all(w.outcome is None for w in waves[:-1])
    cycles = [w.cycle for w in waves]
    assert cycles == sorted(set(cycles)), f"waves not strictly increasing: {cycles}"
    assert len(waves) == reference["big"].cycles == cycles[-1]
    for w in waves:
        assert w.executed, f"wave {w.cycle} executed nothing"
        for item in w.executed:
            assert {"flow_index", "inference_id", "iteration", "status"} <= set(item)
    result = finish(orch)
    assert (result.run_id, result.outcome) == ("stepped", "completed")
    assert result.final == reference["big"].final
    assert result.cycles == reference["big"].cycles
    # the same rows as the uninterrupted run, and each execution in the wave that reported it
    assert result_rows(db, "stepped") == result_rows(reference["db"], "whole")
    assert executed_keys(db, "stepped") == executed_keys(reference["db"], "whole")
    reported = {(i["inference_id"], i["iteration"]): w.cycle for w in waves for i in w.executed}
    stored = {(r["inference_id"], r["iteration"]): r["cycle"]
              for r in query(db, "SELECT * FROM executions WHERE run_id = 'stepped'")}
    assert reported == stored


def test_steps_then_run_give_the_uninterrupted_result(plan_dir, tmp_path, reference):
    db = tmp_path / "runs.db"
    orch = Orchestrator(plan_dir / "pipeline.ncd", store=db, run_id="mixed")
    first = [orch.step() for _ in range(3)]
    assert [w.cycle for w in first] == [1, 2, 3]
    result = finish(orch)
    assert result.outcome == "completed"
    assert result.final == reference["big"].final
    assert result_rows(db, "mixed") == result_rows(reference["db"], "whole")
    assert executed_keys(db, "mixed") == executed_keys(reference["db"], "whole")


def test_run_async(plan_dir, tmp_path, reference):
    db = tmp_path / "runs.db"
    orch = Orchestrator(plan_dir / "pipeline.ncd", store=db, run_id="async")

    async def main():
        return await orch.run_async()

    result = asyncio.run(main())
    orch.store.close()
    assert (result.run_id, result.outcome) == ("async", "completed")
    assert result.final == reference["big"].final
    assert result.to_json() == {"run_id": "async", "outcome": "completed", "final": reference["big"].final,
                                "cycles": reference["big"].cycles, "executed": reference["big"].executed}
    assert result_rows(db, "async") == result_rows(reference["db"], "whole")


# ---------------------------------------------------------------- orchestrators side by side


def test_two_orchestrators_interleaved_on_one_db(plan_dir, tmp_path, reference):
    db = tmp_path / "shared.db"
    a = Orchestrator(plan_dir / "pipeline.ncd", store=db, run_id="a")
    b = Orchestrator(plan_dir / "small.ncd", inputs={"{seed}": 3}, store=db, run_id="b")
    done = {"a": None, "b": None}
    for _ in range(500):
        for name, orch in (("a", a), ("b", b)):
            if done[name] is None:
                done[name] = orch.step().outcome
        if None not in done.values():
            break
    assert done == {"a": "completed", "b": "completed"}
    ra, rb = finish(a), finish(b)
    assert ra.final == reference["big"].final and rb.final == reference["small"].final
    assert result_rows(db, "a") == result_rows(reference["db"], "whole")
    assert result_rows(db, "b") == result_rows(reference["db"], "whole-small")


@pytest.mark.parametrize("shared", [True, False], ids=["same-db", "different-dbs"])
def test_two_orchestrators_in_threads(plan_dir, tmp_path, reference, shared):
    dbs = [tmp_path / "one.db"] * 2 if shared else [tmp_path / "one.db", tmp_path / "two.db"]
    orchs = [Orchestrator(plan_dir / "pipeline.ncd", store=dbs[0], run_id="t1", options={"max_concurrency": 2}),
             Orchestrator(plan_dir / "small.ncd", inputs={"{seed}": 3}, store=dbs[1], run_id="t2")]
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def go(i):
        try:
            results[i] = finish(orchs[i])
        except Exception as exc:  # noqa: BLE001 -- reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert results[0].final == reference["big"].final
    assert results[1].final == reference["small"].final
    assert result_rows(dbs[0], "t1") == result_rows(reference["db"], "whole")
    assert result_rows(dbs[1], "t2") == result_rows(reference["db"], "whole-small")
    assert {r["run_id"] for r in Orchestrator.list_runs(dbs[0])} == ({"t1", "t2"} if shared else {"t1"})


# ---------------------------------------------------------------- list_runs, list_checkpoints, status


def test_list_runs_list_checkpoints_and_status(plan_dir, tmp_path):
    db = tmp_path / "runs.db"
    orch = Orchestrator(plan_dir / "pipeline.ncd", store=db, run_id="r")
    result = orch.run()
    marks = Orchestrator.list_checkpoints(db, "r")
    assert marks == query(db, "SELECT run_id, seq, cycle, inference_count, created_at FROM checkpoints "
                              "WHERE run_id = 'r' ORDER BY seq")
    seqs = [m["seq"] for m in marks]
    assert seqs == sorted(set(seqs))
    assert seqs[-1] == max(r["seq"] for r in query(db, "SELECT seq FROM results WHERE run_id = 'r'"))
    assert len({(m["cycle"], m["inference_count"]) for m in marks}) == len(marks)
    assert [m["cycle"] for m in marks] == sorted(m["cycle"] for m in marks)
    assert marks[-1]["cycle"] == result.cycles

    status = orch.status()
    steps = status["steps"]
    keys = sorted((s["inference_id"], s["iteration"]) for s in steps)
    assert keys == executed_keys(db, "r")
    assert all(s["status"] == "completed" and s["attempts"] == 1 and s["duration_s"] >= 0 for s in steps)
    assert status["counts"] == {"completed": len(steps)}
    by_concept = {s["concept"]: s for s in steps if s["iteration"] == ""}
    assert by_concept["{report}"]["output"] == result.final["{report}"]["data"]
    orch.store.close()

    fork = Orchestrator.load_checkpoint(plan_dir / "pipeline.ncd", store=db, run_id="r", cycle=marks[2]["cycle"],
                                        new_run_id="f")
    assert fork.run_id == "f"
    assert [r["run_id"] for r in Orchestrator.list_runs(db)] == ["r"], "load_checkpoint wrote before run()"
    assert finish(fork).final == result.final
    runs = {r["run_id"]: r for r in Orchestrator.list_runs(db)}
    assert set(runs) == {"r", "f"}
    # a cycle names its last marker (§8.3): one wave may close while rows of the next are already written
    last_of_cycle = max(m["seq"] for m in marks if m["cycle"] == marks[2]["cycle"])
    assert (runs["f"]["parent_run_id"], runs["f"]["parent_seq"]) == ("r", last_of_cycle)
    assert runs["r"]["parent_run_id"] is None
    assert runs["r"]["status"] == runs["f"]["status"] == "completed"
    with pytest.raises(Exception, match="nope"):
        Orchestrator.list_checkpoints(db, "nope")


# ---------------------------------------------------------------- the CLI: list-runs, list-checkpoints, show, export


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The pipeline run 'r' stored once with --db and once with --runs-dir (real subprocesses)."""
    root = tmp_path_factory.mktemp("history")
    plan_dir = plans(root / "plans")
    db, runs_dir = root / "runs.db", root / "runs"
    out = {"root": root, "plan": plan_dir / "pipeline.ncd", "small": plan_dir / "small.ncd"}
    for storage, where in (("db", db), ("runs-dir", runs_dir)):
        doc = json.loads(ok(ncd_run("run", out["plan"], f"--{storage}", where, "--run-id", "r", "--json",
                                    cwd=root)))
        assert doc["outcome"] == "completed"
        out[storage] = where
        out["final"] = doc["final"]
    assert (runs_dir / "r" / "run.db").is_file()
    assert not (root / ".ncd").exists()
    return out


STORAGES = ["db", "runs-dir"]


def file_of(stores, storage: str, run_id: str = "r") -> Path:
    return stores["db"] if storage == "db" else stores["runs-dir"] / run_id / "run.db"


def cli(stores, storage: str, *args) -> subprocess.CompletedProcess:
    return ncd_run(*args, f"--{storage}", stores[storage], cwd=stores["root"])


@pytest.mark.parametrize("storage", STORAGES)
def test_cli_list_runs(stores, storage):
    doc = json.loads(ok(cli(stores, storage, "list-runs", "--json")))
    mine = [r for r in doc if r["run_id"] == "r"]
    assert len(mine) == 1
    assert mine[0]["status"] == "completed" and mine[0]["parent_run_id"] is None
    text = ok(cli(stores, storage, "list-runs"))
    assert any(line.split()[:2] == ["r", "completed"] for line in text.splitlines()), text


@pytest.mark.parametrize("storage", STORAGES)
def test_cli_list_checkpoints(stores, storage):
    stored = query(file_of(stores, storage), "SELECT seq, cycle, inference_count FROM checkpoints "
                                             "WHERE run_id = 'r' ORDER BY seq")
    assert stored
    doc = json.loads(ok(cli(stores, storage, "list-checkpoints", "--run-id", "r", "--json")))
    assert [(m["seq"], m["cycle"], m["inference_count"]) for m in doc] == [tuple(m.values()) for m in stored]
    text = ok(cli(stores, storage, "list-checkpoints", "--run-id", "r"))
    numbers = [line.split()[:3] for line in text.splitlines() if line.split() and line.split()[0].isdigit()]
    assert numbers == [[str(m["seq"]), str(m["cycle"]), str(m["inference_count"])] for m in stored]


@pytest.mark.parametrize("storage", STORAGES)
def test_cli_show(stores, storage):
    db = file_of(stores, storage)
    doc = json.loads(ok(cli(stores, storage, "show", "--run-id", "r", "--json")))
    assert doc["run_id"] == "r" and doc["status"] == "completed"
    steps = doc["steps"]
    assert sorted((s["inference_id"], s["iteration"]) for s in steps) == executed_keys(db, "r")
    for s in steps:
        assert s["status"] == "completed" and s["attempts"] == 1
        assert isinstance(s["duration_s"], (int, float)) and s["duration_s"] >= 0
    values = {(r["inference_id"], r["iteration"]): json.loads(r["value_json"])["data"]
              for r in query(db, "SELECT * FROM results WHERE run_id = 'r' AND kind = 'item' "
                                 "AND value_json IS NOT NULL")}
    for s in steps:
        if (s["inference_id"], s["iteration"]) in values:
            assert s["output"] == values[(s["inference_id"], s["iteration"])], s
    report = next(s for s in steps if s["concept"] == "{report}")
    assert report["output"] == stores["final"]["{report}"]["data"]
    text = ok(cli(stores, storage, "show", "--run-id", "r"))
    assert "r" in text.splitlines()[0] and "completed" in text.splitlines()[0]
    for s in steps:
        assert any(line.split()[:1] == [s["flow_index"]] for line in text.splitlines()), s["flow_index"]


@pytest.mark.parametrize("storage", STORAGES)
def test_cli_export(stores, storage):
    db = file_of(stores, storage)
    rows = query(db, "SELECT * FROM results WHERE run_id = 'r' ORDER BY seq")
    marks = query(db, "SELECT * FROM checkpoints WHERE run_id = 'r' ORDER BY seq")
    latest = json.loads(ok(cli(stores, storage, "export", "--run-id", "r", "--json")))
    assert latest["run_id"] == "r" and latest["seq"] == rows[-1]["seq"]
    assert len(latest["results"]) == len({(r["inference_id"], r["iteration"]) for r in rows})
    assert json.loads(ok(cli(stores, storage, "export", "--run-id", "r"))) == latest  # text output is JSON too
    mark = [m for m in marks if m["cycle"] == marks[len(marks) // 2]["cycle"]][-1]
    at = json.loads(ok(cli(stores, storage, "export", "--run-id", "r", "--cycle", str(mark["cycle"]), "--json")))
    assert at["seq"] == mark["seq"]
    upto = [r for r in rows if r["seq"] <= mark["seq"]]
    assert {(r["inference_id"], r["iteration"]) for r in at["results"]} == {
        (r["inference_id"], r["iteration"]) for r in upto}
    assert all(r["seq"] <= mark["seq"] for r in at["results"])
    last = {}
    for r in upto:
        last[(r["inference_id"], r["iteration"])] = r["seq"]
    assert {(r["inference_id"], r["iteration"]): r["seq"] for r in at["results"]} == last


@pytest.mark.parametrize("storage", STORAGES)
def test_cli_fork_then_list_runs_shows_the_parent(stores, storage):
    marks = query(file_of(stores, storage), "SELECT * FROM checkpoints WHERE run_id = 'r' ORDER BY seq")
    cycle = marks[1]["cycle"]
    seq = [m for m in marks if m["cycle"] == cycle][-1]["seq"]
    parent_file = file_of(stores, storage)
    before = query(parent_file, "SELECT * FROM results WHERE run_id = 'r' ORDER BY seq")
    proc = cli(stores, storage, "fork", stores["plan"], "--from-run", "r", "--cycle", str(cycle), "--new-run-id",
               f"f-{storage}", "--json")
    doc = json.loads(ok(proc))
    assert doc["run_id"] == f"f-{storage}" and doc["outcome"] == "completed"
    assert doc["final"] == stores["final"]
    runs = {r["run_id"]: r for r in json.loads(ok(cli(stores, storage, "list-runs", "--json")))}
    assert (runs[f"f-{storage}"]["parent_run_id"], runs[f"f-{storage}"]["parent_seq"]) == ("r", seq)
    text = ok(cli(stores, storage, "list-runs"))
    line = next(line for line in text.splitlines() if line.split()[:1] == [f"f-{storage}"])
    assert re.search(r"(^|\s)r($|\s|@)", line.split(maxsplit=1)[1]), line  # the parent is named
    assert query(parent_file, "SELECT * FROM results WHERE run_id = 'r' ORDER BY seq") == before
    if storage == "runs-dir":
        assert (stores["runs-dir"] / f"f-{storage}" / "run.db").is_file()
    assert not (stores["root"] / ".ncd").exists()


# ---------------------------------------------------------------- bad inputs: exit 2, one line, no traceback


BAD = {
    "show-unknown-run": ("show", "--run-id", "nope"),
    "export-unknown-run": ("export", "--run-id", "nope"),
    "checkpoints-unknown-run": ("list-checkpoints", "--run-id", "nope"),
    "export-unknown-cycle": ("export", "--run-id", "r", "--cycle", "999"),
    "fork-unknown-cycle": ("fork", "{plan}", "--from-run", "r", "--cycle", "999", "--new-run-id", "g"),
    "show-invalid-id": ("show", "--run-id", "../x"),
    "run-invalid-id": ("run", "{plan}", "--run-id", "../x"),
    "fork-invalid-new-id": ("fork", "{plan}", "--from-run", "r", "--new-run-id", "../x"),
}


BAD_CASES = [(case, "db") for case in sorted(BAD)] + [
    (case, "runs-dir") for case in ("fork-unknown-cycle", "fork-invalid-new-id", "show-invalid-id",
                                    "show-unknown-run")]


@pytest.mark.parametrize(("case", "storage"), BAD_CASES)
def test_cli_bad_input_exits_2_with_one_line(stores, storage, case):
    args = [str(stores["plan"]) if a == "{plan}" else a for a in BAD[case]]
    msg = one_line_error(cli(stores, storage, *args))
    culprit = {"unknown-run": "nope", "unknown-cycle": "999", "invalid-id": "../x", "invalid-new-id": "../x"}
    assert next(v for k, v in culprit.items() if case.endswith(k)) in msg, msg
    # nothing was created: no run, no directory outside the runs directory, no default store
    assert not (stores["root"] / "x").exists() and not (stores["runs-dir"] / "g").exists()
    assert not (stores["root"] / ".ncd").exists()
    assert not query(stores["db"], "SELECT run_id FROM runs WHERE run_id IN ('g', '../x', 'nope')")


def test_cli_db_and_runs_dir_together_exit_2(stores):
    for args in (("list-runs",), ("show", "--run-id", "r"), ("run", stores["plan"])):
        one_line_error(ncd_run(*args, "--db", stores["db"], "--runs-dir", stores["runs-dir"], cwd=stores["root"]))
