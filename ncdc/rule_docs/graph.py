"""Rule documentation of the dependency-graph family: NCD301-NCD305 (errors) and the structure and graph warnings
NCD924-NCD927, NCD930-NCD934 and NCD949 (CHECKS.md §3.3, §3.6).

Every ``bad`` snippet is a small plan that really reports its code, and every ``fix`` that is a plan does not
(tests/test_explain.py).
"""

from __future__ import annotations

from ncdc.rule_docs import RuleDoc

DOCS: dict[str, RuleDoc] = {}

# ---------------------------------------------------------------------------------------------------------------
# NCD30x — dependency graph (errors)
# ---------------------------------------------------------------------------------------------------------------

DOCS["NCD301"] = RuleDoc(
    what="A cycle in the dependency graph: inference I waits for P when I reads (as value, context or function "
    "concept) a concept P produces, and every inference waits for the inferences nested under it. One diagnostic "
    "per strongly connected component, on the member with the lowest flow index; the message shows one shortest "
    "cycle through it (`a (line 2) -> b (line 6) -> a`, each waiting for the next) and the notes list every "
    "member. An inference reading its own result counts when it is that concept's only producer.",
    why="Every member waits for another member, so the runtime can never start any of them: the run ends "
    "`blocked`, after spending time and model calls on everything else.",
    bad=":<:{report}\n"
    "    <= ::(write the report from {1})\n"
    "    <- {outline}<:{1}>\n"
    "        <= ::(outline {1})\n"
    "        <- {report}<:{1}>\n",
    fix=":<:{report}\n"
    "    <= ::(write the report from {1})\n"
    "    <- {outline}<:{1}>\n"
    "        <= ::(outline {1})\n"
    "        <- {brief}<:{1}>\n"
    "            | %{literal_value}: \"a short brief\"\n",
)

DOCS["NCD302"] = RuleDoc(
    what="A concept named as an operand that is not a sibling `<-`/`<*` line of the operation: the `%>`/`%<` of "
    "`$=`, `$.`, `$+`, `$-`, a `%>` source of a grouping, an entry of `%{value_order}` or `%{assign_sources}`. A "
    "`$.` may select its own result. Loop operands (NCD502-NCD504) and gate conditions (NCD924) have their own "
    "rules. Reported on the operand.",
    why="The runtime only waits for declared inputs. An undeclared operand is read while still empty, so the "
    "operation copies nothing or groups fewer sources than written.",
    bad=":<:{final answer}\n    <= $. %>({draft})\n    <- {review}\n        | %{literal_value}: \"looks fine\"\n",
    fix=":<:{final answer}\n    <= $. %>({draft})\n    <- {draft}\n        | %{literal_value}: \"the draft\"\n",
)

DOCS["NCD303"] = RuleDoc(
    what="A value concept with a ground declaration (`%{literal_value}`, `%{file_location}`, `%{is_ground}: true`, "
    "…) that is also the result of an inference. A `$+` appending to declared data is allowed (the data is the "
    "initial value). Reported on the ground declaration.",
    why="Ground concepts are complete at start-up: consumers never wait for the producing step and read the "
    "declared data instead of the computed value.",
    bad=":<:{summary}\n"
    "    <= ::(summarize {1})\n"
    "    <- {notes}<:{1}>\n"
    "        | %{literal_value}: \"old notes\"\n"
    "        <= ::(take notes on {1})\n"
    "        <- {text}<:{1}>\n"
    "            | %{literal_value}: \"the text\"\n",
    fix=":<:{summary}\n"
    "    <= ::(summarize {1})\n"
    "    <- {notes}<:{1}>\n"
    "        <= ::(take notes on {1})\n"
    "        <- {text}<:{1}>\n"
    "            | %{literal_value}: \"the text\"\n",
)

DOCS["NCD304"] = RuleDoc(
    what="One concept declared with different `%{ref_axes}` lists on different lines, or with two different ground "
    "data declarations (literal values, file locations, …). Reported on the second (conflicting) declaration; "
    "the note points to the first. `%{ref_element}` differences are not reported.",
    why="The repository holds one axis list and one value per concept: groupings, loops and for-each judgements "
    "keyed by axis would use whichever declaration won, not the one the author meant at that line.",
    bad=":<:{summary}\n"
    "    <= ::(summarize {1})\n"
    "    <- [items]<:{1}>\n"
    "        | %{literal_value}: [\"a\", \"b\"]\n"
    "        | %{ref_axes}: [item]\n"
    "    <- {count}\n"
    "        <= ::(count {1})\n"
    "        <- [items]<:{1}>\n"
    "            | %{ref_axes}: [entry]\n",
    fix="Declare the axes identically on every line that names the concept (here `[item]` on both), or only once.",
)

