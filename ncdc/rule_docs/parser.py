"""Rule documentation of the parser layer: NCD1xx (syntax, lexical, legacy and unimplemented forms), NCD2xx
(structure), NCD910-NCD916 (annotations), NCD920-NCD922 (root and cross-checked tags) and NCD990/NCD991
(suppressions). Sources: CHECKS.md §3.1, §3.2, §3.6 and §1.6, LANGUAGE.md §8.

Every ``bad`` snippet is a small plan that really reports its code, and every ``fix`` that is a plan does not
(tests/test_explain.py). One convention: ``<0xNN>`` in a snippet stands for the single raw byte 0xNN, so that
the NCD105 example (a file that is not UTF-8) can be written as text.
"""

from __future__ import annotations

from ncdc.rule_docs import RuleDoc

DOCS: dict[str, RuleDoc] = {}

# ---------------------------------------------------------------------------------------------------------------
# NCD10x — indentation and encoding
# ---------------------------------------------------------------------------------------------------------------

DOCS["NCD101"] = RuleDoc(
    what="A TAB character in the leading whitespace of a concept line. Reported on that line, at the column of the TAB.",
    why="Editors and tools disagree on how wide a TAB is; counted as one column it silently moves the line to another "
    "depth, so it joins a different inference or even becomes a second root.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n\t<- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD102"] = RuleDoc(
    what="A concept line whose indentation is not a multiple of four spaces. Reported on the line.",
    why="The depth is ambiguous (6 spaces would be one and a half levels); rounding it attaches the line to a "
    "parent the author did not mean, which changes the inputs of the inference and every flow index after it.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n      <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD103"] = RuleDoc(
    what="A concept line indented more than one level deeper than the concept line before it. Reported on the "
    "over-indented line.",
    why="There is no parent at the level in between: the line gets a flow index with a `0` component (`1.0.1`) "
    "and the parent/child relation the runtime relies on to schedule the step is broken.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n            <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD104"] = RuleDoc(
    what="The first concept line of the file does not start in column 1. Reported on that line.",
    why="Depth 0 is undefined, so the plan has no clear root; fragments pasted out of a larger plan typically "
    "compile into several disconnected trees.",
    bad="    :<:{summary}\n        <= ::(summarize {1})\n        <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD105"] = RuleDoc(
    what="The file is not valid UTF-8. Reported at the line and column of the first byte that cannot be decoded; "
    "the bytes are replaced so that checking goes on.",
    why="Names are decoded lossily, so two lines that spell the same concept may no longer match, and inputs "
    "silently stop connecting to their producers.",
    bad="/: saved as Latin-1: the e-acute of cafe is the single byte 0xE9, shown as a hex escape\n"
    ":<:{caf<0xE9> menu}\n    <= ::(write a menu for {1})\n    <- {dishes}<:{1}>\n",
    fix="Re-save the file as UTF-8 (in most editors: \"Save with encoding\" > UTF-8), so that `é` becomes the\n"
    "two bytes 0xC3 0xA9:\n\n:<:{café menu}\n    <= ::(write a menu for {1})\n    <- {dishes}<:{1}>\n",
)

# ---------------------------------------------------------------------------------------------------------------
# NCD11x — line kinds and payload syntax
# ---------------------------------------------------------------------------------------------------------------

DOCS["NCD110"] = RuleDoc(
    what="A line that is neither a concept line, a comment nor an annotation: prose, or a concept written without a "
    "marker. Reported on the line (also in the file header).",
    why="The line is invisible to compilation: a step the author believes is part of the plan is silently missing.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n    {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD111"] = RuleDoc(
    what="The payload of a concept line does not follow the grammar. Reported at the failing column; the message "
    "lists the tokens that were expected there.",
    why="The line cannot be compiled, so neither can the inference it belongs to.",
    bad=":<:{answer}\n    <= ::(compose {1}<$({input})%>)>\n    <- {question}<:{1}>\n",
    fix=":<:{answer}\n    <= ::(compose {1}<$({input})%>)\n    <- {question}<:{1}>\n",
)

