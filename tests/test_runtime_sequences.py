"""Runtime sequences end to end: small `.ncd` plans under tests/runtime_plans/ run through the Python API."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.orchestrator import Orchestrator
from runtime.store import MemoryStore

PLANS = Path(__file__).parent / "runtime_plans"


def run(name: str, inputs: dict | None = None, **options):
    return Orchestrator(PLANS / f"{name}.ncd", inputs=inputs, options=options or None, store=MemoryStore()).run()


def final(result, concept):
    assert result.outcome == "completed", result.reasons
    return result.final[concept]


# ---------------------------------------------------------------- assigning

def test_identity_copies_the_value():
    assert final(run("identity"), "{copy}") == {"axes": ["_none_axis"], "data": ["hello"]}


def test_abstraction_lays_the_face_value_along_its_axes():
    assert final(run("abstraction"), "[letters]") == {"axes": ["letter"], "data": ["a", "b", "c"]}


def test_append_grows_the_destination_along_the_axis():
    assert final(run("append"), "[messages]") == {"axes": ["message"], "data": ["first", "second"]}


def test_selection_by_index_key_and_unpack():
    assert final(run("select_index"), "{second}")["data"] == ["b"]
    assert final(run("select_key"), "{name}")["data"] == ["Ada"]
    assert final(run("select_unpack"), "[parts]") == {"axes": ["part"], "data": ["x", "y"]}


# ---------------------------------------------------------------- grouping

def test_group_in_builds_a_labelled_object():
    assert final(run("group_in"), "{bundle}")["data"] == [{"{prices}": "up", "{news}": "calm"}]


def test_group_across_creates_an_axis():
    assert final(run("group_across"), "{signals}") == {"axes": ["signal"], "data": ["prices", "news"]}


# ---------------------------------------------------------------- timing, `$.` fallback, judgements

def test_false_gate_skips_the_branch_and_dollar_dot_falls_back():
    result = run("gate", {"{ticket text}": "win FREE MONEY now"})
    assert final(result, "{reply}")["data"] == ["canned"]
    assert result.executed == 3  # judgement, gate, root; the gated draft is skipped


def test_passing_gate_runs_the_branch_and_dollar_dot_takes_the_first_candidate():
    result = run("gate", {"{ticket text}": "my printer broke"})
    assert final(result, "{reply}")["data"] == ["Dear customer, about: my printer broke"]
    assert result.cycles == 4


def test_after_gate_passes():
    assert final(run("after"), "{loud}")["data"] == ["GO"]


def test_for_each_judgement_masks_the_gated_step_per_element():
    result = run("foreach")
    assert final(result, "{follow-up plan}")["data"] == [
        "follow up on urgent: server down | follow up on URGENT call me"]


def test_missing_ground_data_blocks_before_running():
    result = run("gate")
    assert result.outcome == "blocked"
    assert result.reasons == [{"reason": "missing_ground_data", "concepts": ["{ticket text}"]}]
    assert result.executed == 0


def test_binding_exception_fails_the_step_naming_inference_and_element():
    result = run("fails")
    assert result.outcome == "failed"
    [reason] = result.reasons
    assert reason["failed"] == "1" and reason["kind"] == "executor_error"
    assert "fns.py:boom raised ValueError: cannot handle ok" in reason["message"]
    assert reason["element"] == {"axes": ["item"], "cell": [0]}


# ---------------------------------------------------------------- loops

@pytest.mark.parametrize("chapters, notes", [
    ([], []),
    (["only"], ["only after (start)"]),
    (["c1", "c2", "c3"], ["c1 after (start)", "c2 after c1 after (start)", "c3 after c2 after c1 after (start)"]),
])
def test_loop_with_carried_value_over_empty_one_and_many(chapters, notes):
    result = run("carried", {"[chapters]": chapters})
    assert final(result, "{summary}")["data"] == [notes]


def test_loop_keeps_duplicates_and_aggregates_by_position():
    result = run("loop_simple", {"[words]": ["a", "b", "a"]})
    assert final(result, "[loud words]") == {"axes": ["word", "value"], "data": [["A"], ["B"], ["A"]]}
    assert result.executed == 7  # activation + 3 x (body `$.` + imperative)


def test_empty_loop_yields_an_empty_aggregate():
    result = run("loop_simple", {"[words]": []})
    assert final(result, "[loud words]") == {"axes": ["word", "value"], "data": []}


def test_max_loop_iterations_exhausts_the_budget():
    result = run("loop_simple", {"[words]": ["a", "b", "c"]}, max_loop_iterations=2)
    assert result.outcome == "budget_exhausted"


def test_results_do_not_depend_on_concurrency():
    one = run("carried", {"[chapters]": ["a", "b", "c", "d"]}, max_concurrency=1)
    many = run("carried", {"[chapters]": ["a", "b", "c", "d"]}, max_concurrency=8)
    assert one.final == many.final and one.cycles == many.cycles and one.executed == many.executed


def test_accumulator_inside_a_loop_is_read_after_the_loop_finishes():
    result = run("accumulate")
    # `$% %>([])` without `%:` is one (list) element (FIDELITY §5) and the in-place `$+` grows that list (E10);
    # both cells of the reader outside the loop see every note: it waited for the loop
    assert final(result, "{summary}")["data"] == [[{"notes": "A", "all": ["A", "B"]}],
                                                  [{"notes": "B", "all": ["A", "B"]}]]


def test_nested_loops_restart_per_outer_iteration_and_pad_ragged_rows():
    result = run("nested", {"[rows]": [["a", "b"], ["c"]]})
    assert final(result, "[table]") == {"axes": ["row", "cell", "value"],
                                        "data": [[["A"], ["B"]], [["C"], [{"$ncd": "skip"}]]]}
