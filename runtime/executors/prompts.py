"""Prompts of LLM calls (RUNTIME §10.2): the template of an inference, rendered in a sandbox.

The template is the function concept's ``prompt_location`` sign (``%{prompt}`` or the provision), confined to the
plan directory (§11), else the built-in default template. Input texts reach the model only as variables and
delimited ``<input_N>`` blocks; they are never spliced into the instruction.

Two template languages (issue 14, item 4): a ``.j2``/``.jinja`` file (and the built-in default) is a jinja2
template rendered in a sandbox; any other prompt file (``.md``, ``.txt``, …) is written the way the reference
writes prompts and only gets ``$``-placeholders substituted (``DollarTemplate``), so ``{%(x)}`` or ``{{ }}`` in it
stay literal text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from runtime.executors.answers import describe
from runtime.load import confine
from runtime.reference import parse_sign
from runtime.sequences import StepFailure
from runtime.sequences.semantic import ordered_inputs

DEFAULT_TEMPLATE_VERSION = "1"
DEFAULT_TEMPLATE = "default.j2"
# `::`, `:Name:`, `:%(norm):`, `:>:`, an optional informational `{norm}`, then the body's opening bracket
# (`(`, or `<` in legacy foreign names such as `:%(True):<{1} is 0>`)
_AGENT = re.compile(r"\s*(?:::|:>:|:%\([^()]*\):|:[^:(){}<>]+:)\s*(?:\{[^{}]*\}\s*)?[(<]")
_INSTANCE = re.compile(r"<\$\(.*?\)%_?>")
_PLACEHOLDER = re.compile(r"\{(\d+)\}")
_LEFTOVER = re.compile(r"\$\{input_(\d+)\}|\$input_(\d+)(?![0-9A-Za-z_])")
_INPUT_VARS = re.compile(r"input_\d+|inputs|input_blocks|values|ncd_input_text")
_LEFTOVER_FN = "ncd_input_text"
JINJA_SUFFIXES = (".j2", ".jinja")  # jinja2 prompt files (ncdc/checks/graph_prompts.py splits the same way)
# string.Template's syntax: `$$`, `$identifier`, `${…}`. The braced form also takes a concept's bare name with
# spaces (`${document summary}`), which string.Template's identifier pattern would leave as written.
_DOLLAR = re.compile(r"\$(?:(?P<escaped>\$)|(?P<named>[A-Za-z_][A-Za-z0-9_]*)|\{(?P<braced>[^{}\n]+)\})")
_DOLLAR_INPUT = re.compile(r"input_(\d+)")
_DOLLAR_VARS = ("input_blocks", "instruction", "concept_to_infer", "answer_format")


@dataclass(frozen=True)
class PromptTemplate:
    """A loaded, compiled template; ``sha256`` is of the exact bytes rendered (replay key, §10.5)."""

    origin: str              # the plan-relative path, or "default.j2 (built-in, version N)"
    sha256: str
    template: Any            # jinja2.Template (None for a `$` prompt file)
    uses_inputs: bool        # the template places the inputs itself
    uses_format: bool        # the template states the answer format itself
    dollar: "DollarTemplate | None" = None  # a non-jinja prompt file: `$`-placeholders only (then template is None)


@dataclass(frozen=True)
class DollarTemplate:
    """A prompt file as the reference writes it: text with ``$``-placeholders, substituted in one pass.

    Semantics of ``string.Template.safe_substitute``: ``$input_N``/``${input_N}`` is the text form of input N in
    value order; ``$name``/``${name}`` is the input whose concept's bare name (outer brackets removed; whitespace
    runs may be written ``_``) is ``name``, the first in value order; ``$input_blocks``, ``$instruction``,
    ``$concept_to_infer`` and ``$answer_format`` are the §10.2 variables of the same names; ``$$`` is a literal
    ``$``; any other ``$`` text (an unknown name, ``$5``) stays as written. One pass over the file's text, so an
    input whose text contains ``$input_2`` is never expanded.
    """

    source: str
    names: tuple[str, ...]   # the input concepts in value order

    def lookup(self, key: str) -> int | str | None:
        """Input number (1-based) or variable name a placeholder stands for, or None (left as written)."""
        m = _DOLLAR_INPUT.fullmatch(key)
        if m is not None:
            n = int(m.group(1))
            return n if 1 <= n <= len(self.names) else None
        for position, name in enumerate(self.names, 1):
            if key in _bare_names(name):
                return position
        return key if key in _DOLLAR_VARS else None

    def placeholders(self) -> list[int | str]:
        """What the file's placeholders stand for (decides whether input blocks / the format are appended)."""
        found = []
        for m in _DOLLAR.finditer(self.source):
            key = m.group("named") or m.group("braced")
            target = self.lookup(key.strip()) if key else None
            if target is not None:
                found.append(target)
        return found

    def render(self, texts: list[str], variables: dict[str, str]) -> str:
        def substitute(m: re.Match[str]) -> str:
            if m.group("escaped"):
                return "$"
            key = m.group("named") or m.group("braced")
            target = self.lookup(key.strip())
            if isinstance(target, int):
                return texts[target - 1] if target <= len(texts) else m.group(0)
            if isinstance(target, str):
                return variables[target]
            return m.group(0)

        return _DOLLAR.sub(substitute, self.source)


