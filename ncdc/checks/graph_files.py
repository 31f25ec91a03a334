"""NCD949 (CHECKS.md §3.6, only with ``--check-files``): a file named by an annotation does not exist under the
plan's directory (a provision, a prompt template, a binding module or a data file read at run time).

Off by default because it touches the file system; each distinct path is looked up once.
"""

from __future__ import annotations

import re
from pathlib import Path

from ncdc.checks._graph_facts import GraphFacts
from ncdc.ir import Marker

_PYTHON_BINDING = re.compile(r"^(?P<path>[^:]+\.py):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$")
_DATA_KEYS = ("file_location", "prompt_location", "script_location")  # files read at run time (NCD949)


def check(facts: GraphFacts, plan_dir: Path) -> None:
    """NCD949 for each annotation path that is not a file inside ``plan_dir`` (paths may not escape it)."""
    root = plan_dir.resolve()
    cache: dict[str, bool] = {}

    def exists(path: str) -> bool:
        found = cache.get(path)
        if found is None:
            target = (root / path).resolve()
            found = target.is_file() and (target == root or root in target.parents)
            cache[path] = found
        return found

    for line in facts.model.plan.lines:
        for annotation in line.annotations:
            if annotation.sigil != "%":
                continue
            key, value = annotation.key, annotation.value.strip()
            paths: list[str] = []
            if key == "v_input_provision":
                paths = [p for p in value.replace(",", " ").split() if p]
                what = "provision"
            elif key == "prompt" and line.marker is Marker.FUNCTION:
                paths = [value] if value else []
                what = "prompt template"
            elif key == "python" and line.marker is Marker.FUNCTION:
                match = _PYTHON_BINDING.match(value)
                paths = [match.group("path")] if match else []
                what = "binding module"
            elif key in _DATA_KEYS and line.marker is not Marker.FUNCTION:
                paths = [value] if value and value != "(runtime provided)" else []
                what = "data file"
            for path in paths:
                if exists(path):
                    continue
                facts.reporter.at(
                    "NCD949",
                    annotation.span,
                    f"{what} `{path}` named by `%{{{key}}}` does not exist under the plan's directory",
                    help="fix the path (relative to the plan's directory) or add the file",
                )
