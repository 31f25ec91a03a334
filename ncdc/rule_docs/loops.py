"""Rule documentation of the loop family: NCD501-NCD512 (CHECKS.md §3.5) and NCD950-NCD952 (§3.6).

Every ``bad`` snippet is a small plan that really reports its code, and every ``fix`` that is a plan does not
(tests/test_explain.py). The snippets leave out executor annotations to stay short; they are about the loop.
"""

from __future__ import annotations

from ncdc.rule_docs import RuleDoc

DOCS: dict[str, RuleDoc] = {}

# A well-formed loop (LANGUAGE.md §5.1 rule 3): the base, the element and carried declarations sit beside the
# `*.` line (children of the line whose function the loop is); the body is the `*.` line's subtree.
_LOOP = """\
:<:{summary}
    <= ::(summarize {1})
    <- [notes]<:{1}>
        <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
            <= $. %>({note})
            <- {note}
                <= ::(write a note on {1})
                <- {draft}<:{1}>
        <- [drafts]
            | %{literal_value}: ["a", "b"]
        <* {draft}<$([drafts])*>
"""

_CARRIED = """\
:<:{summary}
    <= ::(summarize {1})
    <- [notes]<:{1}>
        <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
            <= $. %>({note})
            <- {note}
                <= ::(write a note on {1} after {2})
                <- {draft}<:{1}>
                <- {note}*-1<:{2}>
        <- [drafts]
            | %{literal_value}: ["a", "b"]
        <- {note}*0
            | %{literal_value}: "(start)"
        <* {draft}<$([drafts])*>
        <* {note}*-1
"""


def _swap(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)

DOCS["NCD501"] = RuleDoc(
    what="A `*.` loop line without children, whose first child is not the body selector `<= $. %>(R)`, or whose "
    "other children are not `<-` lines (LANGUAGE.md §5.1 rule 3). Reported on the `*.` line. (A `*.` line that is "
    "not the function of a value concept is already reported by the structure rules: NCD203, NCD205, NCD206, "
    "NCD208.)",
    why="The runtime links the body to its loop through the body `$.`: without it no iteration result reaches the "
    "loop, which never completes. A `<*` or `<=` line inside the body is not an input of anything the loop runs.",
    bad=_swap(_LOOP, "            <= $. %>({note})\n", "            <= $= %>({note})\n"),
    fix=_LOOP,
)

DOCS["NCD502"] = RuleDoc(
    what="A loop base (`%>` of `*.`) that is not declared by a `<-` line beside the `*.` line, i.e. as a child of "
    "the line whose function the loop is. Reported at the `%>` operand.",
    why="The loop only waits for its declared inputs; with an undeclared base it may start on an empty collection "
    "and finish at once with nothing.",
    bad=_swap(
        _LOOP,
        "        <- [drafts]\n            | %{literal_value}: [\"a\", \"b\"]\n",
        "",
    ),
    fix=_LOOP,
)

DOCS["NCD503"] = RuleDoc(
    what="A loop without exactly one declaration of its element on its base `B`: a `<*` line `<* {x}<$(B)*>` "
    "beside the `*.` line, or the inline form `%>(B<$({x})*>)` (NCD917), or both naming the same `{x}`; or a "
    "declaration on another collection. The `%:` operand is the loop axis and is not compared with the element "
    "(FIDELITY §2). Reported on the `*.` line when the declaration is missing, else on the offending `<*` line.",
    why="The body reads the current element by name; without the declaration nothing provides it, so the body "
    "never becomes ready and the run deadlocks.",
    bad=_swap(_LOOP, "        <* {draft}<$([drafts])*>\n", ""),
    fix=_LOOP,
)

DOCS["NCD504"] = RuleDoc(
    what="A loop whose result `R` (`%<`) is not the name of a `<-` child of the `*.` line (reported at the `%<` "
    "operand), or whose body selector `<= $. %>(…)` selects something other than `R` (reported on the `$.` line); "
    "both are reported when both hold.",
    why="Per iteration the loop stores the value of `R`; if the body computes or selects something else, every "
    "iteration stores an empty result.",
    bad=_swap(_LOOP, "%<({note})", "%<({checked note})"),
    fix=_LOOP,
)

DOCS["NCD505"] = RuleDoc(
    what="A `*.` functional text that occurs more than once in the plan. Reported on the second (and every later) "
    "occurrence.",
    why="The body `$.` writes its result into the concept named by the `*.` text; two loops with the same text "
    "receive each other's results.",
    bad=""":<:{summary}
    <= ::(compare {1} with {2})
    <- [notes]<:{1}>
        <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
            <= $. %>({note})
            <- {note}
                <= ::(write a note on {1})
                <- {draft}<:{1}>
        <- [drafts]
        <* {draft}<$([drafts])*>
    <- [other notes]<:{2}>
        <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
            <= $. %>({note})
            <- {note}
                <= ::(write another note on {1})
                <- {draft}<:{1}>
        <- [drafts]
        <* {draft}<$([drafts])*>
""",
    fix="Make the two loop expressions differ: give the second loop its own index (`%@(2)`) and its own result "
    "name (`%<({other note})`, with `<= $. %>({other note})` and `<- {other note}` in its body).",
)

