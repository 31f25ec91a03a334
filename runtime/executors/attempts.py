"""One executor call per cell, attempt by attempt (RUNTIME §6.2, §8.3): every attempt is journaled, transient
failures are retried with full-jitter backoff, and the run-wide retry budget is honoured.

Executors (Python bindings, built-ins, the model client) are callables ``call(args, ctx)``; ``ctx`` says which
cell is being computed and where attempts and model calls are recorded. Nothing here knows about the store.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from runtime.sequences import StepFailure


class TransientError(Exception):
    """A failure worth retrying (§6.1 `transient`): bindings may raise it; ``retry_after`` is a provider hint in
    seconds (HTTP ``Retry-After``)."""

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Cancelled(StepFailure):
    """The run was cancelled or interrupted while this cell waited (a backoff, a model call): the cell gives up at
    once and is not recorded as failed; a resume runs it again."""

    def __init__(self, message: str) -> None:
        super().__init__("cancelled", message)


class BudgetExhausted(StepFailure):
    """A run budget is spent (§6.4): the cell keeps its error, no new work starts, the run ends
    ``budget_exhausted`` and can be resumed with a larger budget. ``budget`` names the option."""

    def __init__(self, budget: str, message: str) -> None:
        super().__init__("budget", message)
        self.budget = budget


class RetryBudgetExhausted(BudgetExhausted):
    """``--max-retries-total`` is spent (§6.2)."""

    def __init__(self, message: str) -> None:
        super().__init__("max_retries_total", message)


@dataclass(frozen=True, slots=True)
class Cell:
    """Which cell of which inference instance an executor call computes."""

    flow_index: str
    inference_id: str
    iteration: str             # iteration path ('' at top level)
    position: tuple[int, ...]  # the cell's positions along the inference's axes; () for a whole inference
    cycle: int


class Journal(Protocol):
    """Where attempts and model calls of one run are recorded (the orchestrator's recorder implements it)."""

    def attempt_started(self, cell: Cell, attempt: int) -> Any:
        """Record an attempt as running; returns a handle for ``attempt_finished``."""

    def attempt_finished(self, handle: Any, status: str, error_kind: str | None = None,
                         error_message: str | None = None) -> None: ...

    def model_call(self, cell: Cell, attempt: int, row: dict[str, Any]) -> None:
        """One ``llm_calls`` row (§8.4) for this cell and attempt."""

    def spend_retry(self) -> bool:
        """Take one retry from ``--max-retries-total``; False when none is left."""

    def exhausted(self) -> str | None:
        """The run budget already spent (``max_llm_calls``, ``max_tokens``, ``max_cost_usd``), if any: a model
        executor checks it before every call, so the cells of one step cannot overspend."""


class NullJournal:
    """Records nothing and never runs out of retries (executors used outside a run, e.g. in tests)."""

    def attempt_started(self, cell: Cell, attempt: int) -> Any:
        return None

    def attempt_finished(self, handle: Any, status: str, error_kind: str | None = None,
                         error_message: str | None = None) -> None:
        return None

    def model_call(self, cell: Cell, attempt: int, row: dict[str, Any]) -> None:
        return None

    def spend_retry(self) -> bool:
        return True

    def exhausted(self) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class CellContext:
    cell: Cell
    journal: Journal
    cancel: threading.Event | None = None  # the run's cancel event: every wait inside the cell wakes on it


Call = Callable[[list[Any], CellContext], Any]


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> RetryPolicy:
        return cls(int(options.get("retries", 5)), float(options.get("backoff_base", 1.0)),
                   float(options.get("backoff_max", 60.0)))

    def wait(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``retry`` (1-based): full jitter, raised to a Retry-After hint.

        The hint comes from an untrusted endpoint: it is capped at ``backoff_max`` (`Retry-After: 3600` must not
        park a cell for an hour)."""
        delay = rng.uniform(0.0, min(self.backoff_max, self.backoff_base * 2 ** (retry - 1)))
        if retry_after is not None:
            delay = max(delay, min(float(retry_after), self.backoff_max))
        return delay


def pause(cancel: threading.Event | None, seconds: float, what: str) -> None:
    """Sleep ``seconds`` unless the run is cancelled first: then raise ``Cancelled`` at once (``what`` says whose
    wait it was)."""
    if cancel is None:
        time.sleep(seconds)
    elif cancel.wait(seconds):
        raise Cancelled(f"{what}: the run was stopped")


def with_attempts(ctx: CellContext, once: Callable[[int], Any], policy: RetryPolicy, label: str,
                  rng: random.Random | None = None, sleep: Callable[[float], None] | None = None) -> Any:
    """Run ``once(attempt)`` until it returns, retrying TransientError up to ``policy.retries`` times.

    Every attempt writes one executions row (running → completed | failed). A StepFailure is final; any other
    exception is an ``executor_error``. The last transient failure becomes a ``transient`` StepFailure. Backoff
    waits wake on the run's cancel event (``ctx.cancel``) unless ``sleep`` is given; no attempt starts once the
    run is cancelled.
    """
    rng = rng or random.Random()
    journal, cell = ctx.journal, ctx.cell
    what = f"inference {cell.flow_index}: {label}"
    attempt = 0
    while True:
        if ctx.cancel is not None and ctx.cancel.is_set():
            raise Cancelled(f"{what}: not started, the run was stopped")
        attempt += 1
        handle = journal.attempt_started(cell, attempt)
        try:
            result = once(attempt)
        except TransientError as exc:
            journal.attempt_finished(handle, "failed", "transient", f"{label}: {exc}")
            if attempt > policy.retries:
                raise StepFailure("transient", f"inference {cell.flow_index}: {label} failed after {attempt} "
                                               f"attempts: {exc}") from None
            if not journal.spend_retry():
                raise RetryBudgetExhausted(f"inference {cell.flow_index}: {label}: --max-retries-total is spent "
                                           f"(last error: {exc})") from None
            delay = policy.wait(attempt, rng, exc.retry_after)
            if sleep is not None:
                sleep(delay)
            else:
                pause(ctx.cancel, delay, f"{what}: backoff before retry {attempt}")
            continue
        except StepFailure as exc:
            journal.attempt_finished(handle, "failed", exc.kind, exc.message)
            raise
        except Exception as exc:  # author code or a client bug: a typed failure, never a traceback
            message = f"inference {cell.flow_index}: {label} raised {type(exc).__name__}: {exc}"
            journal.attempt_finished(handle, "failed", "executor_error", message)
            raise StepFailure("executor_error", message) from None
        journal.attempt_finished(handle, "completed")
        return result
