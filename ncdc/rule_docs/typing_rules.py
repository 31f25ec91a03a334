"""Rule documentation of the readiness-typing family (NCD4xx) and its warnings (NCD923, NCD940-NCD948,
NCD953)."""

from __future__ import annotations

from ncdc.rule_docs import RuleDoc

DOCS: dict[str, RuleDoc] = {}

DOCS["NCD401"] = RuleDoc(
    what="A `@:'` or `@:!` gate whose condition is an object `{…}`, a relation `[…]` or a subject instead of a "
    "proposition `<…>`. Reported at the condition inside the timing line. (`@.` may wait on any concept.)",
    why="An if/if-not gate decides on a truth value. A condition without one cannot be tested, so the gate either "
    "never passes or always passes, and the gated operation runs (or is skipped) regardless of the data.",
    bad="<- {reply}\n    <= ::(send the reply)\n        <= @:'({approval})\n        <* {approval}",
    fix="<- {reply}\n    <= ::(send the reply)\n        <= @:'(<approval granted>)\n        <* <approval granted>\n"
    "(with `<approval granted>` produced by a judgement such as `::(is {1} approved)<ALL True>`)",
)

DOCS["NCD402"] = RuleDoc(
    what="A `@:'`/`@:!` condition produced by something other than a judgement (an imperative, an assignment, a "
    "grouping, a loop), or a never-produced condition whose declared ground data is not truth values. Reported "
    "at the condition inside the timing line.",
    why="A gate reads the judgement's outcome. A condition produced otherwise carries none, so the runtime treats "
    "it as always met: `@:'` always passes and `@:!` always skips, and the wrong branch runs silently.",
    bad=":<:{reply}\n    <= ::(write an urgent reply)\n        <= @:'(<is urgent>)\n        <* <is urgent>\n"
    "    <- <is urgent>\n        <= ::(decide the urgency of {1})\n        <- {ticket}<:{1}>",
    fix=":<:{reply}\n    <= ::(write an urgent reply)\n        <= @:'(<is urgent>)\n        <* <is urgent>\n"
    "    <- <is urgent>\n        <= ::(is {1} urgent)<ALL True>\n        <- {ticket}<:{1}>",
)

DOCS["NCD403"] = RuleDoc(
    what="A gated functional text (the text of a `<=` line that heads a gate) that also occurs elsewhere in the "
    "plan. Reported at every other occurrence.",
    why="When a gate skips, the runtime skips every inference whose function equals the gated text, so an "
    "unrelated operation with the same wording is skipped too.",
    bad="<- {summary}\n    <= ::(summarize {1})\n        <= @:'(<needed>)\n        <* <needed>\n    <- {a}<:{1}>\n"
    "<- {other summary}\n    <= ::(summarize {1})\n    <- {b}<:{1}>",
    fix="Reword one of the two operations, e.g. `::(summarize the notes {1})` for the second.",
)

DOCS["NCD404"] = RuleDoc(
    what="A `*.` loop whose base (`%>` operand) is a proposition (FIDELITY §1: a base declared `[_none_axis]` is "
    "NCD947). Reported at the `%>` operand.",
    why="A truth value has no items: the loop would run once over a boolean.",
    bad=":<:[notes]\n    <= *. %>(<ready>) %<({note}) %@(1)\n        <= $. %>({note})\n        <- {note}\n"
    "            <= ::(write a note about {1})\n                | %{python}: notes.py:note\n"
    "            <- {part}<:{1}>\n    <- <ready>\n        | %{literal_value}: true\n    <* {part}<$(<ready>)*>\n",
    fix="Loop over a relation (`[drafts]`) or an object holding a collection: `*. %>([drafts]) …` with "
    "`<* {part}<$([drafts])*>`.",
)

DOCS["NCD406"] = RuleDoc(
    what="Two different value children of one semantic inference bound to the same slot `<:{N}>`. Reported at "
    "the second binding.",
    why="Inputs are ordered by slot: one of the two lands at the wrong position or is lost.",
    bad="<- {answer}\n    <= ::(compare {1} with {2})\n    <- {a}<:{1}>\n    <- {b}<:{1}>",
    fix="<- {answer}\n    <= ::(compare {1} with {2})\n    <- {a}<:{1}>\n    <- {b}<:{2}>",
)

