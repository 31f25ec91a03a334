"""Built-in paradigms (RUNTIME §10.3), selected by the composition part of the paradigm name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runtime.executors.attempts import Call, CellContext, RetryPolicy, with_attempts
from runtime.load import Plan, confine
from runtime.sequences import StepFailure

REGISTRY = frozenset({"c_ReadFile", "c_ReadFileIfExists", "c_WriteFile", "c_PassThrough", "c_LoadParse"})


def make(name: str, plan: Plan, options: dict[str, Any]) -> Call:
    root = plan.plan_dir
    out_dir = Path(options["output_dir"]).resolve() if options.get("output_dir") else root

    def path_of(x: Any, base: Path) -> Path:
        try:
            p = Path(str(x))
            if p.is_absolute():  # perceived script/save paths are already confined absolute paths
                return confine(base, str(p.resolve().relative_to(base.resolve())))
            return confine(base, str(x))
        except (PermissionError, ValueError) as exc:
            raise StepFailure("path_violation", f"{name}: {exc}") from None

    def read(args: list[Any], missing_ok: bool) -> str:
        path = path_of(args[0], root)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return ""
            raise StepFailure("executor_error", f"{name}: no such file {args[0]}") from None
        except OSError as exc:
            raise StepFailure("executor_error", f"{name}: cannot read {args[0]}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise StepFailure("executor_error", f"{name}: cannot read {args[0]}: not UTF-8 text (offset "
                                                f"{exc.start})") from None

    def once(args: list[Any]) -> Any:
        if name in ("c_ReadFile", "c_ReadFileIfExists"):
            return read(args, name == "c_ReadFileIfExists")
        if name == "c_WriteFile":
            path = path_of(args[0], out_dir)
            path.parent.mkdir(parents=True, exist_ok=True)
            content = args[1] if isinstance(args[1], str) else json.dumps(args[1], ensure_ascii=False)
            path.write_text(content, encoding="utf-8")
            return str(args[0])
        if name == "c_PassThrough":
            return args[0] if len(args) == 1 else list(args)
        if name == "c_LoadParse":
            text = args[0]
            if isinstance(text, str):
                try:
                    return json.loads(text)
                except ValueError:
                    return text
            return text
        raise StepFailure("executor_error", f"unknown built-in {name}")

    def call(args: list[Any], ctx: CellContext) -> Any:
        return with_attempts(ctx, lambda attempt: once(args), RetryPolicy(retries=0), name)
    return call