DOCS["NCD506"] = RuleDoc(
    what="A reference to a loop's current element under a name the loop does not provide: `{x}*N` outside the body "
    "of loop N, `{x}*N` where loop N's element is not `{x}`, a chain `{x}*M*N` that does not match the nesting of "
    "the loops, or both spellings `{x}` and `{x}*N` in one body (reported at the `{x}*N` references). Reported "
    "at the reference.",
    why="The runtime provides the element under exactly one name; any other name is a concept nobody provides, so "
    "the body deadlocks or silently reads data from the run's inputs file.",
    bad=_swap(_LOOP, "                <- {draft}<:{1}>\n", "                <- {draft}*2<:{1}>\n"),
    fix=_LOOP,
)

DOCS["NCD507"] = RuleDoc(
    what="A carried reference `X*-N` used outside a loop body, or inside a body whose loop does not declare it "
    "(`<* X*-N` or `<* {x}<$(X)*-N>` beside the `*.` line); a carried-element declaration outside a loop; a `%^` "
    "entry of `*.` that contradicts a `<*` declaration (same X, other N; the message shows the entry as a carried "
    "name such as `{total}*-1`). A `%^` entry without any `<*` declaration is compiled as one (NCD917, FIDELITY "
    "§3.6). Reported at the reference, the declaration or the `%^` entry.",
    why="Only a loop provides previous-iteration values; anywhere else the name refers to nothing and the "
    "inference waits forever (or reads the inputs file).",
    bad=_swap(_CARRIED, "        <* {note}*-1\n", ""),
    fix=_CARRIED,
)

DOCS["NCD508"] = RuleDoc(
    what="A carried concept `X*-N` without an initial value: no `<- X*0` beside the `*.` line, and `X` is not ground "
    "or produced outside the loop body. Reported on the carried declaration.",
    why="The first iteration reads the previous value, which does not exist yet; the runtime would have to invent "
    "one.",
    bad=_swap(_CARRIED, "        <- {note}*0\n            | %{literal_value}: \"(start)\"\n", ""),
    fix=_CARRIED,
)

DOCS["NCD509"] = RuleDoc(
    what="`%{is_invariant}: false` on a carried concept `X*-N` (carried concepts are invariant, REPOSITORY_FORMAT "
    "§2.6). Reported at the annotation.",
    why="Non-invariant concepts are reset after every iteration, so the carried value would be lost.",
    bad=_swap(_CARRIED, "        <* {note}*-1\n", "        <* {note}*-1\n            | %{is_invariant}: false\n"),
    fix=_CARRIED,
)

_ACCUMULATE = """\
:<:{summary}
    <= ::(summarize {1} and {2})
    <- [notes]<:{1}>
        <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
            <= $. %>({note})
            <- {note}
                <= ::(write a note on {1})
                <- {draft}<:{1}>
            <- [all notes]
                <= $+ %>([all notes]) %<({note})
                <- [all notes]
                <- {note}
        <- [drafts]
            | %{literal_value}: ["a", "b"]
        <- [all notes]
            <= $% %>([])
        <* {draft}<$([drafts])*>
    <- [all notes]<:{2}>
"""

DOCS["NCD510"] = RuleDoc(
    what="An in-place `$+` (its result line names the destination) inside a loop body whose destination is also "
    "produced by another (non-`$+`) inference inside the same body, or carries `%{is_invariant}: false`. A "
    "functional `$+` (result named otherwise) is never NCD510 (erratum E11; see NCD955). Reported at the `$+` "
    "`%>` operand.",
    why="Concepts produced in the body are reset and recomputed every iteration, so the accumulation restarts each "
    "time and only the last item survives.",
    bad=_swap(
        _swap(_ACCUMULATE, "        <- [all notes]\n            <= $% %>([])\n", ""),
        "            <- [all notes]\n                <= $+",
        "            <- [all notes]\n                <= $% %>([])\n            <- [all notes]\n                <= $+",
    ),
    fix=_ACCUMULATE,
)

DOCS["NCD511"] = RuleDoc(
    what="A loop body inference that reads the loop's own result (the aggregate, the concept whose function is the "
    "`*.` line) or a concept that waits for it. Reported at the reading reference.",
    why="The aggregate exists only after the last iteration, and the last iteration needs the body: deadlock.",
    bad=_swap(
        _swap(_LOOP, "<= ::(write a note on {1})", "<= ::(write a note on {1} after {2})"),
        "                <- {draft}<:{1}>\n",
        "                <- {draft}<:{1}>\n                <- [notes]<:{2}>\n",
    ),
    fix=_CARRIED,
)

