"""Rule documentation of the dependency-graph family: NCD301-NCD305 (errors) and the structure and graph warnings
NCD924-NCD927, NCD930-NCD934, NCD949 and NCD956 (CHECKS.md §3.3, §3.6).

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
    "member. An inference reading its own result counts when it is that concept's only producer. Accumulators "
    "(FIDELITY §4, errata E7/E8): inside the body of the innermost loop L around an in-place `$+` A appending to "
    "D, readers of D see D's value at the start of the iteration (no edge from A; a later append to D waits for "
    "an earlier one in flow order), readers outside L wait for L, and A's own read of D is no edge.",
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

DOCS["NCD928"] = RuleDoc(
    what="A timing operator written as the function of a value concept: `{v} <= @:'(<c>)` with `<-` children. "
    "Reported on the timing line. It is compiled as the gated selection `{v} <= $. %>({v}) %<[C1, ...]` (the `<-` "
    "children other than the condition, in order) with the timing line as its gate.",
    why="A timing operator only decides whether an operation runs; it never writes a value. Read as the gated "
    "selection, {v} is the first non-Skip candidate when the gate passes and Skip when it does not, so consumers "
    "proceed either way.",
    bad=":<:{final output}\n"
    "    <= @:'(<validation passed>)\n"
    "    <- {validated output}\n"
    "        | %{literal_value}: \"v\"\n"
    "    <- <validation passed>\n"
    "        | %{literal_value}: true\n",
    fix=":<:{final output}\n"
    "    <= $. %>({validated output})\n"
    "        <= @:'(<validation passed>)\n"
    "        <* <validation passed>\n"
    "    <- {validated output}\n"
    "        | %{literal_value}: \"v\"\n"
    "    <- <validation passed>\n"
    "        | %{literal_value}: true\n",
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
    what="An inference whose result nothing uses. A step is used when it produces the plan output; when it writes "
    "a file (a `c_…Write…`/`c_…Save…` paradigm, an `o_FileLocation` output, a `%{save_path}`); when a used step "
    "reads it (a bound or ordered input, a `$.` candidate, a grouping source, a gate condition, a function "
    "concept, a loop base, result or initial value, an assigning operand, an `@.` dependency); or when a used "
    "step that acts outside the plan — a file writer, a script (`%{python}`, a `.py` provision, a `v_Script…` or "
    "`c_…Execute…` paradigm) or a `:>:` input — waits for it in any way (an unbound `<-`, a `<*` support). So the "
    "earlier phases of a plan whose root binds only a final file-writing step are used. Waiting is no use when "
    "the waiting step only computes a value, and a script whose own result nothing uses is still reported. "
    "Reported on its result line.",
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

DOCS["NCD956"] = RuleDoc(
    what="With `--check-files`: a prompt file that exists but cannot be rendered — a `.j2`/`.jinja` template with "
    "a jinja syntax error (the message gives the line in the file) or a variable outside RUNTIME §10.2's set "
    "(`input_1` … `input_k`, `inputs`, `input_blocks`, `values`, `instruction`, `concept_to_infer`, "
    "`answer_format`, `json_mode`), or a prompt file that is not UTF-8 text. The "
    "prompt file is the one the run renders: the `%{prompt}` annotation, else a `%{v_input_provision}` ending in "
    "`.md`, `.txt`, `.j2` or `.jinja`. Reported on that annotation, once per functional line. Only `.j2`/`.jinja` "
    "files are jinja templates; any other prompt file gets `$input_1`/`${input_1}`/`$name` placeholders "
    "substituted and keeps `{%(...)}` and `{{...}}` as literal text, so it renders whenever it is UTF-8 text.",
    why="The step fails with `executor_error` when the run reaches it, after every step before it has run and "
    "been paid for.",
    bad=":<:{reply}\n"
    "    <= ::(reply to {1})\n"
    "        | %{norm_input}: v_PromptLocation-h_Literal-c_Generate-o_Literal\n"
    "        | %{prompt}: prompts/NCD956_reply.j2\n"
    "        | %{body_faculty}: llm\n"
    "    <- {message}<:{1}>\n"
    "        | %{literal_value}: \"the printer is broken\"\n"
    "\n"
    "/: where prompts/NCD956_reply.j2 holds `Reply to {{ input_1 }} {% if %}` (an `if` without a condition)\n",
    fix="Fix the jinja syntax (`{% if input_1 %}…{% endif %}`), or, for a prompt written for the reference "
    "(`$input_1`, literal `{%(…)}`), give the file a non-jinja extension: `prompts/NCD956_reply.md`.",
)

DOCS["NCD935"] = RuleDoc(
    what="A concept named as an operand — `%>`/`%<` of `$=`, `$.`, `$+`, `$-`, a grouping source, a "
    "`%{value_order}` or `%{assign_sources}` entry — that no sibling `<-`/`<*` line declares (except the "
    "inference's own result as a `$.` `%>` or an in-place `$+` destination; loop operands are NCD502-NCD504 and "
    "gate conditions NCD924). It replaces the retired NCD302 (FIDELITY §4). Reported on the operand.",
    why="The compiler adds the operand to the inference's `value_concepts` so that the operation waits for it (a "
    "grouping keeps exactly its `%>` sources in `%>` order; other operations get it after the declared children); "
    "tools that read only declared lines, like the reference runtime, would run the operation without it.",
    bad=":<:{report}\n    <= ::(write a report on {1} and {2})\n        | %{python}: r.py:write\n"
    "    <- {news}<:{2}>\n        | %{literal_value}: \"calm\"\n    <- [bundle]<:{1}>\n"
    "        <= &[{}] %>[{prices}, {news}]\n        <- {prices}\n            | %{literal_value}: \"up\"\n",
    fix=":<:{report}\n    <= ::(write a report on {1})\n        | %{python}: r.py:write\n    <- [bundle]<:{1}>\n"
    "        <= &[{}] %>[{prices}, {news}]\n        <- {prices}\n            | %{literal_value}: \"up\"\n"
    "        <- {news}\n            | %{literal_value}: \"calm\"\n",
)

DOCS["NCD928"] = RuleDoc(
    what="A timing operator (`@:'`, `@:!`, `@.`) written as the function of a value concept P (FIDELITY §3.11; "
    "it replaces the retired NCD207). It is compiled as the selection `$. %>(P) %<[C1, …, Ck]` over P's other "
    "`<-` children, gated by the timing line. Reported on the timing line.",
    why="P is the first non-Skip candidate when the gate passes, and Skip when it does not; the written form hides "
    "that a selection happens, and tools that do not desugar it (the reference) never give P a value.",
    bad=":<:{final output}\n    <= @:'(<validation passed>)\n    <- {validated output}\n"
    "        | %{literal_value}: \"v\"\n    <- <validation passed>\n        | %{literal_value}: true\n",
    fix=":<:{final output}\n    <= $. %>({validated output})\n        <= @:'(<validation passed>)\n"
    "        <* <validation passed>\n    <- {validated output}\n        | %{literal_value}: \"v\"\n"
    "    <- <validation passed>\n        | %{literal_value}: true\n",
)
