"""Readiness typing (NCD401-NCD411, CHECKS.md §3.4) and the typing/executor warnings of CHECKS.md §3.6:
NCD923 (grouping axis inferred), NCD940-NCD948 (bindings, assertions, concept kinds, annotations) and NCD953
(a semantic operation for which RUNTIME.md §10.6 selects no executor).

Everything here is one pass over the inferences in flow order, plus per-inference work proportional to the
inference's own lines. The only subtree scan is the ``$.`` candidate rule (R§3.3 step 4), which reads the
inferences below the ``$.``'s own value lines (a slice of the model, ``PlanModel.under``).
"""

from __future__ import annotations

import json
import re

from ncdc.annotation_keys import PERCEPTION_KEYS, is_literal_key
from ncdc.diagnostics import Related
from ncdc.ir import (
    AgentKind,
    Annotation,
    ArgForm,
    Binding,
    ConceptKind,
    ConceptLine,
    ConceptRef,
    Marker,
    Operator,
    Semantic,
)
from ncdc.options import CheckOptions
from ncdc.plan import Inference, PlanModel, ground_declaration
from ncdc.source import Reporter

NONE_AXIS = "_none_axis"

# RUNTIME.md §10.3: the composition parts served by in-code executors.
BUILTIN_COMPOSITIONS = frozenset({"c_ReadFile", "c_ReadFileIfExists", "c_WriteFile", "c_PassThrough", "c_LoadParse"})
# R§2.4: provision extensions that make the function concept's sign a prompt_location.
PROMPT_EXTENSIONS = (".md", ".txt", ".j2", ".jinja")
_KIND_WORD = {
    ConceptKind.OBJECT: "an object `{…}`",
    ConceptKind.RELATION: "a relation `[…]`",
    ConceptKind.PROPOSITION: "a proposition `<…>`",
    ConceptKind.SUBJECT: "a subject `:…:`",
}
_TRUTH_WORD = re.compile(r"^(true|false)$", re.IGNORECASE)
_TRUTH_MARKER = re.compile(r"^%\{truth[_ ]value\}[A-Za-z0-9_]*\((true|false)\)$", re.IGNORECASE)


def check(model: PlanModel, reporter: Reporter, options: CheckOptions) -> None:
    rules = _TypingRules(model, reporter)
    for inference in model.inferences:
        rules.inference(inference)
    rules.gated_texts()
    rules.imperative_results()


