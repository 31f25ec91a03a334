"""FIDELITY run semantics (F3): list outputs (§1), the loop axis (§2), growing collections (§4, errata E1, E2, E7,
E8, E10), `$%` face values and `_none_axis` (§5), the runtime major version (E16) and the all-Skip warning (issue 14
item 2).

The runnable example plans of the amendment are copied unchanged under tests/fidelity_plans/tests/ (bindings t.py,
c.py); F3's own variants are under tests/fidelity_plans/runs/ (bindings f3.py). Runs go through the real `ncd-run`
CLI in a subprocess; compile-side fields through `ncdc.compile.compile_plan`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ncdc.compile import compile_plan
from ncdc.interpret import is_list_kind, output_kind
from runtime.reference import NONE_AXIS, Reference, ReferenceShapeError, from_data

TESTS = Path(__file__).parent
EXAMPLES = TESTS / "fidelity_plans" / "tests"
VARIANTS = TESTS / "fidelity_plans" / "runs"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_", "NCD_DEBUG"))}


def ncd_run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=_env(), timeout=180)


def run_plan(plan: Path, tmp_path: Path, *extra: str) -> tuple[dict[str, Any], subprocess.CompletedProcess]:
    proc = ncd_run("run", str(plan), "--db", str(tmp_path / "runs.db"), "--json", *extra, cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout), proc


def completed(plan: Path, tmp_path: Path, *extra: str) -> dict[str, Any]:
    out, proc = run_plan(plan, tmp_path, *extra)
    assert proc.returncode == 0 and out["outcome"] == "completed", proc.stderr
    return out


def interpretations(plan: Path) -> dict[str, dict[str, Any]]:
    result = compile_plan(plan.read_bytes(), plan.name)
    assert result.ok, [str(d) for d in result.check.diagnostics]
    return {e["flow_info"]["flow_index"]: e["working_interpretation"] for e in result.inferences}


def executions(db: Path, run_id: str) -> dict[str, int]:
    """Executed (not restored, not skipped) result rows per flow index."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT flow_index, COUNT(*) FROM results WHERE run_id = ? AND kind = 'item' "
                           "AND status = 'completed' GROUP BY flow_index", (run_id,)).fetchall()
    finally:
        con.close()
    return dict(rows)


# ---------------------------------------------------------------- §1 list outputs

@pytest.mark.parametrize(("paradigm", "kind", "listy"), [
    ("v_ScriptLocation-h_Literal-c_Execute-o_Literal", "o_Literal", False),
    ("v_ScriptLocation-h_Literal-c_Execute-o_ListLiteral", "o_ListLiteral", True),
    ("h_LiteralPath-c_ReadFile-o_FileLocationList", "o_FileLocationList", True),
    ("v_PromptLocation-h_Literal-c_GenerateThinkJson-o_List", "o_List", True),
    ("v_PromptLocation-h_Literal-c_GenerateThinkJson-o_list", "o_list", False),  # case-sensitive (E24)
    (None, None, False),  # no paradigm (a Python binding alone, the default LLM executor): not a list kind
])
def test_fidelity_1_output_kind_is_the_paradigms_o_part(paradigm, kind, listy):
    assert output_kind(paradigm) == kind
    assert is_list_kind(paradigm) is listy


def test_fidelity_1_i1_output_axis_is_null_without_a_list_kind():
    wi = interpretations(EXAMPLES / "i1_list_output.ncd")
    semantic = {fi: w for fi, w in wi.items() if "value_order" in w}
    assert semantic and all(w["output_axis"] is None for w in semantic.values())


def test_fidelity_1_i1_list_output_runs_each_step_once_per_cell(tmp_path):
    """§1(d): split once, keep once on the whole list, the loop iterates the kept lines (length twice)."""
    out = completed(EXAMPLES / "i1_list_output.ncd", tmp_path)
    assert out["final"]["[lengths]"] == {"axes": ["line", "value"], "data": [[1], [2]]}
    counts = executions(tmp_path / "runs.db", out["run_id"])
    wi = interpretations(EXAMPLES / "i1_list_output.ncd")
    by_binding = {w["python_binding"]["function"]: counts.get(fi, 0) for fi, w in wi.items()
                  if "python_binding" in w}
    assert by_binding == {"split": 1, "keep": 1, "length": 2}