DOCS["NCD407"] = RuleDoc(
    what="The slots bound by the value children of a semantic inference do not form 1..k (for example "
    "`<:{1}>` and `<:{3}>`). Reported at the first out-of-sequence binding.",
    why="The runtime renumbers inputs 1..k, so `{3}` in the instruction receives the second input.",
    bad="<- {answer}\n    <= ::(compare {1} with {3})\n    <- {a}<:{1}>\n    <- {b}<:{3}>",
    fix="<- {answer}\n    <= ::(compare {1} with {2})\n    <- {a}<:{1}>\n    <- {b}<:{2}>",
)

DOCS["NCD408"] = RuleDoc(
    what="When a body uses numeric placeholders and at least one value child is bound: a placeholder `{N}` with "
    "no child bound `<:{N}>` (reported at the placeholder), or a bound slot that the body never mentions "
    "(reported at the binding). Bodies without placeholders may bind freely.",
    why="The instruction refers to an input that is never passed, or an input is passed that the instruction "
    "never mentions.",
    bad="<- {answer}\n    <= ::(compare {1} with {2})\n    <- {a}<:{1}>\n    <- {b}",
    fix="<- {answer}\n    <= ::(compare {1} with {2})\n    <- {a}<:{1}>\n    <- {b}<:{2}>",
)

DOCS["NCD410"] = RuleDoc(
    what="A `$.` whose candidate list (REPOSITORY_FORMAT §3.3) is empty: `%{assign_sources}` or `%<` given but "
    "empty, or no `%>` sibling and no non-proposition sibling value that is not consumed inside another "
    "sibling's subtree. Reported at the `$.` line.",
    why="Nothing can be selected, so the concept never gets a value and its consumers wait forever.",
    bad="<- {answer}\n    <= $. %>({answer})\n    <- <is ready>",
    fix="<- {answer}\n    <= $. %>({answer}) %<[{draft}]\n    <- {draft}\n    <- <is ready>",
)

DOCS["NCD411"] = RuleDoc(
    what="A grouping whose `%-` list, `%{by_axes}` list or set of `%{collapse_in_grouping}` declarations on its "
    "source lines has a different length than its `%>` sources. Reported at the modifier or annotation.",
    why="Collapse lists are matched to sources by position, so they are applied to the wrong sources.",
    bad="<- [all]\n    <= &[#] %>[{a}, {b}]\n        | %{by_axes}: [[x]]\n    <- {a}\n    <- {b}",
    fix="<- [all]\n    <= &[#] %>[{a}, {b}]\n        | %{by_axes}: [[x], []]\n    <- {a}\n    <- {b}\n"
    "(the same holds for `%-[[x], []]` and for `%{collapse_in_grouping}` on the source lines)",
)

DOCS["NCD923"] = RuleDoc(
    what="A grouping without `%+` whose result declares exactly one axis (other than `_none_axis`) that no source "
    "declares: the compiler infers `create_axis` from it (REPOSITORY_FORMAT §3.3). Info, at the grouping line.",
    why="The compiled grouping creates an axis the author did not write; reading the plan alone, the new axis "
    "is invisible.",
    bad="<- {signals}\n    | %{ref_axes}: [signal]\n    <= &[#] %>[{prices}, {news}]",
    fix="<- {signals}\n    | %{ref_axes}: [signal]\n    <= &[#] %>[{prices}, {news}] %+(signal)",
)

DOCS["NCD940"] = RuleDoc(
    what="A binding `<:{N}>` on an input of a syntactic operator (`$=`, `$.`, `$+`, `$-`, `$%`, `&[…]`, `*.`, a "
    "gate). Reported at the binding.",
    why="Syntactic operators read their operands from their modifiers, so the binding is ignored and suggests "
    "an ordering that does not exist.",
    bad="<- {answer}\n    <= $. %>({draft})\n    <- {draft}<:{1}>",
    fix="<- {answer}\n    <= $. %>({draft})\n    <- {draft}",
)

DOCS["NCD941"] = RuleDoc(
    what="A semantic inference with some value children bound and others not. Info, at the first unbound child.",
    why="Once any child is bound, only the bound children are passed to the executor; the unbound ones are "
    "dependencies only (they are waited for but not read).",
    bad="<- {report}\n    <= ::(write a report on {1})\n    <- {topic}<:{1}>\n    <- {notes}",
    fix="Bind the child if the operation should read it (`<- {notes}<:{2}>` and mention `{2}`), or accept that "
    "it is only a dependency (`| ?{ncdc}: ignore[NCD941]`).",
)

