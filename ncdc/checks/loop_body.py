"""What a loop body may produce (CHECKS.md §3.5, §3.6): NCD510 (an in-place ``$+`` accumulation reset every
iteration; E11: never a functional ``$+``), NCD955 (a functional ``$+`` in a body that does not accumulate),
NCD512 (a carried or invariant concept produced inside the body) and the warning NCD951 (a value produced in a
body and read after the loop).

Each rule is one pass over the inferences; the ``$+`` destinations found by NCD510 tell NCD512 and NCD951 which
in-body producers are accumulations (reported once, by NCD510).
"""

from __future__ import annotations

from ncdc.checks._common import operand, related
from ncdc.checks._loop_facts import Loop, flag, lines_named, under
from ncdc.ir import ConceptRef, Operator
from ncdc.plan import Inference, PlanModel, append_roles
from ncdc.source import Reporter


def check_appends(model: PlanModel, reporter: Reporter, loops: list[Loop]) -> dict[str, list[Inference]]:
    """NCD510; returns ``$+`` destinations (canonical names) -> the ``$+`` inferences inside loop bodies."""
    appends: dict[str, list[Inference]] = {}
    if not loops:
        return appends
    for inference in model.inferences:
        if not inference.enclosing_loops or inference.kind != "ordinary":
            continue
        destination = _is_append(inference)
        if destination is None:
            continue
        name = destination.canonical_name
        appends.setdefault(name, []).append(inference)
        if not inference.complete:
            continue
        reason = None
        for line in lines_named(model, name):
            annotation = flag(line, "is_invariant", "false")
            if annotation is not None:
                reason = f"it is declared `%{{is_invariant}}: false` (line {line.line})"
                break
        if reason is None:
            for producer in model.producers.get(name, ()):
                if producer is inference or _is_append(producer) is not None:
                    continue
                shared = [
                    loop
                    for loop in inference.enclosing_loops
                    if under(producer.flow_index, loop.loop.operator_line.flow_index)  # type: ignore[union-attr]
                ]
                if shared:
                    reason = (
                        f"it is also produced at line {producer.source_line}, inside the same loop body (loop at "
                        f"line {shared[0].loop.operator_line.line}), so it is reset every iteration"  # type: ignore[union-attr]
                    )
                    break
        if reason is not None:
            reporter.at(
                "NCD510",
                destination.span,
                f"`$+` appends to `{name}` inside a loop body, but {reason}: the accumulation restarts each "
                "iteration and only the last item survives",
                help=f"initialise `{name}` before the loop (e.g. `<= $% %>([])` on a `<-` line beside the `*.` "
                "line) and drop the in-body producer / the annotation",
            )
    return appends


def check_invariant_producers(
    model: PlanModel, reporter: Reporter, loops: list[Loop], appends: dict[str, list[Inference]]
) -> None:
    """NCD512."""
    if not loops:
        return
    by_inference = {loop.inference.flow_index: loop for loop in loops}
    declared_invariant: dict[str, bool] = {}
    for inference in model.inferences:
        if inference.kind != "ordinary" or not inference.enclosing_loops or not inference.complete:
            continue
        if _is_append(inference) is not None:
            continue
        name = inference.cti
        enclosing = [by_inference[loop.flow_index] for loop in inference.enclosing_loops if loop.flow_index in by_inference]
        carrier = next((loop for loop in enclosing if name in loop.carried_names), None)
        if carrier is not None:
            reporter.at(
                "NCD512",
                inference.cti_line.span,
                f"`{name}` is carried by the loop at line {carrier.star.line} (the loop provides it from the "
                "previous iteration), but it is also produced here inside the loop body",
                help=f"produce `{name.rsplit('*-', 1)[0]}` in the body and let the loop carry it",
                related=(related(model.plan.path, carrier.carried_names[name], "carried declaration"),),
            )
            continue
        if name not in declared_invariant:
            declared_invariant[name] = any(flag(line, "is_invariant", "true") for line in lines_named(model, name))
        if not declared_invariant[name]:
            continue
        loop = enclosing[-1] if enclosing else None
        if loop is None:
            continue
        if any(loop.contains(append) for append in appends.get(name, ())):
            continue  # a ``$+`` destination produced in the same body: NCD510
        reporter.at(
            "NCD512",
            inference.cti_line.span,
            f"`{name}` is declared `%{{is_invariant}}: true` but is produced inside the body of the loop at line "
            f"{loop.star.line}: consumers in the next iteration read the previous value before this runs again",
            help="remove `%{is_invariant}: true`, or produce the value before the loop",
        )