def test_fidelity_1_i1_variant_list_kind_spreads_along_the_declared_axis(tmp_path):
    """§1(d) variant: keep's paradigm `…-o_ListLiteral` spreads its answer along `kept`."""
    wi = interpretations(VARIANTS / "i1_list_kind.ncd")
    keep = next(w for w in wi.values() if w.get("python_binding", {}).get("function") == "keep")
    assert keep["output_axis"] == "kept"
    out = completed(VARIANTS / "i1_list_kind.ncd", tmp_path)
    assert out["final"]["[lengths]"] == {"axes": ["kept", "value"], "data": [[1], [2]]}


def test_fidelity_1_list_kind_without_a_new_declared_axis_uses_the_bare_name():
    plan = (":<:[concept lines]\n"
            "    <= ::(list the lines of {1})\n"
            "        | %{norm_input}: v_ScriptLocation-h_Literal-c_Execute-o_ListLiteral\n"
            "        | %{python}: f3.py:words\n"
            "    <- {text}<:{1}>\n"
            "        | %{literal_value}: \"x\"\n")
    result = compile_plan(plan, "bare.ncd")
    assert result.ok
    assert result.inferences[0]["working_interpretation"]["output_axis"] == "concept lines"


def test_fidelity_1_judgements_never_get_an_output_axis():
    plan = (":<:<all fine>\n"
            "    <= ::(check {1})<ALL True>\n"
            "        | %{norm_input}: v_ScriptLocation-h_Literal-c_Execute-o_ListBoolean\n"
            "        | %{python}: f3.py:again\n"
            "    <- {text}<:{1}>\n"
            "        | %{literal_value}: \"x\"\n")
    result = compile_plan(plan, "judge.ncd")
    assert result.ok
    assert result.inferences[0]["working_interpretation"]["output_axis"] is None


def test_fidelity_1_loop_over_a_single_list_value_iterates_its_items(tmp_path):
    """RT§5.4 as amended: one level, by position, duplicates kept, a nested list is one element; the loop axis is
    group_base."""
    out = completed(VARIANTS / "single_list_loop.ncd", tmp_path)
    assert out["final"]["[echoes]"] == {"axes": ["word", "value"], "data": [["a"], ["b"], ["a"], [["c", "d"]]]}


# ---------------------------------------------------------------- §2 the loop axis

def test_fidelity_2_colon_names_the_loop_axis_not_the_element(tmp_path):
    syntax = interpretations(EXAMPLES / "i2_loop_axis.ncd")["1"]["syntax"]
    assert syntax["group_base"] == "document axis"
    assert syntax["CurrentLoopBaseConcept"] == "{document}"
    out = completed(EXAMPLES / "i2_loop_axis.ncd", tmp_path)
    assert out["final"]["[all summaries]"] == {"axes": ["document axis", "value"], "data": [[2], [4]]}


def test_fidelity_2_loop_without_colon_takes_the_bases_axis(tmp_path):
    syntax = interpretations(EXAMPLES / "i2_loop_no_axis.ncd")["1"]["syntax"]
    assert syntax["group_base"] == "document"
    out = completed(EXAMPLES / "i2_loop_no_axis.ncd", tmp_path)
    assert out["final"]["[all summaries]"] == {"axes": ["document", "value"], "data": [[2], [4]]}


def test_fidelity_2_colon_axis_drops_braces_and_loop_version_suffixes():
    plan = (":<:[outs]\n"
            "    <= *. %>([docs]) %<({out}) %:({doc}*1) %@(1)\n"
            "        <= $. %>({out})\n"
            "        <- {out}\n"
            "            <= ::(echo {1})\n"
            "                | %{python}: f3.py:again\n"
            "            <- {d}<:{1}>\n"
            "    <- [docs]\n"
            "        | %{literal_value}: [\"a\"]\n"
            "        | %{ref_axes}: [doc]\n"
            "    <* {d}<$([docs])*>\n")
    result = compile_plan(plan, "suffix.ncd")
    assert result.ok, [str(d) for d in result.check.diagnostics]
    assert result.inferences[0]["working_interpretation"]["syntax"]["group_base"] == "doc"


