"""The one exception hierarchy of ncdc. Problems in a plan are diagnostics, never exceptions; these are
for the conditions a command cannot go on from (exit status 2)."""

from __future__ import annotations


class NcdcError(Exception):
    """Base of every error ncdc raises on purpose."""


class UsageError(NcdcError):
    """Bad command-line usage: unknown code, bad option value."""


class InputError(NcdcError):
    """A path that is missing or unreadable."""


class OutputError(NcdcError):
    """The output directory cannot be created or written."""
