"""Turning command-line paths into (display path, bytes) pairs: files, directories (``*.ncd`` below them,
sorted) and ``-`` (standard input). Missing or unreadable paths raise InputError (exit status 2)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ncdc.errors import InputError


def _display(path: Path) -> str:
    """Paths found in a directory print relative to the current directory, with ``/`` separators."""
    try:
        shown = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        shown = str(path)
    return shown.replace(os.sep, "/")


def _read(path: Path, shown: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{shown}: no such file or directory") from None
    except IsADirectoryError:
        raise InputError(f"{shown}: is a directory") from None
    except OSError as error:
        raise InputError(f"{shown}: cannot read: {error.strerror or error}") from None


def collect_inputs(paths: list[str], stdin_filename: str | None = None, single: bool = False) -> list[tuple[str, bytes]]:
    inputs: list[tuple[str, bytes]] = []
    for given in paths:
        if given == "-":
            inputs.append((stdin_filename or "<stdin>", sys.stdin.buffer.read()))
            continue
        path = Path(given)
        if path.is_dir():
            if single:
                raise InputError(f"{given}: is a directory; give one plan file")
            found = sorted(p for p in path.rglob("*.ncd") if p.is_file())
            inputs.extend((_display(p), _read(p, _display(p))) for p in found)
            continue
        if not path.exists():
            raise InputError(f"{given}: no such file or directory")
        inputs.append((given.replace(os.sep, "/"), _read(path, given)))
    return inputs
