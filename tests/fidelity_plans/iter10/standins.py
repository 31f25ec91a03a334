"""Python stand-ins for the five scripts of corpus/iter10_formalization.pf.ncd (its provisions/scripts/*.py are
not in the corpus). Bound with --binding FLOW_INDEX=standins.py:function by tests/test_fidelity_runs.py."""

TYPES = ["object", "relation", "proposition", "imperative", "judgement", "assigning", "grouping", "timing", "looping"]


def pass_through(x):
    return x


def parse_ncds(content):
    """One dict per non-empty line, as the reference's ncds_parser: comments (`/:`) are marked."""
    out = []
    for n, raw in enumerate(content.splitlines(), 1):
        text = raw.strip()
        if not text:
            continue
        out.append({"flow_index": str(n), "content": text, "depth": (len(raw) - len(raw.lstrip())) // 4,
                    "inference_marker": text[:2], "concept_type": "comment" if text.startswith("/:") else "concept"})
    return out


def filter_concepts(lines):
    """Takes the whole list, as the reference's filter_concepts.py; anything else yields nothing."""
    if not isinstance(lines, list):
        return []
    return [line for line in lines if isinstance(line, dict) and line.get("concept_type") != "comment"]


def append_line(current, line):
    return (current or "") + str(line) + "\n"


def _check(expected):
    def check(concept_type, *_context):
        return str(concept_type).strip().strip('"').lower() == expected
    check.__name__ = "is_" + expected
    return check


for _t in TYPES:
    globals()["is_" + _t] = _check(_t)
