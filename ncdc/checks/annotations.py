"""Annotation rules: NCD116 (typed values), NCD912-NCD916 (LANGUAGE.md §7, CHECKS.md §3.1, §3.6)."""

from __future__ import annotations

import posixpath
import re

from ncdc.annotation_keys import (
    BOOLEAN_KEYS,
    REFERENTIAL_KEYS,
    SEQUENCE_WORDS,
    START_FLAGS,
    SYNTACTICAL_KEYS,
    is_literal_key,
)
from ncdc.declarations import annotation_problems
from ncdc.ir import Annotation, Plan
from ncdc.source import Reporter

_PYTHON_BINDING = re.compile(r"^(?P<path>[^:]+\.py):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$")
CONCEPT_LIST_KEYS = ("value_order", "assign_sources")  # lists of concept references (ncdc.declarations)
SUPPRESSION = re.compile(r"^(?P<kind>ignore|ignore-file)\[(?P<codes>[^\]]*)\]$")


def check_annotations(plan: Plan, reporter: Reporter) -> None:
    for annotation in plan.header_annotations:
        if annotation.sigil == "?" and annotation.key == "ncdc":
            _check_suppression_value(annotation, reporter, header=True)
    for line in plan.lines:
        seen: dict[tuple[str, str], Annotation] = {}
        for annotation in line.annotations:
            identity = (annotation.sigil, annotation.key)
            first = seen.get(identity)
            if first is not None:
                reporter.at(
                    "NCD912",
                    annotation.span,
                    f"duplicate annotation key `{annotation.sigil}{{{annotation.key}}}`: the value of line "
                    f"{first.line} is used and this one is ignored",
                    help="remove one of them",
                )
                continue
            seen[identity] = annotation
            if annotation.sigil == "?":
                _check_syntactical(annotation, reporter)
            else:
                _check_referential(annotation, reporter)


def _check_syntactical(annotation: Annotation, reporter: Reporter) -> None:
    key, value = annotation.key, annotation.value.strip()
    if key not in SYNTACTICAL_KEYS:
        reporter.at(
            "NCD914",
            annotation.span,
            f"unknown syntactical key `?{{{key}}}` is ignored",
            help="known keys: ?{flow_index}, ?{sequence}, ?{natural_language}, ?{ncdc}",
        )
    elif key == "sequence" and value.lower() not in SEQUENCE_WORDS:
        reporter.at(
            "NCD116",
            annotation.span,
            f"malformed `?{{sequence}}` value `{value}`: not a sequence family",
            help="use imperative, judgement, assigning, grouping, timing or looping",
        )
    elif key == "ncdc":
        _check_suppression_value(annotation, reporter, header=False)


def _check_suppression_value(annotation: Annotation, reporter: Reporter, *, header: bool) -> None:
    value = annotation.value.strip()
    match = SUPPRESSION.match(value)
    expected = "ignore-file" if header else "ignore"
    if match is None or match.group("kind") != expected:
        where = "in the file header" if header else "on a concept line"
        reporter.at(
            "NCD116",
            annotation.span,
            f"malformed `?{{ncdc}}` value `{value}`: {where} the form is `{expected}[CODES]`",
            help=f"e.g. `?{{ncdc}}: {expected}[NCD931]`",
        )


def _check_referential(annotation: Annotation, reporter: Reporter) -> None:
    key, value = annotation.key, annotation.value.strip()

    def malformed(detail: str, help: str) -> None:
        reporter.at("NCD116", annotation.span, f"malformed `%{{{key}}}` value `{value}`: {detail}", help=help)

    if key in ("sequence", "flow_index"):
        reporter.at(
            "NCD913",
            annotation.span,
            f"`%{{{key}}}` is written with `%` and is ignored; syntactical comments use `?`",
            help=f"write `| ?{{{key}}}: {value}`",
        )
        return
    if key not in REFERENTIAL_KEYS and not is_literal_key(key):
        reporter.at(
            "NCD914",
            annotation.span,
            f"unknown annotation key `%{{{key}}}` is kept but ignored by compilation",
            help="check the spelling against the annotation catalogue (LANGUAGE.md §7.3)",
        )
        return
    if key == "paradigm":
        reporter.at(
            "NCD915",
            annotation.span,
            "`%{paradigm}` is an older alias and is treated as `%{norm_input}`",
            help="rename it to `%{norm_input}`",
        )
    if key in ("norm_input", "paradigm"):
        if not value.split("(", 1)[0].strip():
            malformed("it names no paradigm", "name a paradigm, e.g. `h_Data-c_PassThrough-o_Normal`")
    elif key == "python":
        match = _PYTHON_BINDING.match(value)
        if match is None:
            malformed("expected `relative/path.py:function`", "e.g. `%{python}: checks/spam.py:is_spam`")
        elif _escapes(match.group("path")):
            malformed("the path must be relative and stay inside the plan directory", "use a path relative to the plan")
    elif key == "v_input_provision":
        paths = [p for p in re.split(r"[,\s]+", value) if p]
        if len(paths) > 1:
            reporter.at(
                "NCD916",
                annotation.span,
                f"`%{{v_input_provision}}` names {len(paths)} paths; only the first (`{paths[0]}`) is used",
                help="one provision per operation",
            )
    elif key == "ref_axes":
        if not (value.startswith("[") and value.endswith("]")):
            malformed("expected a bracketed list such as `[signal]` or `[_none_axis]`", "e.g. `%{ref_axes}: [signal]`")
    elif key == "loop_config":
        unknown = [flag.strip() for flag in value.split(",") if flag.strip() not in START_FLAGS]
        if unknown or not value:
            malformed(
                f"unknown start flag `{unknown[0] if unknown else ''}`",
                "known flags: " + ", ".join(START_FLAGS),
            )
    elif key in BOOLEAN_KEYS:
        if value.lower() not in ("true", "false"):
            malformed("expected `true` or `false`", f"`%{{{key}}}: true`")
    elif key == "selector_index":
        if not re.match(r"^-?\d+$", value):
            malformed("expected an integer", "e.g. `%{selector_index}: 0`")
    elif key in CONCEPT_LIST_KEYS:
        _check_concept_list(annotation, reporter)


def _check_concept_list(annotation: Annotation, reporter: Reporter) -> None:
    """An entry of a concept-list annotation fails as it would on a concept line (e.g. NCD128 for `{a}<--x>`)."""
    span = annotation.value_span
    for problem in annotation_problems(annotation):
        reporter.report(
            problem.code,
            span.line,
            span.column + problem.start,
            f"`%{{{annotation.key}}}` entry: {problem.message}",
            end_column=span.column + problem.end,
            help=problem.help,
        )


def _escapes(path: str) -> bool:
    if path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path):
        return True
    normalized = posixpath.normpath(path.replace("\\", "/"))
    return normalized == ".." or normalized.startswith("../")