DOCS["NCD512"] = RuleDoc(
    what="An invariant concept (a carried name `X*-N`, or `%{is_invariant}: true`) that is the result of an "
    "inference inside its loop body other than a `$+` appending to it. Reported on that inference's concept line. "
    "(A `$+` destination produced in the same body is NCD510.)",
    why="Invariant concepts stay resolved across the reset between iterations: in the next iteration consumers read "
    "the previous value before the producer runs again, then the producer overwrites it; the result depends on "
    "timing. Carried names are provided by the loop itself.",
    bad=_swap(
        _CARRIED,
        "                <- {note}*-1<:{2}>\n",
        "                <- {note}*-1<:{2}>\n            <- {note}*-1\n                <= ::(recall the note before {1})\n"
        "                <- {draft}<:{1}>\n",
    ),
    fix=_CARRIED,
)

DOCS["NCD950"] = RuleDoc(
    what="The same loop index (`%@(N)`, 1 when absent) on several loops. Reported on the second loop's `%@` "
    "(or its `*.` line). Not reported when the two `*.` texts are identical (NCD505).",
    why="Loop state and `{x}*N` element names are keyed by the index; two loops with one index, nested or side by "
    "side, are confusing and their `*N` references ambiguous.",
    bad=""":<:{summary}
    <= ::(compare {1} with {2})
    <- [notes]<:{1}>
        <= *. %>([drafts]) %<({note}) %:({draft}) %@(1)
            <= $. %>({note})
            <- {note}
                <= ::(write a note on {1})
                <- {draft}<:{1}>
        <- [drafts]
        <* {draft}<$([drafts])*>
    <- [reviews]<:{2}>
        <= *. %>([drafts]) %<({review}) %:({piece}) %@(1)
            <= $. %>({review})
            <- {review}
                <= ::(review {1})
                <- {piece}<:{1}>
        <- [drafts]
        <* {piece}<$([drafts])*>
""",
    fix="Give each loop its own index: `%@(2)` on the second loop.",
)

DOCS["NCD951"] = RuleDoc(
    what="A concept produced inside a loop body (REPOSITORY_FORMAT §4.3) and read by an inference outside that "
    "loop, unless it is invariant (a `$+` accumulator, a carried name, `%{is_invariant}: true`). Reported at the "
    "outside reference.",
    why="Body concepts are reset and recomputed every iteration: after the loop only the last iteration's value "
    "survives.",
    bad=_swap(_LOOP, "<= ::(summarize {1})", "<= ::(summarize {1} and {2})") + "    <- {note}<:{2}>\n",
    fix=_ACCUMULATE,
)

DOCS["NCD952"] = RuleDoc(
    what="A carried declaration `X*-N` whose `X` is not produced by the loop body. Reported on the declaration.",
    why="Nothing new is carried: every iteration sees the initial value.",
    bad=_swap(_swap(_swap(_CARRIED, "<- {note}*-1<:{2}>", "<- {total}*-1<:{2}>"), "<- {note}*0", "<- {total}*0"),
              "<* {note}*-1", "<* {total}*-1"),
    fix=_CARRIED,
)

DOCS["NCD955"] = RuleDoc(
    what="A functional `$+` (its result line names another concept than the destination) inside a loop body whose "
    "destination is neither produced in that body nor provided by the loop (its element or a carried value). "
    "FIDELITY §3.3; the retired NCD213 rejected every such `$+`. Reported on the result line.",
    why="Every iteration computes the same unchanged destination plus its item: nothing accumulates.",
    bad=":<:[all lists]\n    <= *. %>([items]) %<({longer list}) %:({item}) %@(1)\n        <= $. %>({longer list})\n"
    "        <- {longer list}\n            <= $+ %>({seen}) %<({item}) %:({item})\n            <- {seen}\n"
    "            <- {item}\n    <- [items]\n        | %{literal_value}: [\"a\", \"b\"]\n"
    "        | %{ref_axes}: [item]\n    <- {seen}\n        | %{literal_value}: []\n    <* {item}<$([items])*>\n",
    fix=":<:[all lists]\n    <= *. %>([items]) %<({seen}) %:({item}) %@(1)\n        <= $. %>({seen})\n"
    "        <- {seen}\n            <= $+ %>({seen}) %<({item}) %:({item})\n            <- {item}\n"
    "    <- [items]\n        | %{literal_value}: [\"a\", \"b\"]\n        | %{ref_axes}: [item]\n"
    "    <- {seen}\n        | %{literal_value}: []\n    <* {item}<$([items])*>\n",
)
