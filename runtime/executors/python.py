"""Python bindings (RUNTIME §10.1): trusted author functions loaded from files under the plan directory."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import queue
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.executors.attempts import Call, Cancelled, CellContext, RetryPolicy, TransientError, with_attempts
from runtime.load import LoadError, confine
from runtime.sequences import StepFailure

__all__ = ["ModuleCache", "TransientError", "abandonable", "binding_call"]


class ModuleCache:
    """Binding modules loaded once per run from their files; nothing is added to sys.path or sys.modules. Also
    the run's daemon threads that run binding calls (``workers``)."""

    def __init__(self, plan_dir: Path) -> None:
        self.plan_dir = plan_dir
        self._modules: dict[Path, Any] = {}
        self.workers = DaemonWorkers()

    def function(self, rel: str, name: str, where: str) -> Callable[..., Any]:
        try:
            path = confine(self.plan_dir, rel)
        except PermissionError as exc:
            raise LoadError(f"{where}: binding module {rel}: {exc}") from None
        if path not in self._modules:
            if not path.is_file():
                raise LoadError(f"{where}: binding module {rel} not found (looked for {path})")
            spec = importlib.util.spec_from_file_location(f"ncd_binding_{abs(hash(path))}", path)
            if spec is None or spec.loader is None:
                raise LoadError(f"{where}: cannot load binding module {rel}")
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except Exception as exc:  # author code: report, never a traceback
                raise LoadError(f"{where}: binding module {rel} failed to import: "
                                f"{type(exc).__name__}: {exc}") from None
            self._modules[path] = module
        fn = getattr(self._modules[path], name, None)
        if not callable(fn):
            raise LoadError(f"{where}: binding module {rel} has no function {name!r}")
        return fn


def binding_call(modules: ModuleCache, fi: str, binding: dict[str, str], options: dict[str, Any]) -> Call:
    fn = modules.function(binding["path"], binding["function"], f"inference {fi}")
    label = f"{binding['path']}:{binding['function']}"
    policy = RetryPolicy.from_options(options)
    limit = float(options.get("python_timeout") or 300.0)
    rng = random.Random()

    workers = modules.workers

    def call(args: list[Any], ctx: CellContext) -> Any:
        def once(attempt: int) -> Any:
            return abandonable(lambda: _complete(fn(*args)), limit, ctx.cancel,
                               f"inference {fi}: {label}", "--python-timeout", workers)
        return with_attempts(ctx, once, policy, label, rng)  # its backoff waits wake on ctx.cancel
    return call


def _complete(result: Any) -> Any:
    """An ``async def`` binding's coroutine awaited to its value; any other result as it is."""
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(x: Any) -> Any:
    return await x


def abandonable(work: Callable[[], Any], limit: float, cancel: threading.Event | None, label: str,
                option: str, workers: DaemonWorkers | None = None) -> Any:
    """``work()`` in a daemon thread (one of ``workers``, else a new one), awaited for at most ``limit`` seconds
    (0: no limit) or until ``cancel``.

    CPython cannot kill a thread: a call still running when the limit passes or the run is cancelled is
    abandoned. Being a daemon thread it never keeps the process alive; it finishes (or not) on its own and its
    result is dropped. A late call is a ``timeout`` StepFailure naming ``option``; a cancelled one raises
    ``Cancelled`` (not recorded as a failure: a resume runs it again).
    """
    if cancel is not None and cancel.is_set():
        raise _cancelled(label)
    done, box = (workers or DaemonWorkers(idle_seconds=0.0)).start(work)
    deadline = time.monotonic() + limit if limit else None
    while not done.wait(_slice(deadline, cancel)):
        if cancel is not None and cancel.is_set():
            raise _cancelled(label)
        if deadline is not None and time.monotonic() >= deadline:
            raise StepFailure("timeout", f"{label}: no result within {option} {limit:g} s (the call was abandoned)")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _slice(deadline: float | None, cancel: threading.Event | None) -> float | None:
    """How long to wait before looking again: an Event cannot wait on a second Event, so with a cancel event the
    wait is cut into short slices."""
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    if cancel is None:
        return left
    return _POLL if left is None else min(_POLL, left)


def _cancelled(label: str) -> Cancelled:
    return Cancelled(f"{label}: abandoned, the run was stopped while it was running")


_POLL = 0.05  # seconds between two looks at the run's cancel event


class DaemonWorkers:
    """Daemon threads for binding calls, reused (a thread per call costs ~15x a hand-off) and gone after
    ``idle_seconds`` without work, so a finished run leaves none behind. A thread whose call was abandoned stays
    busy with it, is never handed new work meanwhile, and never keeps the process alive."""

    def __init__(self, idle_seconds: float = 5.0) -> None:
        self._tasks: queue.SimpleQueue[tuple[Callable[[], Any], dict[str, Any], threading.Event]] = \
            queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for work that no queued task has claimed yet
        self._idle_seconds = idle_seconds

    def start(self, work: Callable[[], Any]) -> tuple[threading.Event, dict[str, Any]]:
        """Run ``work()`` on an idle thread or a new one; the event is set once ``box`` holds ``value`` or
        ``error``."""
        box: dict[str, Any] = {}
        done = threading.Event()
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1
        self._tasks.put((work, box, done))
        if spawn:
            threading.Thread(target=self._serve, name="ncd-binding", daemon=True).start()
        return done, box

    def _serve(self) -> None:
        while True:
            try:
                work, box, done = self._tasks.get(timeout=self._idle_seconds or None)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # unclaimed: leave; otherwise a task is on its way to this thread
                        self._idle -= 1
                        return
                continue
            try:
                box["value"] = work()
            except BaseException as exc:  # handed to the waiting thread, which types it (with_attempts)
                box["error"] = exc
            finally:
                done.set()
            if not self._idle_seconds:
                return  # a one-off thread
            with self._lock:
                self._idle += 1
