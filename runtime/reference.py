"""Named-axis References: the runtime's data algebra (RUNTIME §2).

Pure: stdlib only, no project imports, no module-level mutable state. A Reference never changes after
construction; every operation returns a new one. Elements are JSON values (or perceptual-sign strings) plus two
typed markers, ``Skip`` and ``Error``. Elements are copied on the way in and on the way out, so callers and
executors can never mutate a stored value behind the runtime's back.
"""

from __future__ import annotations

import ast
import enum
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

NONE_AXIS: Final = "_none_axis"
LEGACY_SKIP: Final = "@#SKIP#@"  # read as Skip in input data only (§2.2)
ERROR_KINDS: Final = frozenset({
    "transient", "parse_error", "executor_error", "contract_error", "path_violation", "missing_input",
    "replay_miss", "shape_error", "no_output", "storage_error", "answer_too_large",
    "timeout",  # a binding call past --python-timeout (§10.1)
})
Element = Any  # JSON value | Skip | Error
# Levels of lists and objects a value may nest: inputs (axis levels included) and elements alike. Every stage that
# walks values (copying, encoding, hashing, the store) recurses, so a bound far below Python's recursion limit
# keeps them all safe whatever the caller's stack depth; real plans nest a handful of levels.
MAX_NESTING: Final = 100


class ReferenceModelError(ValueError):
    """Base of every error raised by this module; ``kind`` is the §6.1 error kind a sequence should record."""

    kind = "shape_error"


class ReferenceShapeError(ReferenceModelError):
    """Incompatible axes or sizes (§6.1 ``shape_error``); never resolved by truncating."""


class ReferenceEncodingError(ReferenceModelError):
    """An element that is not plain JSON, or a malformed §2.5 encoding."""

    kind = "contract_error"


class SkipType(enum.Enum):
    """Type of the Skip marker: an enum member is a true singleton that survives copy and pickle."""

    SKIP = "skip"

    def __repr__(self) -> str:
        return "Skip"


Skip: Final = SkipType.SKIP


@dataclass(frozen=True)
class Error:
    """A typed per-cell failure (§6.1); a value, so it can sit in a cell and be encoded."""

    kind: str
    message: str
    attempts: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ERROR_KINDS:
            raise ReferenceEncodingError(f"unknown error kind {self.kind!r}; expected one of {sorted(ERROR_KINDS)}")
        if not isinstance(self.message, str) or type(self.attempts) is not int or self.attempts < 0:
            raise ReferenceEncodingError(f"malformed Error({self.kind!r}, {self.message!r}, {self.attempts!r})")


def _element(x: Element, where: str = "element", depth: int = 0) -> Element:
    """A fresh, validated copy of ``x`` (tuples become lists). Copying keeps References immutable."""
    if x is None or x is Skip or isinstance(x, (bool, str, Error)):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            raise ReferenceEncodingError(f"{where}: {x!r} is not a JSON number")
        return x
    if isinstance(x, (list, tuple, dict)) and depth >= MAX_NESTING:
        raise ReferenceEncodingError(f"{where}: lists and objects nest deeper than {MAX_NESTING} levels")
    if isinstance(x, (list, tuple)):
        return [_element(i, where, depth + 1) for i in x]
    if isinstance(x, dict):
        if not all(isinstance(k, str) for k in x):
            raise ReferenceEncodingError(f"{where}: object keys must be strings, got {list(x)!r}")
        return {k: _element(v, where, depth + 1) for k, v in x.items()}
    raise ReferenceEncodingError(f"{where}: {type(x).__name__} {x!r} is not a JSON value, Skip or Error")


def _strides(shape: Sequence[int]) -> tuple[int, ...]:
    """Row-major strides: how far one step along each axis moves in the flat cell list."""
    return tuple(math.prod(shape[k + 1:]) for k in range(len(shape)))


def _nest(cells: Sequence[Element], shape: Sequence[int], leaf: Callable[[Element], Any]) -> list:
    """Row-major flat cells as nested lists, ``leaf`` applied to each element."""
    if len(shape) == 1:
        return [leaf(c) for c in cells]
    step = math.prod(shape[1:])
    return [_nest(cells[i * step:(i + 1) * step], shape[1:], leaf) for i in range(shape[0])]


