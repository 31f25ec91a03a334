"""Python bindings (RUNTIME §10.1): trusted author functions loaded from files under the plan directory."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.executors.attempts import Call, CellContext, RetryPolicy, TransientError, with_attempts
from runtime.load import LoadError, confine

__all__ = ["ModuleCache", "TransientError", "binding_call"]


class ModuleCache:
    """Binding modules loaded once per run from their files; nothing is added to sys.path or sys.modules."""

    def __init__(self, plan_dir: Path) -> None:
        self.plan_dir = plan_dir
        self._modules: dict[Path, Any] = {}

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
    rng = random.Random()

    def call(args: list[Any], ctx: CellContext) -> Any:
        def once(attempt: int) -> Any:
            result = fn(*args)
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result))
            return result
        return with_attempts(ctx, once, policy, label, rng)
    return call


async def _await(x: Any) -> Any:
    return await x
