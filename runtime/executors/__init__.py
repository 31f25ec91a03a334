"""Executors (RUNTIME §10): Python bindings, built-ins, external input; selected once per inference at load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.executors.attempts import Call
from runtime.load import LoadError, Plan


@dataclass(frozen=True)
class Selection:
    kind: str                      # python | builtin | external | llm
    call: Call | None = None


def composition(paradigm: str | None) -> str | None:
    for part in (paradigm or "").split("-"):
        if part.startswith("c_"):
            return part
    return None


def _llm_selected(inf: dict[str, Any], plan: Plan) -> bool:
    wi = inf["working_interpretation"]
    paradigm = wi.get("paradigm")
    comp = composition(paradigm) or ""
    vertical = next((p for p in (paradigm or "").split("-") if p.startswith("v_")), "")
    data = plan.concepts[inf["function_concept"]].get("reference_data") or []
    sign = str(data[0]) if data else ""
    if vertical.startswith("v_Prompt") or any(w in comp for w in ("Generate", "ThinkJSON", "LLM")) \
            or sign.startswith("%{prompt_location}"):
        return True
    return not paradigm and not sign.startswith(("%{script_location}", "%{file_location}"))


def select_executors(plan: Plan, bindings: dict[str, str], options: dict[str, Any],
                     replay: Any = None) -> dict[str, Selection]:
    """Flow index → executor for every imperative and judgement (§10.6); problems raise LoadError (exit 2).
    ``replay`` (``runtime.replay.Replay``) answers model calls from a recording (§10.5)."""
    from runtime.executors import builtins, python

    modules = python.ModuleCache(plan.plan_dir)
    out: dict[str, Selection] = {}
    llm_needed: list[str] = []
    unknown = sorted(set(bindings) - set(plan.inferences))
    if unknown:
        raise LoadError(f"--binding: no inference at flow index {unknown[0]}")
    for fi in plan.order:
        inf = plan.inferences[fi]
        if not inf["inference_sequence"].endswith("_in_composition"):
            continue
        wi = inf["working_interpretation"]
        binding = wi.get("python_binding")
        if fi in bindings:
            path, sep, fn = bindings[fi].rpartition(":")
            if not sep or not path or not fn:
                raise LoadError(f"--binding {fi}={bindings[fi]}: expected path.py:function")
            binding = {"path": path, "function": fn}
        if binding:
            out[fi] = Selection("python", python.binding_call(modules, fi, binding, options))
        elif wi.get("is_external_input"):
            out[fi] = Selection("external")
        elif composition(wi.get("paradigm")) in builtins.REGISTRY:
            out[fi] = Selection("builtin", builtins.make(composition(wi.get("paradigm")), plan, options))
        elif _llm_selected(inf, plan):
            llm_needed.append(fi)
            out[fi] = Selection("llm")
        else:
            raise LoadError(f"inference {fi} ({inf['concept_to_infer']}): no executor for paradigm "
                            f"{wi.get('paradigm')!r} (NCD953); bind it with `| %{{python}}: path.py:function` "
                            f"or --binding {fi}=path.py:function")
    if llm_needed:
        import threading

        from runtime.executors.attempts import RetryPolicy
        from runtime.executors.llm import LLMSettings, make_llm_call

        settings = LLMSettings.from_options(options)
        if not settings.model and (replay is None or replay.fallback == "live"):
            fi = llm_needed[0]
            inf = plan.inferences[fi]
            raise LoadError(f"inference {fi} ({inf['concept_to_infer']}) needs a language model but none is "
                            f"configured: set NCD_LLM_MODEL and NCD_LLM_BASE_URL (or --llm-model and "
                            f"--llm-base-url), use --replay FILE, or bind it to Python with "
                            f"`| %{{python}}: path.py:function` in the plan or --binding {fi}=path.py:function")
        # one limiter for the whole run: --llm-concurrency bounds every model call at once, whatever the step
        limiter = threading.BoundedSemaphore(max(1, int(options.get("llm_concurrency") or 4)))
        policy = RetryPolicy.from_options(options)
        allow = tuple(Path(a).resolve() for a in options.get("allow_dir") or ())
        for fi in llm_needed:
            out[fi] = Selection("llm", make_llm_call(plan, fi, settings, limiter=limiter, policy=policy,
                                                     allow=allow, replay=replay))
    return out
