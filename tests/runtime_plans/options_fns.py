"""Python bindings for the run-option plans (tests/test_runtime_options.py)."""

import threading
from pathlib import Path


def hang(x):
    # never returns: --python-timeout and --timeout must abandon it (an Event nobody sets, so no busy loop)
    threading.Event().wait()


def step(x):
    return f"{x}+"


def boom(x):
    raise ValueError(f"cannot handle {x}")


def picky(x):
    if x == "bad":
        raise ValueError(f"cannot handle {x}")
    return x.upper()


def greet(name):
    return f"hello {name}"


def hang_first_time(x):
    # hangs in the first run only (a marker in the working directory says it ran): a resume then finishes
    marker = Path("hang.marker")
    if not marker.exists():
        marker.write_text("ran")
        threading.Event().wait()
    return f"{x}+"
