"""Assertions shared by the CLI tests (subprocesses of ``ncd-run`` / ``ncdc``)."""

from __future__ import annotations

import subprocess


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """A refused command: exit 2, nothing on stdout, one line on stderr and no traceback; returns that line."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr.strip()
