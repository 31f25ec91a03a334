"""NCD956 (only with ``--check-files``): a prompt file that exists but cannot be rendered (issue 14, item 4).

The runtime renders a ``.j2``/``.jinja`` prompt file with jinja2 (strict undefined variables) and every other
prompt file by substituting ``$``-placeholders only (RUNTIME §10.2 as amended by issue 14). So the prompt files
that cannot render are a jinja template with a syntax error or a variable outside §10.2's set, and a file that is
not UTF-8 text; each would fail the step at run time, after whatever ran before it. A missing file is
NCD949's. Like NCD949 this touches the file system, hence the flag.

The prompt file of a semantic step is the one the compiler puts in its function concept's ``prompt_location``
sign (``emit.function_reference_data``: the ``%{prompt}`` annotation, else a provision ending in a prompt
extension), so the check and the run read the same file.
"""

from __future__ import annotations

import re
from pathlib import Path

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from ncdc.checks._graph_facts import GraphFacts
from ncdc.emit import function_reference_data
from ncdc.ir import Annotation, ConceptLine, Marker, Semantic

JINJA_SUFFIXES = (".j2", ".jinja")  # the same split as runtime/executors/prompts.py
# RUNTIME §10.2: the variables every jinja prompt template gets (besides input_1 … input_k), plus the answer format
# and JSON mode the runtime also passes.
_VARIABLES = frozenset({"inputs", "input_blocks", "values", "instruction", "concept_to_infer", "answer_format",
                        "json_mode"})
_INPUT_N = re.compile(r"^input_\d+$")
_SIGN = re.compile(r"^%\{(?P<norm>[^}]*)\}[0-9A-Za-z_]*\((?P<signifier>.*)\)$", re.DOTALL)  # ids.sign's form


def check(facts: GraphFacts, plan_dir: Path) -> None:
    """NCD956 at the annotation naming each unrenderable prompt file (each file read once)."""
    root = plan_dir.resolve()
    problems: dict[str, str | None] = {}
    for line in facts.model.plan.lines:
        if line.marker is not Marker.FUNCTION or not isinstance(line.node, Semantic):
            continue
        path = _prompt_path(line)
        if path is None:
            continue
        if path not in problems:
            problems[path] = _problem(root, path)
        problem = problems[path]
        annotation = _naming_annotation(line, path)
        if problem is None or annotation is None:
            continue
        facts.reporter.at(
            "NCD956",
            annotation.span,
            f"prompt file `{path}` cannot be rendered: {problem}",
            help="fix the template (jinja2 syntax for `.j2`/`.jinja` files), or give a file written with "
            "`$input_1`/`$name` placeholders a non-jinja extension such as `.md`",
        )


def _prompt_path(line: ConceptLine) -> str | None:
    """The plan-relative prompt file the run will render for this functional line, or None."""
    data = function_reference_data(line)
    if not data:
        return None
    match = _SIGN.match(str(data[0]))
    if match is None or match.group("norm") != "prompt_location":
        return None
    return match.group("signifier").strip() or None


def _naming_annotation(line: ConceptLine, path: str) -> Annotation | None:
    for key in ("prompt", "v_input_provision"):
        annotation = line.annotation(key)
        if annotation is not None and path in annotation.value:
            return annotation
    return None


def _problem(root: Path, path: str) -> str | None:
    """Why the file cannot render, or None (also None when it is missing or outside: NCD949's case)."""
    target = (root / path).resolve()
    if not (target.is_file() and root in target.parents):
        return None
    try:
        text = target.read_bytes().decode("utf-8")
    except OSError:
        return None
    except UnicodeDecodeError as exc:
        return f"it is not UTF-8 text (byte {exc.start})"
    if not path.lower().endswith(JINJA_SUFFIXES):
        return None  # `$`-placeholders only: any text renders
    try:
        ast = SandboxedEnvironment().parse(text)
    except TemplateSyntaxError as exc:
        return f"jinja syntax error at {path}:{exc.lineno}: {exc.message}"
    # The runtime renders with strict undefined variables: a name outside RUNTIME §10.2's set always fails.
    unknown = sorted(n for n in meta.find_undeclared_variables(ast) if n not in _VARIABLES and not _INPUT_N.match(n))
    if unknown:
        return (f"it uses the undefined variable{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(f'`{n}`' for n in unknown)} (a template gets {', '.join(sorted(_VARIABLES))} and "
                "input_1 … input_k)")
    return None


__all__ = ["check"]