DOCS["NCD112"] = RuleDoc(
    what="A concept line whose brackets never balance. Reported on the line where the unbalanced construct "
    "starts; the diagnostic spans the following lines that were joined to recover.",
    why="The split between payload and tail is undefined, and concept lines cannot continue on the next line: "
    "the joined text is not compiled.",
    bad=":<:{choice}\n    <= ::(pick the best of {1})\n    <- [\n        <option a>,\n        <option b>\n    ]<:{1}>\n",
    fix=":<:{choice}\n    <= ::(pick the best of {1})\n    <- [options]<:{1}>\n        | %{literal_value}: [\"option a\", \"option b\"]\n",
)

DOCS["NCD113"] = RuleDoc(
    what="Draft-format (unformalized) content: a `<^` line, a value or root payload that does not start with "
    "a bracket, or a `<=` payload of prose (starting with a letter). Reported on the line. A `.ncds` draft file "
    "named explicitly is reported once, at 1:1, and not parsed (FIDELITY §3.15).",
    why="The payload names no concept, so there is nothing to compile; the step only exists as prose.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n    <- current draft content<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {current draft content}<:{1}>\n",
)

DOCS["NCD114"] = RuleDoc(
    what="A `<-` or `<*` line whose payload is an operation (`::(...)`, `:Name:(...)`) instead of a concept. "
    "Reported on the line.",
    why="An operation is not a value: the runtime would wait for a concept named after the action text, which "
    "nothing ever produces, so the consumer waits forever.",
    bad=":<:{report}\n    <= ::(write a report from {1})\n    <- ::(summarize the notes)\n",
    fix=":<:{report}\n    <= ::(write a report from {1})\n    <- {summary}<:{1}>\n        <= ::(summarize {1})\n"
    "        <- {notes}<:{1}>\n",
)

DOCS["NCD115"] = RuleDoc(
    what="A truth assertion after a judgement that does not follow the assertion grammar (FIDELITY §3.8: clauses, "
    "an optional `is`, an optional condition word or number — `<ALL True>`, `<EXISTS>`, `<ANY 0>`, `<ALL is>` — or "
    "the condition first, `<true for each {x}>`; a missing condition means `True`). Reported at the assertion's "
    "`<`.",
    why="The quantifiers cannot be derived: the judgement's truth mask never matches, so every branch gated on "
    "it would be skipped.",
    bad=":<:<ticket is valid>\n    <= ::(check {1})<ALL 0 1>\n    <- {ticket}<:{1}>\n",
    fix=":<:<ticket is valid>\n    <= ::(check {1})<ANY 0>\n    <- {ticket}<:{1}>\n",
)

DOCS["NCD116"] = RuleDoc(
    what="An annotation value that breaks the syntax of its typed key: a `?{flow_index}` that is not dotted "
    "positive integers, a `%{python}` without `:function`, an empty `%{norm_input}` paradigm, a non-boolean "
    "`is_ground`, an unknown `%{loop_config}` flag or `?{ncdc}` value, and so on. Reported on the annotation.",
    why="The value would be dropped or misread, silently changing the executor, the axes or the flags of the step.",
    bad=":<:{is spam}\n    <= ::(decide whether {1} is spam)\n        | %{python}: checks/spam.py\n"
    "    <- {message}<:{1}>\n",
    fix=":<:{is spam}\n    <= ::(decide whether {1} is spam)\n        | %{python}: checks/spam.py:is_spam\n"
    "    <- {message}<:{1}>\n",
)

