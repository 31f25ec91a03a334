"""``ncdc compile``, ``ncdc graph`` and ``ncdc schema`` against REPOSITORY_FORMAT.md and CHECKS.md §1.

1. the spec's worked examples (REPOSITORY_FORMAT §6) are reproduced byte for byte by a real ``ncdc compile``;
2. builds are byte-reproducible across hash seeds, working directories and plan locations, and carry no
   absolute path (§1.1);
3. every emitted file survives a load/dump round trip through the pydantic models of ``ncdc.format`` (§1.2);
4. the repositories and the schedule are internally consistent (§3-§5) — checked on the spec examples, on the
   corpus plans and, as a hypothesis property, on generated valid plans;
5. content signatures ignore renumbering and follow definitions (§5.1);
6. the ``compile`` command line: default output directory, ``-o DIR``, ``-o -``, exit statuses, nothing written
   on errors, ``-W``, ``--ignore``, unwritable output directory, atomic overwrite (CHECKS §1.1-§1.2, §1.4);
7. ``ncdc graph`` in its four formats and ``ncdc schema``.

Subprocesses run the ``ncdc`` console script of this interpreter's environment (``python -m ncdc`` when there
is none) with PYTHONPATH set to this checkout.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ncdc
from ncdc import format as fmt
from ncdc.compile import compile_plan

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
SPEC_EXAMPLES = SHARED / "spec" / "examples"
CORPUS = SHARED / "corpus"

EXAMPLE_NAMES = ("triage", "chapters", "followups")
CORPUS_PLANS = ("iter10_formalization.pf.ncd", "gold_syntax_coherence.ncd")
KINDS = ("concept", "inference", "schedule")
ADAPTERS = {"concept": fmt.ConceptRepository, "inference": fmt.InferenceRepository, "schedule": fmt.ScheduleFile}
SPEC_VERSION_FIELD = '"ncdc_version": "0.1.0"'
START_FLAGS = (
    "start_without_value",
    "start_without_value_only_once",
    "start_without_function",
    "start_without_function_only_once",
    "start_with_support_reference_only",
    "start_without_support_reference_only_once",
)

# --- plans embedded here so that the CLI, graph and signature tests never depend on files beside the checkout --

# REPOSITORY_FORMAT §6.1 (spec/examples/triage.ncd).
TRIAGE = """\
/: Reply to a support ticket unless it is spam.
:<:{reply}
    <= $. %>({reply})
    <- {drafted reply}
        <= ::(draft a reply to {1})
            | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal
            | %{v_input_provision}: prompts/draft_reply.md
            | %{body_faculty}: llm
            <= @:!(<ticket is spam>)
            <* <ticket is spam>
        <- {ticket text}<:{1}>
    <- {canned reply}
        | %{literal_value}: "Thanks, we got your message."
    <- <ticket is spam>
        | %{ref_element}: %{truth_value}
        <= ::(check whether {1} is spam)<ALL True>
            | %{norm_input}: v_ScriptLocation-h_Literal-c_Execute-o_Boolean
            | %{python}: checks/spam.py:is_spam
            | %{body_faculty}: python_interpreter
        <- {ticket text}<:{1}>
    <- {ticket text}
        | %{file_location}: data/ticket.txt
"""

# REPOSITORY_FORMAT §6.2 (spec/examples/chapters.ncd).
CHAPTERS = """\
/: Write one note per chapter; each note continues from the previous one.
:<:{summary}
    <= ::(summarize the chapter notes {1})
        | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal
        | %{v_input_provision}: prompts/summarize.md
        | %{body_faculty}: llm
    <- [chapter notes]<:{1}>
        | %{ref_axes}: [chapter]
        | %{selector_collapse}: true
        <= *. %>([chapters]) %<({note}) %:({chapter}) %@(1)
            <= $. %>({note})
            <- {note}
                <= ::(write a note on {1} that follows on from {2})
                    | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal
                    | %{v_input_provision}: prompts/note.md
                    | %{body_faculty}: llm
                <- {chapter}<:{1}>
                <- {note}*-1<:{2}>
        <- [chapters]
            | %{file_location}: data/chapters.json
            | %{ref_axes}: [chapter]
        <- {note}*0
            | %{literal_value}: "(start of book)"
        <* {chapter}<$([chapters])*>
        <* {note}*-1
"""

# Line 2 is indented with a TAB: NCD101 (error) at 2:1, nothing else.
TAB_ERROR = ':<:{a}\n\t<= $. %>({x})\n    <- {x}\n        | %{literal_value}: "x"\n'
# A root written with `<-`: NCD920 (warning) and nothing else.
ROOT_ARROW = '<- {a}\n    <= $. %>({x})\n    <- {x}\n        | %{literal_value}: "x"\n'


# --- helpers --------------------------------------------------------------------------------------------------

def _ncdc() -> list[str]:
    script = Path(sys.executable).with_name("ncdc")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ncdc"]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("PYTHONSTARTUP", None)
    env.update(extra)
    return env


def run_ncdc(*args: str | Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``ncdc ARGS`` in ``cwd`` as a real process; stdout and stderr decoded as UTF-8."""
    completed = subprocess.run(
        [*_ncdc(), *map(str, args)], cwd=cwd, env=_env(**env), stdin=subprocess.DEVNULL, capture_output=True,
        timeout=120,
    )
    return subprocess.CompletedProcess(
        completed.args, completed.returncode, completed.stdout.decode("utf-8"), completed.stderr.decode("utf-8")
    )