class _TypingRules:
    def __init__(self, model: PlanModel, reporter: Reporter) -> None:
        self.model = model
        self.lines = model.plan.lines
        self.reporter = reporter
        self.gates: list[Inference] = []
        self._declared: dict[str, list[str] | None] = {}
        self.imperative_propositions: list[Inference] = []  # NCD944 candidates
        self.unjudged_conditions: set[str] = set()  # gate conditions reported as NCD402 (non-judgement producer)

    # ------------------------------------------------------------------ dispatch

    def inference(self, inference: Inference) -> None:
        node = inference.function_line.node
        if isinstance(node, Operator):
            self.syntactic_bindings(inference)  # NCD940: line-local, also on incomplete inferences
        if inference.kind == "gate":
            if inference.complete:
                self.gates.append(inference)
                self.gate_condition(inference, node)
            return
        if inference.kind != "ordinary":
            return  # loop bodies: the body `$.` selects the loop result (NCD504), nothing typed here
        if isinstance(node, Semantic):
            self.semantic_annotations(inference, node)  # NCD945, NCD948, NCD953: line-local
            if inference.complete:
                self.semantic(inference, node)
        elif isinstance(node, Operator) and inference.complete:
            if node.op == "$.":
                self.specification(inference, node)
            elif node.family == "grouping":
                self.grouping(inference, node)
            elif node.op == "*.":
                self.looping(inference, node)

    # ------------------------------------------------------------------ helpers

    def head_children(self, inference: Inference) -> list[ConceptLine]:
        """The concept lines that are inputs of the inference (its head line's children minus the function)."""
        return [self.lines[i] for i in inference.cti_line.children if i != inference.function_line.index]

    def value_lines(self, inference: Inference) -> list[ConceptLine]:
        return [self.lines[i] for i in inference.cti_line.children if self.lines[i].marker is Marker.VALUE]

    def declared_axes(self, name: str) -> list[str] | None:
        """``PlanModel.declared_axes``, cached: a concept may be read by many inferences."""
        if name not in self._declared:
            self._declared[name] = self.model.declared_axes(name)
        return self._declared[name]

    def axes(self, name: str) -> list[str]:
        """Declared axes of a concept without ``_none_axis`` (empty when undeclared or singleton)."""
        return [axis for axis in self.declared_axes(name) or () if axis != NONE_AXIS]

    def related(self, line: ConceptLine, message: str) -> Related:
        return Related(self.reporter.path, line.line, line.span.column, message)

    # ------------------------------------------------------------------ NCD940

    def syntactic_bindings(self, inference: Inference) -> None:
        node = inference.function_line.node
        assert isinstance(node, Operator)
        for line in self.head_children(inference):
            concept = line.concept
            if concept is None:
                continue
            for binding in concept.suffixes_of(Binding):
                self.reporter.at(
                    "NCD940",
                    binding.span,
                    f"binding `{binding.text}` on {concept.canonical_name}, an input of the syntactic operator "
                    f"`{node.op}`, is ignored",
                    help=f"remove `{binding.text}`: `{node.op}` reads its operands from its modifiers, not from slots",
                )

    # ------------------------------------------------------------------ gates: NCD401, NCD402

    def gate_condition(self, gate: Inference, node: object) -> None:
        if not isinstance(node, Operator) or node.op == "@." or not gate.values:
            return  # `@.` may wait on any concept
        condition = gate.values[0]
        concept = condition.concept
        if concept.kind is not ConceptKind.PROPOSITION:
            self.reporter.at(
                "NCD401",
                concept.span,
                f"gate condition {condition.name} of `{node.op}` is {_KIND_WORD[concept.kind]}, not a proposition",
                help=f"gate on a proposition produced by a judgement, e.g. `{node.op}(<{concept.inner} holds>)`; "
                "use `@.` to wait for a value without testing it",
            )
            return
        name = condition.name
        if name in self.model.loop_provided:
            return
        producers = self.model.producers.get(name, [])
        if producers:
            if any(not p.complete or p.function_line.node is None for p in producers):
                return
            others = [p for p in producers if p.sequence != "judgement_in_composition"]
            if others:
                other = others[0]
                self.unjudged_conditions.add(name)
                self.reporter.at(
                    "NCD402",
                    concept.span,
                    f"gate condition {name} is produced by `{other.function}` (line {other.function_line.line}), "
                    f"which is {_sequence_word(other.sequence)}, not a judgement",
                    help=f"produce {name} with a judgement, e.g. `<= ::(…)<ALL True>`",
                    related=(self.related(other.cti_line, f"{name} is produced here"),),
                )
            return
        problem = self.ground_truth_problem(name)
        if problem is not None:
            line, what = problem
            self.reporter.at(
                "NCD402",
                concept.span,
                f"gate condition {name} is not judged and its ground data {what} is not a truth value",
                help=f"produce {name} with a judgement (`<= ::(…)<ALL True>`), or declare it "
                "`| %{literal_value}: true` / `false`",
                related=(self.related(line, f"{name} is declared here"),),
            )

    def ground_truth_problem(self, name: str) -> tuple[ConceptLine, str] | None:
        """For a never-produced condition: the declaration whose data is not truth values, if any.
        Undeclared conditions are NCD931's business; data supplied at run time cannot be judged here."""
        for line in self.model.lines_naming.get(name, ()):
            kind = ground_declaration(line)
            if kind is None:
                continue
            if kind in PERCEPTION_KEYS:
                annotation = line.annotation(kind)
                return line, f"`%{{{kind}}}: {annotation.value if annotation else ''}`"
            if kind == "literal":
                for annotation in line.annotations:
                    if annotation.sigil != "%":
                        continue
                    if annotation.key == "literal_value":
                        if not _is_truth_data(annotation.value, json_allowed=True):
                            return line, f"`{annotation.value.strip()}`"
                        return None
                    if is_literal_key(annotation.key):
                        value = annotation.value.strip()
                        if value != "(runtime provided)" and not _is_truth_data(value, json_allowed=False):
                            return line, f"`{value}`"
                        return None
            return None
        return None

    # ------------------------------------------------------------------ NCD403

    def gated_texts(self) -> None:
        gated: dict[str, set[int]] = {}
        for gate in self.gates:
            gated.setdefault(gate.cti, set()).add(gate.cti_line.index)
        for text, gated_lines in gated.items():
            occurrences = self.model.function_lines.get(text, [])
            if len(occurrences) < 2:
                continue
            first = next(line for line in occurrences if line.index in gated_lines)
            for line in occurrences:
                if line is first:
                    continue
                self.reporter.at(
                    "NCD403",
                    line.span,
                    f"functional text `{text}` is gated on line {first.line} and also occurs here; a skip of "
                    "that gate skips this operation too",
                    help="reword one of the two operations so that their texts differ",
                    related=(self.related(first, "the gated occurrence"),),
                )

    # ------------------------------------------------------------------ semantic inferences

    def semantic(self, inference: Inference, node: Semantic) -> None:
        cti = inference.cti_line.concept
        family = node.family
        if cti is not None:
            if family == "judgement" and cti.kind is not ConceptKind.PROPOSITION:
                self.reporter.at(
                    "NCD405",
                    inference.cti_line.span,
                    f"judgement `{inference.function}` infers {inference.cti}, {_KIND_WORD[cti.kind]}; a judgement "
                    "yields a truth value and must infer a proposition",
                    help=f"name the result as a proposition, e.g. `<{cti.inner} holds>`, or drop the assertion",
                )
            elif family == "imperative" and cti.kind is ConceptKind.PROPOSITION:
                self.imperative_propositions.append(inference)  # reported at the end, unless NCD402 explains it
        if node.assertion is not None:
            self.assertion(inference, node)
        self.bindings(inference, node)

    def imperative_results(self) -> None:
        for inference in self.imperative_propositions:
            if inference.cti in self.unjudged_conditions:
                continue  # NCD402 at the gate already says that this producer must be a judgement
            self.reporter.at(
                "NCD944",
                inference.cti_line.span,
                f"imperative `{inference.function}` infers the proposition {inference.cti}; an imperative "
                "yields no truth value",
                help="make the operation a judgement (add an assertion such as `<ALL True>`) or name the "
                "result `{…}`",
            )

    def assertion(self, inference: Inference, node: Semantic) -> None:
        assertion = node.assertion
        assert assertion is not None
        if not isinstance(assertion.condition, bool):
            self.reporter.at(
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
            input_axes.update(self.declared_axes(use.name) or ())
        reported: set[str] = set()
        for clause in assertion.clauses:
            if clause.concept is None:
                continue  # the default key `axis` is never reported
            declared = self.declared_axes(clause.concept)
            if declared and declared[0] != NONE_AXIS:
                key = declared[0]
            else:
                key = clause.concept[1:-1].strip()
            if key in input_axes or key in reported:
                continue
            reported.add(key)
            inputs = ", ".join(use.name for use in inference.values) or "none"
            self.reporter.at(
                "NCD946",
                assertion.span,
                f"quantifier key `{key}` (from {clause.concept} in `{assertion.text}`) is not an axis declared on "
                f"any input of the judgement (inputs: {inputs})",
                help=f"declare the axis on the input (`| %{{ref_axes}}: [{key}]`), or quantify over a declared axis",
            )

    def bindings(self, inference: Inference, node: Semantic) -> None:
        """NCD406, NCD407, NCD408 (errors) and NCD941, NCD942 (warning/info) on the value children."""
        bound: list[tuple[ConceptLine, ConceptRef, Binding]] = []
        bound_names: set[str] = set()
        unbound: list[ConceptLine] = []
        for line in self.value_lines(inference):
            concept = line.concept
            if concept is None:
                continue
            bindings = concept.suffixes_of(Binding)
            if bindings:
                bound_names.add(concept.canonical_name)
                bound.extend((line, concept, b) for b in bindings)
            else:
                unbound.append(line)
        errors = False
        by_slot: dict[int, tuple[ConceptRef, Binding]] = {}
        for _line, concept, binding in bound:
            first = by_slot.get(binding.slot)
            if first is None:
                by_slot[binding.slot] = (concept, binding)
            elif first[0].canonical_name != concept.canonical_name:
                errors = True
                self.reporter.at(
                    "NCD406",
                    binding.span,
                    f"slot {binding.slot} is bound twice: {first[0].canonical_name} (line {first[1].span.line}) and "
                    f"{concept.canonical_name}",
                    help="number the slots 1..k, once each",
                    related=(Related(self.reporter.path, first[1].span.line, first[1].span.column, "first binding"),),
                )
        for position, slot in enumerate(sorted(by_slot), start=1):
            if slot != position:
                errors = True
                concept, binding = by_slot[slot]
                self.reporter.at(
                    "NCD407",
                    binding.span,
                    f"bindings of `{inference.function}` skip slot {position}: {concept.canonical_name} is bound to "
                    f"slot {slot}; slots must run 1..{len(by_slot)}",
                    help=f"renumber it `<:{{{position}}}>` and update the placeholders of the body",
                )
                break
        placeholders = node.placeholders
        if placeholders and bound and not errors:
            numbers = {p.number for p in placeholders}
            seen: set[int] = set()
            for placeholder in placeholders:
                if placeholder.number in by_slot or placeholder.number in seen:
                    continue
                seen.add(placeholder.number)
                errors = True
                self.reporter.at(
                    "NCD408",
                    placeholder.span,
                    f"placeholder {{{placeholder.number}}} of `{inference.function}` has no input bound "
                    f"`<:{{{placeholder.number}}}>`",
                    help=f"bind the input it stands for: `<- {{…}}<:{{{placeholder.number}}}>`",
                )
            for slot in sorted(by_slot):
                if slot in numbers:
                    continue
                errors = True
                concept, binding = by_slot[slot]
                self.reporter.at(
                    "NCD408",
                    binding.span,
                    f"{concept.canonical_name} is bound to slot {slot}, but the body of `{inference.function}` has "
                    f"no placeholder {{{slot}}}",
                    help=f"mention `{{{slot}}}` in the instruction, or remove the binding",
                )
        if errors or inference.function_line.annotation("value_order") is not None:
            return  # an explicit %{value_order} orders the inputs itself
        if bound:
            first_unbound = next((line for line in unbound if line.concept.canonical_name not in bound_names), None)
            if first_unbound is not None:
                names = sorted(bound_names)
                self.reporter.at(
                    "NCD941",
                    first_unbound.span,
                    f"{first_unbound.concept.canonical_name} is not bound while {', '.join(names)} "
                    f"{'is' if len(names) == 1 else 'are'}; `{inference.function}` receives only the bound inputs",
                    help=f"bind it (`<:{{{len(by_slot) + 1}}}>`) if the operation should read it, or accept that it "
                    "is a dependency only",
                )
        elif placeholders:
            numbers_text = ", ".join(f"{{{n}}}" for n in sorted({p.number for p in placeholders}))
            self.reporter.at(
                "NCD942",
                inference.function_line.span,
                f"the body of `{inference.function}` uses placeholders {numbers_text} but no input is bound",
                help="bind each input to its placeholder, e.g. `<- {…}<:{1}>`",
            )

    # ------------------------------------------------------------------ NCD945, NCD948, NCD953

    def semantic_annotations(self, inference: Inference, node: Semantic) -> None:
        line = inference.function_line
        if line.annotation("body_faculty") is None:
            self.reporter.at(
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
            self.reporter.at(
                "NCD948",
                line.span,
                f"`{inference.function}` has no executor annotation and runs on the default LLM executor",
                help="add `| %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal` (and a "
                "`%{v_input_provision}` prompt), or `| %{python}: path.py:function`",
            )
            return
        self.executor(inference, line, paradigm_annotation, python, provision)

    def executor(
        self,
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
            reason += f"; the `.py` provision `{first_path}` gives no binding without `%{{v_function_name}}`"
        self.reporter.at(
            "NCD953",
            at.span,
            f"`{inference.function}` has no executor at run time: {reason}",
            help="name a built-in (c_ReadFile, c_ReadFileIfExists, c_WriteFile, c_PassThrough, c_LoadParse) or an "
            "LLM paradigm (v_Prompt…), or add `%{python}: path.py:function` (or `%{v_function_name}` for a `.py` "
            "provision)",
        )

    # ------------------------------------------------------------------ NCD410

    def specification(self, inference: Inference, node: Operator) -> None:
        if self.model.assign_candidates(inference):
            return
        if inference.function_line.annotation("assign_sources") is not None:
            reason = "its `%{assign_sources}` list is empty"
        elif node.modifier("%<") is not None:
            reason = "its `%<` list is empty"
        else:
            selected = node.modifier("%>")
            target = selected.items[0] if selected is not None and len(selected.items) == 1 else None
            if not isinstance(target, ConceptRef) or target.canonical_name != inference.cti:
                return  # NCD212/NCD117, or NCD302: declaring the operand makes it the candidate
            if any(use.concept.kind is not ConceptKind.PROPOSITION for use in inference.values):
                reason = "every sibling value is consumed inside another sibling's subtree"
            elif inference.values:
                reason = "its only sibling values are propositions"
            else:
                reason = "it has no sibling value lines"
        self._no_candidate(inference, reason)

    def _no_candidate(self, inference: Inference, reason: str) -> None:
        self.reporter.at(
            "NCD410",
            inference.function_line.span,
            f"`{inference.function}` has no candidate to select for {inference.cti}: {reason}",
            help="name the candidates with `%<[{a}, {b}]`, or declare them as `<-` lines beside the `$.`",
        )

    # ------------------------------------------------------------------ grouping: NCD411, NCD923, NCD944

    def grouping(self, inference: Inference, node: Operator) -> None:
        modifier = node.modifier("%>")
        sources = [item for item in modifier.items if isinstance(item, ConceptRef)] if modifier is not None else []
        count = len(modifier.items) if modifier is not None else 0
        self.per_source_lists(inference, node, sources, count)
        created = node.modifier("%+")
        cti = inference.cti_line.concept
        assert cti is not None
        cti_axes = self.axes(inference.cti)
        if created is None and len(cti_axes) == 1:
            axis = cti_axes[0]
            if all(axis not in (self.declared_axes(s.canonical_name) or ()) for s in sources):
                self.reporter.at(
                    "NCD923",
                    inference.function_line.span,
                    f"`{node.op}` creates the axis `{axis}`: {inference.cti} declares it and no source does",
                    help=f"write it: `{inference.function} %+({axis})`",
                )
        if created is None:
            self.singleton_result(inference, "grouping", cti, cti_axes)

    def per_source_lists(self, inference: Inference, node: Operator, sources: list[ConceptRef], count: int) -> None:
        what = f"{count} source{'s' if count != 1 else ''}"
        collapse = node.modifier("%-")
        well_formed = collapse is not None and collapse.form is ArgForm.LIST
        if collapse is not None and well_formed and all(_item_text(i).startswith("[") for i in collapse.items):
            if len(collapse.items) != count:
                self.reporter.at(
                    "NCD411",
                    collapse.span,
                    f"`%-` of `{node.op}` gives {len(collapse.items)} axis list(s) for {what}",
                    help="give one list per `%>` source, in order; `[]` for a source collapsed on nothing",
                )
        by_axes = inference.function_line.annotation("by_axes")
        if by_axes is not None:
            items = _list_items(by_axes.value)
            if items is not None and len(items) != count:
                self.reporter.at(
                    "NCD411",
                    by_axes.span,
                    f"`%{{by_axes}}` of `{node.op}` gives {len(items)} axis list(s) for {what}",
                    help="give one list per `%>` source, in order; `[]` for a source collapsed on nothing",
                )
        names = {s.canonical_name for s in sources}
        declared: list[Annotation] = []
        for line in self.value_lines(inference):
            concept = line.concept
            if concept is not None and concept.canonical_name in names:
                annotation = line.annotation("collapse_in_grouping")
                if annotation is not None:
                    declared.append(annotation)
        if declared and len(declared) != count:
            self.reporter.at(
                "NCD411",
                declared[0].span,
                f"{len(declared)} source line(s) of `{node.op}` declare `%{{collapse_in_grouping}}` for {what}",
                help="declare `%{collapse_in_grouping}` on every source line (`[]` for none), or on none",
            )

    def singleton_result(self, inference: Inference, family: str, cti: ConceptRef, cti_axes: list[str]) -> None:
        if cti.kind is ConceptKind.RELATION or cti_axes:
            return
        declared = self.declared_axes(inference.cti)
        how = "declared `[_none_axis]`" if declared else "declares no axis"
        self.reporter.at(
            "NCD944",
            inference.cti_line.span,
            f"{family} `{inference.function}` infers {inference.cti}, {_KIND_WORD[cti.kind]} that {how}, but a "
            f"{family} result is a collection",
            help=f"name the result as a relation (`[{cti.inner}]`) or declare its axis (`| %{{ref_axes}}: [axis]`)",
        )

    # ------------------------------------------------------------------ loops: NCD404, NCD947, NCD944

    def looping(self, inference: Inference, node: Operator) -> None:
        loop = inference.loop
        if loop is None:
            return
        base = loop.base
        if base is not None:
            declared = self.declared_axes(base.canonical_name)
            if base.kind is ConceptKind.PROPOSITION:
                self.reporter.at(
                    "NCD404",
                    base.span,
                    f"loop base {base.canonical_name} is a proposition, not a collection",
                    help="loop over a relation (`[items]`) or a concept with a declared non-singleton axis",
                )
            elif declared == [NONE_AXIS]:
                self.reporter.at(
                    "NCD404",
                    base.span,
                    f"loop base {base.canonical_name} is declared `[_none_axis]` (a singleton), not a collection",
                    help="declare the axis it is iterated along (`| %{ref_axes}: [item]`) or loop over a relation",
                )
            elif (
                base.kind is ConceptKind.OBJECT
                and declared is None
                and any(use.name == base.canonical_name for use in inference.values)
            ):
                self.reporter.at(
                    "NCD947",
                    base.span,
                    f"loop base {base.canonical_name} is an object `{{…}}` without `%{{ref_axes}}`; whether it is a "
                    "collection is unknown until run time",
                    help="declare its axes on the base line (`| %{ref_axes}: [item]`) or name it as a relation `[…]`",
                )
        if node.modifier("%+") is None:
            cti = inference.cti_line.concept
            assert cti is not None
            self.singleton_result(inference, "loop", cti, self.axes(inference.cti))


def _item_text(item: object) -> str:
    return item.source_text() if isinstance(item, ConceptRef) else getattr(item, "text", "")


def _sequence_word(sequence: str) -> str:
    return {
        "imperative_in_composition": "an imperative",
        "assigning": "an assignment",
        "grouping": "a grouping",
        "looping": "a loop",
        "timing": "a timing operation",
    }.get(sequence, sequence)


def _is_truth_data(text: str, *, json_allowed: bool) -> bool:
    value: object = text.strip()
    if json_allowed:
        try:
            value = json.loads(str(value))
        except ValueError:
            pass
    return _is_truth(value)


def _is_truth(value: object) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        text = value.strip()
        return bool(_TRUTH_WORD.match(text) or _TRUTH_MARKER.match(text))
    if isinstance(value, list):
        return bool(value) and all(_is_truth(v) for v in value)
    return False


def _list_items(value: str) -> list[str] | None:
    """Top-level items of a bracketed list annotation (``[[a], [b]]`` → 2 items); None if not a list."""
    text = value.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    inner = text[1:-1]
    items: list[str] = []
    depth = 0
    current = ""
    for char in inner:
        if char in "([{<":
            depth += 1
        elif char in ")]}>":
            depth -= 1
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip() or items:
        items.append(current.strip())
    return [item for item in items if item]
