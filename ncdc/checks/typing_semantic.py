"""Semantic operations in readiness typing (CHECKS.md §3.4, §3.6), all warnings or infos: NCD944 (a judgement
that infers an object or a relation — NCD405 is retired, FIDELITY §3.12 — or an imperative that infers a
proposition), NCD943 (an assertion on a non-boolean condition), NCD945 (no ``%{body_faculty}``), NCD946 (a
quantifier key that is no input axis), NCD948 (no executor annotation), NCD953 (an operation for which RUNTIME.md
§10.6 selects no executor) and NCD954 (a list answer kept as one element, FIDELITY §1).

Each looks only at one inference's own lines and the declared axes of its inputs; NCD944 for imperatives is
reported once at the end, when the gate rules have said which conditions they already reported (NCD402).
"""

from __future__ import annotations

import re

from ncdc.checks._typing_facts import KIND_WORD, NONE_AXIS, TypingFacts
from ncdc.ir import AgentKind, Annotation, ConceptKind, ConceptLine, Semantic
from ncdc.plan import Inference

# RUNTIME.md §10.3: the composition parts served by in-code executors.
BUILTIN_COMPOSITIONS = frozenset({"c_ReadFile", "c_ReadFileIfExists", "c_WriteFile", "c_PassThrough", "c_LoadParse"})
# R§2.4: provision extensions that make the function concept's sign a prompt_location.
PROMPT_EXTENSIONS = (".md", ".txt", ".j2", ".jinja")


def check_semantic(facts: TypingFacts, inference: Inference, node: Semantic) -> None:
    """NCD944 on a judgement (and the imperative NCD944 candidates) on the result, then NCD943/NCD946 on the assertion."""
    cti = inference.cti_line.concept
    family = node.family
    if cti is not None:
        if family == "judgement" and cti.kind is not ConceptKind.PROPOSITION:
            # NCD405 is retired (FIDELITY §3.12): the value is a boolean; only gates need propositions (NCD401).
            facts.reporter.at(
                "NCD944",
                inference.cti_line.span,
                f"judgement `{inference.function}` infers {inference.cti}, {KIND_WORD[cti.kind]}; its value is "
                "one truth value",
                help=f"name the result as a proposition, e.g. `<{cti.inner} holds>`, or make the operation an "
                "imperative (drop the assertion)",
            )
        elif family == "imperative" and cti.kind is ConceptKind.PROPOSITION:
            facts.imperative_propositions.append(inference)  # reported at the end, unless NCD402 explains it
    if node.assertion is not None:
        _assertion(facts, inference, node)
    _kept_list_answer(facts, inference, node)


def is_list_kind(paradigm: str | None) -> bool:
    """RT§5.5 as amended (FIDELITY §1, E24): the output kind is a list kind when the last `o_` segment of the
    paradigm contains `List` (case-sensitive); without a paradigm it is not."""
    if not paradigm:
        return False
    outputs = [part for part in paradigm.split("-") if part.startswith("o_")]
    return bool(outputs) and "List" in outputs[-1]


def paradigm_of(line: ConceptLine) -> str | None:
    """The paradigm named by `%{norm_input}` (or its alias `%{paradigm}`) on a functional line, else None."""
    annotation = line.annotation("norm_input") or line.annotation("paradigm")
    if annotation is None:
        return None
    return re.split(r"[\s(]", annotation.value.strip(), maxsplit=1)[0] or None


def _kept_list_answer(facts: TypingFacts, inference: Inference, node: Semantic) -> None:
    """NCD954 (FIDELITY §1, a warning by erratum E18): the cti declares an axis that none of the inputs has while
    the output kind is not a list kind, so the answer stays one element — a list answer is one value whose items
    the declared axis only names (issue 14: the plan-level cause of all-Skip outputs downstream)."""
    if node.agent.kind is AgentKind.INPUT or is_list_kind(paradigm_of(inference.function_line)):
        return
    created = [axis for axis in facts.axes(inference.cti)]
    if not created:
        return
    input_axes: set[str] = set()
    for use in inference.values:
        input_axes.update(facts.declared_axes(use.name) or ())
    new = [axis for axis in created if axis not in input_axes]
    if not new:
        return
    annotation = next(
        (a for line in facts.model.lines_naming.get(inference.cti, ()) if (a := line.annotation("ref_axes")) is not None),
        None,
    )
    if annotation is None:
        return
    facts.reporter.at(
        "NCD954",
        annotation.span,
        f"{inference.cti} declares the axis `{new[0]}`, which no input of `{inference.function}` has, but the "
        "step's output kind is not a list kind: each answer is one element (a list answer stays one value whose "
        f"items `{new[0]}` names; a semantic consumer receives the whole list in one call)",
        help="use an `o_…List…` paradigm (e.g. `…-o_ListLiteral`) to spread the answer along the axis, or "
        "accept one element",
    )


def check_imperative_results(facts: TypingFacts) -> None:
    """NCD944 for the imperatives inferring a proposition, unless NCD402 reported that proposition."""
    for inference in facts.imperative_propositions:
        if inference.cti in facts.unjudged_conditions:
            continue  # NCD402 at the gate already says that this producer must be a judgement
        facts.reporter.at(
            "NCD944",
            inference.cti_line.span,
            f"imperative `{inference.function}` infers the proposition {inference.cti}; an imperative "
            "yields no truth value",
            help="make the operation a judgement (add an assertion such as `<ALL True>`) or name the "
            "result `{…}`",
        )