DOCS["NCD305"] = RuleDoc(
    what="The same functional concept text occurring more than once with different `%{v_input_provision}`, "
    "`%{norm_input}` (or `%{paradigm}`), `%{python}`, `%{v_function_name}` or `%{prompt}`. Reported on the second "
    "occurrence.",
    why="The repository has one entry per functional text, holding one prompt or script: one of the two "
    "operations would silently run with the other's prompt or binding.",
    bad=":<:{summary}\n"
    "    <= ::(join {1} and {2})\n"
    "    <- {short a}<:{1}>\n"
    "        <= ::(shorten {1})\n"
    "            | %{prompt}: prompts/short.md\n"
    "        <- {a}<:{1}>\n"
    "    <- {short b}<:{2}>\n"
    "        <= ::(shorten {1})\n"
    "            | %{prompt}: prompts/very_short.md\n"
    "        <- {b}<:{1}>\n",
    fix=":<:{summary}\n"
    "    <= ::(join {1} and {2})\n"
    "    <- {short a}<:{1}>\n"
    "        <= ::(shorten {1})\n"
    "            | %{prompt}: prompts/short.md\n"
    "        <- {a}<:{1}>\n"
    "    <- {short b}<:{2}>\n"
    "        <= ::(shorten {1} to one line)\n"
    "            | %{prompt}: prompts/very_short.md\n"
    "        <- {b}<:{1}>\n",
)

# ---------------------------------------------------------------------------------------------------------------
# NCD924-NCD927 — structure warnings
# ---------------------------------------------------------------------------------------------------------------

DOCS["NCD924"] = RuleDoc(
    what="A gate whose condition is not written as a `<*` child of the gated functional line. Reported on the "
    "timing line.",
    why="None at run time (the compiler adds the condition as the gate's value and context), but the gate's input "
    "is invisible where a reader looks for it.",
    bad=":<:{reply}\n"
    "    <= ::(draft a reply)\n"
    "        <= @:!(<ticket is spam>)\n"
    "    <- <ticket is spam>\n"
    "        <= ::(is the ticket spam)<ALL True>\n",
    fix=":<:{reply}\n"
    "    <= ::(draft a reply)\n"
    "        <= @:!(<ticket is spam>)\n"
    "        <* <ticket is spam>\n"
    "    <- <ticket is spam>\n"
    "        <= ::(is the ticket spam)<ALL True>\n",
)

DOCS["NCD925"] = RuleDoc(
    what="A `<*` context child of an imperative, judgement, assigning or grouping inference that is not the "
    "condition of the gate guarding it. Reported on the `<*` line.",
    why="The concept is loaded and waited for, but these operations never pass context concepts to their "
    "executor: the information the author meant to supply is silently dropped.",
    bad=":<:{summary}\n"
    "    <= ::(summarize {1})\n"
    "    <- {notes}<:{1}>\n"
    "    <* {style guide}\n",
    fix=":<:{summary}\n"
    "    <= ::(summarize {1} following {2})\n"
    "    <- {notes}<:{1}>\n"
    "    <- {style guide}<:{2}>\n",
)

DOCS["NCD926"] = RuleDoc(
    what="An identification marker `<$({X})=>` on the result line of a `$+`. Reported (info) on the marker.",
    why="None: the append happens in place on the destination, so the marker is only a label and the result is "
    "the destination itself (LANGUAGE.md §3.3).",
    bad=":<:{digest}\n"
    "    <= ::(write a digest of {1})\n"
    "    <- [messages]<$({appended})=><:{1}>\n"
    "        <= $+ %>([messages]) %<({new message}) %:({message})\n"
    "        <- [messages]\n"
    "            | %{literal_value}: [\"first\"]\n"
    "        <- {new message}\n",
    fix=":<:{digest}\n"
    "    <= ::(write a digest of {1})\n"
    "    <- [messages]<:{1}>\n"
    "        <= $+ %>([messages]) %<({new message}) %:({message})\n"
    "        <- [messages]\n"
    "            | %{literal_value}: [\"first\"]\n"
    "        <- {new message}\n",
)

DOCS["NCD927"] = RuleDoc(
    what="A timing line that heads another gate (a gate on a gate). Reported on the inner timing line.",
    why="The outer condition is only evaluated when the inner gate passes; when the inner gate skips, the outer "
    "gate counts as passed and the guarded operation runs unconditionally (RUNTIME §5.3) — usually the opposite "
    "of what the author meant.",
    bad=":<:{reply}\n"
    "    <= ::(draft a reply)\n"
    "        <= @:'(<ticket is urgent>)\n"
    "            <= @:!(<ticket is spam>)\n"
    "            <* <ticket is spam>\n"
    "        <* <ticket is urgent>\n",
    fix=":<:{reply}\n"
    "    <= ::(draft a reply)\n"
    "        <= @:'(<ticket is urgent and not spam>)\n"
    "        <* <ticket is urgent and not spam>\n"
    "    <- <ticket is urgent and not spam>\n"
    "        <= ::(is the ticket urgent and not spam)<ALL True>\n",
)

# ---------------------------------------------------------------------------------------------------------------
# NCD930-NCD934 — graph warnings
# ---------------------------------------------------------------------------------------------------------------

