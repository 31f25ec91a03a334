"""Resume, fork and reconciliation (RUNTIME §9) checked against the compiled schedule (REPOSITORY_FORMAT §4, §5).

The plan under tests/runtime_plans/reconcile/pipeline.ncd has 22 Python-bound steps: a chain
(load -> parse -> clean -> stats), fan-ins (stats, weights, summarize_side), a sibling branch independent of most
edits (the side text), and a `*.` loop over 7 items with a carried running total `{total}*-1` whose body reads a
concept produced outside the loop (`{factor}`). Every test works on a copy of the plan directory and a database under
tmp_path. The set of inferences a PATCH must re-run is computed here from the compiled schedule alone (§9.3):
seeds (new/changed signatures, changed binding modules), then consumers (`dependents`), supported inferences
(inverse of `supported_by`), readers of a loop's element and carried values when the loop is invalidated (rule 3:
their producer's result was not kept) and whole loops (`reset_set` + the looping inference), transitively.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from cli_support import one_line_error

PLAN_DIR = Path(__file__).parent / "runtime_plans" / "reconcile"

# ---------------------------------------------------------------- helpers


def ncd_run(*args, real: bool = False) -> subprocess.CompletedProcess:
    """``ncd-run ARGS``: in-process through ``runtime.cli.main`` (fast), or as a real subprocess with ``real``."""
    argv = [str(a) for a in args]
    if real:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_"))}
        return subprocess.run([sys.executable, "-m", "runtime.cli", *argv], capture_output=True, text=True,
                              check=False, env=env, timeout=120)
    from runtime.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def ok_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return json.loads(proc.stdout)


def copy_plan(dest: Path) -> Path:
    shutil.copytree(PLAN_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new))


def query(db: Path, sql: str, *args) -> list[dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, args)]
    finally:
        con.close()


def executions(db: Path, run_id: str) -> list[dict]:
    return query(db, "SELECT * FROM executions WHERE run_id = ? ORDER BY execution_id", run_id)


def executed_keys(db: Path, run_id: str) -> set[tuple[str, str]]:
    return {(r["inference_id"], r["iteration"]) for r in executions(db, run_id)}


def run_row(db: Path, run_id: str) -> dict:
    found = query(db, "SELECT * FROM runs WHERE run_id = ?", run_id)
    assert len(found) == 1, (run_id, found)
    return found[0]


def snapshot(db: Path, run_id: str) -> dict[str, list[dict]]:
    """Every stored row of one run (the parent of a fork must never change)."""
    return {table: query(db, f"SELECT * FROM {table} WHERE run_id = ? ORDER BY rowid", run_id)
            for table in ("runs", "results", "checkpoints", "executions", "logs", "llm_calls")}


class Compiled:
    """The three files `ncdc compile PLAN -o DIR` writes, read back."""

    def __init__(self, plan: Path, out: Path) -> None:
        from ncdc.cli import main as ncdc_main

        assert ncdc_main(["compile", str(plan), "-o", str(out)]) == 0
        stem = plan.stem
        self.plan = plan
        self.schedule = json.loads((out / f"{stem}.schedule.json").read_text())
        self.inferences = {e["flow_info"]["flow_index"]: e
                           for e in json.loads((out / f"{stem}.inference.json").read_text())}
        self.entries = {e["flow_index"]: e for e in self.schedule["inferences"]}
        self.ids = {fi: e["id"] for fi, e in self.entries.items()}
        self.by_concept = {e["concept_to_infer"]: fi for fi, e in self.entries.items()}
        self.loops = self.schedule["loops"]

    def binding(self, fi: str) -> dict | None:
        return self.inferences[fi]["working_interpretation"].get("python_binding")

    def in_loop(self, fi: str) -> bool:
        return any(fi in loop["reset_set"] for loop in self.loops)


_compile_counter = iter(range(10**9))


def compile_plan(plan: Path) -> Compiled:
    """Compiled beside the plan's (temporary) directory."""
    return Compiled(plan, plan.parent.parent / f"compiled-{plan.stem}-{next(_compile_counter)}")


