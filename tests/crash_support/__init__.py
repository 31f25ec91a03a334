"""Helpers for the crash-safety and isolation tests: real ``ncd-run`` subprocesses against real SQLite files."""
