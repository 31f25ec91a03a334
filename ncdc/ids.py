"""Content-derived identifiers (REPOSITORY_FORMAT.md §5): signatures, inference ids, concept ids, sign ids.

Everything here is a pure function of content, so builds are byte-reproducible and renumbering a plan changes
no signature.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

SIGNATURE_SCHEMA = "ncd.inference-signature/1"


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def signature(definition: dict[str, Any]) -> str:
    """``sha256:`` + SHA-256 of the canonical JSON of an inference's definition object D (§5.1)."""
    return "sha256:" + sha256_hex(canonical_json(definition))


def inference_ids(signatures: list[str]) -> list[str]:
    """``inf-`` + 12 hex digits of the signature; repeats in flow order get ``-2``, ``-3``, … (§5.2)."""
    seen: dict[str, int] = {}
    ids = []
    for sig in signatures:
        base = "inf-" + sig.removeprefix("sha256:")[:12]
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids


def slug(natural_name: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", natural_name.lower()).strip("-")
    text = text[:40].rstrip("-")
    return text or "x"


def concept_id(natural_name: str, concept_name: str, functional: bool) -> str:
    """``c-``/``fc-`` + slug of the natural name + 8 hex digits of the concept name (§5.3)."""
    prefix = "fc-" if functional else "c-"
    return f"{prefix}{slug(natural_name)}-{sha256_hex(concept_name)[:8]}"


def sign(norm: str, signifier: str) -> str:
    """A generated perceptual sign ``%{norm}<sid>(signifier)``; sid = 3 hex digits of the signifier (§5.4)."""
    return f"%{{{norm}}}{sha256_hex(signifier)[:3]}({signifier})"
