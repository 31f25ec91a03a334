"""Foreign repositories (RUNTIME §12): `ncd-run run --concepts C.json --inferences I.json` through real subprocesses.

The fixture is the reference implementation's multi-digit addition example (tests/foreign/, copied byte for byte from
the shared corpus), run with hand-written bindings for its seven legacy semantic steps
(tests/foreign/addition_bindings.py). Test names carry the §12 item they cover.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import one_line_error

FOREIGN = Path(__file__).parent / "foreign"
CONCEPTS = FOREIGN / "addition_concepts.json"
INFERENCES = FOREIGN / "addition_inferences.json"
INPUTS = FOREIGN / "addition_inputs.json"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "runtime"
REPO = Path(__file__).resolve().parents[1]

# flow index -> binding function of the seven legacy semantic steps
STEPS = {"1.1.2": "digit_sum", "1.1.2.4.2.1.2": "unit_digit", "1.1.3.2.1.2": "remove_digit", "1.1.3.3": "is_zero",
         "1.1.3.4": "carry_is_zero", "1.1.3.4.2.2": "quotient", "1.1.4": "remainder"}
LEGACY = {"1.1.2": "imperative_python", "1.1.2.4.2.1.2": "imperative_python", "1.1.3.2.1.2": "imperative_python",
          "1.1.3.3": "judgement_python", "1.1.3.4": "judgement_python", "1.1.3.4.2.2": "imperative_python",
          "1.1.4": "imperative_python"}


def ncd_run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NCD_LLM", "OPENAI_"))}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def bindings(skip: tuple[str, ...] = ()) -> list[str]:
    out: list[str] = []
    for fi, fn in STEPS.items():
        if fi not in skip:
            out += ["--binding", f"{fi}=addition_bindings.py:{fn}"]
    return out


def pair(tmp: Path, a: int, b: int) -> Path:
    """An inputs file in the fixture's own form: `%(…)` element wrappers on axes [number pair, number]."""
    f = tmp / f"in_{a}_{b}.json"
    f.write_text(json.dumps({"{number pair}": {"data": [[f"%({a})", f"%({b})"]], "axes": ["number pair", "number"]}}))
    return f


def digits(doc: dict) -> list[int]:
    """The final `{new number pair}`: one digit per position along `number pair`, least significant first."""
    final = doc["final"]["{new number pair}"]
    assert final["axes"][0] == "number pair"

    def leaf(x):
        while isinstance(x, list):
            assert len(x) == 1, x
            x = x[0]
        return x
    return [int(leaf(d)) for d in final["data"]]


def run_foreign(tmp: Path, *extra: str, concepts: Path = CONCEPTS, inferences: Path = INFERENCES,
                command: str = "run") -> subprocess.CompletedProcess:
    return ncd_run(command, "--concepts", str(concepts), "--inferences", str(inferences), "--db", str(tmp / "runs.db"),
                   *extra, cwd=tmp)


# ---------------------------------------------------------------- legacy semantic sequences (§12 last bullet)

def test_s12_legacy_sequences_refused_without_flag_naming_flow_indices_and_sequences(tmp_path):
    line = one_line_error(run_foreign(tmp_path, "--inputs", str(INPUTS), *bindings()))
    assert "--legacy-sequences" in line
    for fi, seq in LEGACY.items():
        assert f"{fi} ({seq})" in line


def test_s12_legacy_step_without_binding_or_replay_refused_before_the_run(tmp_path):
    line = one_line_error(run_foreign(tmp_path, "--inputs", str(INPUTS), "--legacy-sequences",
                                      *bindings(skip=("1.1.4", "1.1.3.3"))))
    assert "1.1.3.3 (judgement_python)" in line and "1.1.4 (imperative_python)" in line
    assert "1.1.2 " not in line  # bound steps are not named
    listed = ncd_run("list-runs", "--db", str(tmp_path / "runs.db"), "--json", cwd=tmp_path)
    assert json.loads(listed.stdout or "[]") == []  # refused before anything was stored


