"""Locating the grammar files and building the lark parsers (once per process, immutable afterwards).

In a wheel the files live in the package ``ncdc.grammar``; in a plain source checkout they are the top-level
``grammar/`` folder. lark's ``cache=True`` keeps the built LALR tables in the temp directory, which makes a
cold ``ncdc check`` start 2-3x faster.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lark import Lark

PAYLOAD_STARTS = ("root_payload", "value_payload", "functional_payload")


def grammar_text(name: str) -> str:
    """The text of ``grammar/<name>`` from the installed package, else from the source checkout."""
    try:
        from importlib.resources import files

        resource = files("ncdc.grammar").joinpath(name)
        if resource.is_file():
            return resource.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    checkout = Path(__file__).resolve().parent.parent / "grammar" / name
    return checkout.read_text(encoding="utf-8")


def _build(name: str, start: str | list[str]) -> "Lark":
    from lark import Lark

    options = dict(parser="lalr", start=start, propagate_positions=True, maybe_placeholders=False)
    try:
        return Lark(grammar_text(name), cache=True, **options)
    except OSError:  # an unwritable temp directory must not stop the checker
        return Lark(grammar_text(name), **options)


@lru_cache(maxsize=None)
def payload_parser() -> "Lark":
    return _build("ncd.lark", list(PAYLOAD_STARTS))


@lru_cache(maxsize=None)
def assertion_parser() -> "Lark":
    return _build("assertion.lark", "assertion")