def _bare_names(concept: str) -> set[str]:
    """The spellings a `$` placeholder may use for a concept: its bare name, and that name with `_` for spaces."""
    bare = concept.strip()
    if len(bare) >= 2 and bare[0] + bare[-1] in ("{}", "[]", "<>"):
        bare = bare[1:-1].strip()
    return {bare, "_".join(bare.split())}


def is_jinja_path(path: str) -> bool:
    """Whether a prompt file is a jinja2 template (by its suffix); every other prompt file is a `$` template."""
    return path.lower().endswith(JINJA_SUFFIXES)


@dataclass(frozen=True)
class Prompt:
    messages: list[dict[str, str]]
    template_sha256: str
    template_origin: str


def _environment() -> SandboxedEnvironment:
    # one environment per template: nothing is shared between runs, and autoescape is off because this is not HTML
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def _compile(source: str, origin: str, digest: str) -> PromptTemplate:
    env = _environment()
    try:
        ast = env.parse(source)
        _replace_leftovers(ast)
        names = meta.find_undeclared_variables(ast)
        template = env.from_string(ast)
    except TemplateError as exc:
        raise StepFailure("executor_error", f"prompt template {origin}: {type(exc).__name__}: {exc}") from None
    return PromptTemplate(origin, digest, template, any(_INPUT_VARS.fullmatch(n) for n in names),
                          "answer_format" in names)


def _replace_leftovers(ast: nodes.Template) -> None:
    """Reference-style ``$input_N`` / ``${input_N}`` written in the template become the text of input N.

    Done on the template's literal text (not on the rendered string), so an input whose text happens to contain
    ``$input_2`` is never expanded: data stays data.
    """
    for output in ast.find_all(nodes.Output):
        parts: list[nodes.Expr] = []
        for node in output.nodes:
            if not isinstance(node, nodes.TemplateData) or not _LEFTOVER.search(node.data):
                parts.append(node)
                continue
            pos = 0
            for m in _LEFTOVER.finditer(node.data):
                if m.start() > pos:
                    parts.append(nodes.TemplateData(node.data[pos:m.start()], lineno=node.lineno))
                n = int(m.group(1) or m.group(2))
                call = nodes.Call(nodes.Name(_LEFTOVER_FN, "load", lineno=node.lineno),
                                  [nodes.Const(n), nodes.Const(m.group(0))], [], None, None, lineno=node.lineno)
                parts.append(call.set_lineno(node.lineno))
                pos = m.end()
            if pos < len(node.data):
                parts.append(nodes.TemplateData(node.data[pos:], lineno=node.lineno))
        output.nodes = parts


def default_template() -> PromptTemplate:
    """The built-in template, read from the package data (it ships in the wheel)."""
    data = resources.files("runtime.executors").joinpath("templates", DEFAULT_TEMPLATE).read_bytes()
    return _compile(data.decode("utf-8"), f"{DEFAULT_TEMPLATE} (built-in, version {DEFAULT_TEMPLATE_VERSION})",
                    hashlib.sha256(data).hexdigest())


def template_path(plan: Any, inf: dict[str, Any]) -> str | None:
    """The plan-relative template path of an inference, or None for the default template."""
    data = plan.concepts[inf["function_concept"]].get("reference_data") or []
    sign = parse_sign(data[0]) if data else None
    if sign is None or sign.norm != "prompt_location":
        return None  # `%{dummy}` (no provision) and non-prompt signs use the default template
    return sign.signifier.strip()


