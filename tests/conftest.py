"""Shared test helpers: where the conformance corpus lives, and a one-call checker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
CORPUS = PROJECT.parent / "shared" / "corpus"
EXAMPLES = PROJECT / "examples"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "MANIFEST.md").is_file():
        pytest.skip(f"the conformance corpus is not present at {CORPUS} (it lives beside the checkout in CI)")
    return CORPUS


def codes_at(text: str) -> list[tuple[int, str]]:
    """(line, code) of every reported diagnostic of ``text``."""
    from ncdc.checker import check

    return [(d.line, d.code) for d in check(text, "plan.ncd").diagnostics]


PARSER_LAYER_PREFIXES = ("NCD1", "NCD2", "NCD910", "NCD911", "NCD912", "NCD913", "NCD914", "NCD915", "NCD916",
                         "NCD920", "NCD921", "NCD922", "NCD99")


def parser_codes_at(text: str | bytes) -> list[tuple[int, str]]:
    """(line, code) of the parser-layer diagnostics (CHECKS.md §4) of ``text``."""
    return [pair for pair in codes_at(text) if pair[1].startswith(PARSER_LAYER_PREFIXES)]


LLM_PARADIGM = "v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Literal"
BOOL_PARADIGM = "v_PromptLocation-h_Literal-c_GenerateThinkJson-o_Boolean"


def expand_plan(text: str) -> str:
    """Dedent a test plan and expand a line ``@llm`` / ``@bool`` into the executor annotations (an LLM paradigm and
    ``%{body_faculty}: llm``) at that indentation, so rule tests stay short and free of executor warnings."""
    lines = text.strip("\n").splitlines()
    margin = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    out = []
    for line in lines:
        line = line[margin:]
        match = re.match(r"^(\s*)@(llm|bool)$", line)
        if match:
            indent = match.group(1)
            out.append(f"{indent}| %{{norm_input}}: {LLM_PARADIGM if match.group(2) == 'llm' else BOOL_PARADIGM}")
            out.append(f"{indent}| %{{body_faculty}}: llm")
        else:
            out.append(line)
    return "\n".join(out) + "\n"