DOCS["NCD117"] = RuleDoc(
    what="A modifier argument of the wrong form for its operator: `%@` not a positive integer, `%-` not a list of "
    "lists, an unknown `%^` selector of `$-`, a list where one concept is required (`$. %>[...]`), a `%:` item "
    "that is not an axis name (`%:([{a}, [b]])`: write `%:[a, b]`), or more `%:` names than a `$%` face value "
    "has nesting levels (`$% %>([1, 2]) %:[a, b]`: write `%:[a]`). Reported on the modifier.",
    why="The working interpretation would carry a value the runtime cannot interpret, so the operation fails or "
    "reads the wrong concept.",
    bad=":<:{x}\n    <= $. %>[{a}, {b}]\n    <- {a}\n    <- {b}\n",
    fix=":<:{x}\n    <= $. %>({x}) %<[{a}, {b}]\n    <- {a}\n    <- {b}\n",
)

# ---------------------------------------------------------------------------------------------------------------
# NCD120-NCD128 — legacy forms; NCD130 — unimplemented constructs
# ---------------------------------------------------------------------------------------------------------------

_LEGACY_WHY = (
    "Legacy forms were read differently by different generations of tools (dropped loop suffixes, query marks "
    "read as part of names, sequences taken from comments), so accepting them would silently change what runs. "
)

DOCS["NCD120"] = RuleDoc(
    what="A legacy index-and-sequence tail such as `| 1.3. imperative` (or a trailing `1. assignment` after the "
    "payload). Reported at the legacy token; the message names the current equivalent.",
    why=_LEGACY_WHY + "Here the index and sequence words were taken as instructions; today both are computed from "
    "the structure and syntax.",
    bad=":<:{sum} | 1. imperative\n    <= ::(add {1} and {2})\n    <- {a}<:{1}>\n    <- {b}<:{2}>\n",
    fix=":<:{sum} | ?{flow_index}: 1 | ?{sequence}: imperative\n    <= ::(add {1} and {2})\n    <- {a}<:{1}>\n"
    "    <- {b}<:{2}>\n/: both tags are optional; they are only cross-checked\n",
)

DOCS["NCD121"] = RuleDoc(
    what="A legacy call-form assigning operator: `$.({x})`, `$=({x})`, `$+({item}:{dest})`. Reported at the "
    "operator; the message names the modifier form.",
    why=_LEGACY_WHY + "The call form does not say which argument is the selected concept and which are candidates.",
    bad=":<:{number}\n    <= $.({number})\n    <- {number}\n        <= ::(pick a number)\n",
    fix=":<:{number}\n    <= $. %>({number})\n    <- {number}\n        <= ::(pick a number)\n",
)

DOCS["NCD122"] = RuleDoc(
    what="A legacy grouping operator `&in` or `&across`. Reported at the operator; the message names "
    "`&[{}]` / `&[#]`.",
    why=_LEGACY_WHY + "The old operators did not list their sources, so the bundle's members were guessed.",
    bad=":<:[all notes]\n    <= &across\n    <- {a}\n    <- {b}\n",
    fix=":<:[all notes]\n    <= &[#] %>[{a}, {b}]\n    <- {a}\n    <- {b}\n",
)

DOCS["NCD123"] = RuleDoc(
    what="A legacy timing operator `@if(...)`, `@if!(...)` or `@after(...)`. Reported at the operator; the "
    "message names `@:'`, `@:!` or `@.`.",
    why=_LEGACY_WHY,
    bad=":<:{welcome mail}\n    <= ::(write a welcome mail)\n        <= @if(<user exists>)\n        <* <user exists>\n",
    fix=":<:{welcome mail}\n    <= ::(write a welcome mail)\n        <= @:'(<user exists>)\n        <* <user exists>\n",
)

