"""Prompts of LLM calls (RUNTIME §10.2): the template of an inference, rendered in a sandbox.

The template is the function concept's ``prompt_location`` sign (``%{prompt}`` or the provision), confined to the
plan directory (§11), else the built-in default template. Input texts reach the model only as variables and
delimited ``<input_N>`` blocks; they are never spliced into the instruction.
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


@dataclass(frozen=True)
class PromptTemplate:
    """A loaded, compiled template; ``sha256`` is of the exact bytes rendered (replay key, §10.5)."""

    origin: str              # the plan-relative path, or "default.j2 (built-in, version N)"
    sha256: str
    template: Any            # jinja2.Template
    uses_inputs: bool        # the template places the inputs itself
    uses_format: bool        # the template states the answer format itself


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
    """The inference's template: its ``prompt_location`` file, confined (§11), else the default template."""
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
    return _compile(source, rel, hashlib.sha256(data).hexdigest())


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