def test_s12_legacy_step_with_replay_runs_from_the_recording_only(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    # served by the recording alone: an empty recording is a replay miss (a failed run), never generated code
    proc = run_foreign(tmp_path, "--inputs", str(INPUTS), "--legacy-sequences", "--replay", str(empty),
                       *bindings(skip=("1.1.4",)), "--json")
    assert proc.returncode == 1, proc.stderr
    assert "replay_miss" in proc.stderr and "1.1.4" in proc.stderr
    line = one_line_error(run_foreign(tmp_path, "--inputs", str(INPUTS), "--legacy-sequences", "--replay",
                                      str(empty), "--replay-fallback", "live", *bindings(skip=("1.1.4",))))
    assert "1.1.4 (imperative_python)" in line


# ---------------------------------------------------------------- running the addition repository

def test_s12_addition_fixture_inputs_give_the_exact_sum(tmp_path):
    proc = run_foreign(tmp_path, "--inputs", str(INPUTS), "--legacy-sequences", *bindings(), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["outcome"] == "completed"
    assert digits(doc) == [1, 2, 2]  # 123 + 98 = 221, least significant digit first


@pytest.mark.parametrize("a,b", [(55, 55), (999, 1), (12, 3), (100, 5), (7, 7), (0, 0)])
def test_s12_addition_digits_of_the_exact_sum(tmp_path, a, b):
    """Equal operands included: the reference compared loop elements by value and lost one of them (§5.4)."""
    proc = run_foreign(tmp_path, "--inputs", str(pair(tmp_path, a, b)), "--legacy-sequences", *bindings(), "--json")
    assert proc.returncode == 0, proc.stderr
    expected = [int(d) for d in reversed(str(a + b))]
    assert digits(json.loads(proc.stdout)) == expected


def test_s12_ids_in_the_files_are_ignored_and_missing_optional_keys_take_defaults(tmp_path):
    inferences = json.loads(INFERENCES.read_text())
    for i, entry in enumerate(inferences):
        entry["id"] = f"renamed-{i}"
        wi = entry["working_interpretation"]
        if entry["inference_sequence"] != "quantifying":
            for flag in ("start_without_value", "start_without_value_only_once", "start_without_function",
                         "start_without_function_only_once", "start_with_support_reference_only",
                         "start_without_support_reference_only_once"):
                entry.pop(flag)
        if entry["inference_sequence"] == "judgement_python":
            wi.pop("value_order")  # missing value_order: all value concepts in order
            entry["value_concepts"] = [v for v in entry["value_concepts"] if not v.startswith(("nominal", "prompt"))]
    concepts = json.loads(CONCEPTS.read_text())
    for entry in concepts:
        entry["id"] = "x"
        entry.pop("is_invariant")
        entry.pop("natural_name")
    (tmp_path / "c.json").write_text(json.dumps(concepts))
    (tmp_path / "i.json").write_text(json.dumps(inferences))
    (tmp_path / "addition_bindings.py").write_bytes((FOREIGN / "addition_bindings.py").read_bytes())
    proc = run_foreign(tmp_path, "--inputs", str(pair(tmp_path, 48, 57)), "--legacy-sequences", *bindings(),
                       "--json", concepts=tmp_path / "c.json", inferences=tmp_path / "i.json")
    assert proc.returncode == 0, proc.stderr
    assert digits(json.loads(proc.stdout)) == [5, 0, 1]


def test_s12_legacy_operator_texts_in_concept_names_are_only_names(tmp_path):
    """`*every(…)`, `&across(…)`, `@if(…)`, `$.(…)`, `$+(…)` renamed to plain labels everywhere: the same sum,
    because behaviour comes from `working_interpretation.syntax`."""
    concepts = json.loads(CONCEPTS.read_text())
    renamed = {c["concept_name"]: f"operator {i}" for i, c in enumerate(concepts)
               if c["type"].startswith(("*", "$", "&", "@"))}
    assert len(renamed) >= 15

    def swap(x):
        if isinstance(x, str):
            return renamed.get(x, x)
        if isinstance(x, list):
            return [swap(v) for v in x]
        if isinstance(x, dict):
            return {swap(k): swap(v) for k, v in x.items()}
        return x
    (tmp_path / "c.json").write_text(json.dumps(swap(concepts)))
    (tmp_path / "i.json").write_text(json.dumps(swap(json.loads(INFERENCES.read_text()))))
    (tmp_path / "addition_bindings.py").write_bytes((FOREIGN / "addition_bindings.py").read_bytes())
    proc = run_foreign(tmp_path, "--inputs", str(pair(tmp_path, 64, 36)), "--legacy-sequences", *bindings(),
                       "--json", concepts=tmp_path / "c.json", inferences=tmp_path / "i.json")
    assert proc.returncode == 0, proc.stderr
    assert digits(json.loads(proc.stdout)) == [0, 0, 1]


def test_s12_schedule_derived_loops_gates_and_content_ids():
    """R§4 derivation (library API): three loops, the nested if!/if pair and the four `after` gates."""
    from runtime.foreign import load_foreign

    plan = load_foreign(CONCEPTS, INFERENCES)
    loops = {e["flow_index"]: e for e in plan.schedule["loops"]}
    assert sorted(loops) == ["1", "1.1.2.4.2", "1.1.3.2"]
    assert [loops[i]["index"] for i in ("1", "1.1.2.4.2", "1.1.3.2")] == [1, 2, 3]
    assert loops["1"]["carried"] == [{"concept": "{carry-over number}*1", "name": "{carry-over number}*1",
                                      "carry_over": 1, "initial": None}]
    assert loops["1"]["body"] == "1.1" and "{number pair}" in loops["1"]["invariants"]
    gates = {g["flow_index"]: g for g in plan.schedule["gates"]}
    assert gates["1.1.3.1"]["marker"] == "if!" and gates["1.1.3.1"]["gated"] == "1.1.3"
    assert gates["1.1.3.1.1"]["marker"] == "if" and gates["1.1.3.1.1"]["gated"] == "1.1.3.1"
    assert sorted(fi for fi, g in gates.items() if g["marker"] == "after") == [
        "1.1.3.3.1", "1.1.3.4.1", "1.1.3.4.2.2.1", "1.1.4.1"]
    file_ids = {e["id"] for e in json.loads(INFERENCES.read_text())}
    assert all(inf["id"].startswith("inf-") and inf["id"] not in file_ids for inf in plan.inferences.values())
    assert plan.inferences["1"]["inference_sequence"] == "looping"
    assert plan.inferences["1"]["working_interpretation"]["syntax"]["loop_index"] == 1
    assert plan.legacy == LEGACY


# ---------------------------------------------------------------- resume, fork and show on a foreign run

def test_s12_resume_fork_and_show_a_foreign_run(tmp_path):
    first = run_foreign(tmp_path, "--inputs", str(INPUTS), "--legacy-sequences", *bindings(), "--run-id", "f1",
                        "--max-executions", "30", "--json")
    assert first.returncode == 4, first.stderr  # budget_exhausted: resumable
    shown = ncd_run("show", "--run-id", "f1", "--db", str(tmp_path / "runs.db"), cwd=tmp_path)
    assert shown.returncode == 0 and "1.1.2.4.2.1.2" in shown.stdout and "{digit sum}" in shown.stdout
    # a compiled plan cannot resume it: the run records that it ran foreign repositories
    other = ncd_run("resume", str(REPO / "tests" / "runtime_plans" / "gate.ncd"), "--run-id", "f1",
                    "--db", str(tmp_path / "runs.db"), cwd=tmp_path)
    assert "--concepts" in one_line_error(other)
    # the same pair: continuity (bindings and --legacy-sequences come from the stored run)
    resumed = run_foreign(tmp_path, "--run-id", "f1", "--max-executions", "0", "--json", command="resume")
    assert resumed.returncode == 0, resumed.stderr
    doc = json.loads(resumed.stdout)
    assert doc["run_id"] == "f1" and digits(doc) == [1, 2, 2]
    forked = run_foreign(tmp_path, "--from-run", "f1", "--new-run-id", "f2", "--json", command="fork")
    assert forked.returncode == 0, forked.stderr
    assert json.loads(forked.stdout)["executed"] == 0  # every result kept
    assert digits(json.loads(forked.stdout)) == [1, 2, 2]
    shown = ncd_run("show", "--run-id", "f2", "--db", str(tmp_path / "runs.db"), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr


def test_s12_resume_with_changed_repositories_forks(tmp_path):
    first = run_foreign(tmp_path, "--inputs", str(INPUTS), "--legacy-sequences", *bindings(), "--run-id", "g1",
                        "--max-executions", "30")
    assert first.returncode == 4, first.stderr
    (tmp_path / "c.json").write_bytes(CONCEPTS.read_bytes())
    (tmp_path / "i.json").write_bytes(INFERENCES.read_bytes() + b"\n")  # other bytes: another plan identity
    (tmp_path / "addition_bindings.py").write_bytes((FOREIGN / "addition_bindings.py").read_bytes())
    proc = run_foreign(tmp_path, "--run-id", "g1", "--max-executions", "0", "--json", command="resume",
                       concepts=tmp_path / "c.json", inferences=tmp_path / "i.json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["run_id"] != "g1" and "forked run" in proc.stderr
    assert digits(doc) == [1, 2, 2]


# ---------------------------------------------------------------- bad foreign files

def _bad(tmp: Path, which: str, content: str) -> tuple[Path, Path]:
    c, i = tmp / "c.json", tmp / "i.json"
    c.write_bytes(CONCEPTS.read_bytes())
    i.write_bytes(INFERENCES.read_bytes())
    (c if which == "c" else i).write_text(content)
    return c, i


def _edited(entries_path: Path, index: int, **changes) -> str:
    entries = json.loads(entries_path.read_text())
    entries[index].update(changes)
    return json.dumps(entries)


@pytest.mark.parametrize("which,content,expected", [
    ("c", "{not json", "c.json"),
    ("i", '{"an": "object"}', "i.json"),
    ("i", "[1, 2]", "i.json: entry 0"),
    ("i", _edited(INFERENCES, 2, inference_sequence="imperative_telepathy"), "i.json: entry 2 (flow index 1.1.2)"),
    ("i", _edited(INFERENCES, 3, value_concepts=["{nowhere}"]), "i.json: entry 3 (flow index 1.1.2.4)"),
    ("c", _edited(CONCEPTS, 0, concept_name=7), "c.json: entry 0"),
    ("i", _edited(INFERENCES, 1, flow_info={}), "i.json: entry 1"),
])
def test_s12_bad_foreign_files_exit_2_naming_file_and_entry(tmp_path, which, content, expected):
    c, i = _bad(tmp_path, which, content)
    line = one_line_error(run_foreign(tmp_path, "--inputs", str(INPUTS), "--legacy-sequences", *bindings(),
                                      concepts=c, inferences=i))
    assert expected in line
    if "telepathy" in content:
        assert "imperative_telepathy" in line
    if "{nowhere}" in content:
        assert "{nowhere}" in line


def test_s12_plan_and_foreign_pair_are_exclusive(tmp_path):
    assert "not both" in one_line_error(ncd_run("run", str(REPO / "tests" / "runtime_plans" / "gate.ncd"),
                                                "--concepts", str(CONCEPTS), "--inferences", str(INFERENCES),
                                                cwd=tmp_path))
    assert "together" in one_line_error(ncd_run("run", "--concepts", str(CONCEPTS), cwd=tmp_path))
    assert "PLAN" in one_line_error(ncd_run("run", cwd=tmp_path))


# ---------------------------------------------------------------- the shared corpus itself

def test_s12_shared_corpus_addition_runs_directly(tmp_path):
    if not (SHARED / "addition_concepts.json").exists():
        pytest.skip(f"the shared corpus is not present at {SHARED}")
    for name in ("addition_concepts.json", "addition_inferences.json", "addition_inputs.json"):
        assert (SHARED / name).read_bytes() == (FOREIGN / name).read_bytes(), f"tests/foreign/{name} drifted"
    # bindings are resolved against the plan directory: point it at tests/foreign
    proc = run_foreign(tmp_path, "--inputs", str(SHARED / "addition_inputs.json"), "--legacy-sequences",
                       "--plan-dir", str(FOREIGN), *bindings(), "--json",
                       concepts=SHARED / "addition_concepts.json", inferences=SHARED / "addition_inferences.json")
    assert proc.returncode == 0, proc.stderr
    assert digits(json.loads(proc.stdout)) == [1, 2, 2]


# ---------------------------------------------------------------- output kind of foreign steps (FIDELITY §1)

def _one_step(tmp: Path, **interpretation) -> tuple[Path, Path]:
    concepts = [
        {"concept_name": "{text}", "type": "{}", "is_ground_concept": True, "reference_axis_names": ["_none_axis"]},
        {"concept_name": "[words]", "type": "[]", "axis_name": "word", "is_final_concept": True},
        {"concept_name": "::(split {1})", "type": "::({})", "is_ground_concept": True},
    ]
    inferences = [{"flow_info": {"flow_index": "1"}, "inference_sequence": "imperative_in_composition",
                   "concept_to_infer": "[words]", "function_concept": "::(split {1})",
                   "value_concepts": ["{text}"], "working_interpretation": interpretation}]
    (tmp / "c.json").write_text(json.dumps(concepts))
    (tmp / "i.json").write_text(json.dumps(inferences))
    (tmp / "addition_bindings.py").write_bytes((FOREIGN / "addition_bindings.py").read_bytes())
    return tmp / "c.json", tmp / "i.json"


@pytest.mark.parametrize("interpretation,axes,data", [
    ({"paradigm": "h_Literal-c_Execute-o_ListLiteral", "output_axis_name": "token"}, ["token"], ["a", "b", "c"]),
    ({"paradigm": "h_Literal-c_Execute-o_ListLiteral"}, ["word"], ["a", "b", "c"]),  # the cti's axis_name
    ({"paradigm": "h_Literal-c_Execute-o_ListLiteral", "create_axis_on_list_output": False}, ["_none_axis"],
     [["a", "b", "c"]]),
    ({"paradigm": "h_Literal-c_Execute-o_Literal", "output_axis_name": "token"}, ["_none_axis"], [["a", "b", "c"]]),
    ({}, ["_none_axis"], [["a", "b", "c"]]),  # no paradigm: not a list kind
])
def test_s12_fidelity1_foreign_output_kind_decides_list_spreading(tmp_path, interpretation, axes, data):
    c, i = _one_step(tmp_path, **interpretation)
    proc = run_foreign(tmp_path, "--input", '{text}="a b c"', "--binding", "1=addition_bindings.py:split_words",
                       "--json", concepts=c, inferences=i)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["final"]["[words]"] == {"axes": axes, "data": data}


def test_s12_fidelity1_iter10_committed_repository_spreads_1_7_along_concept_line():
    concepts, inferences = SHARED.parent / "iter10_concept_repo.json", SHARED.parent / "iter10_inference_repo.json"
    if not concepts.exists():
        pytest.skip(f"the shared corpus is not present at {SHARED.parent}")
    from runtime.foreign import load_foreign

    plan = load_foreign(concepts, inferences)
    assert plan.inferences["1.7"]["working_interpretation"]["output_axis"] == "concept line"
    assert plan.inferences["1.8"]["working_interpretation"]["syntax"]["group_base"] == "concept line"
    assert plan.legacy == {}


def test_s12_append_takes_a_loop_aggregate_with_a_size_one_value_axis():
    """`$+` of `{number pair to append}` (a loop aggregate on [number, value]) into `{number pair}` on
    [number pair, number]: the size-1 `value` axis of scalar iteration results places nothing (RT§5.4, §5.1)."""
    from runtime.reference import append, from_data

    dest = from_data([[123, 98]], ["number pair", "number"])
    item = from_data([[12], [9]], ["number", "value"])
    grown = append(dest, item, "number pair")
    assert grown.axes == ("number pair", "number")
    assert grown.shape == (2, 2)
    assert list(grown.cells()) == [123, 98, 12, 9]


def test_s12_a_binding_written_in_the_file_does_not_serve_a_legacy_step(tmp_path):
    """Only --binding or replay run a legacy step: a `python_binding` in the file could name generated code."""
    inferences = json.loads(INFERENCES.read_text())
    step = next(e for e in inferences if e["flow_info"]["flow_index"] == "1.1.4")
    step["working_interpretation"]["python_binding"] = {"path": "generated_scripts/op_get_remainder.py",
                                                        "function": "main"}
    (tmp_path / "i.json").write_text(json.dumps(inferences))
    line = one_line_error(run_foreign(tmp_path, "--inputs", str(INPUTS), "--legacy-sequences",
                                      *bindings(skip=("1.1.4",)), inferences=tmp_path / "i.json"))
    assert "1.1.4 (imperative_python)" in line