DOCS["NCD124"] = RuleDoc(
    what="A legacy loop operator `*every(...)`. Reported at the operator; the message names the `*.` form.",
    why=_LEGACY_WHY + "In particular, the old suffix syntax for the element and the carried concepts was dropped "
    "by some tools, so the body ran on the wrong values.",
    bad=":<:[checked drafts]\n    <= *every([drafts])\n        <= $. %>({checked draft})\n        <- {checked draft}\n"
    "            <= ::(check {1})\n            <- {draft}<:{1}>\n    <- [drafts]\n    <* {draft}<$([drafts])*>\n",
    fix=":<:[checked drafts]\n    <= *. %>([drafts]) %<({checked draft}) %:({draft}) %@(1)\n"
    "        <= $. %>({checked draft})\n        <- {checked draft}\n            <= ::(check {1})\n"
    "            <- {draft}<:{1}>\n    <- [drafts]\n    <* {draft}<$([drafts])*>\n",
)

DOCS["NCD125"] = RuleDoc(
    what="A legacy angle-bodied operation such as `::<{draft} is complete>` or `::{ALL(true)}<...>`. Reported at "
    "the operation; the message names the `::(...)<ALL True>` form.",
    why=_LEGACY_WHY + "The angle body mixed the instruction with the assertion, so whether it was a judgement "
    "depended on the tool.",
    bad=":<:<draft is complete>\n    <= ::<{draft} is complete>\n    <- {draft}\n",
    fix=":<:<draft is complete>\n    <= ::(check that {1} is complete)<ALL True>\n    <- {draft}<:{1}>\n",
)

DOCS["NCD126"] = RuleDoc(
    what="A legacy `%`-norm written in braces right after an agent: `::{%(direct)}(...)`, "
    "`:Planner:{%(composition)}(...)`, or the query form `:>:{name}?()`. Reported at the agent; the message names the "
    "`%{norm_input}` annotation. (A plain `{norm}` such as `::{paradigm}(...)` is informational and accepted, "
    "FIDELITY §3.4.)",
    why=_LEGACY_WHY + "The braces chose the executor, which now comes from annotations only.",
    bad=":<:{translation}\n    <= ::{%(direct)}(translate {1})\n    <- {text}<:{1}>\n",
    fix=":<:{translation}\n    <= ::(translate {1})\n        | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal\n"
    "    <- {text}<:{1}>\n",
)

DOCS["NCD127"] = RuleDoc(
    what="A legacy input-norm agent `:%>(Name):`. Reported at the agent; the message names `:%(Name):`.",
    why=_LEGACY_WHY,
    bad=":<:{poem}\n    <= :%>(Composition):(write a poem about {1})\n    <- {topic}<:{1}>\n",
    fix=":<:{poem}\n    <= :%(Composition):(write a poem about {1})\n    <- {topic}<:{1}>\n",
)

DOCS["NCD128"] = RuleDoc(
    what="A legacy tag, binding, placeholder or query suffix: `<$(X)%_>`, `<$=>`, `<${_}=>`, `<*N>` carries, named "
    "bindings `<:{prompt}>`, rest placeholders `{2+}`, a `?` after a concept. Reported at the legacy token; the "
    "message names the current form (`<$(X)%>`, `<$(X)=>`, positional `<:{N}>`, no `?`). (`<$={N}>` with a number is "
    "an accepted alias of `<$({N})=>`, NCD917.)",
    why=_LEGACY_WHY + "A query mark, for example, was read as part of the name by some tools, so the concept never "
    "matched its producer.",
    bad=":<:{sum}?\n    <= ::(add {1} and {2})\n    <- {a}<:{1}>\n    <- {b}<:{2}>\n",
    fix=":<:{sum}\n    <= ::(add {1} and {2})\n    <- {a}<:{1}>\n    <- {b}<:{2}>\n",
)

DOCS["NCD129"] = RuleDoc(
    what="A functional type symbol used as the operation: `<= <{text}>` or `<= ({text})`. Reported at the `<=` "
    "payload's first character; the message names the current form: `::(text)<ALL True>` for the judgement "
    "symbol (choose the truth assertion), `::(text)` for the imperative one.",
    why="No operation is defined: the symbols only name concept types, so nothing would compute the value (the "
    "reference parser cannot compile it either).",
    bad=":<:<validation passed>\n    <= <{output meets requirements}>\n    <- {draft output}\n"
    "        | %{literal_value}: \"d\"\n",
    fix=":<:<validation passed>\n    <= ::(output meets requirements)<ALL True>\n        | %{python}: checks.py:meets\n"
    "    <- {draft output}\n        | %{literal_value}: \"d\"\n",
)