def plan_stem(name: str) -> str:
    for suffix in (".pf.ncd", ".ncd"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def output_names(plan_name: str) -> list[str]:
    return [f"{plan_stem(plan_name)}.{kind}.json" for kind in KINDS]


def read_outputs(directory: Path, plan_name: str) -> dict[str, bytes]:
    return {kind: (directory / name).read_bytes() for kind, name in zip(KINDS, output_names(plan_name))}


def spec_example(name: str) -> Path:
    path = SPEC_EXAMPLES / f"{name}.ncd"
    if not path.is_file():
        pytest.skip(f"spec example {path} is not present (spec/ lives beside the checkout)")
    return path


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Relative path → (bytes, mtime_ns) of every file below ``directory``."""
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def dumps(value: Any) -> bytes:
    """REPOSITORY_FORMAT §1.2 formatting."""
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def flow_key(index: str) -> tuple[int, ...]:
    return tuple(int(part) for part in index.split("."))


def flow_sorted(indices) -> list[str]:
    return sorted(set(indices), key=flow_key)


# --- shared builds --------------------------------------------------------------------------------------------

def _available_plans() -> dict[str, Path]:
    plans = {f"{name}.ncd": SPEC_EXAMPLES / f"{name}.ncd" for name in EXAMPLE_NAMES}
    plans.update({name: CORPUS / name for name in CORPUS_PLANS})
    return {name: path for name, path in plans.items() if path.is_file()}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """Plan file name → kind → bytes written by one plain ``ncdc compile PLAN -o OUT`` of each available plan
    (spec examples and corpus plans), each plan copied into its own directory first."""
    root = tmp_path_factory.mktemp("baseline")
    builds: dict[str, dict[str, bytes]] = {}
    for name, source in _available_plans().items():
        work = root / plan_stem(name)
        work.mkdir()
        (work / name).write_bytes(source.read_bytes())
        result = run_ncdc("compile", name, "-o", "out", cwd=work)
        assert result.returncode == 0, (name, result.stdout, result.stderr)
        assert sorted(os.listdir(work / "out")) == sorted(output_names(name)), name
        builds[name] = read_outputs(work / "out", name)
    return builds


# --- 1. the worked examples, byte for byte --------------------------------------------------------------------

@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_spec_example_is_reproduced_byte_for_byte(name: str, baseline) -> None:
    spec_example(name)
    built = baseline[f"{name}.ncd"]
    for kind in KINDS:
        expected = (SPEC_EXAMPLES / f"{name}.{kind}.json").read_bytes()
        if kind == "schedule":
            text = expected.decode("utf-8")
            assert text.count(SPEC_VERSION_FIELD) == 1, "the example schedule should carry ncdc_version 0.1.0 once"
            expected = text.replace(SPEC_VERSION_FIELD, f'"ncdc_version": {json.dumps(ncdc.__version__)}').encode()
        if built[kind] != expected:
            got, want = built[kind].decode("utf-8").splitlines(), expected.decode("utf-8").splitlines()
            first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            pytest.fail(
                f"{name}.{kind}.json differs from the spec's test vector at line {first + 1}:\n"
                f"  got:      {got[first] if first < len(got) else '<end of file>'!r}\n"
                f"  expected: {want[first] if first < len(want) else '<end of file>'!r}"
            )


# --- 2. reproducibility ---------------------------------------------------------------------------------------

# Compiles each (plan, out) pair twice through the real CLI entry point, in one process whose hash seed,
# working directory and plan locations the test chooses.
_DRIVER = """
import sys
from ncdc.cli import main
args = sys.argv[1:]
for plan, first, second in zip(args[0::3], args[1::3], args[2::3]):
    for out in (first, second):
        status = main(["compile", plan, "-o", out])
        if status != 0:
            sys.exit(f"ncdc compile {plan} -o {out} exited {status}")
"""


def test_builds_are_byte_reproducible(tmp_path: Path, baseline) -> None:
    if not baseline:
        pytest.skip("neither the spec examples nor the corpus plans are present")
    seeds = ("0", "1", "12345", "random")
    for run_number, seed in enumerate(seeds):
        # A different absolute location for the plans and a different working directory in every run; plan and
        # output paths are given relative to the working directory in even runs, absolute in odd runs.
        plans_dir = tmp_path / f"plans-{run_number}" / ("nested-" * run_number + "DIRMARK")
        cwd = tmp_path / f"cwd-{run_number}" / "CWDMARK"
        plans_dir.mkdir(parents=True)
        cwd.mkdir(parents=True)
        arguments: list[str] = []
        for name, source in _available_plans().items():
            (plans_dir / name).write_bytes(source.read_bytes())
            outs = [plans_dir / f"OUTMARK-{plan_stem(name)}-{i}" for i in (1, 2)]
            paths = [plans_dir / name, *outs]
            arguments += [os.path.relpath(p, cwd) if run_number % 2 == 0 else str(p) for p in paths]
        result = subprocess.run(
            [sys.executable, "-c", _DRIVER, *arguments], cwd=cwd, env=_env(PYTHONHASHSEED=seed),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, (seed, result.stdout, result.stderr)
        for name in _available_plans():
            for i in (1, 2):
                outdir = plans_dir / f"OUTMARK-{plan_stem(name)}-{i}"
                assert sorted(os.listdir(outdir)) == sorted(output_names(name))
                built = read_outputs(outdir, name)
                for kind in KINDS:
                    assert built[kind] == baseline[name][kind], (
                        f"{name} {kind}: bytes differ from the baseline build (PYTHONHASHSEED={seed}, "
                        f"compilation {i} in that process, cwd {cwd})"
                    )
                    text = built[kind].decode("utf-8")
                    for marker in (str(tmp_path), os.path.realpath(tmp_path), "DIRMARK", "CWDMARK", "OUTMARK"):
                        assert marker not in text, f"{name}.{kind}.json contains {marker!r} (an absolute path)"
    for name, built in baseline.items():
        schedule = json.loads(built["schedule"])
        assert schedule["source"]["file"] == name  # recorded by base name only


# --- 3. round trip through the pydantic models ----------------------------------------------------------------

def assert_round_trip(built: dict[str, bytes], label: str) -> None:
    for kind in KINDS:
        adapter = ADAPTERS[kind]
        value = adapter.validate_json(built[kind])
        assert fmt.dump(adapter, value).encode("utf-8") == built[kind], f"{label}: {kind} changes in a round trip"


def test_emitted_files_round_trip_through_the_models(baseline) -> None:
    if not baseline:
        pytest.skip("neither the spec examples nor the corpus plans are present")
    for name, built in baseline.items():
        assert_round_trip(built, name)
    for name in EXAMPLE_NAMES:  # the spec's own test vectors as well
        if (SPEC_EXAMPLES / f"{name}.ncd").is_file():
            assert_round_trip({k: (SPEC_EXAMPLES / f"{name}.{k}.json").read_bytes() for k in KINDS}, f"spec {name}")


# --- 4. integrity ---------------------------------------------------------------------------------------------

def expected_signature(entry: dict, concepts: dict[str, dict], loops: list[str], by_index: dict[str, dict]) -> str:
    """REPOSITORY_FORMAT §5.1, computed from the written repositories."""
    function = concepts[entry["function_concept"]]
    names = entry["value_concepts"] + entry["context_concepts"]
    signed = {
        "schema": "ncd.inference-signature/1",
        **{key: entry[key] for key in
           ("inference_sequence", "concept_to_infer", "function_concept", "value_concepts", "context_concepts")},
        "working_interpretation": {
            key: value for key, value in entry["working_interpretation"].items()
            if key not in ("workspace", "flow_info", "blackboard")
        },
        "start_flags": {flag: entry[flag] for flag in START_FLAGS},
        "function": {key: function[key] for key in ("type", "reference_data", "reference_axis_names")},
        "ground": {
            name: {key: concepts[name][key] for key in ("reference_data", "reference_axis_names")}
            for name in names if concepts[name]["is_ground_concept"]
        },
        "loops": [by_index[loop]["function_concept"] for loop in loops],
    }
    canonical = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + sha256(canonical.encode("utf-8"))


def assert_integrity(built: dict[str, bytes], source: bytes, plan_name: str) -> None:
    concepts_list = json.loads(built["concept"])
    inferences = json.loads(built["inference"])
    schedule = json.loads(built["schedule"])

    # Files and hashes (§4.1).
    base = plan_stem(plan_name)
    assert schedule["source"] == {"file": plan_name, "sha256": sha256(source)}
    assert schedule["artifacts"] == {
        "concepts": {"file": f"{base}.concept.json", "sha256": sha256(built["concept"])},
        "inferences": {"file": f"{base}.inference.json", "sha256": sha256(built["inference"])},
    }
    assert schedule["plan_hash"] == "sha256:" + sha256(built["concept"] + built["inference"])
    assert schedule["roots"] == ["1"]

    # Concepts: one entry per name; every name an inference uses is there.
    names = [c["concept_name"] for c in concepts_list]
    assert len(names) == len(set(names)), "duplicate concept entries"
    concepts = {c["concept_name"]: c for c in concepts_list}
    for entry in inferences:
        for name in (entry["concept_to_infer"], entry["function_concept"], *entry["value_concepts"],
                     *entry["context_concepts"]):
            assert name in concepts, f"{entry['flow_info']['flow_index']} names {name!r}, which has no concept entry"
    assert schedule["final_concepts"] == [c["concept_name"] for c in concepts_list if c["is_final_concept"]]
    grounds = [c for c in concepts_list if c["is_ground_concept"] and not c["id"].startswith("fc-")]
    assert [g["name"] for g in schedule["ground_concepts"]] == [c["concept_name"] for c in grounds]
    assert [g["has_data"] for g in schedule["ground_concepts"]] == [c["reference_data"] is not None for c in grounds]

    # Inferences: flow order, one schedule entry each, matching the repository.
    order = [entry["flow_info"]["flow_index"] for entry in inferences]
    assert len(order) == len(set(order)), "duplicate flow indices"
    assert order == flow_sorted(order), "inference repository not in flow order"
    known = set(order)
    by_index = {entry["flow_info"]["flow_index"]: entry for entry in inferences}
    cti = {index: by_index[index]["concept_to_infer"] for index in order}
    entries = schedule["inferences"]
    assert [s["flow_index"] for s in entries] == order
    sched = {s["flow_index"]: s for s in entries}

    def assert_known(index, what: str) -> None:
        assert index in known, f"{what} points to {index!r}, which is not an inference"

    for s in entries:
        index, entry = s["flow_index"], by_index[s["flow_index"]]
        assert (s["id"], s["sequence"], s["concept_to_infer"]) == (
            entry["id"], entry["inference_sequence"], entry["concept_to_infer"])
        for field in ("supported_by", "depends_on", "dependents", "enclosing_loops"):
            for other in s[field]:
                assert_known(other, f"{index}.{field}")
            assert s[field] == flow_sorted(s[field]), f"{index}.{field} is not in flow order without duplicates"
        if s["gated_by"] is not None:
            assert_known(s["gated_by"], f"{index}.gated_by")

        # supported_by: the nearest inferences below this one in the index tree (§4.2).
        below = [j for j in order if j.startswith(index + ".")]
        direct = [j for j in below if not any(j.startswith(k + ".") for k in below if k != j)]
        assert s["supported_by"] == direct, f"{index}.supported_by"

        # requires: value concepts, then context concepts not already listed.
        listed = list(dict.fromkeys(entry["value_concepts"]))
        listed += [c for c in dict.fromkeys(entry["context_concepts"]) if c not in listed]
        assert [r["concept"] for r in s["requires"]] == listed, f"{index}.requires"
        producers: set[str] = set()
        for requirement in s["requires"]:
            name = requirement["concept"]
            assert name in concepts
            assert requirement["role"] == ("value" if name in entry["value_concepts"] else "context")
            assert requirement["ground"] is concepts[name]["is_ground_concept"]
            for producer in requirement["producers"]:
                assert_known(producer, f"{index}.requires[{name}].producers")
            provider = requirement["loop_provided_by"]
            if provider is None:
                assert requirement["producers"] == [j for j in order if cti[j] == name and j != index], (
                    f"{index}.requires[{name}].producers")
            else:
                assert_known(provider, f"{index}.requires[{name}].loop_provided_by")
                assert requirement["producers"] == []
                loop = next(l for l in schedule["loops"] if l["flow_index"] == provider)
                assert name in [loop["element"], *(c["name"] for c in loop["carried"])]
            producers.update(requirement["producers"])
        assert s["depends_on"] == flow_sorted(set(s["supported_by"]) | producers), f"{index}.depends_on"

        # Signature (§5.1) and id (§5.2).
        assert s["signature"] == expected_signature(entry, concepts, s["enclosing_loops"], by_index), (
            f"{index}: signature is not the §5.1 digest of its definition")

    seen: collections.Counter = collections.Counter()
    for s in entries:
        seen[s["signature"]] += 1
        suffix = "" if seen[s["signature"]] == 1 else f"-{seen[s['signature']]}"
        assert s["id"] == "inf-" + s["signature"][len("sha256:"):][:12] + suffix

    # dependents is the inverse of depends_on.
    inverse: dict[str, list[str]] = {index: [] for index in order}
    for s in entries:
        for dependency in s["depends_on"]:
            inverse[dependency].append(s["flow_index"])
    for s in entries:
        assert s["dependents"] == flow_sorted(inverse[s["flow_index"]]), f"{s['flow_index']}.dependents"

    # Levels: a topological order, level = 1 + max level of depends_on.
    for s in entries:
        assert s["level"] == 1 + max((sched[d]["level"] for d in s["depends_on"]), default=0), s["flow_index"]
        for dependency in s["depends_on"]:
            assert sched[dependency]["level"] < s["level"]
    top = max((s["level"] for s in entries), default=0)
    assert schedule["levels"] == [[i for i in order if sched[i]["level"] == k] for k in range(1, top + 1)]
    for level in schedule["levels"]:
        assert level, "empty level"
        for index in level:
            assert_known(index, "levels")

    # Critical path (§4.5).
    path: list[str] = []
    if entries:
        current = min(order, key=lambda i: (-sched[i]["level"], flow_key(i)))
        path.append(current)
        while sched[current]["depends_on"]:
            current = min(sched[current]["depends_on"], key=lambda i: (-sched[i]["level"], flow_key(i)))
            path.append(current)
    for index in schedule["critical_path"]["path"]:
        assert_known(index, "critical_path")
    assert schedule["critical_path"] == {"length": len(path), "path": path[::-1]}

    # Loops (§4.3) and enclosing_loops.
    looping = [i for i in order if by_index[i]["inference_sequence"] == "looping"]
    assert [l["flow_index"] for l in schedule["loops"]] == looping
    members: dict[str, list[str]] = {i: [] for i in order}
    for loop in schedule["loops"]:
        for field in ("flow_index", "body"):
            assert_known(loop[field], f"loop {loop['flow_index']}.{field}")
        assert loop["body"] in sched[loop["flow_index"]]["supported_by"]
        assert cti[loop["body"]] == by_index[loop["flow_index"]]["function_concept"]
        body = loop["body"]
        assert loop["reset_set"] == [j for j in order if j == body or j.startswith(body + ".")]
        for index in loop["reset_set"]:
            assert_known(index, f"loop {loop['flow_index']}.reset_set")
            members[index].append(loop["flow_index"])
        expected_reset = [cti[j] for j in loop["reset_set"]
                          if not concepts[cti[j]]["is_ground_concept"] and not concepts[cti[j]]["is_invariant"]]
        assert loop["reset_concepts"] == list(dict.fromkeys(expected_reset))
    for index in order:
        assert sched[index]["enclosing_loops"] == members[index], f"{index}.enclosing_loops"

    # Gates (§4.4) and gated_by.
    timing = [i for i in order if by_index[i]["inference_sequence"] == "timing"]
    assert [g["flow_index"] for g in schedule["gates"]] == timing
    gate_of: dict[str, str] = {}
    for gate in schedule["gates"]:
        assert gate["gated_function"] == cti[gate["flow_index"]]
        for producer in gate["condition_producers"]:
            assert_known(producer, f"gate {gate['flow_index']}.condition_producers")
            assert cti[producer] == gate["condition"]
        if gate["gated"] is not None:
            assert_known(gate["gated"], f"gate {gate['flow_index']}.gated")
            assert by_index[gate["gated"]]["function_concept"] == gate["gated_function"]
            gate_of[gate["gated"]] = gate["flow_index"]
    for index in order:
        assert sched[index]["gated_by"] == gate_of.get(index), f"{index}.gated_by"


def test_integrity_of_spec_examples_and_corpus_builds(baseline) -> None:
    if not baseline:
        pytest.skip("neither the spec examples nor the corpus plans are present")
    for name, built in baseline.items():
        assert_integrity(built, _available_plans()[name].read_bytes(), name)


# A generator of valid plans: imperatives with bound inputs, judgements gating them, `$.` specifications,
# `&[#]` groupings, loops shaped like spec/examples/chapters.ncd, literal ground leaves, and inputs that refer
# back to concepts a finished subtree produced or declared (which gives dependencies across the tree). Every
# concept is produced once and only finished subtrees are referred to, so the plans are acyclic by design.

_LLM = ("| %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal", "| %{body_faculty}: llm")
_LLM_BOOL = ("| %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Boolean", "| %{body_faculty}: llm")


def _shift(block: list[tuple[int, str]], by: int) -> list[tuple[int, str]]:
    return [(depth + by, text) for depth, text in block]


class _PlanBuilder:
    """Blocks are lists of (depth relative to the block's first line, text)."""

    def __init__(self, draw, max_depth: int) -> None:
        self.draw = draw
        self.max_depth = max_depth
        self.counter = 0
        self.grounds: list[str] = []  # ground concepts declared with a literal
        self.produced: list[str] = []  # concepts produced by a finished subtree (never inside a loop body)

    def fresh(self) -> int:
        self.counter += 1
        return self.counter

    def value(self, name: str, depth: int, binding: str = "", allow_loop: bool = False):
        """(name used, block declaring and producing it, sibling blocks the parent must add)."""
        choices = ["ground"]
        if depth < self.max_depth:
            choices += ["imperative", "imperative", "assign", "group"] + (["loop"] if allow_loop else [])
        if binding and self.grounds:
            choices.append("reuse_ground")
        if binding and self.produced:
            choices.append("reuse_produced")
        kind = self.draw(st.sampled_from(choices))
        if kind in ("reuse_ground", "reuse_produced"):
            name = self.draw(st.sampled_from(self.grounds if kind == "reuse_ground" else self.produced))
            return name, [(0, f"<- {name}{binding}")], []
        if kind == "ground":
            self.grounds.append(name)
            return name, [(0, f"<- {name}{binding}"), (1, f'| %{{literal_value}}: "value of {name[1:-1]}"')], []
        extras: list = []
        if kind == "loop":
            name, lines = self.loop(binding)
        elif kind == "group":
            name = f"[group {self.fresh()}]"
            members, body = [], []
            for _ in range(self.draw(st.integers(2, 3))):
                member, block, more = self.value(f"{{member {self.fresh()}}}", depth + 1)
                members.append(member)
                body += block + more
            lines = [(0, f"<- {name}{binding}"), (1, f"<= &[#] %>[{', '.join(members)}]"), *_shift(body, 1)]
        elif kind == "assign":
            source, block, more = self.value(f"{{source {self.fresh()}}}", depth + 1)
            lines = [(0, f"<- {name}{binding}"), (1, f"<= $. %>({source})"), *_shift(block + more, 1)]
        else:
            body, extras = self.imperative(depth + 1)
            lines = [(0, f"<- {name}{binding}"), *_shift(body, 1)]
        self.produced.append(name)
        return name, lines, extras

    def imperative(self, depth: int):
        """(block of a `<=` imperative and its bound inputs, sibling blocks for the gated concept's parent)."""
        k = self.fresh()
        n = self.draw(st.integers(1, 3))
        slots = " and ".join(f"{{{i}}}" for i in range(1, n + 1))
        lines = [(0, f"<= ::(do task {k} with {slots})"), *((1, a) for a in _LLM)]
        extras: list = []
        if self.draw(st.booleans()):  # gated; the judgement producing the condition goes beside the gated concept
            condition = f"<check {self.fresh()} holds>"
            marker = self.draw(st.sampled_from(["@:'", "@:!"]))
            lines += [(1, f"<= {marker}({condition})"), (1, f"<* {condition}")]
            extras += self.judgement(condition, depth)
        inputs: list = []
        for i in range(1, n + 1):
            _, block, more = self.value(f"{{input {self.fresh()}}}", depth, f"<:{{{i}}}>", allow_loop=True)
            lines += block
            inputs += more
        return lines + inputs, extras

    def judgement(self, condition: str, depth: int) -> list:
        k = self.fresh()
        lines = [(0, f"<- {condition}"), (1, "| %{ref_element}: %{truth_value}"),
                 (1, f"<= ::(check whether {{1}} passes test {k})<ALL True>"), *((2, a) for a in _LLM_BOOL)]
        _, block, more = self.value(f"{{evidence {k}}}", depth + 1, "<:{1}>")
        return lines + _shift(block + more, 1)

    def loop(self, binding: str):
        """spec/examples/chapters.ncd's loop with fresh names."""
        k = self.fresh()
        notes, items, item, note = f"[notes {k}]", f"[items {k}]", f"{{item {k}}}", f"{{note {k}}}"
        return notes, [
            (0, f"<- {notes}{binding}"),
            (1, f"| %{{ref_axes}}: [item{k}]"),
            (1, "| %{selector_collapse}: true"),
            (1, f"<= *. %>({items}) %<({note}) %:({item}) %@({k})"),
            (2, f"<= $. %>({note})"),
            (2, f"<- {note}"),
            (3, f"<= ::(write note {k} on {{1}} that follows on from {{2}})"),
            *((4, a) for a in _LLM),
            (3, f"<- {item}<:{{1}}>"),
            (3, f"<- {note}*-1<:{{2}}>"),
            (1, f"<- {items}"),
            (2, f"| %{{file_location}}: data/items_{k}.json"),
            (2, f"| %{{ref_axes}}: [item{k}]"),
            (1, f"<- {note}*0"),
            (2, f'| %{{literal_value}}: "(start {k})"'),
            (1, f"<* {item}<$({items})*>"),
            (1, f"<* {note}*-1"),
        ]


@st.composite
def generated_plans(draw, max_depth: int = 4) -> str:
    builder = _PlanBuilder(draw, max_depth)
    lines = [(0, ":<:{plan output}")]
    if draw(st.booleans()):
        body, extras = builder.imperative(1)
        lines += _shift(body + extras, 1)
    else:
        source, block, extras = builder.value("{final answer}", 1)
        lines += [(1, f"<= $. %>({source})"), *_shift(block + extras, 1)]
    return "".join("    " * depth + text + "\n" for depth, text in lines)


def test_integrity_of_generated_plans() -> None:
    outcomes: collections.Counter = collections.Counter()

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(generated_plans())
    def property_(text: str) -> None:
        result = compile_plan(text, "gen.ncd")
        outcomes["compiled" if result.ok else "rejected"] += 1
        assume(result.ok)
        built = dict(zip(KINDS, result.files("gen.ncd").values()))
        assert_integrity(built, text.encode("utf-8"), "gen.ncd")
        assert_round_trip(built, "generated plan")

    property_()
    # The generator only writes valid plans; a plan the checker rejects is a generator (or checker) bug, and a
    # few are tolerated only so that one such bug does not hide every other finding.
    assert outcomes["compiled"] >= 9 * outcomes["rejected"], outcomes


# --- 5. signatures --------------------------------------------------------------------------------------------

def _signatures(text: str) -> dict[str, tuple[str, str]]:
    """flow index → (concept_to_infer, signature) of a plan that must compile."""
    result = compile_plan(text, "triage.ncd")
    assert result.ok, [(d.code, d.line, d.message) for d in result.check.all_diagnostics]
    return {s["flow_index"]: (s["concept_to_infer"], s["signature"]) for s in result.schedule["inferences"]}


def _by_cti(signatures: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    ctis = [cti for cti, _ in signatures.values()]
    assert len(ctis) == len(set(ctis)), "the test plan should have unique concepts to infer"
    return {cti: (index, signature) for index, (cti, signature) in signatures.items()}


def _insert_before(text: str, anchor: str, block: str) -> str:
    assert text.count(anchor) == 1, anchor
    return text.replace(anchor, block + anchor)


def test_comments_and_blank_lines_change_no_signature() -> None:
    before = _signatures(TRIAGE)
    for variant in (
        "/: A leading comment.\n" + TRIAGE,
        _insert_before(TRIAGE, "    <- {drafted reply}\n", "    /: a comment line before the draft\n"),
        _insert_before(TRIAGE, "    <- <ticket is spam>\n", "\n\n"),
        _insert_before(TRIAGE, "        <- {ticket text}<:{1}>\n    <- {canned", "\n        /: between\n"),
    ):
        assert _signatures(variant) == before


def test_renumbering_by_a_new_sibling_changes_no_signature_of_existing_inferences() -> None:
    sibling = (
        "    <- {ticket language}\n"
        "        <= ::(detect the language of {1})\n"
        "            | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal\n"
        "            | %{body_faculty}: llm\n"
        "        <- {ticket text}<:{1}>\n"
    )
    before = _by_cti(_signatures(TRIAGE))
    after = _by_cti(_signatures(_insert_before(TRIAGE, "    <- {drafted reply}\n", sibling)))
    assert set(after) == set(before) | {"{ticket language}"}
    shifted = [cti for cti in before if before[cti][0] != after[cti][0]]
    assert set(shifted) >= {"{drafted reply}", "::(draft a reply to {1})", "<ticket is spam>"}, (
        "the insertion should have renumbered the inferences after it")
    # The root is the new inference's parent: the new concept joins its value concepts, which is a change of its
    # definition, not a renumbering. Every other existing inference keeps its signature.
    changed = {cti for cti in before if before[cti][1] != after[cti][1]}
    assert changed == {"{reply}"}, changed
    root = {e["flow_info"]["flow_index"]: e for e in compile_plan(
        _insert_before(TRIAGE, "    <- {drafted reply}\n", sibling), "triage.ncd").inferences}["1"]
    assert "{ticket language}" in root["value_concepts"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # The instruction text of one imperative: the imperative itself and its gate (whose concept to infer is
        # that functional text).
        ("::(draft a reply to {1})", "::(draft a short reply to {1})", {"1.2", "1.2.1"}),
        # A concept name: every inference whose value list names it; the gate does not name it.
        ("{ticket text}", "{ticket body}", {"1", "1.2", "1.4"}),
        # A gate condition: its producer, the gate (value and context), and the root that lists it as a value.
        ("<ticket is spam>", "<ticket looks like spam>", {"1", "1.2.1", "1.4"}),
        # Ground data named by the root's value list.
        ('"Thanks, we got your message."', '"Thank you, we got your message."', {"1"}),
        # The judgement's script binding: only the judgement.
        ("checks/spam.py:is_spam", "checks/spam.py:looks_like_spam", {"1.4"}),
    ],
)
def test_changing_a_definition_changes_exactly_the_signatures_that_name_it(old: str, new: str, expected) -> None:
    before = _signatures(TRIAGE)
    after = _signatures(TRIAGE.replace(old, new))
    assert set(after) == set(before), "the edit should not renumber anything"
    changed = {index for index in before if before[index][1] != after[index][1]}
    assert changed == expected


def test_loop_signatures_follow_the_loop_text() -> None:
    before = _signatures(CHAPTERS)
    # The body's instruction: only that imperative.
    after = _signatures(CHAPTERS.replace("write a note on {1}", "write a short note on {1}"))
    assert {i for i in before if before[i][1] != after[i][1]} == {"1.2.1.2"}
    # The summarizing prompt file is not part of any signature (files are hashed by the runtime, §5.1).
    after = _signatures(CHAPTERS.replace("prompts/summarize.md", "prompts/summary.md"))
    assert {i for i in before if before[i][1] != after[i][1]} == {"1"}


# --- 6. the compile command line ------------------------------------------------------------------------------

def test_compile_writes_into_build_beside_the_plan_by_default(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "triage.ncd").write_text(TRIAGE, encoding="utf-8")
    result = run_ncdc("compile", Path("project") / "triage.ncd", cwd=tmp_path)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert sorted(os.listdir(project / "build")) == sorted(output_names("triage.ncd"))
    assert sorted(os.listdir(tmp_path)) == ["project"], "nothing may be written into the working directory"
    expected = compile_plan(TRIAGE, "triage.ncd").files("triage.ncd")
    assert {name: (project / "build" / name).read_bytes() for name in expected} == expected


def test_compile_to_a_directory_and_to_stdout(tmp_path: Path) -> None:
    (tmp_path / "warn.ncd").write_text(ROOT_ARROW, encoding="utf-8")
    to_files = run_ncdc("compile", "warn.ncd", "-o", tmp_path / "elsewhere" / "out", cwd=tmp_path)
    assert to_files.returncode == 0, (to_files.stdout, to_files.stderr)
    assert "NCD920" in to_files.stdout  # a warning does not block the outputs
    files = read_outputs(tmp_path / "elsewhere" / "out", "warn.ncd")
    assert sorted(os.listdir(tmp_path)) == ["elsewhere", "warn.ncd"]

    to_stdout = run_ncdc("compile", "warn.ncd", "-o", "-", cwd=tmp_path)
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert "NCD920" in to_stdout.stderr and "NCD920" not in to_stdout.stdout, "diagnostics go to stderr"
    document = json.loads(to_stdout.stdout)
    assert list(document) == ["concepts", "inferences", "schedule"]
    assert to_stdout.stdout.encode("utf-8") == dumps(document)
    for key, kind in zip(document, KINDS):
        assert dumps(document[key]) == files[kind], f"-o - {key} differs from the {kind} file"
    assert sorted(os.listdir(tmp_path)) == ["elsewhere", "warn.ncd"], "-o - must not write files"


def test_compile_writes_nothing_when_the_plan_has_an_error(tmp_path: Path) -> None:
    (tmp_path / "bad.ncd").write_text(TAB_ERROR, encoding="utf-8")
    result = run_ncdc("compile", "bad.ncd", cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "bad.ncd:2:1: NCD101" in result.stdout
    assert sorted(os.listdir(tmp_path)) == ["bad.ncd"], "no build/ directory may be created"

    to_stdout = run_ncdc("compile", "bad.ncd", "-o", "-", cwd=tmp_path)
    assert to_stdout.returncode == 1, (to_stdout.stdout, to_stdout.stderr)
    assert to_stdout.stdout == "", "no document is printed for a plan with errors"
    assert "bad.ncd:2:1: NCD101" in to_stdout.stderr
    assert sorted(os.listdir(tmp_path)) == ["bad.ncd"]


def test_warnings_as_errors_blocks_the_outputs(tmp_path: Path) -> None:
    (tmp_path / "warn.ncd").write_text(ROOT_ARROW, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    for name in output_names("warn.ncd"):
        (out / name).write_text("previous build\n", encoding="utf-8")
    before = snapshot(out)
    result = run_ncdc("compile", "warn.ncd", "-W", "-o", "out", cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "NCD920" in result.stdout
    assert snapshot(out) == before, "the previous outputs must stay untouched"


def test_an_ignored_error_still_blocks_the_outputs(tmp_path: Path) -> None:
    (tmp_path / "bad.ncd").write_text(TAB_ERROR, encoding="utf-8")
    result = run_ncdc("compile", "bad.ncd", "--ignore", "NCD101", "-o", "out", cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "NCD101" not in result.stdout, "--ignore removes the code from the report"
    assert sorted(os.listdir(tmp_path)) == ["bad.ncd"], "the output directory may not even be created"


def test_unwritable_output_directory_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "triage.ncd").write_text(TRIAGE, encoding="utf-8")
    (tmp_path / "existing_file").write_text("not a directory\n", encoding="utf-8")
    result = run_ncdc("compile", "triage.ncd", "-o", "existing_file/sub", cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    messages = [line for line in result.stderr.splitlines() if line.startswith("ncdc:")]
    assert len(messages) == 1 and "existing_file" in messages[0], result.stderr
    assert (tmp_path / "existing_file").read_text(encoding="utf-8") == "not a directory\n"
    assert sorted(os.listdir(tmp_path)) == ["existing_file", "triage.ncd"]


def test_recompiling_replaces_the_files_atomically(tmp_path: Path) -> None:
    plan = tmp_path / "triage.ncd"
    plan.write_text(TRIAGE, encoding="utf-8")
    out = tmp_path / "out"
    assert run_ncdc("compile", "triage.ncd", "-o", "out", cwd=tmp_path).returncode == 0
    first = read_outputs(out, "triage.ncd")
    # Hard links keep the old files reachable: a file rewritten in place would change under them, a file
    # replaced by a rename leaves them intact.
    keep = tmp_path / "keep"
    keep.mkdir()
    for name in output_names("triage.ncd"):
        os.link(out / name, keep / name)

    changed = TRIAGE.replace("Thanks, we got your message.", "Thank you, we got your message.")
    plan.write_text(changed, encoding="utf-8")
    result = run_ncdc("compile", "triage.ncd", "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert sorted(os.listdir(out)) == sorted(output_names("triage.ncd")), "no temporary file may be left behind"
    second = read_outputs(out, "triage.ncd")
    assert second == dict(zip(KINDS, compile_plan(changed, "triage.ncd").files("triage.ncd").values()))
    assert second["concept"] != first["concept"]
    assert read_outputs(keep, "triage.ncd") == first, "the previous files were modified in place"


# --- 7. graph and schema --------------------------------------------------------------------------------------

def _dot_clusters(dot: str) -> dict[str, set[str]]:
    """cluster name → ids of the nodes declared inside it (clusters are not nested in this output)."""
    clusters: dict[str, set[str]] = {}
    current = None
    for line in dot.splitlines():
        opened = re.match(r"\s*subgraph\s+(cluster_\w+)\s*\{", line)
        if opened:
            current = opened.group(1)
            clusters[current] = set()
        elif current is not None and line.strip() == "}":
            current = None
        elif current is not None:
            node = re.match(r"\s*(\w+)\s*\[", line)
            if node:
                clusters[current].add(node.group(1))
    return clusters


def test_graph_formats(tmp_path: Path) -> None:
    (tmp_path / "chapters.ncd").write_text(CHAPTERS, encoding="utf-8")
    schedule = compile_plan(CHAPTERS, "chapters.ncd").schedule
    flow_indices = [s["flow_index"] for s in schedule["inferences"]]
    in_loops = {s["flow_index"] for s in schedule["inferences"] if s["enclosing_loops"]}
    assert in_loops, "the plan should have a loop body"

    as_json = run_ncdc("graph", "chapters.ncd", "--format", "json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    graph = json.loads(as_json.stdout)
    ids = [node["id"] for node in graph["nodes"]]
    assert len(ids) == len(set(ids))
    for edge in graph["edges"]:
        assert edge["from"] in ids and edge["to"] in ids, edge
    inference_nodes = {node["flow_index"]: node["id"] for node in graph["nodes"] if node["kind"] == "inference"}
    assert sorted(inference_nodes, key=flow_key) == flow_indices

    dot_runs = [run_ncdc("graph", "chapters.ncd", "--format", "dot", cwd=tmp_path, PYTHONHASHSEED=seed)
                for seed in ("1", "2")]
    for result in dot_runs:
        assert result.returncode == 0, result.stderr
    dot = dot_runs[0].stdout
    assert dot_runs[1].stdout == dot, "graph output must be deterministic"
    assert dot.startswith("digraph")
    for node_id in inference_nodes.values():
        assert re.search(rf"^\s*{node_id} \[", dot, re.M), node_id
    clustered = set().union(*_dot_clusters(dot).values())
    for index, node_id in inference_nodes.items():
        assert (node_id in clustered) == (index in in_loops), f"{index}: loop members and only they are clustered"

    mermaid = run_ncdc("graph", "chapters.ncd", "--format", "mermaid", cwd=tmp_path)
    assert mermaid.returncode == 0, mermaid.stderr
    assert mermaid.stdout.startswith("flowchart")
    for node_id in inference_nodes.values():
        assert node_id in mermaid.stdout


def test_graph_svg_without_graphviz_and_graph_of_a_plan_with_errors(tmp_path: Path) -> None:
    (tmp_path / "chapters.ncd").write_text(CHAPTERS, encoding="utf-8")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    svg = run_ncdc("graph", "chapters.ncd", "--format", "svg", cwd=tmp_path, PATH=str(empty))
    assert svg.returncode == 2, (svg.stdout, svg.stderr)
    assert "Graphviz" in svg.stderr and "Traceback" not in svg.stderr
    assert svg.stdout == ""

    (tmp_path / "bad.ncd").write_text(TAB_ERROR, encoding="utf-8")
    bad = run_ncdc("graph", "bad.ncd", cwd=tmp_path)
    assert bad.returncode == 1, (bad.stdout, bad.stderr)
    assert "NCD101" in bad.stderr and "Traceback" not in bad.stderr


def test_schema_prints_the_three_schemas(tmp_path: Path) -> None:
    result = run_ncdc("schema", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document == json.loads(json.dumps(fmt.schemas()))
    assert len(document) == 3
    for schema in document.values():
        assert isinstance(schema, dict) and ("type" in schema or "$ref" in schema)
    properties = document["schedule"]["properties"]
    assert list(properties)[:3] == ["schema_version", "ncdc_version", "source"]


def test_axis_name_modifiers_are_read_as_names() -> None:
    """`%:({letter})` and `%:[a, {b}]` give bare axis names, braces and brackets stripped (R§3.3)."""
    from ncdc.compile import compile_plan

    face = compile_plan(':<:[letters]\n    <= $% %>(["a", "b"]) %:({letter})\n', "x.ncd")
    assert face.inferences[0]["working_interpretation"]["syntax"]["axis_names"] == ["letter"]
    # Two names need a face value nested two levels deep (FIDELITY §5(c): more names than levels is NCD117).
    listed = compile_plan(':<:[letters]\n    <= $% %>([["a"], ["b"]]) %:[a, {b}]\n', "x.ncd")
    assert listed.inferences[0]["working_interpretation"]["syntax"]["axis_names"] == ["a", "b"]
    grouped = compile_plan(
        ":<:{g}\n    <= &[#] %>[{a}, {b}] %:({x})\n    <- {a}\n        | %{literal_value}: 1\n"
        "    <- {b}\n        | %{literal_value}: 2\n",
        "x.ncd",
    )
    assert grouped.inferences[0]["working_interpretation"]["syntax"]["by_axes"] == [["x"], ["x"]]


GROUPING_WITH_PROTECTION = """\
:<:[pairs]
    <= &[{}] %>[[a], [b]] PROTECTION
    <- [a]
        | %{ref_axes}: [x]
        | %{is_ground}: true
    <- [b]
        | %{ref_axes}: [x]
        | %{is_ground}: true
"""


@pytest.mark.parametrize(("protection", "axes"), [
    ("%^<$!={x}>", ["x"]),
    ("%^(<$!={x}>)", ["x"]),
    ("%^[<$!={x}>]", ["x"]),
    ("%^[<$!{x}>, <$!={y}>]", ["x", "y"]),
    ("%^<$!={x}><$!={y}>", ["x", "y"]),
])
def test_grouping_protection_in_every_argument_form(protection: str, axes: list[str]) -> None:
    """LANGUAGE §4: `%^` of a grouping names protected axes whether written bare, in parentheses or as a list."""
    result = compile_plan(GROUPING_WITH_PROTECTION.replace("PROTECTION", protection), "group.ncd")
    assert result.ok, [(d.code, d.message) for d in result.check.all_diagnostics]
    grouping = [e for e in result.inferences if "syntax" in e["working_interpretation"]]
    assert [e["working_interpretation"]["syntax"]["protect_axes"] for e in grouping] == [axes]
