"""Bindings of tests/runtime_plans/reconcile/pipeline.ncd. Every ``NAME_v2`` is an alternative for ``NAME`` with a
different, type-compatible result: tests switch a step's binding to it to make a single semantic edit."""

import json


def make_title(words):
    return words.title()


def make_title_v2(words):
    return words.upper()


def make_header(title):
    return f"== {title} =="


def make_header_v2(title):
    return f"## {title}"


def load(source):
    return source.strip()


def load_v2(source):
    return source.strip() + ",8"


def parse(raw):
    return [int(x) for x in raw.split(",")]


def parse_v2(raw):
    return [int(x) + 10 for x in raw.split(",")]


def clean(parsed):
    return sorted(set(parsed))


def clean_v2(parsed):
    return sorted(set(parsed), reverse=True)


def scale(config):
    return int(config.lstrip("x"))


def scale_v2(config):
    return int(config.lstrip("x")) + 1


def weights(cleaned, scale):
    return [x * scale for x in cleaned]


def weights_v2(cleaned, scale):
    return [x + scale for x in cleaned]


def checksum(parsed):
    return sum(parsed) % 97


def checksum_v2(parsed):
    return len(parsed)


def stats(cleaned, weights, checksum, note=None):
    out = {"n": len(cleaned), "sum": sum(cleaned), "weighted": sum(weights), "checksum": checksum}
    if note is not None:
        out["note"] = note
    return out


def stats_v2(cleaned, weights, checksum, note=None):
    return {"n": len(cleaned), "max": max(cleaned), "weighted": max(weights), "checksum": checksum}


def load_side(source):
    return source.strip()


def load_side_v2(source):
    return source.strip() + " epsilon"


def tokenize(text):
    return text.split()


def tokenize_v2(text):
    return text.split()[::-1]


def count(tokens):
    return len(tokens)


def count_v2(tokens):
    return len(tokens) * 10


def longest(tokens):
    return max(tokens, key=len)


def longest_v2(tokens):
    return min(tokens, key=len)


def summarize_side(count, longest):
    return f"{count} words, longest {longest}"


def summarize_side_v2(count, longest):
    return f"{longest} among {count}"


def factor_seed(text):
    return int(text)


def factor_seed_v2(text):
    return int(text) + 1


def factor(seed):
    return seed % 5


def factor_v2(seed):
    return seed % 3 + 1


def split_items(cleaned):
    return list(cleaned)


def split_items_v2(cleaned):
    return [x for x in cleaned if x != 2]


def scale_item(item, factor):
    return item * factor


def scale_item_v2(item, factor):
    return item + factor


def add(scaled, previous, bonus):
    return previous + scaled + bonus


def add_v2(scaled, previous, bonus):
    return previous + scaled - bonus


def summarize_totals(totals, factor):
    return {"last": totals[-1], "count": len(totals), "factor": factor}


def summarize_totals_v2(totals, factor):
    return {"first": totals[0], "count": len(totals), "factor": factor}


def render(bundle):
    # JSON objects carry no key order: format them canonically (tests/test_reconcile.py checks the order separately)
    return " | ".join(f"{k}={json.dumps(bundle[k], sort_keys=True)}" for k in sorted(bundle))


def render_v2(bundle):
    return "; ".join(f"{k}:{json.dumps(bundle[k], sort_keys=True)}" for k in sorted(bundle))


def note(text):
    return f"note: {text}"
