"""Run leases (one runner per run): who may execute a run, whatever the store backend.

A lease is one row per run (``run_leases``: holder id, host, pid, when it was taken, its last heartbeat and the
holder's lease length). It is taken in the transaction that marks the run ``running``, renewed by a heartbeat while
the run executes (``LeaseKeeper``: its own thread, so one long step never lets it lapse), checked by every group
commit of the run's rows (a runner that lost its lease cannot write), and removed when the run ends.

Another runner may take a lease over only when its holder is gone: a pid that no longer exists on this host (so a
resume right after ``kill -9`` needs no waiting), or a heartbeat older than the lease length (the longer of the
holder's and the taker's: a taker configured with a short lease must not steal from a live holder that renews on a
longer one). Otherwise the taker is refused with ``LeaseHeld`` naming the holder (exit 2 at the CLI, 409 at the
server).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from runtime.store.base import StoreError

if TYPE_CHECKING:
    from runtime.store.base import Store

DEFAULT_LEASE_SECONDS = 30.0
LEASE_COLUMNS = ("run_id", "holder_id", "host", "pid", "acquired_at", "heartbeat_at", "lease_seconds")
# Fixed for the life of this process: a lease whose pid is ours but whose holder id lacks this token was written by
# an earlier process that had our pid (pid reuse after a crash), so it is dead.
PROCESS_TOKEN = uuid.uuid4().hex[:12]

log = logging.getLogger("ncd.lease")


class LeaseHeld(StoreError):
    """Another live runner holds the run's lease. ``lease`` is its row (holder id, host, pid, heartbeat)."""

    def __init__(self, run_id: str, lease: dict[str, Any]) -> None:
        self.run_id = run_id
        self.lease = dict(lease)
        age = _age(lease)
        super().__init__(f"run '{run_id}' is being run by another runner: pid {lease['pid']} on host "
                         f"{lease['host']} (lease heartbeat {age:.0f} s ago); wait for it to finish, or stop it "
                         f"and resume")

    def holder(self) -> dict[str, Any]:
        """The holder as an API body shows it."""
        return {"holder_id": self.lease["holder_id"], "host": self.lease["host"], "pid": self.lease["pid"],
                "heartbeat_at": self.lease["heartbeat_at"]}


class LeaseLost(StoreError):
    """A runner's lease was taken over (it had stopped renewing for longer than the lease): it must stop writing."""


def new_holder() -> dict[str, Any]:
    """A fresh holder identity for one runner of one run in this process."""
    return {"holder_id": f"{PROCESS_TOKEN}.{uuid.uuid4().hex[:12]}", "host": socket.gethostname(),
            "pid": os.getpid()}


def check_lease_seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise StoreError(f"lease_seconds must be a number of seconds, not {value!r}") from None
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise StoreError(f"lease_seconds must be a positive number of seconds, not {value!r}")
    return seconds


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _age(lease: dict[str, Any]) -> float:
    """Seconds since the lease's last heartbeat (negative clock skew counts as fresh)."""
    try:
        beat = datetime.fromisoformat(str(lease["heartbeat_at"]))
    except ValueError:
        return float("inf")  # an unreadable heartbeat cannot prove its holder alive
    return max(0.0, (datetime.now(timezone.utc) - beat).total_seconds())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return True  # cannot tell: only the heartbeat may free it
    return True


def holder_gone(lease: dict[str, Any]) -> bool:
    """Whether the holder is provably dead: a pid of this host that no longer exists (or that is now ours)."""
    if lease["host"] != socket.gethostname():
        return False
    pid = int(lease["pid"])
    if pid == os.getpid():
        return not str(lease["holder_id"]).startswith(PROCESS_TOKEN + ".")
    return not _pid_alive(pid)


def take(run_id: str, existing: dict[str, Any] | None, holder: dict[str, Any],
         lease_seconds: float) -> dict[str, Any]:
    """The lease row ``holder`` writes, or ``LeaseHeld`` when a live other holder has it. Called inside the write
    transaction that reads ``existing``, so two takers cannot both succeed."""
    lease_seconds = check_lease_seconds(lease_seconds)
    stamp = _now()
    if existing is not None and existing["holder_id"] == holder["holder_id"]:
        return {**existing, "heartbeat_at": stamp, "lease_seconds": lease_seconds}
    if existing is not None and not holder_gone(existing) \
            and _age(existing) <= max(lease_seconds, float(existing["lease_seconds"])):
        raise LeaseHeld(run_id, existing)
    if existing is not None:
        log.warning("run %s: taking over the lease of pid %s on host %s (heartbeat %.0f s ago)", run_id,
                    existing["pid"], existing["host"], _age(existing))
    return {"run_id": run_id, "holder_id": holder["holder_id"], "host": holder["host"], "pid": int(holder["pid"]),
            "acquired_at": stamp, "heartbeat_at": stamp, "lease_seconds": lease_seconds}


def renewed(existing: dict[str, Any] | None, holder_id: str) -> dict[str, Any] | None:
    """The row after a heartbeat of ``holder_id``, or None when the lease is no longer its own."""
    if existing is None or existing["holder_id"] != holder_id:
        return None
    return {**existing, "heartbeat_at": _now()}


def fence(run_id: str, existing: dict[str, Any] | None, holder_id: str | None) -> None:
    """Every group commit of a leased run checks that its runner still holds the lease (in the same transaction)."""
    if holder_id is None or (existing is not None and existing["holder_id"] == holder_id):
        return
    if existing is None:
        raise LeaseLost(f"run '{run_id}': this runner's lease was released or taken over; it stops writing")
    raise LeaseLost(f"run '{run_id}' was taken over by pid {existing['pid']} on host {existing['host']} "
                    f"(this runner had stopped renewing its lease); it stops writing")


class LeaseKeeper:
    """Renews one run's lease every third of its length on a daemon thread, independent of the steps running (a
    step longer than the lease must not let it lapse). When the lease turns out to be lost, ``on_lost`` is called
    once (the orchestrator stops starting work; the fenced commits already refuse to write)."""

    def __init__(self, store: Store, run_id: str, holder_id: str, lease_seconds: float,
                 on_lost: Callable[[str], None]) -> None:
        self.store = store
        self.run_id = run_id
        self.holder_id = holder_id
        self.interval = max(0.05, lease_seconds / 3)
        self.on_lost = on_lost
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"ncd-lease-{run_id}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        failing = False
        while not self._stop.wait(self.interval):
            try:
                held = self.store.renew_lease(self.run_id, self.holder_id)
            except StoreError as exc:  # busy or briefly failing: the next beat tries again, expiry is 3 beats off
                if not failing:
                    log.warning("run %s: cannot renew its lease: %s", self.run_id, exc)
                failing = True
                continue
            failing = False
            if not held:
                self.lost = f"run '{self.run_id}': its lease was taken over by another runner"
                self.on_lost(self.lost)
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
