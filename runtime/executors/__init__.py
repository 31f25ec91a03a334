"""Executors (RUNTIME §10): Python bindings, built-ins, external input; selected once per inference at load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime.load import LoadError, Plan


@dataclass(frozen=True)
class Selection:
    kind: str                      # python | builtin | external | llm
    call: Callable[[list[Any]], Any] | None = None


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


def select_executors(plan: Plan, bindings: dict[str, str], options: dict[str, Any]) -> dict[str, Selection]:
    """Flow index → executor for every imperative and judgement (§10.6); problems raise LoadError (exit 2)."""
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
        fi = llm_needed[0]
        inf = plan.inferences[fi]
        configured = options.get("llm_model") or options.get("llm_base_url")
        how = (f"bind it to Python with `| %{{python}}: path.py:function` in the plan or "
               f"--binding {fi}=path.py:function")
        if configured:
            raise LoadError(f"inference {fi} ({inf['concept_to_infer']}) needs a language model, and this version "
                            f"of ncd-run has no LLM executor yet; {how}")
        raise LoadError(f"inference {fi} ({inf['concept_to_infer']}) needs a language model but none is "
                        f"configured: set NCD_LLM_MODEL and NCD_LLM_BASE_URL (or --llm-model and --llm-base-url), "
                        f"or {how}")
    return out
