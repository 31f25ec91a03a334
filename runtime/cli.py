"""``ncd-run`` entry point. The runtime is not built yet; until it is, the command says so and exits 2."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("ncd-run: the runtime is not implemented yet; use `ncdc check` to validate plans", file=sys.stderr)
    return 2