# ---------------------------------------------------------------- §4 growing collections

def test_fidelity_4_e2_i4_growing_base_reads_the_iteration_start_value(tmp_path):
    out = completed(EXAMPLES / "i4_growing_base.ncd", tmp_path)
    assert out["final"]["[all replies]"] == {"axes": ["message", "value"],
                                             "data": [["re: hi"], ["re: hi!"], ["re: hi!!"]]}


def test_fidelity_4_e1_a_skipped_in_place_append_writes_nothing(tmp_path):
    """A gate that skips one append in the middle no longer ends the loop early (3 iterations, not 2)."""
    out = completed(EXAMPLES / "i4_skipped_append.ncd", tmp_path)
    assert out["final"]["[all replies]"] == {"axes": ["message", "value"],
                                             "data": [["re: hi"], ["re: yo"], ["re: hi!"]]}


def test_fidelity_4_e8_body_reader_after_the_append_sees_the_iteration_start_value(tmp_path):
    """{count} runs after the append of its iteration (it waits for a two-step chain) and still counts the
    messages as the iteration started: 1, 2, 3 (reading the grown value would give 2, 3, 3)."""
    out = completed(VARIANTS / "snapshot.ncd", tmp_path)
    assert out["final"]["[all counts]"] == {"axes": ["message", "value"], "data": [[1], [2], [3]]}


def test_fidelity_4_e7_e10_appends_into_a_single_list_value_in_flow_order(tmp_path):
    """E10: `[log]` (`$% %>([])`, one list value) grows inside; E7: its two appends per iteration apply in
    flow-index order (no lost update); the reader outside the loop sees the final list in both cells."""
    out = completed(VARIANTS / "append_single_list.ncd", tmp_path)
    log = ["a", "A", "b", "B"]
    assert out["final"]["{summary}"] == {"axes": ["entry", "value"], "data": [
        [{"notes": "a", "log": log}], [{"notes": "b", "log": log}]]}


def test_fidelity_4_e9_an_accumulator_without_data_starts_empty(tmp_path):
    """Every append is gated out and [log] has no other producer and no data: it starts empty along `entry`, so
    the reader after the loop still runs (completed, not blocked)."""
    out = completed(VARIANTS / "empty_accumulator.ncd", tmp_path)
    assert out["final"]["{summary}"] == {"axes": ["entry", "value"], "data": [
        [{"notes": "a", "log": []}], [{"notes": "b", "log": []}]]}


def test_fidelity_4_accumulator_schedule_has_no_edge_from_the_append_to_body_readers():
    result = compile_plan((EXAMPLES / "i4_growing_base.ncd").read_bytes(), "i4_growing_base.ncd")
    assert result.ok
    entries = {e["flow_index"]: e for e in result.schedule["inferences"]}
    append = next(fi for fi, e in entries.items() if e["sequence"] == "assigning"
                  and e["concept_to_infer"] == "[messages]" and "1." in fi)
    readers = [fi for fi, e in entries.items() if fi != append and fi.startswith("1.")
               and any(r["concept"] == "[messages]" for r in e["requires"]) and e["enclosing_loops"]]
    assert readers
    for fi in readers:
        needs = next(r for r in entries[fi]["requires"] if r["concept"] == "[messages]")
        assert append not in needs["producers"], fi
    # the judgement <done> reads [messages] in the body and no longer waits for the append it gates
    done = next(fi for fi, e in entries.items() if e["concept_to_infer"] == "<done>")
    assert append not in entries[done]["depends_on"]


# ---------------------------------------------------------------- §5 face values and `_none_axis`

def test_fidelity_5_i5_abstraction_face_values(tmp_path):
    wi = interpretations(EXAMPLES / "i5_abstraction.ncd")
    matrix = next(w["syntax"] for w in wi.values() if w.get("syntax", {}).get("marker") == "%"
                  and w["syntax"]["face_value"] == [[1, 2], [3, 4]])
    assert matrix["axis_names"] == ["row", "column"]
    out = completed(EXAMPLES / "i5_abstraction.ncd", tmp_path)
    assert out["final"]["{bundle}"] == {"axes": ["_none_axis"], "data": [
        {"{set}": [1, 2, 3], "{other}": "x", "{matrix}": [1, 2, 3, 4]}]}