def check_outside_consumers(
    model: PlanModel, reporter: Reporter, loops: list[Loop], appends: dict[str, list[Inference]]
) -> None:
    """NCD951: a value produced in a loop body and read by an inference outside that loop's body. A read is
    local when some producer of the value lies in a loop body that also contains the reader (the reader then
    waits for its own iteration's value; several producers are NCD930's business)."""
    if not loops:
        return
    by_inference = {loop.inference.flow_index: loop for loop in loops}
    innermost: dict[str, list[Loop]] = {}  # concept -> the innermost loop of each producer inside a body
    for inference in model.inferences:
        if inference.kind != "ordinary" or not inference.enclosing_loops:
            continue
        found = by_inference.get(inference.enclosing_loops[-1].flow_index)
        if found is not None:
            bucket = innermost.setdefault(inference.cti, [])
            if found not in bucket:
                bucket.append(found)
    if not innermost:
        return
    invariant: dict[str, bool] = {}
    carried = {name for loop in loops for name in loop.carried_names}
    reported: set[int] = set()
    for consumer in model.inferences:
        if not consumer.complete:
            continue
        for use in consumer.values + consumer.contexts:
            producing = innermost.get(use.name)
            if not producing or use.line.index in reported:
                continue
            if any(loop.inference in consumer.enclosing_loops for loop in producing):
                continue  # read inside the body that produces it
            if any(consumer is loop.inference and use.name in loop.carried_targets for loop in producing):
                continue  # the value of a carried concept before the loop
            name = use.name
            if name not in invariant:
                invariant[name] = (
                    name in carried
                    or name in appends
                    or any(flag(line, "is_invariant", "true") for line in lines_named(model, name))
                )
            if invariant[name]:
                continue
            loop = producing[0]
            reported.add(use.line.index)
            reporter.at(
                "NCD951",
                use.concept.span if use.concept.span.line else use.line.span,
                f"`{name}` is produced inside the body of the loop at line {loop.star.line} but read here, outside "
                "that loop: only the last iteration's value survives",
                help=f"read the loop's result `{loop.inference.cti}` instead, or accumulate with `$+` into a "
                "concept initialised before the loop",
                related=(related(model.plan.path, loop.star, "the loop"),),
            )


def _is_append(inference: Inference) -> ConceptRef | None:
    """The destination of an in-place ``$+`` inference, else None. Erratum E11: NCD510 and NCD512 are about the
    in-place form only; a functional ``$+`` (result named otherwise) is an ordinary producer of its result."""
    node = inference.function_line.node
    result = inference.cti_line.concept
    if isinstance(node, Operator) and node.op == "$+" and result is not None:
        roles = append_roles(node, result)
        if roles is not None and roles.in_place:
            return roles.destination
    return None


def check_functional_appends(model: PlanModel, reporter: Reporter) -> None:
    """NCD955 (FIDELITY §3.3): a functional ``$+`` inside a loop body whose destination is not produced in that
    body (nor provided by the loop: element, carried value) computes the same destination ⊕ item every iteration,
    so nothing accumulates."""
    for inference in model.inferences:
        node = inference.functional
        if inference.kind != "ordinary" or not inference.enclosing_loops or not inference.complete:
            continue
        result = inference.cti_line.concept
        if not (isinstance(node, Operator) and node.op == "$+") or result is None:
            continue
        roles = append_roles(node, result)
        if roles is None or roles.in_place:
            continue
        loop = inference.enclosing_loops[-1]
        destination = roles.destination.canonical_name
        body = {member.flow_index for member in model.body_of(loop)}
        if any(p.flow_index in body for p in model.producers.get(destination, ())):
            continue
        if loop in model.loop_provided.get(destination, ()):
            continue
        assert loop.loop is not None
        reporter.at(
            "NCD955",
            inference.cti_line.span,
            f"`{inference.cti}` is `{destination}` with an item appended, but `{destination}` is not produced in "
            f"the body of the loop at line {loop.loop.operator_line.line}: every iteration appends to the same "
            "unchanged value and nothing accumulates",
            help=f"name the result like the destination (`{destination}`, in place), or carry it: "
            f"`%>({destination.rstrip()}*-1)` with `<* {destination}*-1`",
        )
