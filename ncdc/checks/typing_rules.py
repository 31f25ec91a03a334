"""Readiness typing (NCD401-NCD411, CHECKS.md §3.4) and the typing/executor warnings of CHECKS.md §3.6:
NCD923 (grouping axis inferred), NCD940-NCD948 (bindings, assertions, concept kinds, annotations) and NCD953
(a semantic operation for which RUNTIME.md §10.6 selects no executor).

The rules live in ``typing_gates`` (NCD401-NCD403), ``typing_bindings`` (NCD406-NCD408, NCD940-NCD942),
``typing_collections`` (NCD404, NCD410, NCD411, NCD923, NCD944 for collections, NCD947) and ``typing_semantic``
(NCD405, NCD943-NCD946, NCD948, NCD953); ``_typing_facts`` holds what they share. This module dispatches each
inference to the rules for its kind, in one pass in flow order, then runs the two rules that need the whole
pass (NCD403, and NCD944 for imperatives, which NCD402 may have explained already).

Everything is one pass over the inferences plus per-inference work proportional to the inference's own lines.
The only subtree scan is the ``$.`` candidate rule (R§3.3 step 4), which reads the inferences below the ``$.``'s
own value lines (a slice of the model, ``PlanModel.under``).
"""

from __future__ import annotations

from ncdc.checks import typing_bindings, typing_collections, typing_gates, typing_semantic
from ncdc.checks._typing_facts import NONE_AXIS, TypingFacts
from ncdc.checks.typing_semantic import BUILTIN_COMPOSITIONS, PROMPT_EXTENSIONS
from ncdc.ir import Operator, Semantic
from ncdc.options import CheckOptions
from ncdc.plan import Inference, PlanModel
from ncdc.source import Reporter


def check(model: PlanModel, reporter: Reporter, options: CheckOptions) -> None:
    facts = TypingFacts(model, reporter)
    for inference in model.inferences:
        _inference(facts, inference)
    typing_gates.check_gated_texts(facts)
    typing_semantic.check_imperative_results(facts)


def _inference(facts: TypingFacts, inference: Inference) -> None:
    """The rules for one inference, by its kind and function; line-local rules also run on incomplete ones."""
    node = inference.function_line.node
    if isinstance(node, Operator):
        typing_bindings.check_syntactic_bindings(facts, inference)  # NCD940: line-local, also on incomplete inferences
    if inference.kind == "gate":
        if inference.complete:
            facts.gates.append(inference)
            typing_gates.check_gate_condition(facts, inference, node)
        return
    if inference.kind != "ordinary":
        return  # loop bodies: the body `$.` selects the loop result (NCD504), nothing typed here
    if isinstance(node, Semantic):
        typing_semantic.check_annotations(facts, inference, node)  # NCD945, NCD948, NCD953: line-local
        if inference.complete:
            typing_semantic.check_semantic(facts, inference, node)
            typing_bindings.check_bindings(facts, inference, node)
    elif isinstance(node, Operator) and inference.complete:
        if node.op == "$.":
            typing_collections.check_specification(facts, inference, node)
        elif node.family == "grouping":
            typing_collections.check_grouping(facts, inference, node)
        elif node.op == "*.":
            typing_collections.check_looping(facts, inference, node)


# NONE_AXIS and the executor tables were public names of this module; they stay importable from here.
__all__ = ["BUILTIN_COMPOSITIONS", "NONE_AXIS", "PROMPT_EXTENSIONS", "check"]
