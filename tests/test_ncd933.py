"""NCD933 (a result nothing uses) on plans written like the reference's (issue 14, item 5).

The rule: a step is used when it produces the plan output, when it writes a file, when a used step reads it, or
when a used step that acts outside the plan (file writer, script, `:>:` input) waits for it in any way (unbound
`<-`, `<*`, `@.`). The reference's derivation plan binds only its final file-writing step at the root; its
earlier phases are consumed only through ordering, and used. A result nobody reads and no such step waits for
is still reported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from ncdc.checker import check
from ncdc.options import CheckOptions

HERE = Path(__file__).resolve().parent
DERIVATION = HERE / "ncd933" / "derivation.ncd"

LLM = "v_Prompt-h_Literal-c_Generate-o_Literal"
WRITE = "h_LiteralPath-h_Literal-c_WriteFile-o_Literal"


def _ncd933(text: str) -> list[int]:
    """The lines NCD933 reports on a plan given as indented text."""
    source = textwrap.dedent(text).lstrip("\n").encode("utf-8")
    return [d.line for d in check(source, "plan.ncd", CheckOptions()).diagnostics if d.code == "NCD933"]


def _final_step(annotations: list[str], functional: str = "::(finish with {1})") -> str:
    """A root whose only bound input is `{task}`, with a phase waited for through an unbound `<-` (line 8)."""
    notes = "".join(f"\n                | {a}" for a in annotations)
    return f"""
        :<:{{done}}
            <= {functional}
                | %{{body_faculty}}: file_system{notes}
            <- {{task}}<:{{1}}>
                | %{{literal_value}}: "t"
            <- {{phase}}
                <= ::(work on {{1}})
                    | %{{body_faculty}}: llm
                    | %{{norm_input}}: {LLM}
                <- {{task}}<:{{1}}>
    """


def _phase_line(text: str) -> int:
    return next(n for n, line in enumerate(textwrap.dedent(text).lstrip("\n").splitlines(), 1) if "<- {phase}" in line)


# ---------------------------------------------------------------- the derivation plan (CLI, JSON output)


def test_derivation_plan_phases_consumed_through_ordering_are_not_reported() -> None:
    result = subprocess.run([sys.executable, "-m", "ncdc", "check", "--format", "json", str(DERIVATION)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    codes = [(d["line"], d["code"]) for d in json.loads(result.stdout)["diagnostics"]]
    assert not [c for c in codes if c[1] == "NCD933"], codes


def test_a_truly_unused_result_in_the_derivation_plan_is_still_reported(tmp_path: Path) -> None:
    """Add a step that only a pure (LLM) step waits for, without reading it: reported, at its result line."""
    lines = DERIVATION.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "<- {task}<:{1}>") + 1  # under the composer
    stray = ["        <- {stray idea}", "            <= ::(brainstorm on {1})",
             "                | %{body_faculty}: llm",
             f"                | %{{norm_input}}: {LLM}", "            <- {task}<:{1}>"]
    plan = tmp_path / "derivation.ncd"
    plan.write_text("\n".join(lines[:at] + stray + lines[at:]) + "\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "ncdc", "check", "--format", "json", str(plan)],
                            capture_output=True, text=True, timeout=60)
    reported = [d for d in json.loads(result.stdout)["diagnostics"] if d["code"] == "NCD933"]
    assert [(d["line"], d["column"]) for d in reported] == [(at + 1, 9)]
    assert "{stray idea} is never used" in reported[0]["message"]
    assert result.returncode == 0  # a warning


# ---------------------------------------------------------------- what counts as acting outside the plan


def test_ordering_into_a_file_writing_paradigm_is_a_use() -> None:
    assert _ncd933(_final_step([f"%{{norm_input}}: {WRITE}"])) == []


def test_ordering_into_an_o_filelocation_output_is_a_use() -> None:
    assert _ncd933(_final_step(["%{norm_input}: v_Prompt-h_Literal-c_GenerateThinkJson-o_FileLocation"])) == []


def test_ordering_into_a_step_with_save_path_is_a_use() -> None:
    assert _ncd933(_final_step([f"%{{norm_input}}: {LLM}", "%{save_path}: out/report.md"])) == []


def test_ordering_into_a_script_step_is_a_use() -> None:
    assert _ncd933(_final_step(["%{python}: tools.py:finish"])) == []
    assert _ncd933(_final_step(["%{norm_input}: v_ScriptLocation-h_Literal-c_Execute-o_Literal",
                                "%{v_input_provision}: scripts/finish.py"])) == []


def test_ordering_into_an_external_input_step_is_a_use() -> None:
    assert _ncd933(_final_step([], functional=":>:(confirm {1})")) == []


def test_ordering_into_a_step_that_only_computes_a_value_is_no_use() -> None:
    text = _final_step([f"%{{norm_input}}: {LLM}"])
    assert _ncd933(text) == [_phase_line(text)]


def test_a_file_writer_whose_result_nobody_reads_is_not_reported() -> None:
    text = f"""
        :<:{{answer}}
            <= $. %>({{draft}})
            <- {{draft}}
                <= ::(draft {{1}})
                    | %{{body_faculty}}: llm
                    | %{{norm_input}}: {LLM}
                <- {{task}}<:{{1}}>
            <- {{log file}}
                <= ::(log {{1}} to {{2}})
                    | %{{body_faculty}}: file_system
                    | %{{norm_input}}: {WRITE}
                <- {{task}}<:{{1}}>
                <- {{log path}}<:{{2}}>
                    | %{{literal_value}}: "out/log.txt"
            <- {{task}}
                | %{{literal_value}}: "t"
    """
    assert _ncd933(text) == []


def test_a_script_whose_result_nobody_reads_is_still_reported() -> None:
    """What a script does besides computing its result is unknown, so an unused script result is reported."""
    text = f"""
        :<:{{answer}}
            <= $. %>({{draft}})
            <- {{draft}}
                <= ::(draft {{1}})
                    | %{{body_faculty}}: llm
                    | %{{norm_input}}: {LLM}
                <- {{task}}<:{{1}}>
            <- {{indicators}}
                <= ::(compute indicators from {{1}})
                    | %{{body_faculty}}: python_interpreter
                    | %{{python}}: tools.py:indicators
                <- {{task}}<:{{1}}>
            <- {{task}}
                | %{{literal_value}}: "t"
    """
    assert _ncd933(text) == [8]


def test_waits_are_followed_only_out_of_steps_that_act_outside_the_plan() -> None:
    """A phase waited for by the final writer is used; what that pure phase itself waits for, unread, is not."""
    text = f"""
        :<:{{done}}
            <= ::(write {{1}})
                | %{{body_faculty}}: file_system
                | %{{norm_input}}: {WRITE}
            <- {{task}}<:{{1}}>
                | %{{literal_value}}: "t"
            <- {{phase}}
                <= ::(work on {{1}})
                    | %{{body_faculty}}: llm
                    | %{{norm_input}}: {LLM}
                <- {{task}}<:{{1}}>
                <- {{aside}}
                    <= ::(muse on {{1}})
                        | %{{body_faculty}}: llm
                        | %{{norm_input}}: {LLM}
                    <- {{task}}<:{{1}}>
    """
    assert _ncd933(text) == [12]


def test_corpus_unused_script_results_are_still_reported(corpus: Path) -> None:
    """MANIFEST (gold_recomposed.ncd): NCD933 at 29 and 81 — line 81 is a script (`c_Execute`, a `.py` provision)
    whose result nothing reads, and line 29 is the other producer of the same unread concept."""
    source = (corpus / "gold_recomposed.ncd").read_bytes()
    found = sorted(d.line for d in check(source, "gold_recomposed.ncd", CheckOptions()).diagnostics
                   if d.code == "NCD933")
    assert found == [29, 81]