DOCS["NCD930"] = RuleDoc(
    what="A concept produced by several inferences. Not reported for a `$.`/`$=` that re-exports a concept "
    "computed in its own subtree under the same name (pass-through), nor for the `$+` appends to a destination. "
    "Reported on each extra producer; the note points to the first.",
    why="There is one value slot per name: consumers read whichever producer finishes first, and the later one "
    "overwrites it.",
    bad=":<:{summary}\n"
    "    <= ::(summarize {1} and {2})\n"
    "    <- {notes}<:{1}>\n"
    "        <= ::(take notes)\n"
    "    <- {extras}<:{2}>\n"
    "        <= ::(add extras to {1})\n"
    "        <- {notes}<:{1}>\n"
    "            <= ::(take other notes)\n",
    fix=":<:{summary}\n"
    "    <= ::(summarize {1} and {2})\n"
    "    <- {notes}<:{1}>\n"
    "        <= ::(take notes)\n"
    "    <- {extras}<:{2}>\n"
    "        <= ::(add extras to {1})\n"
    "        <- {other notes}<:{1}>\n"
    "            <= ::(take other notes)\n",
)

DOCS["NCD931"] = RuleDoc(
    what="A concept that is read but never produced and not declared ground. Reported on the first concept line "
    "naming it (else on the first operand mentioning it).",
    why="Nothing in the plan computes it, so the run's inputs file must supply it; otherwise the run is `blocked` "
    "at start. Often a typo of a produced name (see NCD934).",
    bad=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n        | %{file_location}: data/notes.txt\n",
)

DOCS["NCD932"] = RuleDoc(
    what="A `$.` with more than one candidate (REPOSITORY_FORMAT §3.3) that is not guarded by a gate, directly or "
    "through a gated producer. Reported on the `$.` line.",
    why="The first resolved candidate always wins: the other ungated alternatives run, cost time and model calls, "
    "and are never selected.",
    bad=":<:{reply}\n"
    "    <= $. %>({reply})\n"
    "    <- {drafted reply}\n"
    "        <= ::(draft a reply)\n"
    "    <- {canned reply}\n"
    "        | %{literal_value}: \"Thanks!\"\n",
    fix=":<:{reply}\n"
    "    <= $. %>({reply})\n"
    "    <- {drafted reply}\n"
    "        <= ::(draft a reply)\n"
    "            <= @:!(<ticket is spam>)\n"
    "            <* <ticket is spam>\n"
    "    <- {canned reply}\n"
    "        | %{literal_value}: \"Thanks!\"\n"
    "    <- <ticket is spam>\n"
    "        <= ::(is the ticket spam)<ALL True>\n",
)

DOCS["NCD933"] = RuleDoc(
    what="An inference whose result reaches the plan output through no read that uses it (a bound or ordered "
    "input, a `$.` candidate, a grouping source, a gate condition, a function concept, a loop base, result or "
    "initial value, an assigning operand). Reported on its result line.",
    why="The step still runs and costs time and model calls, but nothing uses what it computes — often an input "
    "the author forgot to bind.",
    bad=":<:{answer}\n"
    "    <= $. %>({draft})\n"
    "    <- {draft}\n"
    "        <= ::(draft an answer)\n"
    "    <- {outline}\n"
    "        <= ::(outline an answer)\n",
    fix=":<:{answer}\n"
    "    <= $. %>({draft})\n"
    "    <- {draft}\n"
    "        <= ::(draft an answer along {1})\n"
    "        <- {outline}<:{1}>\n"
    "            <= ::(outline an answer)\n",
)

DOCS["NCD934"] = RuleDoc(
    what="Two concept names of the same kind that are equal after lower-casing and collapsing whitespace. Reported "
    "on the first line of the second spelling.",
    why="Names are exact keys: the two spellings are two unrelated concepts that never connect, so one is usually "
    "never produced (NCD931) and the other never used.",
    bad=":<:{summary}\n"
    "    <= ::(summarize {1})\n"
    "    <- {meeting notes}<:{1}>\n"
    "        <= ::(write down {1})\n"
    "        <- {Meeting Notes}<:{1}>\n",
    fix="Use one spelling everywhere, e.g. rename `{Meeting Notes}` to a distinct name such as `{raw notes}` if it is "
    "a different concept.",
)

# ---------------------------------------------------------------------------------------------------------------
# NCD949 — files (--check-files)
# ---------------------------------------------------------------------------------------------------------------

DOCS["NCD949"] = RuleDoc(
    what="With `--check-files`: a `%{v_input_provision}` path, a `%{prompt}` template, a `%{python}` module or a "
    "data file (`%{file_location}`, `%{prompt_location}`, `%{script_location}`) that does not exist under the "
    "plan's directory. Reported on the annotation, once per missing file.",
    why="The run fails when it reaches that step (or at load time for ground data), possibly after hours of "
    "earlier work.",
    bad=":<:{summary}\n"
    "    <= ::(summarize {1})\n"
    "    <- {notes}<:{1}>\n"
    "        | %{file_location}: data/notes.json\n",
    fix="Correct the path (it is relative to the plan's directory) or add the missing file, e.g. create "
    "`data/notes.json` next to the plan.",
)