def file_sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def expected_patch(old: Compiled, new: Compiled) -> set[str]:
    """Flow indices (of ``new``) that PATCH re-runs, from the schedules alone (RUNTIME §9.3)."""
    old_ids = set(old.ids.values())
    seeds = set()
    for fi, entry in new.entries.items():
        if entry["id"] not in old_ids:  # signature changed, or a new inference
            seeds.add(fi)
            continue
        binding = new.binding(fi)
        if binding and file_sha(old.plan.parent / binding["path"]) != file_sha(new.plan.parent / binding["path"]):
            seeds.add(fi)  # provision hash changed
    supports = {j: fi for fi, e in new.entries.items() for j in e["supported_by"]}
    # a loop produces its element and carried concepts (L§5.4): rule 3 invalidates their readers with the loop
    loop_readers: dict[str, set[str]] = {}
    for fi, e in new.entries.items():
        for req in e["requires"]:
            if req["loop_provided_by"]:
                loop_readers.setdefault(req["loop_provided_by"], set()).add(fi)
    out: set[str] = set()
    work = list(seeds)
    while work:
        fi = work.pop()
        if fi in out:
            continue
        out.add(fi)
        work.extend(new.entries[fi]["dependents"])
        if fi in supports:
            work.append(supports[fi])
        work.extend(loop_readers.get(fi, ()))
        for loop in new.loops:
            if fi in loop["reset_set"]:
                work.append(loop["flow_index"])
                work.extend(loop["reset_set"])
    return out


def fork_line(proc: subprocess.CompletedProcess, new_id: str, parent: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert new_id in lines[0] and parent in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------- the stored base run (read, never modified)


@pytest.fixture(autouse=True, scope="module")
def _no_model_environment():
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("NCD_LLM", "OPENAI_")):
                mp.delenv(name)
        yield


@pytest.fixture(scope="module")
def base(tmp_path_factory, _no_model_environment):
    root = tmp_path_factory.mktemp("reconcile-base")
    plan_dir = copy_plan(root / "plan")
    db = root / "runs.db"
    doc = ok_json(ncd_run("run", plan_dir / "pipeline.ncd", "--db", db, "--run-id", "base", "--json"))
    assert doc["outcome"] == "completed"
    compiled = compile_plan(plan_dir / "pipeline.ncd")
    python_steps = [fi for fi in compiled.entries if compiled.binding(fi)]
    assert len(python_steps) >= 20
    assert any(loop["carried"] for loop in compiled.loops)
    return Quiet(root=root, plan_dir=plan_dir, db=db, final=doc["final"], compiled=compiled,
                 keys=executed_keys(db, "base"), snapshot=snapshot(db, "base"))


class Quiet(dict):
    """A fixture value whose repr stays short in hypothesis' failure reports."""

    def __repr__(self) -> str:
        return f"<stored base run in {self.get('db')}>"


@pytest.fixture(autouse=True, scope="module")
def _base_untouched(base):
    yield
    assert snapshot(base["db"], "base") == base["snapshot"], "the parent run's rows changed"


def check_patch(base, plan: Path, run_tag: str, must_keep: tuple[str, ...] = (),
                must_rerun: tuple[str, ...] = ()) -> set[str]:
    """Resume the edited plan against the base run (CLI, default PATCH) and compare with §9.3 and a fresh run."""
    db = base["db"]
    old, new = base["compiled"], compile_plan(plan)
    expected = expected_patch(old, new)
    for concept in must_keep:
        assert new.by_concept[concept] not in expected, (concept, sorted(expected))
    for concept in must_rerun:
        assert new.by_concept[concept] in expected, (concept, sorted(expected))

    fresh = ok_json(ncd_run("run", plan, "--db", db, "--run-id", f"fresh-{run_tag}", "--json"))
    assert fresh["outcome"] == "completed"
    proc = ncd_run("resume", plan, "--run-id", "base", "--db", db, "--json")
    doc = ok_json(proc)
    new_id = doc["run_id"]
    assert new_id != "base"
    fork_line(proc, new_id, "base")
    row = run_row(db, new_id)
    assert row["parent_run_id"] == "base"
    assert row["resume_mode"] == "PATCH"
    assert doc["outcome"] == "completed"

    rows = executions(db, new_id)
    ran_ids = {r["inference_id"] for r in rows}
    assert ran_ids == {new.ids[fi] for fi in expected}, (
        "re-ran but should have been kept: "
        f"{sorted(r['flow_index'] for r in rows if r['inference_id'] not in {new.ids[f] for f in expected})}; "
        f"should have re-run: {sorted(fi for fi in expected if new.ids[fi] not in ran_ids)}")
    # per iteration: an invalidated inference runs in every iteration a fresh run gives it, and only once
    keys = [(r["inference_id"], r["iteration"]) for r in rows]
    assert len(keys) == len(set(keys)), "an item executed twice"
    wanted = {k for k in executed_keys(db, f"fresh-{run_tag}") if k[0] in ran_ids}
    assert set(keys) == wanted
    assert all(r["status"] == "completed" for r in rows)
    assert doc["final"] == fresh["final"], "the patched run's answer differs from a fresh run of the edited plan"
    return expected


