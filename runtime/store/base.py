"""The store protocol (RUNTIME §8): what the runtime writes and reads, whatever the backend.

Rows are plain dicts keyed by the column names of §8.2. Columns ending in ``_json`` are passed and returned as
decoded JSON values under the name without the suffix (or passed already encoded, as text, under the column name:
the recorder hands over ``value_json`` so a value is serialised once) (``value``, ``meta``, ``env``, ``options``, ``outcome``,
``plan``, ``reconcile``, ``request``); nothing but JSON is ever stored. Every backend passes
``tests/test_store_conformance.py``.

Run rows (``create_run``) carry: ``run_id``, ``parent_run_id``, ``parent_seq``, ``created_at``, ``plan_hash``,
``schedule_sha256``, ``runtime_version``, ``env``, ``options``, ``resume_mode``, ``status``, ``owner``, and two
additions to §8.2 (docs/decisions.md): ``plan`` — ``{"inferences": {inference id: {"flow_index", "concept",
"provision_hash"}}}`` of the plan the run executes, which PATCH compares against — and ``reconcile`` —
``{"mode", "invalidated": [inference ids]}`` for a fork: ancestor rows of those inferences are not part of its state.
The ground data a run started from is kept per run (``put_inputs``/``get_inputs``) so ``resume`` needs no inputs.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from runtime.store.batch import WriteBatch

RUN_STATUSES = ("running", "completed", "blocked", "failed", "budget_exhausted", "interrupted")


class StoreError(Exception):
    """A store that cannot be opened, read or written; the message names the file and the problem (exit 2)."""


@runtime_checkable
class Store(Protocol):
    # ---------------------------------------------------------------- transactions

    def transaction(self) -> AbstractContextManager[None]:
        """Group the writes made inside (on this thread) into one write transaction (SQLite: BEGIN IMMEDIATE).

        Nested uses join the outer transaction. Every write method also works outside one (its own transaction).
        """

    # ---------------------------------------------------------------- runs

    def create_run(self, run: dict[str, Any]) -> None:
        """Insert the run row. A fork (``parent_run_id`` set) must name an existing run and a ``parent_seq`` that
        run has reached; per-run backends copy the ancestors' run rows and result rows up to the fork point."""

    def update_run(self, run_id: str, *, status: str | None = None, finished_at: str | None = None,
                   outcome: dict[str, Any] | None = None) -> None:
        """The only updatable fields of a run (§8.3)."""

    def get_run(self, run_id: str) -> dict[str, Any] | None: ...

    def list_runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first (``created_at``, then ``run_id``)."""

    def put_inputs(self, run_id: str, inputs: dict[str, Any]) -> None:
        """The encoded ground data and external inputs (§2.5) the run starts from, by concept name."""

    def get_inputs(self, run_id: str) -> dict[str, Any]: ...

    # ---------------------------------------------------------------- results (append-only)

    def append_results(self, run_id: str, rows: list[dict[str, Any]]) -> list[int]:
        """Append rows; each gets the next ``seq`` of the run (a fork continues after its ``parent_seq``) and
        ``inference_count`` (rows of the run so far with the row's ``cycle``, this one included) unless given.
        Returns the seqs."""

    def results(self, run_id: str, upto: int | None = None) -> list[dict[str, Any]]:
        """The run's own rows with ``seq <= upto`` (all when None), in seq order."""

    def state_rows(self, run_id: str, upto: int | None = None) -> list[dict[str, Any]]:
        """The rows the run's state at ``upto`` is built from (§8.3): each ancestor's rows up to the seq its child
        forked at — except rows of inferences the child's ``reconcile.invalidated`` names — then the run's own rows
        up to ``upto``, in seq order. Each row has its ``run_id``."""

    def last_seq(self, run_id: str) -> int:
        """The highest seq of the run's rows, or its ``parent_seq`` (0 for a new run) when it has none."""

    # ---------------------------------------------------------------- executions and logs

    def start_execution(self, run_id: str, row: dict[str, Any]) -> int:
        """Insert an executions row (status ``running`` unless given); returns ``execution_id``."""

    def finish_execution(self, run_id: str, execution_id: int, *, status: str, finished_at: str,
                         error_kind: str | None = None, error_message: str | None = None) -> None: ...

    def executions(self, run_id: str) -> list[dict[str, Any]]:
        """The run's executions rows in ``execution_id`` order."""

    def add_log(self, run_id: str, row: dict[str, Any]) -> None: ...

    def logs(self, run_id: str) -> list[dict[str, Any]]: ...

    # ---------------------------------------------------------------- checkpoints

    def add_checkpoint(self, run_id: str, seq: int) -> dict[str, Any] | None:
        """A marker over result ``seq`` of the run, addressed by the (cycle, inference_count) of that row; returns
        the marker, or None when the previous marker already has that address (§8.3)."""

    def checkpoints(self, run_id: str) -> list[dict[str, Any]]:
        """The run's markers in seq order: ``{"run_id", "seq", "cycle", "inference_count", "created_at"}``."""

    # ---------------------------------------------------------------- model calls (§8.4)

    def add_llm_call(self, run_id: str, row: dict[str, Any]) -> int: ...

    def llm_calls(self, run_id: str) -> list[dict[str, Any]]: ...

    # ---------------------------------------------------------------- leases (one runner per run, lease.py)

    def acquire_lease(self, run_id: str, holder: dict[str, Any], lease_seconds: float) -> dict[str, Any]:
        """Take (or refresh) the run's lease for ``holder`` (``{"holder_id", "host", "pid"}``, ``lease.new_holder``)
        and return its row; inside the caller's transaction when there is one. Raises ``lease.LeaseHeld`` naming
        the holder when another live runner has it (``lease.take`` decides)."""

    def renew_lease(self, run_id: str, holder_id: str) -> bool:
        """A heartbeat: True when ``holder_id`` still holds the lease, False when it has lost it."""

    def release_lease(self, run_id: str, holder_id: str) -> None:
        """Drop the lease if ``holder_id`` holds it (a lease taken over by another runner is left alone)."""

    def get_lease(self, run_id: str) -> dict[str, Any] | None:
        """The run's lease row (``lease.LEASE_COLUMNS``), or None when nobody holds it."""

    # ---------------------------------------------------------------- group commit

    def write_batch(self, run_id: str, batch: WriteBatch) -> None:
        """The recorder's writes of one group commit (``runtime/store/batch.py``), in one transaction; a backend
        without a faster way uses ``apply_batch``. When ``batch.lease`` names a holder, the transaction first checks
        that it still holds the run's lease (``lease.fence``) and writes nothing otherwise."""

    # ---------------------------------------------------------------- lifetime

    def release_run(self, run_id: str) -> None:
        """The run has ended in this process (the run server calls it): drop per-run caches and open files, so
        memory does not grow with the number of runs served. The run stays readable."""

    def close(self) -> None: ...