DOCS["NCD942"] = RuleDoc(
    what="A semantic body with numeric placeholders `{N}` but no value child bound. Reported at the functional "
    "line.",
    why="Without bindings the inputs are passed in source order, which may not match the placeholders.",
    bad="<- {answer}\n    <= ::(compare {1} with {2})\n    <- {a}\n    <- {b}",
    fix="<- {answer}\n    <= ::(compare {1} with {2})\n    <- {a}<:{1}>\n    <- {b}<:{2}>",
)

DOCS["NCD943"] = RuleDoc(
    what="A truth assertion whose condition is not `True`/`False` (for example `<{ALL unsure}>`). Reported at "
    "the assertion.",
    why="The condition is compared as a string; gates can only use true/false outcomes.",
    bad="<- <is clear>\n    <= ::(is {1} clear)<ALL unsure>\n    <- {text}<:{1}>",
    fix="<- <is clear>\n    <= ::(is {1} clear)<ALL True>\n    <- {text}<:{1}>",
)

DOCS["NCD944"] = RuleDoc(
    what="A concept kind unusual for the operation: an imperative inferring a proposition, a judgement inferring "
    "an object or a relation (FIDELITY §3.12; this replaces the retired NCD405), or a loop inferring a "
    "non-relation without a declared non-singleton axis (no `%{ref_axes}` other than `[_none_axis]`, and no "
    "`%+`). A grouping without `%+` yields one element holding its list or object by design and is not reported "
    "(FIDELITY §5). Reported at the result (cti) line.",
    why="Downstream gates and loops see unexpected shapes: a proposition with no truth value, a truth value under "
    "an entity's name (gates need propositions, NCD401), or a collection named and declared as a single value.",
    bad=":<:{reply}\n    <= ::(post the reply)\n        | %{python}: reply.py:post\n    <- {spam check}\n"
    "        <= ::(is the ticket spam)<ALL True>\n            | %{python}: reply.py:spam\n",
    fix=":<:{reply}\n    <= ::(post the reply)\n        | %{python}: reply.py:post\n    <- <ticket is spam>\n"
    "        <= ::(is the ticket spam)<ALL True>\n            | %{python}: reply.py:spam\n",
)

DOCS["NCD945"] = RuleDoc(
    what="A semantic functional line (`::(…)`, `:Name:(…)`, `:%(…):(…)`, `:>:(…)`) without "
    "`%{body_faculty}`. "
    "Reported at the functional line.",
    why="Only informational at run time, but the annotation documents which tools (llm, file_system, "
    "python_interpreter, …) the step uses.",
    bad="<- {summary}\n    <= ::(summarize {1})\n    <- {notes}<:{1}>",
    fix="<- {summary}\n    <= ::(summarize {1})\n        | %{body_faculty}: llm\n    <- {notes}<:{1}>",
)

DOCS["NCD946"] = RuleDoc(
    what="A quantifier key of a judgement's assertion, derived from a concept reference (its first declared axis, "
    "else its bare name), that is not an axis declared on any input of the judgement. The default key `axis` "
    "(a clause without a reference) is never reported. Reported at the assertion.",
    why="A collapsing quantifier with an unknown key is applied globally, and a for-each on a missing axis fails "
    "at run time.",
    bad="<- <all fine>\n    <= ::(is {1} fine)<For Each {item} True>\n    <- {items}<:{1}>",
    fix="<- <all fine>\n    <= ::(is {1} fine)<For Each {item} True>\n    <- {items}<:{1}>\n"
    "        | %{ref_axes}: [item]",
)

DOCS["NCD947"] = RuleDoc(
    what="A `*.` loop whose base is an object `{…}` with no `%{ref_axes}` declaration, or any base declared "
    "exactly `[_none_axis]` (reported at the `%>` operand); or a `%:` operand that is not a declared axis of a "
    "base that declares axes (erratum E17; reported at the `%:` operand). A `%:` naming the loop's element (the "
    "older name-the-element spelling) is not reported.",
    why="A single value is iterated over its items when it is a list, else once (RUNTIME §5.4); whether that is "
    "the intent is unknown until run time. A mistyped loop axis silently falls back to the base's first axis.",
    bad=":<:[notes]\n    <= *. %>([drafts]) %<({note}) %:(colum) %@(1)\n        <= $. %>({note})\n"
    "        <- {note}\n            <= ::(write a note about {1})\n                | %{python}: notes.py:note\n"
    "            <- {part}<:{1}>\n    <- [drafts]\n        | %{literal_value}: [\"a\", \"b\"]\n"
    "        | %{ref_axes}: [column]\n    <* {part}<$([drafts])*>\n",
    fix=":<:[notes]\n    <= *. %>([drafts]) %<({note}) %:(column) %@(1)\n        <= $. %>({note})\n"
    "        <- {note}\n            <= ::(write a note about {1})\n                | %{python}: notes.py:note\n"
    "            <- {part}<:{1}>\n    <- [drafts]\n        | %{literal_value}: [\"a\", \"b\"]\n"
    "        | %{ref_axes}: [column]\n    <* {part}<$([drafts])*>\n",
)