# ---------------------------------------------------------------- a. single edits


EDITS = {
    # binding switched to another function (signature changes: python_binding is in the working interpretation)
    "binding-weights": ("pipeline.ncd", "steps.py:weights\n", "steps.py:weights_v2\n",
                        ("{side summary}", "{header}", "[running totals]", "{cleaned}", "{checksum}"),
                        ("{weights}", "{stats}", "[bundle]", "{report}")),
    # a producer outside the loop whose consumer is inside the body: the whole loop re-runs, all iterations
    "binding-factor": ("pipeline.ncd", "steps.py:factor\n", "steps.py:factor_v2\n",
                       ("{side summary}", "{stats}", "[items]", "{factor seed}"),
                       ("{factor}", "[running totals]", "{total}", "{scaled item}", "{bonus}", "{loop summary}")),
    # the loop's base collection changes: the looping inference is invalidated through `dependents`, and with it
    # every reader of its element and carried value, i.e. the whole body in every iteration
    "binding-split": ("pipeline.ncd", "steps.py:split_items\n", "steps.py:split_items_v2\n",
                      ("{side summary}", "{stats}", "{factor}", "{header}"),
                      ("[items]", "[running totals]", "{total}", "{scaled item}", "{bonus}", "{loop summary}")),
    # the body of the bound function edited in its module (provision hash, §9.2): invalidation through the loop
    "module-bonus": ("bonus.py", "return 1 if item % 2 else 0", "return 2 if item % 2 else 0",
                     ("{side summary}", "{stats}", "[items]", "{factor}"),
                     ("{bonus}", "{total}", "{scaled item}", "[running totals]", "{report}")),
    # the functional text of one step in the independent sibling branch (fan-in through {tokens})
    "wording-count": ("pipeline.ncd", "::(count {1})", "::(count the words in {1})",
                      ("{longest word}", "{tokens}", "{stats}", "[running totals]", "{header}"),
                      ("{word count}", "{side summary}", "[bundle]", "{report}")),
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_patch_reruns_exactly_the_invalidated_set(base, tmp_path, case):
    file, old, new, keep, rerun = EDITS[case]
    plan_dir = copy_plan(tmp_path / "plan")
    edit(plan_dir / file, old, new)
    check_patch(base, plan_dir / "pipeline.ncd", case, keep, rerun)


def test_kept_object_value_reaches_a_rerun_step_as_in_a_fresh_run(tmp_path):
    """A restored value must be the value a fresh run computes, down to what the binding can observe: here the key
    order of a JSON object returned by a kept step and iterated by the re-run step (§9.3 "kept ones are restored")."""
    plan_dir = copy_plan(tmp_path / "plan")
    plan, db = plan_dir / "ordered.ncd", tmp_path / "runs.db"
    first = ok_json(ncd_run("run", plan, "--db", db, "--run-id", "r", "--json"))
    assert first["final"]["{text}"]["data"] == ["zeta,alpha,name"]
    edit(plan, "ordered.py:fmt\n", "ordered.py:fmt_v2\n")
    fresh = ok_json(ncd_run("run", plan, "--db", db, "--run-id", "fresh", "--json"))
    assert fresh["final"]["{text}"]["data"] == ["zeta;alpha;name"]
    doc = ok_json(ncd_run("resume", plan, "--run-id", "r", "--db", db, "--json"))
    assert {r["flow_index"] for r in executions(db, doc["run_id"])} == {"1"}  # {record} kept, {text} re-run
    assert doc["final"] == fresh["final"]


# ---------------------------------------------------------------- b. an inserted step renumbers its later siblings


def test_inserted_step_reruns_only_itself_its_parent_and_their_consumers(base, tmp_path):
    plan_dir = copy_plan(tmp_path / "plan")
    plan = plan_dir / "pipeline.ncd"
    edit(plan, "::(compute statistics of {1} weighted by {2} checked by {3})",
         "::(compute statistics of {1} weighted by {2} checked by {3} noting {4})")
    edit(plan, "                | %{body_faculty}: python_interpreter\n            <- {cleaned}<:{1}>\n",
         "                | %{body_faculty}: python_interpreter\n"
         "            <- {note}<:{4}>\n"
         "                <= ::(write a note about {1})\n"
         "                    | %{python}: steps.py:note\n"
         "                    | %{body_faculty}: python_interpreter\n"
         "                <- {note text}<:{1}>\n"
         "                    | %{literal_value}: \"inserted\"\n"
         "            <- {cleaned}<:{1}>\n")
    old, new = base["compiled"], compile_plan(plan)
    # the later siblings were renumbered, their signatures (hence ids) did not change
    assert old.by_concept["{cleaned}"] != new.by_concept["{cleaned}"]
    assert old.ids[old.by_concept["{weights}"]] == new.ids[new.by_concept["{weights}"]]
    expected = check_patch(base, plan, "insert")
    assert {new.entries[fi]["concept_to_infer"] for fi in expected} == {"{note}", "{stats}", "[bundle]", "{report}"}


# ---------------------------------------------------------------- c. renumbering without a semantic change


def swap_blocks(text: str, head_a: str, head_b: str) -> str:
    lines = text.splitlines(keepends=True)

    def block(head: str) -> tuple[int, int]:
        i = next(k for k, line in enumerate(lines) if line.rstrip("\n") == head)
        indent = len(lines[i]) - len(lines[i].lstrip())
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
            j += 1
        return i, j

    (a0, a1), (b0, b1) = sorted([block(head_a), block(head_b)])
    return "".join(lines[:a0] + lines[b0:b1] + lines[a1:b0] + lines[a0:a1] + lines[b1:])


def test_renumbering_without_semantic_change_reruns_nothing(base, tmp_path):
    plan_dir = copy_plan(tmp_path / "plan")
    plan = plan_dir / "pipeline.ncd"
    # the grouping's inputs come from its %> list, so the order of its `<-` blocks is not part of any signature
    plan.write_text(swap_blocks(plan.read_text(), "        <- {header}", "        <- {loop summary}"))
    old, new = base["compiled"], compile_plan(plan)
    assert set(old.ids.values()) == set(new.ids.values())
    assert old.schedule["plan_hash"] != new.schedule["plan_hash"]
    loop_old, loop_new = old.loops[0], new.loops[0]
    assert loop_old["flow_index"] != loop_new["flow_index"], "the loop was not renumbered"
    assert expected_patch(old, new) == set()

    db = base["db"]
    proc = ncd_run("resume", plan, "--run-id", "base", "--db", db, "--json")
    doc = ok_json(proc)
    new_id = doc["run_id"]
    fork_line(proc, new_id, "base")
    assert run_row(db, new_id)["parent_run_id"] == "base"
    assert doc["outcome"] == "completed"
    assert doc["final"] == base["final"]
    assert executions(db, new_id) == [], "PATCH re-ran something after a pure renumbering"
    assert query(db, "SELECT * FROM results WHERE run_id = ?", new_id) == []
    # the finished loop iterations are part of the fork's state, inherited from the parent by inference id
    state = ok_json(ncd_run("export", "--run-id", new_id, "--db", db, "--json"))
    body = {new.ids[fi] for fi in loop_new["reset_set"]}
    loop_id = new.ids[loop_new["flow_index"]]
    paths = {(r["inference_id"], r["iteration"]) for r in state["results"]
             if r["inference_id"] in body and r["status"] == "completed"}
    assert paths == {k for k in base["keys"] if k[0] in body}
    assert {p for _, p in paths} == {f"{loop_id}#{k}" for k in range(1, 8)}  # 7 distinct items
    assert all(r["run_id"] == "base" for r in state["results"] if r["inference_id"] in body)


def test_overwrite_translates_iteration_paths_when_the_loop_id_changes(base, tmp_path):
    """A changed initial value changes the looping inference's signature (ground data, R§5.1) and so its id, which
    every iteration path carries. PATCH re-runs the loop; OVERWRITE restores every row by flow index (§9.4)."""
    plan_dir = copy_plan(tmp_path / "plan")
    plan = plan_dir / "pipeline.ncd"
    edit(plan, "<- {total}*0\n                    | %{literal_value}: 0",
         "<- {total}*0\n                    | %{literal_value}: 100")
    old, new = base["compiled"], compile_plan(plan)
    assert old.ids[old.loops[0]["flow_index"]] != new.ids[new.loops[0]["flow_index"]]
    db = base["db"]
    doc = ok_json(ncd_run("fork", plan, "--from-run", "base", "--db", db, "--mode", "overwrite",
                          "--new-run-id", "overwrite-loop", "--json"))
    assert doc["run_id"] == "overwrite-loop"
    assert run_row(db, "overwrite-loop")["resume_mode"] == "OVERWRITE"
    assert executions(db, "overwrite-loop") == []
    assert doc["final"] == base["final"]
    check_patch(base, plan, "loop-initial", ("{stats}", "{side summary}", "[items]", "{factor}"),
                ("[running totals]", "{total}", "{bonus}", "{loop summary}", "{report}"))


# ---------------------------------------------------------------- d. OVERWRITE and FILL_GAPS on a small plan


@pytest.fixture()
def small(tmp_path):
    plan_dir = copy_plan(tmp_path / "plan")
    db = tmp_path / "runs.db"
    doc = ok_json(ncd_run("run", plan_dir / "small.ncd", "--db", db, "--run-id", "s", "--input", "{seed}=5",
                          "--json"))
    assert doc["final"]["{result}"]["data"] == ["10/15"]
    c = compile_plan(plan_dir / "small.ncd")
    return {"plan": plan_dir / "small.ncd", "db": db, "compiled": c, "fi": c.by_concept,
            "snapshot": snapshot(db, "s")}


def fork_small(small, *args: str) -> tuple[dict, set[str]]:
    doc = ok_json(ncd_run("fork", small["plan"], "--from-run", "s", "--db", small["db"], "--json", *args))
    ran = {r["flow_index"] for r in executions(small["db"], doc["run_id"])}
    return doc, ran


def test_overwrite_and_fill_gaps_restore_by_flow_index_despite_a_changed_signature(small):
    edit(small["plan"], "small.py:double\n", "small.py:double_v2\n")
    fi = small["fi"]
    doc, ran = fork_small(small, "--mode", "overwrite", "--new-run-id", "ow")
    assert (ran, doc["final"]["{result}"]["data"]) == (set(), ["10/15"])
    doc, ran = fork_small(small, "--mode", "fill-gaps", "--new-run-id", "fg")
    assert (ran, doc["final"]["{result}"]["data"]) == (set(), ["10/15"])
    doc, ran = fork_small(small, "--new-run-id", "pt")  # PATCH: the signature decides
    assert ran == {fi["{a}"], fi["{b}"], fi["{result}"]}
    assert doc["final"]["{result}"]["data"] == ["15/20"]
    assert snapshot(small["db"], "s") == small["snapshot"]


def test_overwrite_skips_a_flow_index_whose_concept_changed(small):
    plan = small["plan"]
    text = plan.read_text().replace("{b}", "{b2}")
    plan.write_text(text)
    doc, ran = fork_small(small, "--mode", "overwrite", "--new-run-id", "ow")
    new = compile_plan(plan)
    assert ran == {new.by_concept["{b2}"]}  # {result} keeps its stored row: OVERWRITE trusts the checkpoint
    assert doc["final"]["{result}"]["data"] == ["10/15"]


def test_ground_data_overwrite_takes_the_stored_fill_gaps_keeps_the_current(small):
    db, fi = small["db"], small["fi"]
    cycle1 = [m for m in query(db, "SELECT * FROM checkpoints WHERE run_id = 's' ORDER BY seq") if m["cycle"] == 1]
    assert cycle1, "no checkpoint at the end of cycle 1"
    # at the cycle-1 checkpoint only {a} = 2 * 5 is stored; the fork gives a new seed 7
    doc, ran = fork_small(small, "--cycle", "1", "--input", "{seed}=7", "--mode", "overwrite", "--new-run-id", "ow")
    assert ran == {fi["{b}"], fi["{result}"]}
    assert doc["final"]["{result}"]["data"] == ["10/15"]  # the stored seed 5 replaced the given one
    assert run_row(db, "ow")["parent_seq"] == cycle1[-1]["seq"]
    doc, ran = fork_small(small, "--cycle", "1", "--input", "{seed}=7", "--mode", "fill-gaps", "--new-run-id", "fg")
    assert ran == {fi["{b}"], fi["{result}"]}
    assert doc["final"]["{result}"]["data"] == ["10/17"]  # stored {a}, current seed
    doc, ran = fork_small(small, "--cycle", "1", "--input", "{seed}=7", "--new-run-id", "pt")
    assert ran == {fi["{a}"], fi["{b}"], fi["{result}"]}  # PATCH: the ground input changed
    assert doc["final"]["{result}"]["data"] == ["14/21"]
    assert snapshot(db, "s") == small["snapshot"]


# ---------------------------------------------------------------- e. continuity


def test_resuming_an_unchanged_completed_run_keeps_its_id_and_executes_nothing(tmp_path):
    plan = copy_plan(tmp_path / "plan") / "pipeline.ncd"
    db = tmp_path / "runs.db"
    first = ok_json(ncd_run("run", plan, "--db", db, "--run-id", "r", "--json"))
    before = snapshot(db, "r")
    proc = ncd_run("resume", plan, "--run-id", "r", "--db", db, "--json")
    doc = ok_json(proc)
    assert doc["run_id"] == "r"
    assert proc.stderr == "", "a continuity resume printed a fork line"
    assert doc["final"] == first["final"]
    after = snapshot(db, "r")
    assert after["executions"] == before["executions"]
    assert after["results"] == before["results"]
    assert len(query(db, "SELECT * FROM runs")) == 1


def test_continuity_after_a_budget_stop_runs_each_item_exactly_once(tmp_path):
    plan = copy_plan(tmp_path / "plan") / "pipeline.ncd"
    db = tmp_path / "runs.db"
    proc = ncd_run("run", plan, "--db", db, "--run-id", "r", "--max-cycles", "5", "--json")
    assert proc.returncode == 4, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "budget_exhausted"
    seq_before = max(r["seq"] for r in query(db, "SELECT seq FROM results WHERE run_id = 'r'"))
    proc = ncd_run("resume", plan, "--run-id", "r", "--db", db, "--max-cycles", "0", "--json")
    doc = ok_json(proc)
    assert doc["run_id"] == "r" and doc["outcome"] == "completed"
    assert proc.stderr == ""
    fresh = ok_json(ncd_run("run", plan, "--db", db, "--run-id", "fresh", "--json"))
    assert doc["final"] == fresh["final"]
    keys = [(r["inference_id"], r["iteration"]) for r in executions(db, "r")]
    assert len(keys) == len(set(keys)), "an item that finished before the stop ran again"
    assert set(keys) == executed_keys(db, "fresh")
    seqs = [r["seq"] for r in query(db, "SELECT seq FROM results WHERE run_id = 'r' ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] > seq_before  # the run's seq continues


@pytest.mark.parametrize("address", ["cycle", "at"])
def test_resuming_from_an_older_checkpoint_forks_and_leaves_the_parent_alone(tmp_path, address):
    plan = copy_plan(tmp_path / "plan") / "pipeline.ncd"
    db = tmp_path / "runs.db"
    first = ok_json(ncd_run("run", plan, "--db", db, "--run-id", "r", "--json"))
    marks = query(db, "SELECT * FROM checkpoints WHERE run_id = 'r' ORDER BY seq")
    assert len(marks) >= 5
    mark = marks[len(marks) // 2]
    same_cycle = [m for m in marks if m["cycle"] == mark["cycle"]]
    mark = same_cycle[-1]
    before = snapshot(db, "r")
    where = ["--cycle", str(mark["cycle"])] if address == "cycle" else ["--at", str(mark["seq"])]
    proc = ncd_run("resume", plan, "--run-id", "r", "--db", db, "--json", *where)
    doc = ok_json(proc)
    new_id = doc["run_id"]
    assert new_id != "r"
    fork_line(proc, new_id, "r")
    row = run_row(db, new_id)
    assert (row["parent_run_id"], row["parent_seq"]) == ("r", mark["seq"])
    assert doc["final"] == first["final"]
    assert snapshot(db, "r") == before
    # the fork executes exactly what the parent had not finished at that checkpoint
    done = {(r["inference_id"], r["iteration"]) for r in query(
        db, "SELECT * FROM results WHERE run_id = 'r' AND seq <= ? AND kind = 'item'", mark["seq"])}
    ran = [(r["inference_id"], r["iteration"]) for r in executions(db, new_id)]
    assert len(ran) == len(set(ran))
    assert set(ran) == executed_keys(db, "r") - done
    own = [r["seq"] for r in query(db, "SELECT seq FROM results WHERE run_id = ? ORDER BY seq", new_id)]
    assert own and own[0] == mark["seq"] + 1  # the fork's seq continues after parent_seq (§9.6)


# ---------------------------------------------------------------- f. environment check


def test_resume_with_another_model_is_allowed_without_llm_steps(tmp_path):
    plan = copy_plan(tmp_path / "plan") / "small.ncd"
    db = tmp_path / "runs.db"
    ok_json(ncd_run("run", plan, "--db", db, "--run-id", "r", "--input", "{seed}=1", "--llm-model", "model-a",
                    "--json"))
    proc = ncd_run("resume", plan, "--run-id", "r", "--db", db, "--llm-model", "model-b", "--json")
    doc = ok_json(proc)
    assert doc["run_id"] == "r" and doc["outcome"] == "completed"


def test_resuming_an_unknown_run_exits_2_with_one_line(tmp_path):
    plan = copy_plan(tmp_path / "plan") / "small.ncd"
    db = tmp_path / "runs.db"
    ok_json(ncd_run("run", plan, "--db", db, "--run-id", "r", "--input", "{seed}=1", "--json"))
    msg = one_line_error(ncd_run("resume", plan, "--run-id", "nope", "--db", db, "--json", real=True))
    assert "nope" in msg


# ---------------------------------------------------------------- property: random single edits (Python API)


PYTHON_STEPS = sorted(set(re.findall(r"%\{python\}: (?:steps|bonus)\.py:(\w+)\n",
                                     (PLAN_DIR / "pipeline.ncd").read_text())))


@settings(max_examples=10, deadline=None)
@given(fn=st.sampled_from(PYTHON_STEPS))
def test_property_random_binding_edit_reruns_the_schedule_set(base, fn):
    from runtime.orchestrator import Orchestrator

    assert len(PYTHON_STEPS) >= 20
    work = Path(tempfile.mkdtemp(dir=base["root"], prefix=f"edit-{fn}-"))
    plan = copy_plan(work / "plan") / "pipeline.ncd"
    text = plan.read_text()
    text, n = re.subn(rf"(%\{{python\}}: \w+\.py:){fn}\n", rf"\g<1>{fn}_v2\n", text)
    assert n == 1
    plan.write_text(text)
    new = compile_plan(plan)
    expected = expected_patch(base["compiled"], new)
    edited = next(fi for fi in new.entries if (new.binding(fi) or {}).get("function") == f"{fn}_v2")
    assert edited in expected and "1" in expected

    db = base["db"]
    orch = Orchestrator.load_checkpoint(plan, store=db, run_id="base")
    assert orch.run_id != "base"
    result = orch.run()
    orch.store.close()
    assert result.outcome == "completed"
    fresh = Orchestrator(plan, store=db)
    fresh_result = fresh.run()
    fresh.store.close()

    rows = executions(db, result.run_id)
    ran = {r["flow_index"] for r in rows}
    assert ran == expected, (fn, "missing:", sorted(expected - ran), "extra:", sorted(ran - expected))
    keys = [(r["inference_id"], r["iteration"]) for r in rows]
    assert len(keys) == len(set(keys))
    expected_ids = {new.ids[fi] for fi in expected}
    assert set(keys) == {k for k in executed_keys(db, fresh_result.run_id) if k[0] in expected_ids}
    assert result.final == fresh_result.final
    assert run_row(db, result.run_id)["parent_run_id"] == "base"