def _indices(shape: Sequence[int]) -> Iterator[tuple[int, ...]]:
    return itertools.product(*(range(n) for n in shape))


class Reference:
    """Ordered distinct ``axes``, one size per axis in ``shape``, and elements stored flat in row-major order."""

    __slots__ = ("_axes", "_cells", "_key", "_shape")

    def __init__(self, axes: Sequence[str], shape: Sequence[int], cells: Iterable[Element]) -> None:
        """Validate and copy; ``cells`` is the row-major list of elements (use ``from_data`` for nested data)."""
        axes, shape = tuple(axes), tuple(shape)
        if not axes:
            raise ReferenceShapeError("a Reference needs at least one axis (rank-0 References are not used)")
        if not all(isinstance(a, str) and a for a in axes) or len(set(axes)) != len(axes):
            raise ReferenceShapeError(f"axes must be distinct non-empty names, got {list(axes)}")
        if len(shape) != len(axes) or not all(type(n) is int and n >= 0 for n in shape):
            raise ReferenceShapeError(f"shape {list(shape)} does not give one size >= 0 per axis {list(axes)}")
        cells = tuple(_element(c) for c in cells)
        if len(cells) != math.prod(shape):
            raise ReferenceShapeError(f"shape {list(shape)} over axes {list(axes)} needs {math.prod(shape)} "
                                      f"cells, got {len(cells)}")
        self._init(axes, shape, cells)

    def _init(self, axes: tuple[str, ...], shape: tuple[int, ...], cells: tuple[Element, ...]) -> None:
        object.__setattr__(self, "_axes", axes)
        object.__setattr__(self, "_shape", shape)
        object.__setattr__(self, "_cells", cells)
        object.__setattr__(self, "_key", None)

    @classmethod
    def _raw(cls, axes: Sequence[str], shape: Sequence[int], cells: Sequence[Element]) -> Reference:
        """Internal constructor for operation results: inputs are already validated and never mutated."""
        ref = object.__new__(cls)
        ref._init(tuple(axes), tuple(shape), tuple(cells))
        return ref

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Reference is immutable; operations return new References")

    def __reduce__(self) -> tuple:
        return (Reference, (self._axes, self._shape, self._cells))

    @classmethod
    def singleton(cls, value: Element) -> Reference:
        """A single value: one axis ``_none_axis`` of size 1 (§2.1)."""
        return cls((NONE_AXIS,), (1,), [value])

    @classmethod
    def skip(cls) -> Reference:
        """The Skip singleton: the value of a skipped inference (§5.3)."""
        return cls._raw((NONE_AXIS,), (1,), (Skip,))

    axes = property(lambda self: self._axes, doc="Axis names, in order.")
    shape = property(lambda self: self._shape, doc="One size per axis.")

    @property
    def data(self) -> list:
        """The nested lists (depth = number of axes) holding copies of the elements."""
        return _nest(self._cells, self._shape, _element)

    def cells(self) -> list[Element]:
        """Copies of all elements in row-major order, Skip included."""
        return [_element(c) for c in self._cells]

    def size_of(self, axis: str) -> int:
        return self._shape[self._pos(axis, "size_of")]

    def _pos(self, axis: str, op: str) -> int:
        if axis not in self._axes:
            raise ReferenceShapeError(f"{op}: axis {axis!r} is not an axis of {list(self._axes)}")
        return self._axes.index(axis)

    def has_value(self) -> bool:
        """At least one non-Skip cell (what `$.` and readiness look for, §4.2, §5.1)."""
        return any(c is not Skip for c in self._cells)

    def leaves(self) -> list[Element]:
        """All non-Skip elements in row-major order (§2.4); list elements are single leaves."""
        return [_element(c) for c in self._cells if c is not Skip]

    def map(self, fn: Callable[[Element], Element]) -> Reference:
        """Apply ``fn`` to every non-Skip element, keeping axes; Skip stays Skip, Error stays Error."""
        out = [c if c is Skip or isinstance(c, Error) else _element(fn(_element(c)), "map result")
               for c in self._cells]
        return Reference._raw(self._axes, self._shape, out)

    def rename_axis(self, old: str, new: str) -> Reference:
        """Same data under another axis name (loop aggregates: ``_none_axis`` → ``value``, ``output_axis``)."""
        k = self._pos(old, "rename_axis")
        if new != old and new in self._axes:
            raise ReferenceShapeError(f"rename_axis: {new!r} is already an axis of {list(self._axes)}")
        return Reference._raw(self._axes[:k] + (new,) + self._axes[k + 1:], self._shape, self._cells)

    def slice(self, axis: str, i: int) -> Reference:
        """The sub-Reference at position ``i`` of ``axis``, axis removed; a ``_none_axis`` singleton if none remain."""
        k, n = self._pos(axis, "slice"), self.size_of(axis)
        if type(i) is not int or not 0 <= i < n:
            raise ReferenceShapeError(f"slice: position {i!r} is outside axis {axis!r} of size {n}")
        inner = math.prod(self._shape[k + 1:])
        cells = [self._cells[o * n * inner + i * inner + r] for o in range(math.prod(self._shape[:k]))
                 for r in range(inner)]
        axes, shape = self._axes[:k] + self._axes[k + 1:], self._shape[:k] + self._shape[k + 1:]
        return Reference._raw(axes or (NONE_AXIS,), shape or (1,), cells)

    def _permute(self, order: Sequence[int]) -> list[Element]:
        """Cells in row-major order of the axes permuted by ``order``."""
        strides = _strides(self._shape)
        return [self._cells[sum(i * strides[p] for i, p in zip(idx, order))]
                for idx in _indices([self._shape[p] for p in order])]

    def fold(self, axes: Iterable[str], *, strict: bool = True) -> Reference:
        """Move ``axes`` into the elements: each remaining cell holds the list of non-Skip leaves along them (§2.4).

        Folding no axis is the identity. With ``strict=False`` axes the Reference lacks are ignored (grouping
        folds one ``by_axes`` list over sources that may lack some of them).
        """
        wanted = set(axes)
        missing = sorted(wanted - set(self._axes))
        if missing and strict:
            raise ReferenceShapeError(f"fold: axes {missing} are not axes of {list(self._axes)}")
        folded = [p for p, a in enumerate(self._axes) if a in wanted]
        if not folded:
            return self
        kept = [p for p in range(len(self._axes)) if p not in folded]
        cells, block = self._permute(kept + folded), math.prod(self._shape[p] for p in folded)
        out = [[c for c in cells[j * block:(j + 1) * block] if c is not Skip]
               for j in range(math.prod(self._shape[p] for p in kept))]
        if not kept:
            return Reference._raw((NONE_AXIS,), (1,), out)
        return Reference._raw([self._axes[p] for p in kept], [self._shape[p] for p in kept], out)

    def mask(self, axis: str, keep: Sequence[bool]) -> Reference:
        """Positions along ``axis`` whose ``keep`` flag is false become Skip (a for-each gate's private view, §5.3)."""
        k, n = self._pos(axis, "mask"), self.size_of(axis)
        if len(keep) != n:
            raise ReferenceShapeError(f"mask: {len(keep)} flags for axis {axis!r} of size {n}")
        inner = math.prod(self._shape[k + 1:])
        out = [c if keep[(j // inner) % n] else Skip for j, c in enumerate(self._cells)]
        return Reference._raw(self._axes, self._shape, out)

    def spread(self, axis: str) -> Reference:
        """Spread each list element along a new last axis ``axis`` (unpacking, §5.1; list outputs, §5.5).

        Ragged lists are padded with Skip, never truncated. A Skip cell gives a row of Skip; any other non-list
        element (a scalar, an Error) is a one-item list. A size-1 ``_none_axis`` is dropped.
        """
        if axis in self._axes:
            raise ReferenceShapeError(f"spread: new axis {axis!r} is already an axis of {list(self._axes)}")
        rows = [[] if c is Skip else c if isinstance(c, list) else [c] for c in self._cells]
        width = max((len(r) for r in rows), default=0)
        cells = [r[j] if j < len(r) else Skip for r in rows for j in range(width)]
        axes, shape = list(self._axes), list(self._shape)
        if NONE_AXIS in axes and shape[axes.index(NONE_AXIS)] == 1:
            shape.pop(axes.index(NONE_AXIS))
            axes.remove(NONE_AXIS)
        return Reference._raw(axes + [axis], shape + [width], cells)

    def unwrap(self) -> Reference:
        """Every element with its literal wrappers and truth markers read as plain JSON values (§2.6, ``--json``)."""
        return self.map(unwrap_element)

    def encode(self) -> dict[str, Any]:
        """The plain-JSON encoding of §2.5."""
        data = _nest(self._cells, self._shape, encode_element)
        return {"axes": list(self._axes), "shape": list(self._shape), "data": data}

    @classmethod
    def decode(cls, obj: Any) -> Reference:
        """Inverse of ``encode``; strict: the data must match the shape exactly."""
        if not isinstance(obj, dict) or set(obj) != {"axes", "shape", "data"}:
            raise ReferenceEncodingError("an encoded Reference is an object with exactly axes, shape and data")
        shape = obj["shape"]
        if not isinstance(shape, list) or not isinstance(obj["axes"], list) or len(shape) != len(obj["axes"]):
            raise ReferenceEncodingError(f"encoded axes {obj['axes']!r} and shape {shape!r} do not match")
        cells: list[Element] = []

        def walk(node: Any, depth: int) -> None:
            if depth == len(shape):
                cells.append(decode_element(node))
                return
            if not isinstance(node, list) or len(node) != shape[depth]:
                raise ReferenceEncodingError(f"encoded data does not match shape {shape} at depth {depth}")
            for child in node:
                walk(child, depth + 1)
        walk(obj["data"], 0)
        try:
            return cls(obj["axes"], shape, cells)
        except ReferenceShapeError as exc:
            raise ReferenceEncodingError(str(exc)) from exc

    def value_hash(self) -> str:
        """``sha256:`` + SHA-256 of the canonical JSON of the encoding (§2.5)."""
        return "sha256:" + hashlib.sha256(self._canonical()).hexdigest()

    def canonical(self) -> bytes:
        """The canonical JSON of the encoding (computed once): what the store keeps and the value hash covers."""
        return self._canonical()

    def _canonical(self) -> bytes:
        if self._key is None:
            object.__setattr__(self, "_key", canonical_json(self.encode()))
        return self._key

    def __eq__(self, other: object) -> bool:
        """Equal encodings: ``true`` differs from ``1`` and ``1`` from ``1.0``, as in the value hash."""
        return isinstance(other, Reference) and self._canonical() == other._canonical()

    def __hash__(self) -> int:
        return hash(self._canonical())

    def __repr__(self) -> str:
        return f"Reference(axes={list(self._axes)}, shape={list(self._shape)}, data={self.data!r})"


# ---------------------------------------------------------------- building (§2.3)

def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """Levels of lists and objects in ``value``, counted without recursion; stops early at ``limit + 1``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (list, tuple, dict)):
            level += 1
            if level > limit:
                return level
            deepest = max(deepest, level)
            stack.extend((child, level) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _depth(x: Any) -> int:
    """List depth common to all branches, for foreign data without axis names."""
    if not isinstance(x, (list, tuple)):
        return 0
    return 1 + min((_depth(c) for c in x), default=0)


def _skipish(x: Any) -> bool:
    return x is Skip or x == LEGACY_SKIP


def from_data(data: Any, axes: Sequence[str] | None = None) -> Reference:
    """Lay nested data out on ``axes`` (§2.3): pad short levels with Skip, keep deeper nesting inside elements.

    A non-list is wrapped into a one-element list; a Skip (or ``"@#SKIP#@"``) where a list level is expected
    stands for an all-Skip block; any other value there is a shape error.
    """
    if axes is not None and tuple(axes) == (NONE_AXIS,):
        # `_none_axis` is always size 1 (RT§2.3 as amended by FIDELITY §5): the singleton holding ``data`` itself,
        # or the one element of a one-element list
        if isinstance(data, (list, tuple)) and len(data) == 1:
            data = data[0]
        return Reference((NONE_AXIS,), (1,), [Skip if _skipish(data) else data])
    if not isinstance(data, (list, tuple)):
        data = [data]
    if axes is None:
        axes = [f"axis_{i}" for i in range(_depth(data))]
    axes = tuple(axes)
    shape = [0] * len(axes)

    def measure(node: Any, k: int, path: str) -> None:
        if k == len(axes) or _skipish(node):
            return
        if not isinstance(node, (list, tuple)):
            raise ReferenceShapeError(f"from_data: data at {path or 'top'} is {node!r}, not a list, but "
                                      f"axes {list(axes)} need {len(axes)} levels of lists")
        shape[k] = max(shape[k], len(node))
        for i, child in enumerate(node):
            measure(child, k + 1, f"{path}[{i}]")

    def fill(node: Any, k: int) -> list[Element]:
        if _skipish(node):
            return [Skip] * math.prod(shape[k:])
        if k == len(axes):
            return [node]
        return [c for i in range(shape[k])
                for c in (fill(node[i], k + 1) if i < len(node) else [Skip] * math.prod(shape[k + 1:]))]

    if axes:
        measure(data, 0, "")
    for a, n in zip(axes, shape):
        if a == NONE_AXIS and n != 1:
            raise ReferenceShapeError(f"from_data: axis {NONE_AXIS!r} holds one value (size 1), but the data has "
                                      f"{n} items at that level; lay a list out along a named axis")
    return Reference(axes, shape, fill(data, 0))


# ---------------------------------------------------------------- combining (§2.4)

def _aligned_axes(refs: Sequence[Reference]) -> tuple[list[str], list[int]]:
    """Union of axes in first-appearance order; a size-1 ``_none_axis`` broadcasts (§2.4)."""
    axes: list[str] = []
    sizes: dict[str, tuple[int, int]] = {}
    for n, ref in enumerate(refs):
        for a, size in zip(ref.axes, ref.shape):
            if a == NONE_AXIS and size == 1:
                continue
            if a == NONE_AXIS and size > 1:  # a single value's axis holding several: no cell lines up with it
                raise ReferenceShapeError(f"align: input {n} has axis {NONE_AXIS!r} of size {size}, but it holds "
                                          f"one value (size 1); lay a list out along a named axis (`%:`)")
            if a in sizes and sizes[a][0] != size:
                raise ReferenceShapeError(
                    f"align: axis {a!r} has size {sizes[a][0]} in input {sizes[a][1]} but size {size} in input "
                    f"{n} (sizes of a shared axis must be equal; nothing is truncated)")
            if a not in sizes:
                sizes[a] = (size, n)
                axes.append(a)
    return (axes, [sizes[a][0] for a in axes]) if axes else ([NONE_AXIS], [1])


def align(*refs: Reference) -> tuple[tuple[str, ...], tuple[int, ...], list[tuple[Element, ...]]]:
    """Cross product over the union of axes: ``(axes, shape, rows)``, one tuple of aligned elements per cell.

    The elements in the rows are the stored objects: treat them as read-only (``map_cells`` copies).
    """
    axes, shape = _aligned_axes(refs)
    plans = []
    for ref in refs:
        strides = dict(zip(ref.axes, _strides(ref.shape)))
        plans.append((ref._cells, [strides.get(a, 0) for a in axes]))
    rows = [tuple(cells[sum(i * s for i, s in zip(idx, st))] for cells, st in plans) for idx in _indices(shape)]
    return tuple(axes), tuple(shape), rows


def map_cells(fn: Callable[..., Element], *refs: Reference) -> Reference:
    """``fn`` applied per aligned cell (§5.5 cells). Any Skip input gives Skip without a call; otherwise an
    Error input gives that Error without a call; no inputs gives exactly one call."""
    axes, shape, rows = align(*refs)
    out = []
    for row in rows:
        err = next((e for e in row if isinstance(e, Error)), None)
        if any(e is Skip for e in row):
            out.append(Skip)
        else:
            out.append(err if err is not None else _element(fn(*(_element(e) for e in row)), "map_cells result"))
    return Reference._raw(axes, shape, out)


def stack(refs: Sequence[Reference | SkipType], axis: str,
          default_axes: Sequence[str] = (NONE_AXIS,)) -> Reference:
    """Join References with identical axes under a new leading ``axis``, padding sizes with Skip (§2.4, §5.4).

    An item that is ``Skip``, or an all-Skip Reference with other axes (a skipped iteration), is a Skip block.
    With no Reference to take axes from, ``default_axes`` with size 1 each are used (empty loop: shape (0, 1)).
    """
    real = [r for r in refs if isinstance(r, Reference)]
    inner = next((r.axes for r in real if r.has_value()), real[0].axes if real else tuple(default_axes))
    if axis in inner:
        raise ReferenceShapeError(f"stack: new axis {axis!r} is already an axis of {list(inner)}")
    for n, r in enumerate(refs):
        if isinstance(r, Reference) and r.axes != inner and r.has_value():
            raise ReferenceShapeError(f"stack: item {n} has axes {list(r.axes)}, expected {list(inner)}")
    same = [r for r in real if r.axes == inner]
    shape = [max((r.shape[k] for r in same), default=1) for k in range(len(inner))]
    cells: list[Element] = []
    for r in refs:
        if not isinstance(r, Reference) or r.axes != inner:
            cells.extend([Skip] * math.prod(shape))
            continue
        strides = _strides(r.shape)
        cells.extend(r._cells[sum(i * s for i, s in zip(idx, strides))]
                     if all(i < n for i, n in zip(idx, r.shape)) else Skip for idx in _indices(shape))
    return Reference._raw((axis,) + tuple(inner), [len(refs)] + shape, cells)


def append(dest: Reference | None, item: Reference, axis: str) -> Reference:
    """`$+` (§5.1): ``dest`` grown along ``axis`` (else its first axis) by the non-Skip leaves of ``item``.

    No destination, or a ``_none_axis`` singleton one, lays its leaves and the item's out along ``axis``. A
    multi-axis destination takes an item with the other axes (one new position) or with all its axes (one new
    position per not-all-Skip slice); sizes of the other axes must match.
    """
    if dest is None or (dest.axes == (NONE_AXIS,) and dest.shape == (1,) and axis != NONE_AXIS):
        new = (dest.leaves() if dest is not None else []) + item.leaves()
        return Reference._raw((axis,), (len(new),), new)
    target = axis if axis in dest.axes else dest.axes[0]
    k = dest.axes.index(target)
    if len(dest.axes) == 1:
        slices = [Reference.singleton(leaf) for leaf in item.leaves()]
    else:
        slices = _slices_for(dest, item, target)
    pieces = [dest] + [s.rename_axis(NONE_AXIS, target) if s.axes == (NONE_AXIS,) else _insert_axis(s, target, k)
                       for s in slices]
    return _concat(pieces, k)


def _slices_for(dest: Reference, item: Reference, target: str) -> list[Reference]:
    others = [(a, n) for a, n in zip(dest.axes, dest.shape) if a != target]
    # a size-1 `value` axis the destination lacks is a loop aggregate's per-iteration scalar (§5.4): no position
    loose = {i for i, (a, n) in enumerate(zip(item.axes, item.shape)) if a == "value" and n == 1
             and a not in dest.axes}
    if loose:
        kept = [i for i in range(len(item.axes)) if i not in loose]
        item = Reference._raw([item.axes[i] for i in kept], [item.shape[i] for i in kept], item._cells)
    mine = [(a, n) for a, n in zip(item.axes, item.shape) if not (a == NONE_AXIS and n == 1)]
    if mine == others:
        return [item] if item.has_value() else []
    if target in item.axes and [(a, n) for a, n in mine if a != target] == others:
        parts = [item.slice(target, i) for i in range(item.size_of(target))]
        return [p for p in parts if p.has_value()]
    raise ReferenceShapeError(f"append: item with axes {list(item.axes)} shape {list(item.shape)} does not supply "
                              f"slices of {dict(others)} for destination {list(dest.axes)} along {target!r}")


def _insert_axis(ref: Reference, axis: str, k: int) -> Reference:
    """``ref`` (without ``axis``, size-1 ``_none_axis`` ignored) given a size-1 ``axis`` at position ``k``."""
    pairs = [(a, n) for a, n in zip(ref.axes, ref.shape) if not (a == NONE_AXIS and n == 1)]
    pairs.insert(k, (axis, 1))
    return Reference._raw([a for a, _ in pairs], [n for _, n in pairs], ref._cells)


def _concat(pieces: Sequence[Reference], k: int) -> Reference:
    """Concatenate References with equal axes and equal sizes off axis ``k`` along axis ``k``."""
    first = pieces[0]
    outer, out = math.prod(first.shape[:k]), []
    for o in range(outer):
        for p in pieces:
            block = math.prod(p.shape[k:])
            out.extend(p._cells[o * block:(o + 1) * block])
    shape = list(first.shape)
    shape[k] = sum(p.shape[k] for p in pieces)
    return Reference._raw(first.axes, shape, out)


# ---------------------------------------------------------------- encoding (§2.5)

def encode_element(x: Element) -> Any:
    """Plain JSON for one element; markers and objects with a ``$ncd`` key are tagged, at any depth."""
    if x is Skip:
        return {"$ncd": "skip"}
    if isinstance(x, Error):
        return {"$ncd": "error", "kind": x.kind, "message": x.message, "attempts": x.attempts}
    if isinstance(x, list):
        return [encode_element(i) for i in x]
    if isinstance(x, dict):
        inner = {k: encode_element(v) for k, v in x.items()}
        return {"$ncd": "object", "value": inner} if "$ncd" in x else inner
    return x


def decode_element(x: Any) -> Element:
    """Inverse of ``encode_element``; an unknown ``$ncd`` tag is an error, never guessed."""
    if isinstance(x, list):
        return [decode_element(i) for i in x]
    if not isinstance(x, dict):
        return x
    if "$ncd" not in x:
        return {k: decode_element(v) for k, v in x.items()}
    tag = x["$ncd"]
    if tag == "skip" and len(x) == 1:
        return Skip
    if tag == "error" and set(x) == {"$ncd", "kind", "message", "attempts"}:
        return Error(x["kind"], x["message"], x["attempts"])
    if tag == "object" and set(x) == {"$ncd", "value"} and isinstance(x["value"], dict):
        return {k: decode_element(v) for k, v in x["value"].items()}
    raise ReferenceEncodingError(f"malformed $ncd element {x!r}")


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8 (§2.5)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


# ---------------------------------------------------------------- perceptual signs (§2.6, L§4.4)

_SIGN = re.compile(r"%(?:\{(?P<norm>[A-Za-z][A-Za-z0-9_ ]*)\}(?P<sid>[A-Za-z0-9_]+)?)?\((?P<sig>.*)\)", re.DOTALL)
TRUTH_NORMS: Final = frozenset({"truth_value", "truth value"})
_TRUTH_WORDS: Final = {"True": True, "true": True, "False": False, "false": False}


@dataclass(frozen=True)
class Sign:
    """A parsed perceptual sign; ``norm`` is None for the bare wrapper ``%(…)``."""

    norm: str | None
    sign_id: str | None
    signifier: str


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def parse_sign(x: Element) -> Sign | None:
    """The sign ``x`` is, or None when ``x`` is not a string matching the sign grammar (L§4.4)."""
    if not isinstance(x, str):
        return None
    m = _SIGN.fullmatch(x)
    if m is None or not _balanced(m["sig"]):
        return None
    return Sign(m["norm"], m["sid"], m["sig"])


def _literal(text: str) -> Element:
    """JSON, else a safe Python literal (JSON-representable only), else the raw string (§2.6)."""
    try:
        return _element(json.loads(text, parse_constant=lambda c: 1 / 0))
    except (ValueError, ZeroDivisionError, RecursionError):
        pass
    try:
        return _element(ast.literal_eval(text))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, ReferenceModelError):
        return text


def unwrap_element(x: Element) -> Element:
    """Read literal wrappers (``%(…)``, ``%{literal}(…)``) and truth markers as plain values, at any depth.

    Other signs stay strings: perceiving files or memory needs path confinement and configuration (runtime).
    """
    if isinstance(x, list):
        return [unwrap_element(i) for i in x]
    if isinstance(x, dict):
        return {k: unwrap_element(v) for k, v in x.items()}
    sign = parse_sign(x)
    if sign is None:
        return x
    if sign.norm is None or sign.norm == "literal":
        return _literal(sign.signifier)
    if sign.norm in TRUTH_NORMS and sign.signifier.strip() in _TRUTH_WORDS:
        return _TRUTH_WORDS[sign.signifier.strip()]
    return x


def truth_value(x: Element) -> bool | None:
    """A boolean or a truth marker as a boolean; None for anything else (the caller decides)."""
    if isinstance(x, bool):
        return x
    sign = parse_sign(x)
    if sign is not None and sign.norm in TRUTH_NORMS:
        return _TRUTH_WORDS.get(sign.signifier.strip())
    return None
