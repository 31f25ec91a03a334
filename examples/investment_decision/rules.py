"""Deterministic rules bound to `plan.ncd`; they stand in for the LLM steps of an investment-decision plan.

`ncd-run` calls each function once per cell with the perceived inputs as positional arguments, in the inference's
`value_order` (RUNTIME §10.1, §5.5). The ground files are `file_location` signs on single values, so they arrive as
the file's text; `_json` accepts text or an already parsed value. A *signal* is
``{"name": str, "source": "price" | "news", "score": float}`` with a score from -1 (bearish) to 1 (bullish).
"""

from __future__ import annotations

import json


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _clamp(score: float) -> float:
    return round(max(-1.0, min(1.0, score)), 4)


def _flags(values) -> list[bool]:
    """The booleans of a collapsed for-each judgement (nested lists flattened, anything else read as a truth mark)."""
    if isinstance(values, list):
        return [flag for item in values for flag in _flags(item)]
    if isinstance(values, str):
        return [values.strip().lower() in ("true", "%{truth_value}(true)", "%{truth value}(true)")]
    return [bool(values)]


# 1.12.2  [price signals]  <- ({price data}); the list is spread along the `price signal` axis
def price_signals(price_data) -> list[dict]:
    closes = [float(c) for c in _json(price_data)["closes"]]
    first, last, mean, peak = closes[0], closes[-1], sum(closes) / len(closes), max(closes)
    return [
        {"name": "momentum", "source": "price", "score": _clamp((last / first - 1) * 10)},
        {"name": "trend against the average", "source": "price", "score": _clamp((last / mean - 1) * 10)},
        {"name": "drawdown from the peak", "source": "price", "score": _clamp((last / peak - 1) * 10)},
    ]


# 1.12.3  [news signals]  <- ({news data}); the list is spread along the `news signal` axis
def news_signals(news_data) -> list[dict]:
    return [{"name": article["headline"], "source": "news", "score": _clamp(float(article["sentiment"]))}
            for article in _json(news_data)["articles"]]


# 1.10  <signal is bullish>  <- ({signal}, {thresholds});  <For Each [signals] True>
def is_bullish(signal, thresholds) -> bool:
    return _json(signal)["score"] > float(_json(thresholds)["bullish_above"])


# 1.11  <signal is bearish>  <- ({signal}, {thresholds});  <For Each [signals] True>
def is_bearish(signal, thresholds) -> bool:
    return _json(signal)["score"] < float(_json(thresholds)["bearish_below"])


def _note(signal, leaning: str) -> str:
    signal = _json(signal)
    return f"{signal['name']} ({signal['source']}) is {leaning} at {signal['score']:+.2f}"


# 1.8  [bullish notes]  <- ({signal});  gated per signal by @:'(<signal is bullish>)
def bullish_note(signal) -> str:
    return _note(signal, "bullish")


# 1.9  [bearish notes]  <- ({signal});  gated per signal by @:'(<signal is bearish>)
def bearish_note(signal) -> str:
    return _note(signal, "bearish")


# 1.6 / 1.7  <the outlook is bullish|bearish>  <- (flags for, flags against, {thresholds});  <ALL True>
def outnumbers(flags_for, flags_against, thresholds) -> bool:
    """True when the signals for one side outnumber those for the other by at least the margin."""
    margin = int(_json(thresholds)["margin"])
    return sum(_flags(flags_for)) - sum(_flags(flags_against)) >= margin


def _evidence(evidence) -> tuple[list[str], list[str]]:
    """The notes of the `[evidence]` bundle `{"[bullish notes]": [...], "[bearish notes]": [...]}` (keys may be missing)."""
    evidence = _json(evidence)
    if isinstance(evidence, list):  # a bundle presented inside a one-element list
        evidence = evidence[0] if evidence else {}
    bundle = evidence or {}

    def notes(name: str) -> list[str]:
        value = bundle.get(f"[{name}]", bundle.get(name, []))
        return [value] if isinstance(value, str) else list(value)

    return notes("bullish notes"), notes("bearish notes")


def _decision(action: str, share: float, profile, reasons: list[str]) -> dict:
    profile = _json(profile)
    return {"action": action, "size": round(float(profile["max_position"]) * share, 4),
            "stop_loss": float(profile["stop_loss"]), "rationale": "; ".join(reasons)}


# 1.2  {buy decision}  <- ([evidence], {risk profile});  gated by @:'(<the outlook is bullish>)
def buy_decision(evidence, risk_profile) -> dict:
    bullish, bearish = _evidence(evidence)
    return _decision("buy", len(bullish) / max(1, len(bullish) + len(bearish)), risk_profile, bullish)


# 1.3  {sell decision}  <- ([evidence], {risk profile});  gated by @:'(<the outlook is bearish>)
def sell_decision(evidence, risk_profile) -> dict:
    bullish, bearish = _evidence(evidence)
    return _decision("sell", len(bearish) / max(1, len(bullish) + len(bearish)), risk_profile, bearish)


# 1.4  {hold decision}  <- ([signals] collapsed)
def hold_decision(signals) -> dict:
    signals = [_json(s) for s in signals]
    average = sum(s["score"] for s in signals) / len(signals) if signals else 0.0
    return {"action": "hold", "size": 0.0, "stop_loss": None,
            "rationale": f"no clear majority among {len(signals)} signals (average score {average:+.2f})"}
