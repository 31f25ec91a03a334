"""Loading plans (RUNTIME §3): compiled directories with verified hashes, in-memory compilation, inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ncdc.compile import compile_plan
from runtime.load import LoadError, initial_values, load_plan, read_inputs
from runtime.orchestrator import Orchestrator
from runtime.reference import Reference
from runtime.store import MemoryStore

PLANS = Path(__file__).parent / "runtime_plans"


def compiled_dir(tmp_path: Path, name: str) -> Path:
    src = PLANS / f"{name}.ncd"
    result = compile_plan(src.read_bytes(), str(src))
    assert result.ok
    for fname, data in result.files(str(src)).items():
        (tmp_path / fname).write_bytes(data)
    return tmp_path


def test_compiled_directory_and_schedule_file_load_and_run(tmp_path):
    d = compiled_dir(tmp_path, "identity")
    for plan in (d, d / "identity.schedule.json"):
        result = Orchestrator(plan, store=MemoryStore()).run()
        assert result.outcome == "completed"
        assert result.final == {"{copy}": {"axes": ["_none_axis"], "data": ["hello"]}}


def test_repository_hash_mismatch_is_refused(tmp_path):
    d = compiled_dir(tmp_path, "identity")
    path = d / "identity.concept.json"
    path.write_text(path.read_text().replace('"hello"', '"HELLO"'))
    with pytest.raises(LoadError, match="SHA-256 .* does not match"):
        load_plan(d)


def test_ncd_with_errors_lists_diagnostics(tmp_path):
    bad = tmp_path / "bad.ncd"
    bad.write_text(":<:{x}\n    <= $= %>({y}) %@(1)\n    <- {y}\n")  # NCD212 (an undeclared `{y}` is only NCD935)
    with pytest.raises(LoadError) as info:
        load_plan(bad)
    lines = str(info.value).splitlines()[1:]
    assert lines and all(line.startswith(f"{bad}:") and " NCD" in line for line in lines)


def test_inputs_comments_object_form_and_unknown_names(tmp_path):
    plan = load_plan(PLANS / "carried.ncd")
    f = tmp_path / "inputs.json"
    f.write_text(json.dumps({"_note": "comment", "[chapters]": {"data": ["a", "b"], "_why": "x"}}))
    values, _ = initial_values(plan, read_inputs(f))
    assert values["[chapters]"] == Reference(["chapter"], [2], ["a", "b"])
    assert values["{note}*0"] == Reference.singleton("(start)")
    with pytest.raises(LoadError, match=r"unknown concept '\{nope\}'"):
        initial_values(plan, {"{nope}": 1})
    with pytest.raises(LoadError, match="produced by the plan"):
        initial_values(plan, {"{note}": "x"})


def test_extra_one_element_levels_are_unwrapped():
    plan = load_plan(PLANS / "gate.ncd")
    values, _ = initial_values(plan, {"{ticket text}": [["formalization.ncds"]]})
    assert values["{ticket text}"] == Reference.singleton("formalization.ncds")


def test_literal_list_on_declared_axes_is_laid_out(tmp_path):
    plan = load_plan(PLANS / "accumulate.ncd")
    values, _ = initial_values(plan, {})
    assert values["[drafts]"] == Reference(["part"], [2], ["a", "b"])


def test_file_collection_is_parsed_at_load():
    plan = load_plan(PLANS / "foreach.ncd")
    values, _ = initial_values(plan, {})
    assert values["[emails]"].axes == ("email",) and values["[emails]"].shape == (2,)


def test_missing_binding_function_is_a_load_error(tmp_path):
    (tmp_path / "fns.py").write_text("def other(x):\n    return x\n")
    plan = tmp_path / "p.ncd"
    plan.write_text((PLANS / "after.ncd").read_text())
    with pytest.raises(LoadError, match="fns.py has no function 'shout'"):
        Orchestrator(plan, store=MemoryStore())
    (tmp_path / "fns.py").unlink()
    with pytest.raises(LoadError, match="binding module fns.py not found"):
        Orchestrator(plan, store=MemoryStore())


def test_semantic_step_without_executor_or_model_fails_fast(monkeypatch):
    monkeypatch.delenv("NCD_LLM_MODEL", raising=False)
    monkeypatch.delenv("NCD_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    example = Path(__file__).parent.parent / "examples" / "ticket_triage" / "plan.ncd"
    with pytest.raises(LoadError, match=r"inference 1\.2 .* needs a language model .*NCD_LLM_MODEL"):
        Orchestrator(example, store=MemoryStore())