def test_fidelity_5_i5_literal_same_result_for_literal_values(tmp_path):
    out = completed(EXAMPLES / "i5_literal.ncd", tmp_path)
    assert out["final"]["{bundle}"] == {"axes": ["_none_axis"], "data": [{"{set}": [1, 2, 3], "{other}": "x"}]}


@pytest.mark.parametrize("colon", ["%:([{row}, {column}])", "%:[{row}, {column}]", "%:[row, column]"])
def test_fidelity_5_paren_axis_list_is_the_bracket_list(colon):
    plan = f":<:{{matrix}}\n    <= $% %>([[1, 2], [3, 4]]) {colon}\n"
    result = compile_plan(plan, "m.ncd")
    assert result.ok
    assert result.inferences[0]["working_interpretation"]["syntax"]["axis_names"] == ["row", "column"]


def test_fidelity_5_none_axis_is_always_size_one():
    assert from_data([1, 2, 3], [NONE_AXIS]) == Reference.singleton([1, 2, 3])
    assert from_data([7], [NONE_AXIS]) == Reference.singleton(7)
    assert from_data("x", [NONE_AXIS]) == Reference.singleton("x")
    with pytest.raises(ReferenceShapeError):
        from_data([[1, 2], [3, 4]], ["row", NONE_AXIS])


# ---------------------------------------------------------------- issue 14 item 2: no silent wrong answers

def test_issue14_all_skip_output_lost_to_shape_warns_naming_the_step(tmp_path):
    out, proc = run_plan(VARIANTS / "lost_by_shape.ncd", tmp_path)
    assert proc.returncode == 0 and out["outcome"] == "completed"
    keep = next(fi for fi, w in interpretations(VARIANTS / "lost_by_shape.ncd").items()
                if w.get("python_binding", {}).get("function") == "keep")
    assert [(w["warning"], w["flow_index"]) for w in out["warnings"]] == [("all_skip", keep)]
    warning_lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("ncd-run: warning:")]
    assert len(warning_lines) == 1 and f"step {keep}" in warning_lines[0]


def test_issue14_a_gated_out_result_does_not_warn(tmp_path):
    """Skip caused by a gate is intended: no warning (and --json keeps its usual keys)."""
    out = completed(VARIANTS / "gated_out.ncd", tmp_path)
    assert out["final"]["{answer}"] == {"axes": ["_none_axis"], "data": [{"$ncd": "skip"}]}
    assert "warnings" not in out


def test_issue14_a_normal_run_has_no_warnings(tmp_path):
    out = completed(EXAMPLES / "i1_list_output.ncd", tmp_path)
    assert "warnings" not in out


# ---------------------------------------------------------------- E16: a runtime major version

def test_e16_a_run_of_the_previous_major_version_is_not_resumed(tmp_path):
    plan = EXAMPLES / "i2_loop_no_axis.ncd"
    out = completed(plan, tmp_path)
    db = tmp_path / "runs.db"
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE runs SET runtime_version = '1.0.0' WHERE run_id = ?", (out["run_id"],))
    con.close()
    resumed = ncd_run("resume", str(plan), "--run-id", out["run_id"], "--db", str(db), "--json", cwd=tmp_path)
    assert resumed.returncode == 2, resumed.stderr
    assert "1.0.0" in resumed.stderr and "--mode overwrite" in resumed.stderr
    assert "Traceback" not in resumed.stderr
    patched = ncd_run("fork", str(plan), "--from-run", out["run_id"], "--db", str(db), "--json", cwd=tmp_path)
    assert patched.returncode == 2 and "--mode overwrite" in patched.stderr, patched.stderr
    forked = ncd_run("fork", str(plan), "--from-run", out["run_id"], "--db", str(db), "--mode", "overwrite",
                     "--json", cwd=tmp_path)
    assert forked.returncode == 0, forked.stderr
    assert json.loads(forked.stdout)["final"] == out["final"]


# ---------------------------------------------------------------- acceptance: the iter10 formalization plan

ITER10_STANDINS = TESTS / "fidelity_plans" / "iter10" / "standins.py"
ITER10_TYPES = ["object", "relation", "proposition", "imperative", "judgement", "assigning", "grouping", "timing",
                "looping"]


