"""The cyclic GC's settings for the span of a run: outputs never depend on them, only time does.

* The loaded plan (about twenty containers per inference) lives unchanged for the whole run: ``gc.freeze()``
  moves it out of the collector's reach, so collections scan only what the run allocates.
* A run keeps a few containers per executed inference (values, result rows) and makes no cyclic garbage of its
  own (finished loop iterations are unlinked). Under CPython's default thresholds a full collection happens
  every ~70k surviving objects until the heap is several times larger: a number of full scans proportional to
  the run's length, each over everything kept so far, i.e. quadratic time (35-40% of a 100k-inference syntactic
  run went to full collections). During a run full collections are made 100x rarer; the young generations run
  as configured, so short-lived cycles (an executor's exceptions, say) are freed as before.

On exit the thresholds are restored and the frozen objects handed back to the collector with the generation
counts reset, so no postponed full collection falls due the moment the run ends. Concurrent runs in one process
share one setting: the first to start saves the thresholds and the last to finish restores them. Nothing is
freed differently by reference counting.

A finished run's state is cyclic (its scopes and their instances point at each other), so only a full collection
frees it. A one-run process exits instead; a long-lived one that runs many (the run server) calls ``collect()``:
while runs overlap, every run start freezes whatever exists — the garbage of runs finished meanwhile included —
and full collections are rare, so without it every finished run would stay in memory.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

ENABLED = True        # False: runs leave the process's GC settings alone (benchmarks compare both)
FULL_EVERY = 1000     # gen-1 collections between full collections during a run (CPython's default is 10)

_lock = threading.Lock()
_active = 0
_saved: tuple[int, ...] | None = None


@contextmanager
def run_gc() -> Iterator[None]:
    global _active, _saved
    if not ENABLED:
        yield
        return
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            if _saved[0] > 0:  # 0: the embedding application disabled automatic collection; leave it so
                gc.set_threshold(_saved[0], _saved[1], max(_saved[2], FULL_EVERY))
        _active += 1
        gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.freeze()  # also zeroes the generation counts: the run's collections are not owed afterwards
                if _saved is not None:
                    gc.set_threshold(*_saved)
                gc.unfreeze()


def collect() -> float:
    """A full collection that also reaches the objects frozen by the runs in progress (their live objects are
    frozen again afterwards); the seconds it took. For long-lived processes that run many runs (the run server)."""
    with _lock:
        started = time.perf_counter()
        if _active:
            gc.unfreeze()
        try:
            gc.collect()
        finally:
            if _active:
                gc.freeze()
        return time.perf_counter() - started