def _assertion(facts: TypingFacts, inference: Inference, node: Semantic) -> None:
    """NCD943 on the assertion's condition; for a judgement, NCD946 once per quantifier key that no input declares."""
    assertion = node.assertion
    assert assertion is not None
    if not isinstance(assertion.condition, bool):
        facts.reporter.at(
            "NCD943",
            assertion.span,
            f"truth assertion `{assertion.text}` of `{inference.function}` tests the non-boolean condition "
            f"`{assertion.condition}`",
            help="assert `True` or `False`, e.g. `<ALL True>`; other words are compared as strings",
        )
    if node.family != "judgement":
        return
    input_axes: set[str] = set()
    for use in inference.values:
        input_axes.update(facts.declared_axes(use.name) or ())
    reported: set[str] = set()
    for clause in assertion.clauses:
        if clause.concept is None:
            continue  # the default key `axis` is never reported
        declared = facts.declared_axes(clause.concept)
        if declared and declared[0] != NONE_AXIS:
            key = declared[0]
        else:
            key = clause.concept[1:-1].strip()
        if key in input_axes or key in reported:
            continue
        reported.add(key)
        inputs = ", ".join(use.name for use in inference.values) or "none"
        facts.reporter.at(
            "NCD946",
            assertion.span,
            f"quantifier key `{key}` (from {clause.concept} in `{assertion.text}`) is not an axis declared on "
            f"any input of the judgement (inputs: {inputs})",
            help=f"declare the axis on the input (`| %{{ref_axes}}: [{key}]`), or quantify over a declared axis",
        )


def check_annotations(facts: TypingFacts, inference: Inference, node: Semantic) -> None:
    """NCD945, NCD948 and NCD953: line-local, so also run on incomplete inferences."""
    line = inference.function_line
    if line.annotation("body_faculty") is None:
        facts.reporter.at(
            "NCD945",
            line.span,
            f"semantic operation `{inference.function}` has no `%{{body_faculty}}`",
            help="add `| %{body_faculty}: llm` (or file_system, python_interpreter, …) under the line",
        )
    if node.agent.kind is AgentKind.INPUT:
        return  # `:>:` takes its value from outside: no executor
    paradigm_annotation = line.annotation("norm_input") or line.annotation("paradigm")
    python = line.annotation("python")
    provision = line.annotation("v_input_provision")
    if paradigm_annotation is None and python is None and provision is None:
        facts.reporter.at(
            "NCD948",
            line.span,
            f"`{inference.function}` has no executor annotation and runs on the default LLM executor",
            help="add `| %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal` (and a "
            "`%{v_input_provision}` prompt), or `| %{python}: path.py:function`",
        )
        return
    _executor(facts, inference, line, paradigm_annotation, python, provision)


def _executor(
    facts: TypingFacts,
    inference: Inference,
    line: ConceptLine,
    paradigm_annotation: Annotation | None,
    python: Annotation | None,
    provision: Annotation | None,
) -> None:
    """RUNTIME.md §10.6, rules 1-6; NCD953 when rule 6 applies."""
    first_path = ""
    if provision is not None:
        paths = [p for p in re.split(r"[,\s]+", provision.value.strip()) if p]
        first_path = paths[0] if paths else ""
    if python is not None:
        return  # rule 1 (a malformed value is NCD116)
    if first_path.endswith(".py") and line.annotation("v_function_name") is not None:
        return  # rule 1, derived binding
    paradigm = None
    if paradigm_annotation is not None:
        paradigm = re.split(r"[\s(]", paradigm_annotation.value.strip(), maxsplit=1)[0]
        if not paradigm:
            return  # NCD116: the annotation names no paradigm
    if paradigm is not None:
        parts = paradigm.split("-")
        composition = next((p for p in parts if p.startswith("c_")), "")
        vertical = next((p for p in parts if p.startswith("v_")), "")
        if first_path.endswith(".py") and "Execute" in composition:
            return  # FIDELITY §3.14: the reference's script paradigms call the provision's `main()`
        if composition in BUILTIN_COMPOSITIONS:
            return  # rule 3
        if vertical.startswith("v_Prompt") or any(w in composition for w in ("Generate", "ThinkJSON", "LLM")):
            return  # rule 4
    if line.annotation("prompt") is not None or first_path.lower().endswith(PROMPT_EXTENSIONS):
        return  # rule 4: the function concept's data is a prompt_location sign
    if paradigm is None and not first_path:
        return  # rule 5
    at = paradigm_annotation or provision
    assert at is not None
    if paradigm is None:
        reason = f"its provision `{first_path}` is no prompt and it has no paradigm"
    else:
        reason = f"no executor handles the paradigm `{paradigm}`"
    if first_path.endswith(".py") and line.annotation("v_function_name") is None:
        reason += (f"; the `.py` provision `{first_path}` gives no binding without `%{{v_function_name}}` or a "
                   "paradigm whose composition part contains `Execute` (which calls `main`)")
    facts.reporter.at(
        "NCD953",
        at.span,
        f"`{inference.function}` has no executor at run time: {reason}",
        help="name a built-in (c_ReadFile, c_ReadFileIfExists, c_WriteFile, c_PassThrough, c_LoadParse) or an "
        "LLM paradigm (v_Prompt…), or add `%{python}: path.py:function` (or `%{v_function_name}` for a `.py` "
        "provision)",
    )