def _iter10_responder(request: dict[str, Any]) -> str:
    """A plausible model per step: the type judgement answers `object` for a line holding `{…}`, else `relation`;
    each formalization answers with the syntax it was asked for."""
    import re

    prompt = " ".join(m["content"] if isinstance(m.get("content"), str) else json.dumps(m.get("content"))
                      for m in request["messages"])
    if "JUDGE" in prompt:
        return json.dumps({"thinking": "", "answer": "object" if "{" in prompt.split("JUDGE", 1)[1] else
                           "relation"})
    match = re.search(r"FORMALIZE as (\w+)", prompt)
    return json.dumps({"thinking": "", "answer": f"formalized as {match.group(1) if match else '?'}"})


def test_issue14_acceptance_iter10_runs_1_7_once_and_loops_per_concept_line(corpus, tmp_path):
    """Issue 14: the source iter10 plan runs with its inputs against a scripted OpenAI-compatible endpoint and
    Python stand-ins for its scripts: 1.7 executes once (on the whole list of parsed lines), the loop 1.8 iterates
    once per concept line, and the final output is not Skip."""
    import shutil

    from openai_server import OpenAIServer

    plan = tmp_path / "iter10_formalization.pf.ncd"
    shutil.copy(corpus / "iter10_formalization.pf.ncd", plan)
    shutil.copy(ITER10_STANDINS, tmp_path / "standins.py")
    inputs = json.loads((corpus / "iter10_inputs.json").read_text())
    source = inputs["{.ncds file}"]["data"][0][0]
    target = inputs["{.ncd output path}"]["data"][0][0]
    concept_lines = [":<:{answer}", "    <= ::(combine {1} and {2})", "    <- {question}", "    <- {context}"]
    (tmp_path / source).write_text("\n".join(concept_lines[:3] + ["/: a comment"] + concept_lines[3:]) + "\n")
    prompts = tmp_path / "provisions" / "prompts" / "formalization"
    prompts.mkdir(parents=True)
    (prompts / "judge_concept_type.md").write_text("JUDGE the concept type of this line: $input_1\n")
    for kind in ITER10_TYPES:
        (prompts / f"formalize_{kind}.md").write_text(f"FORMALIZE as {kind}: $input_1\n")
    wi = interpretations(plan)
    assert wi["1.7"]["output_axis"] is None and wi["1.8"]["syntax"]["group_base"] == "concept line"
    checks = [f"--binding=1.8.1.3.{i}=standins.py:is_{kind}" for i, kind in enumerate(ITER10_TYPES, 3)]
    with OpenAIServer(_iter10_responder) as server:
        env = _env() | {"NCD_LLM_MODEL": "scripted", "NCD_LLM_BASE_URL": server.base_url, "NCD_LLM_API_KEY": "k"}
        proc = subprocess.run(
            [sys.executable, "-m", "runtime.cli", "run", str(plan), "--inputs", str(corpus / "iter10_inputs.json"),
             "--db", str(tmp_path / "runs.db"), "--json", "--allow-dir", str(tmp_path),
             "--output-dir", str(tmp_path), "--binding=1=standins.py:pass_through",
             "--binding=1.6=standins.py:parse_ncds", "--binding=1.7=standins.py:filter_concepts",
             "--binding=1.8.1.4=standins.py:append_line", *checks],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["outcome"] == "completed" and "warnings" not in out
    final = out["final"]["{.ncd file complete}"]
    assert final["data"] and all(x != {"$ncd": "skip"} for row in final["data"] for x in row)
    counts = executions(tmp_path / "runs.db", out["run_id"])
    assert counts["1.6"] == 1 and counts["1.7"] == 1
    assert counts["1.8.1.3.2"] == len(concept_lines)  # the type judgement: once per concept line
    con = sqlite3.connect(tmp_path / "runs.db")
    try:
        iterations = con.execute("SELECT COUNT(*) FROM results WHERE run_id = ? AND kind = 'loop_iteration' "
                                 "AND flow_index = '1.8'", (out["run_id"],)).fetchone()[0]
    finally:
        con.close()
    assert iterations == len(concept_lines)
    assert (tmp_path / target).read_text() == "formalized as object\n" * len(concept_lines)
