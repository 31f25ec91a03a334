"""Admission of input values that arrive over HTTP: they are tenant data, never pointers to server files.

``admit_inputs`` runs before anything else looks at a request's inputs (nothing is stored for a refused request):

* **Text.** Every string (values and keys, at any depth) must be encodable as UTF-8: a lone surrogate (JSON
  ``"\\ud800"``) is refused (422 ``invalid_input_text``) instead of failing later in the store.
* **Depth.** A value nested deeper than ``MAX_DEPTH`` lists/objects is refused (422 ``input_too_deep``): the runtime
  walks values recursively (encoding, hashing, perception), so the limit keeps that far from Python's stack limit.
* **Perceptual signs.** A string in the sign grammar (RUNTIME §2.6) whose norm perceives something — every norm but
  the element wrapper ``%(…)``/``%{literal}(…)``, truth markers and ``dummy`` — is refused (422
  ``input_file_sign``); so is such a sign inside an element wrapper (unwrapping would expose it to perception). The
  wrapper, truth markers and ``dummy`` stay: they read as plain values and touch nothing on the server.
* **``serve --input-files-dir DIR``.** Then ``file_location`` and ``prompt_location`` signs are perceived at
  admission, inside DIR only (the confinement of RUNTIME §11: relative, normalised, symlinks resolved, inside DIR),
  and replaced by what they denote: the text, as a literal wrapper (so text that looks like a sign stays text); a
  ground collection given as ``["%{file_location}(f.json)"]`` (RUNTIME §3.2) becomes the file's JSON. The run
  itself never perceives a tenant's sign, so the plan's own signs keep their plan-directory roots and a file
  changed after admission does not change the run. ``script_location`` (which binding code runs), ``save_path``
  (where the server writes) and ``memorized_parameter`` (the operator's memory file) stay refused.

Messages name the input and the path as the tenant wrote it, never an absolute server path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runtime.load import Plan, confine
from runtime.reference import NONE_AXIS, TRUTH_NORMS, parse_sign, unwrap_element
from runtime.server.errors import ApiError

MAX_DEPTH = 64
HARMLESS_NORMS = frozenset({None, "literal", "dummy", *TRUTH_NORMS})
READABLE_NORMS = frozenset({"file_location", "prompt_location"})


def _shown(text: str, limit: int = 80) -> str:
    """A tenant string safe to echo in a message (ASCII repr, bounded)."""
    shown = ascii(text)
    return shown if len(shown) <= limit else shown[:limit - 4] + "...'"


class InputAdmission:
    """Checks (and with ``files_dir`` dereferences) the inputs of one request; ``limit``: bytes of files read."""

    def __init__(self, plan: Plan, files_dir: Path | None, limit: int) -> None:
        self.plan = plan
        self.files_dir = files_dir
        self.limit = limit
        self.read = 0

    def admit(self, inputs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in inputs.items():
            self._text(name, name)
            self._shape(name, value)
            if name.startswith("_"):
                out[name] = value  # a comment (RUNTIME §3.3): never looked at
                continue
            collection = self._collection_sign(name, value)
            out[name] = collection if collection is not None else self._signs(name, value)
        return out

    # ------------------------------------------------------------ checks

    @staticmethod
    def _text(name: str, text: str) -> None:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(422, "invalid_input_text", f"inputs: {_shown(name)}: a string holds a lone UTF-16 "
                                                      f"surrogate (not valid Unicode text)") from None

    def _shape(self, name: str, value: Any) -> None:
        """Depth and text of every string, iteratively (a deep value must not exhaust the stack here)."""
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            item, depth = stack.pop()
            if isinstance(item, (list, dict)):
                if depth > MAX_DEPTH:
                    raise ApiError(422, "input_too_deep", f"inputs: {_shown(name)} is nested more than "
                                                          f"{MAX_DEPTH} lists/objects deep")
                if isinstance(item, dict):
                    for key in item:
                        self._text(name, key)
                    stack.extend((v, depth + 1) for v in item.values())
                else:
                    stack.extend((v, depth + 1) for v in item)
            elif isinstance(item, str):
                self._text(name, item)

    def _signs(self, name: str, value: Any) -> Any:
        if isinstance(value, list):
            return [self._signs(name, v) for v in value]
        if isinstance(value, dict):
            return {k: self._signs(name, v) for k, v in value.items()}
        sign = parse_sign(value)
        if sign is None:
            return value
        if sign.norm in HARMLESS_NORMS:
            self._inside_wrapper(name, value)
            return value
        if sign.norm not in READABLE_NORMS or self.files_dir is None:
            raise self._refused(name, value, sign.norm)
        return "%{literal}(" + json.dumps(self._read(name, sign.signifier), ensure_ascii=False) + ")"

    def _inside_wrapper(self, name: str, value: str) -> None:
        """An element wrapper's content is read as JSON/Python literal; a perceiving sign in there would be
        perceived later like any other element."""
        stack = [unwrap_element(value)]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                stack.extend(item.values())
            else:
                sign = parse_sign(item)
                if sign is not None and sign.norm not in HARMLESS_NORMS:
                    raise ApiError(422, "input_file_sign", (
                        f"inputs: {_shown(name)}: {_shown(value)} wraps a perceptual sign; values sent to the "
                        f"server are data and signs inside an element wrapper are not accepted"))
                inner = unwrap_element(item) if sign is not None and item is not value else item
                if inner != item:  # a wrapper inside the wrapper
                    stack.append(inner)

    def _refused(self, name: str, value: str, norm: str | None) -> ApiError:
        if norm in READABLE_NORMS:
            why = "this server reads no input files (serve --input-files-dir)"
        else:
            why = f"{norm} signs are never accepted over HTTP"
        return ApiError(422, "input_file_sign", f"inputs: {_shown(name)}: {_shown(value)} is a perceptual sign; "
                                                f"values sent to the server are data ({why})")

    # ------------------------------------------------------------ --input-files-dir

    def _collection_sign(self, name: str, value: Any) -> Any:
        """A ground collection given as one file sign: the file's JSON (as the CLI's load does, RUNTIME §3.2);
        None when ``value`` is not that form."""
        data, axes = value, None
        if isinstance(value, dict) and "data" in value:
            data, axes = value["data"], value.get("axes")
        concept = self.plan.concepts.get(name)
        if concept is None or not isinstance(data, list) or len(data) != 1:
            return None
        sign = parse_sign(data[0])
        axes = axes if isinstance(axes, list) else concept["reference_axis_names"]
        if sign is None or sign.norm != "file_location" or list(axes) == [NONE_AXIS]:
            return None
        if self.files_dir is None:
            raise self._refused(name, data[0], sign.norm)
        text = self._read(name, sign.signifier)
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise ApiError(422, "input_file_invalid", f"inputs: {_shown(name)}: {_shown(sign.signifier)} is not "
                                                      f"valid JSON: {exc}") from None
        self._shape(name, parsed)
        parsed = self._signs(name, parsed)
        return {**value, "data": parsed} if isinstance(value, dict) else parsed

    def _read(self, name: str, rel: str) -> str:
        assert self.files_dir is not None
        try:
            path = confine(self.files_dir, rel)
        except PermissionError:
            raise ApiError(422, "input_file_sign", f"inputs: {_shown(name)}: {_shown(rel)} is not a relative "
                                                   f"path inside the input files directory") from None
        try:
            if path.exists() and not path.is_file():  # a directory, or a FIFO that would block the request
                raise ApiError(422, "input_file_unreadable", f"inputs: {_shown(name)}: {_shown(rel)} is not a "
                                                             f"regular file")
            size = path.stat().st_size
            if self.read + size > self.limit:
                raise ApiError(422, "input_file_too_large", f"inputs: {_shown(name)}: the input files read for "
                                                            f"this request exceed {self.limit} bytes")
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ApiError(422, "input_file_invalid", f"inputs: {_shown(name)}: {_shown(rel)} is not UTF-8 "
                                                      f"text") from None
        except OSError as exc:
            raise ApiError(422, "input_file_unreadable", f"inputs: {_shown(name)}: cannot read {_shown(rel)}: "
                                                         f"{exc.strerror or type(exc).__name__}") from None
        self.read += size
        return text


def admit_inputs(plan: Plan, inputs: dict[str, Any], files_dir: Path | None, limit: int) -> dict[str, Any]:
    """The inputs of a request as the run gets them, or ApiError 422 (see the module docstring)."""
    return InputAdmission(plan, files_dir, limit).admit(inputs)
