"""Round trip: plan → IR → re-printed plan → equal IR (corpus, examples and generated plans)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS, EXAMPLES
from ncdc.frontend import parse_plan
from ncdc.printer import print_plan

PLANS = sorted(CORPUS.glob("*.ncd")) + sorted(EXAMPLES.rglob("*.ncd"))


def assert_round_trip(text: str | bytes) -> str:
    first = parse_plan(text, "plan.ncd")
    printed = print_plan(first.plan)
    second = parse_plan(printed, "plan.ncd")
    assert second.plan.lines == first.plan.lines
    assert second.plan.header_annotations == first.plan.header_annotations
    assert print_plan(second.plan) == printed  # printing is idempotent
    return printed


@pytest.mark.parametrize("path", PLANS, ids=[p.name for p in PLANS])
def test_every_plan_round_trips(path: Path) -> None:
    assert_round_trip(path.read_bytes())


def test_examples_are_present() -> None:
    assert any(EXAMPLES.rglob("*.ncd"))


# ---------------------------------------------------------------- generated plans

NAME = st.text(alphabet="abcdefghij klmno:._-/'0123", min_size=1, max_size=12).map(str.strip).filter(bool)
SUFFIX = st.sampled_from(
    ["", "*1", "*-1", "*0", "*1*2", "<:{1}>", "<:{2}>", "<$({thing})%>", "<$({checked})=>", "<$([xs])*>",
     "<$([xs])*-1>", "<which is nice>", "*1<:{1}>"]
)


@st.composite
def concept(draw: st.DrawFn) -> str:
    name = draw(NAME)
    core = draw(st.sampled_from(["{%s}", "[%s]", "<%s>", "[all {%s}]", "<{%s} is done>"])) % name
    return core + draw(SUFFIX)


@st.composite
def semantic(draw: st.DrawFn) -> str:
    agent = draw(st.sampled_from(["::", ":Planner:", ":%(composition):", ":>:"]))
    norm = draw(st.sampled_from(["", "{paradigm}"]))
    words = draw(st.lists(st.sampled_from(["write", "{1}", "{2}<$({input})%>", "from", "(notes)", "[x]", "the {object}"]), max_size=5))
    assertion = draw(st.sampled_from(["", "<ALL True>", " <{ALL True}>", "<For Each {x} True>", "<ANY False>"]))
    return f"{agent}{norm}({' '.join(words)}){assertion}"


@st.composite
def operator(draw: st.DrawFn) -> str:
    a, b = draw(concept()), draw(concept())
    return draw(
        st.sampled_from(
            [
                f"$. %>({a})",
                f"$. %>({a}) %<[{a}, {b}]",
                f"$= %>({a})",
                "$% %>([\"x\", \"y\"]) %:(signal)",
                f"$+ %>({a}) %<({b}) %:(item)",
                f"$- %>({a}) %^<$*-1>",
                f"&[#] %>[{a}, {b}] %+(message)",
                f"&[{{}}] %>[{a}, {b}] %^<$!={{axis}}> %-[[x], []]",
                "@:'(<ok>)",
                "@:! (<ok>)",
                "@. %>({done})",
                f"*. %>({a}) %<({b}) %:({{x}}) %@(2)",
            ]
        )
    )


ANNOTATION = st.sampled_from(
    ["| %{ref_axes}: [signal]", "| %{norm_input}: v_Prompt-h_Data-c_ThinkJSON-o_Normal", "| ?{sequence}: imperative",
     "| %{file_location}: data/x.json", "| %{colour}: blue", "/: a description", "? : question"]
)


@st.composite
def plan_text(draw: st.DrawFn) -> str:
    lines = [f":<:{draw(concept())}"]
    depth = 0
    for _ in range(draw(st.integers(1, 12))):
        depth = draw(st.integers(1, depth + 1))
        marker = draw(st.sampled_from(["<=", "<-", "<*"]))
        payload = draw(st.one_of(semantic(), operator())) if marker == "<=" else draw(concept())
        tail = draw(st.sampled_from(["", " | ?{flow_index}: 1.2", " | %{ref_axes}: [x] /: why"]))
        lines.append("    " * depth + f"{marker} {payload}{tail}")
        for annotation in draw(st.lists(ANNOTATION, max_size=2)):
            lines.append("    " * depth + "   " + annotation)
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan_text())
def test_generated_plans_round_trip(text: str) -> None:
    assert_round_trip(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PLANS), st.data())
def test_corpus_lines_round_trip_in_any_subset(path: Path, data: st.DataObject) -> None:
    """Any contiguous slice of a corpus plan (a plan fragment, often malformed) round-trips too."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = data.draw(st.integers(0, max(0, len(lines) - 1)))
    end = data.draw(st.integers(start, len(lines)))
    assert_round_trip("\n".join(lines[start:end]) + "\n")