DOCS["NCD130"] = RuleDoc(
    what="A construct with no run-time implementation: `$::`, `@::`, the agent `:_:`, `@by`, `@before`, "
    "`@onlyIf`, `@ifOnlyIf`, `@with`, `@while`, `@until`, `*some`, `*count`, `&set`, `&pair`. Reported at the "
    "operator.",
    why="No runtime sequence implements it: the step would fail or be skipped when the plan runs.",
    bad=":<:{welcome mail}\n    <= ::(write a welcome mail)\n        <= @onlyIf(<user exists>)\n        <* <user exists>\n",
    fix=":<:{welcome mail}\n    <= ::(write a welcome mail)\n        <= @:'(<user exists>)\n        <* <user exists>\n"
    "/: a gate `@:'` instead of `@onlyIf`; a `*.` loop plus a judgement instead of `*some`\n",
)

# ---------------------------------------------------------------------------------------------------------------
# NCD2xx — structure
# ---------------------------------------------------------------------------------------------------------------

DOCS["NCD201"] = RuleDoc(
    what="The file contains no concept line at all (empty, or only comments). Reported at 1:1.",
    why="There is nothing to compile and nothing to run.",
    bad="/: summary of the notes (to do)\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD202"] = RuleDoc(
    what="A second (third, ...) concept line at depth 0. Reported on each extra root.",
    why="The extra tree becomes a separate, disconnected plan: whether it runs depends on the runtime, and which "
    "concept is the plan's final output is ambiguous.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n:<:{notes}\n    <= ::(collect the notes)\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD203"] = RuleDoc(
    what="A marker where it cannot appear: a `<=` or `<*` line with no parent, or a `:<:` line below depth 0. "
    "Reported on the line.",
    why="Functional and context concepts only mean something inside an inference, and only the root is the plan "
    "output; the line would be dropped.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n    :<:{notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD204"] = RuleDoc(
    what="A concept line that has children but no `<=` child, so the inference has no operation. Reported on the "
    "parent line.",
    why="The children are loaded but nothing produces the parent concept, so everything that consumes it waits "
    "forever.",
    bad=":<:{summary}\n    <- {notes}\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD205"] = RuleDoc(
    what="An inference with more than one `<=` child. Reported on the second `<=` line.",
    why="An inference is exactly one operation; tools that take the first `<=` turn the others into orphan "
    "inferences without inputs, which then run on nothing.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n    <= ::(shorten {1})\n    <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(shorten {1})\n    <- {long summary}<:{1}>\n        <= ::(summarize {1})\n"
    "        <- {notes}<:{1}>\n",
)

DOCS["NCD206"] = RuleDoc(
    what="An inference whose `<=` line is not its first child. Reported on the `<=` line.",
    why="The functional concept must be `.1`: otherwise the flow indices shift, and gate and loop links, which are "
    "found by index prefix, attach to the wrong lines.",
    bad=":<:{x}\n    <- {a}<:{1}>\n    <= ::(f {1})\n",
    fix=":<:{x}\n    <= ::(f {1})\n    <- {a}<:{1}>\n",
)

DOCS["NCD208"] = RuleDoc(
    what="A `<=` line with children that is neither a gate head (first child a timing line, the others naming "
    "only the condition) nor a `*.` loop, for example a `$.` with `<-` children outside a loop. Reported on the "
    "`<=` line.",
    why="The children would be read as a loop body or gate that does not exist, and scheduled under the wrong "
    "inference.",
    bad=":<:{answer}\n    <= $. %>({answer})\n        <- {answer}\n            <= ::(answer the question)\n",
    fix=":<:{answer}\n    <= $. %>({answer})\n    <- {answer}\n        <= ::(answer the question)\n",
)