def load_template(plan: Any, inf: dict[str, Any], allow: tuple[Path, ...] = ()) -> PromptTemplate:
    """The inference's template: its ``prompt_location`` file, confined (§11), else the default template.

    A ``.j2``/``.jinja`` file is compiled by jinja2; any other file is a ``$`` template (``DollarTemplate``)."""
    rel = template_path(plan, inf)
    if rel is None:
        return default_template()
    try:
        path = confine(Path(plan.plan_dir), rel, allow)
    except PermissionError as exc:
        raise StepFailure("path_violation", f"prompt template: {exc}") from None
    try:
        data = path.read_bytes()
        source = data.decode("utf-8")
    except OSError as exc:
        raise StepFailure("executor_error", f"cannot read prompt template {rel}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise StepFailure("executor_error", f"prompt template {rel} is not UTF-8: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()  # the replay key covers the file's bytes, whichever language
    if is_jinja_path(rel):
        return _compile(source, rel, digest)
    dollar = DollarTemplate(source, tuple(ordered_inputs(inf)))
    used = dollar.placeholders()
    return PromptTemplate(rel, digest, None, any(isinstance(t, int) or t == "input_blocks" for t in used),
                          "answer_format" in used, dollar)


def functional_body(concept: dict[str, Any]) -> str:
    """The body of a semantic function concept: the text between the agent's parentheses."""
    name = concept["concept_name"]
    m = _AGENT.match(name)
    if m is None:
        return str(concept.get("natural_name") or name)
    depth, start = 1, m.end()
    opener = name[start - 1]
    closer = ")" if opener == "(" else ">"
    for i in range(start, len(name)):
        depth += {opener: 1, closer: -1}.get(name[i], 0)
        if depth == 0:
            return name[start:i]
    return str(concept.get("natural_name") or name)


def instruction_text(plan: Any, inf: dict[str, Any]) -> str:
    """The functional body with `{N}` → `[input N]` and instance markers removed (§10.2)."""
    body = functional_body(plan.concepts[inf["function_concept"]])
    result_slot = (inf.get("working_interpretation") or {}).get("output_placeholder")
    if isinstance(result_slot, int):
        # FIDELITY §6.2, E15: the output placement's placeholder names the result, not an input.
        body = body.replace(f"{{{result_slot}}}", "[result]")
    return " ".join(_PLACEHOLDER.sub(r"[input \1]", _INSTANCE.sub("", body)).split())


def text_form(value: Any) -> str:
    """Strings as they are, anything else as indented JSON."""
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


def input_blocks(texts: list[str]) -> str:
    return "\n\n".join(f"<input_{i}>\n{t}\n</input_{i}>" for i, t in enumerate(texts, 1))


def render_prompt(tpl: PromptTemplate, plan: Any, inf: dict[str, Any], args: list[Any], *, system: str,
                  shape: str, json_mode: bool) -> Prompt:
    """The [system, user] messages of one cell; template problems are an ``executor_error`` StepFailure."""
    texts = [text_form(a) for a in args]
    blocks = input_blocks(texts)
    answer_format = describe(shape, json_mode)

    def leftover(n: int, original: str) -> str:
        return texts[n - 1] if 1 <= n <= len(texts) else original

    variables: dict[str, Any] = {f"input_{i}": t for i, t in enumerate(texts, 1)}
    variables.update(inputs=texts, input_blocks=blocks, values=list(args), instruction=instruction_text(plan, inf),
                     concept_to_infer=inf["concept_to_infer"], answer_format=answer_format,
                     json_mode=json_mode, **{_LEFTOVER_FN: leftover})
    try:
        if tpl.dollar is not None:
            user = tpl.dollar.render(texts, {k: str(variables[k]) for k in _DOLLAR_VARS})
        else:
            user = tpl.template.render(variables)
    except TemplateError as exc:  # SecurityError, UndefinedError, …: the author's template is at fault
        raise StepFailure("executor_error", f"prompt template {tpl.origin}: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a filter raising on the data, e.g. `{{ input_1 | int + 'x' }}`
        raise StepFailure("executor_error", f"prompt template {tpl.origin}: {type(exc).__name__}: {exc}") from None
    # A plain prompt file (`prompts/x.md` saying "[input 1]") names no variable: the model still needs the
    # inputs and, for JSON mode, the word JSON and the answer object's shape.
    extra = []
    if texts and not tpl.uses_inputs:
        extra.append(blocks)
    if not tpl.uses_format:
        extra.append(answer_format)
    if extra:
        user = "\n\n".join([user.rstrip("\n"), *extra])
    return Prompt([{"role": "system", "content": system}, {"role": "user", "content": user}], tpl.sha256,
                  tpl.origin)