DOCS["NCD948"] = RuleDoc(
    what="A semantic operation (other than `:>:`) with no `%{norm_input}`, `%{paradigm}`, `%{python}` or "
    "`%{v_input_provision}`. Info, at the functional line.",
    why="It runs on the default LLM executor with the built-in default template (or the `%{prompt}` template): "
    "a model call, with whatever prompt the runtime composes.",
    bad="<- {summary}\n    <= ::(summarize {1})\n        | %{body_faculty}: llm\n    <- {notes}<:{1}>",
    fix="<- {summary}\n    <= ::(summarize {1})\n"
    "        | %{norm_input}: v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal\n"
    "        | %{v_input_provision}: prompts/summarize.md\n        | %{body_faculty}: llm\n    <- {notes}<:{1}>",
)

DOCS["NCD953"] = RuleDoc(
    what="An imperative or judgement for which the runtime's executor selection (RUNTIME §10.6) finds nothing: "
    "no Python binding, no built-in composition (c_ReadFile, c_ReadFileIfExists, c_WriteFile, c_PassThrough, "
    "c_LoadParse), no LLM paradigm or prompt, yet some executor annotation is present. A `.py` provision binds "
    "`%{v_function_name}`, or `main` when the paradigm's composition part contains `Execute` (FIDELITY §3.14: "
    "the reference's script paradigms call `main`). Reported at the `%{norm_input}`/`%{paradigm}` annotation, "
    "else at the `%{v_input_provision}` annotation.",
    why="The run refuses to load the plan (a validation error naming the inference) unless `--binding` or "
    "`--replay` supplies the step.",
    bad=":<:{indicators}\n    <= ::(compute indicators from {1})\n"
    "        | %{norm_input}: v_Script-h_Data-c_Transform-o_Normal\n"
    "        | %{v_input_provision}: scripts/indicators.py\n        | %{body_faculty}: python_interpreter\n"
    "    <- {prices}<:{1}>",
    fix="Add `| %{v_function_name}: compute` (or write `| %{python}: scripts/indicators.py:compute`), use a "
    "script paradigm such as `v_Script-h_Data-c_Execute-o_Normal` (which calls `main`), or name a built-in or "
    "LLM paradigm.",
)

DOCS["NCD954"] = RuleDoc(
    what="A semantic operation whose result declares an axis (not `_none_axis`) that none of its inputs has, "
    "while its paradigm's output kind is not a list kind (the last `o_` part of the paradigm contains no `List`; "
    "no paradigm is not a list kind). FIDELITY §1; a warning by erratum E18. Reported at the result's "
    "`%{ref_axes}` annotation.",
    why="Each answer is one element: a list answer stays one value, whose items the declared axis only names. A "
    "loop over it iterates the items, but a semantic consumer receives the whole list in one call, so per-item "
    "steps downstream run once — the plan-level cause of outputs that come out all Skip.",
    bad=":<:[lines]\n    | %{ref_axes}: [line]\n    <= ::(split {1} into lines)\n"
    "        | %{norm_input}: v_ScriptLocation-h_Literal-c_Execute-o_Literal\n"
    "        | %{python}: t.py:split\n    <- {text}<:{1}>\n        | %{literal_value}: \"a\\nb\"\n",
    fix=":<:[lines]\n    | %{ref_axes}: [line]\n    <= ::(split {1} into lines)\n"
    "        | %{norm_input}: v_ScriptLocation-h_Literal-c_Execute-o_ListLiteral\n"
    "        | %{python}: t.py:split\n    <- {text}<:{1}>\n        | %{literal_value}: \"a\\nb\"\n",
)