DOCS["NCD212"] = RuleDoc(
    what="An operator modifier that is missing (a required one, e.g. the `%<` item of `$+`), given twice, or not "
    "allowed for that operator (LANGUAGE.md §4.3). Reported at the operator when missing, else at the modifier.",
    why="Required operands such as the item to append or the loop result would be absent from the working "
    "interpretation: the runtime does nothing, or reads the wrong concept.",
    bad=":<:[messages]\n    <= $+ %>([messages])\n    <- [messages]\n    <- {new message}\n",
    fix=":<:[messages]\n    <= $+ %>([messages]) %<({new message}) %:({message})\n    <- [messages]\n"
    "    <- {new message}\n",
)


# ---------------------------------------------------------------------------------------------------------------
# NCD910-NCD916 — annotations; NCD920-NCD922 — root and cross-checked tags
# ---------------------------------------------------------------------------------------------------------------

DOCS["NCD910"] = RuleDoc(
    what="An annotation continuation line (five or more spaces after `|`, no key) that was appended to the "
    "previous annotation's value. Reported on the continuation line (info).",
    why="None at run time: the value is joined with one space. Reported because a continuation is easy to "
    "misread as a separate banner, or to break by re-indenting.",
    bad=":<:{summary}\n    | %{ref_element}: dict(title: str,\n    |                 text: str)\n"
    "    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    | %{ref_element}: dict(title: str, text: str)\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD911"] = RuleDoc(
    what="An annotation line that is not indented deeper than any preceding concept line, so it has no proper "
    "owner; it is attached to the nearest preceding concept line. Reported on the annotation.",
    why="The annotation may end up on a line the author did not mean, changing that line's executor, axes or "
    "ground data.",
    bad=":<:{summary}\n| %{ref_axes}: [_none_axis]\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    | %{ref_axes}: [_none_axis]\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD912"] = RuleDoc(
    what="The same annotation key given twice for one concept line. Reported on the second occurrence.",
    why="The first value wins; the second one is silently ignored.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n        | %{body_faculty}: llm\n        | %{body_faculty}: python_interpreter\n"
    "    <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n        | %{body_faculty}: llm\n    <- {notes}<:{1}>\n",
)

DOCS["NCD913"] = RuleDoc(
    what="A syntactical key (`sequence`, `flow_index`) written with the referential sigil `%{...}` instead of "
    "`?{...}`. Reported on the annotation.",
    why="It is ignored, so the cross-check the author wanted never happens.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n        | %{sequence}: imperative\n    <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n        | ?{sequence}: imperative\n    <- {notes}<:{1}>\n",
)

DOCS["NCD914"] = RuleDoc(
    what="A `%{key}` that is not in the annotation catalogue (LANGUAGE.md §7.3). Reported on the annotation (info).",
    why="It is kept aside and ignored by compilation; if it is a misspelling, the intended setting is missing.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n        | %{body_facility}: llm\n    <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n        | %{body_faculty}: llm\n    <- {notes}<:{1}>\n",
)

DOCS["NCD915"] = RuleDoc(
    what="The older alias `%{paradigm}` used instead of `%{norm_input}`. Reported on the annotation (info).",
    why="None: it is treated exactly as `%{norm_input}`.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n        | %{paradigm}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal\n"
    "    <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n        | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal\n"
    "    <- {notes}<:{1}>\n",
)

DOCS["NCD916"] = RuleDoc(
    what="A `%{v_input_provision}` that lists several paths. Reported on the annotation.",
    why="Only the first path is used as the prompt or script; the others are silently ignored.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n        | %{v_input_provision}: prompts/a.md, prompts/b.md\n"
    "    <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n        | %{v_input_provision}: prompts/a.md\n    <- {notes}<:{1}>\n",
)

DOCS["NCD917"] = RuleDoc(
    what="An accepted spelling that is not the preferred form; it is compiled as the preferred form, which the "
    "message names: `<$={N}>` (→ `<$({N})=>`), a `$.` `%<` entry naming the inference's own result (dropped), "
    "`$+` operands written swapped (→ `$+ %>(dest) %<(item)`), a carried name listed only in `%^` (→ a `<* X*-N` "
    "line), the inline element `%>(B<$({x})*>)` as the only declaration (→ `<* {x}<$(B)*>`), and `$-` with "
    "`%@(N)`, `%<` naming its result or no `%>` (→ `$- %>(S) %^(<$*N>)`). Reported at the construct.",
    why="None at run time: the step is compiled exactly as the preferred form. Tools that only know the preferred "
    "form (and readers) may misread the written one; the function concept's name is the preferred form's.",
    bad=":<:{selected item}\n    <= $- %<({selected item}) %@(0)\n    <- [items]\n"
    "        | %{literal_value}: [\"a\", \"b\"]\n",
    fix=":<:{selected item}\n    <= $- %>([items]) %^(<$*0>)\n    <- [items]\n"
    "        | %{literal_value}: [\"a\", \"b\"]\n",
)

DOCS["NCD920"] = RuleDoc(
    what="The root (depth-0) concept line written with `<-` or `<*` instead of `:<:`, or without a marker (a first "
    "line such as `{updated list}` at column 1 followed by a `<=` line one level deeper, FIDELITY §6.1). Reported on "
    "the root.",
    why="None: it is accepted and treated as `:<:`; the marker makes the plan output explicit to readers and tools.",
    bad="<- {summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD921"] = RuleDoc(
    what="An explicit `?{flow_index}` that matches neither the computed index nor the heads-only convention chosen "
    "for the file. Reported on the annotation; the message shows the computed and heads-only values.",
    why="None at run time (indices are always computed), but the annotation misleads readers and any tool that "
    "trusts it.",
    bad=":<:{summary} | ?{flow_index}: 1\n    <= ::(summarize {1}) | ?{flow_index}: 1.1\n"
    "    <- {notes}<:{1}> | ?{flow_index}: 1.3\n",
    fix=":<:{summary} | ?{flow_index}: 1\n    <= ::(summarize {1}) | ?{flow_index}: 1.1\n"
    "    <- {notes}<:{1}> | ?{flow_index}: 1.2\n",
)

DOCS["NCD922"] = RuleDoc(
    what="A `?{sequence}` tag that names a different family than the one the operator syntax gives. Reported on "
    "the tag.",
    why="None for `ncdc` (the syntax decides), but a tool that trusts tags would run the wrong sequence.",
    bad=":<:{summary} | ?{sequence}: grouping\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
    fix=":<:{summary} | ?{sequence}: imperative\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

# ---------------------------------------------------------------------------------------------------------------
# NCD990-NCD991 — suppressions (CHECKS.md §1.6)
# ---------------------------------------------------------------------------------------------------------------

DOCS["NCD990"] = RuleDoc(
    what="A suppression entry (`?{ncdc}: ignore[...]` or `ignore-file[...]`) that suppressed nothing. Reported at "
    "the entry.",
    why="None, but a stale suppression would silently hide the problem if it came back later.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}> | ?{ncdc}: ignore[NCD934]\n",
    fix=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)

DOCS["NCD991"] = RuleDoc(
    what="A suppression entry that names an error code or an unknown code; only warnings and infos (NCD9xx) can "
    "be suppressed. Reported at the entry.",
    why="It has no effect: errors are never suppressed, so the author's intent is not what happens.",
    bad=":<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}> | ?{ncdc}: ignore[NCD301]\n",
    fix="Fix the plan instead of suppressing the error (or use `ncdc check --ignore NCD301` for a one-off\n"
    "run), and remove the entry:\n\n:<:{summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>\n",
)
