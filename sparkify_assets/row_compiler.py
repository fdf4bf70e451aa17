"""A fast path for the record contract: one COPY row from a decoded record, in one function call.

``records`` converts a record field by field, with a small function per field that knows every
rule and every reject reason. That is clear, but at a million events the per-field calls cost
more than decoding the JSON. ``compile_row`` writes the same rules for one field list into a
single straight-line function (as ``dataclasses`` and ``namedtuple`` do), which formats a clean
record about twice as fast.

The fast path only ever *accepts*. Whenever a record is anything but plainly valid it returns
None, and the caller takes the field-by-field path, which then loads the record or quarantines it
with the exact reason. So the fast path can be conservative without changing any result, and
``sparkify_assets_tests/test_row_compiler.py`` checks that both paths agree value for value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any, Protocol


class FieldSpec(Protocol):
    key: str
    kind: str  # text | int | bigint | float | user_id
    max_bytes: int | None
    required: bool


# userId strings shorter than this are digits-only numbers below 2**31 once they pass isdigit().
_SHORT_USER_ID = 10


def _check(name: str, spec: FieldSpec, int_bounds: dict[str, int]) -> str:
    """A Python expression that is true when the (non-None) value needs the exact path."""
    if spec.kind == "text":
        limit = spec.max_bytes or 0
        # Same test as records._text: only count bytes when the characters could exceed them,
        # and an ASCII string (isascii() is a flag lookup) has as many bytes as characters.
        return (f"type({name}) is not str or (len({name}) > {limit // 4} and ("
                f"len({name}) > {limit} if {name}.isascii() else len({name}.encode()) > {limit}))")
    if spec.kind in int_bounds:
        bound = int_bounds[spec.kind]
        return f"type({name}) is not int or not {-bound} <= {name} < {bound}"
    if spec.kind == "float":
        return f"type({name}) is not float and type({name}) is not int"
    if spec.kind == "user_id":
        return (f"type({name}) is not str or not ({name} == '' or (len({name}) < {_SHORT_USER_ID}"
                f" and {name}.isdigit() and {name}.isascii()))")
    raise ValueError(f"no fast path for field kind {spec.kind!r}")


def _field_code(name: str, spec: FieldSpec, int_bounds: dict[str, int]) -> list[str]:
    lines = [
        f"    if {name} is None:",
        "        return None" if spec.required else f"        {name} = NULL\n        nulls += 1",
        f"    elif {_check(name, spec, int_bounds)}:",
        "        return None",
    ]
    if spec.kind == "float":
        lines.append(f"    else:\n        {name} = repr({name})")  # as records._float
    return lines


def compile_row(
    fields: Iterable[FieldSpec], *, null: str, int_bounds: dict[str, int]
) -> Callable[[dict], str | None]:
    """``row(record)``: the tab-separated COPY values of ``record``, or None."""
    fields = tuple(fields)
    if len(fields) < 2:
        raise ValueError("compile_row needs two or more fields (itemgetter returns a tuple)")
    names = [f"v{index}" for index in range(len(fields))]
    row = "\\t".join(f"{{{name}}}" for name in names)
    body = [
        "def row(record):",
        "    try:",
        f"        {', '.join(names)}, = values_of(record)",
        "    except KeyError:",
        "        return None",
        "    nulls = 0",
    ]
    for name, spec in zip(names, fields, strict=True):
        body += _field_code(name, spec, int_bounds)
    null_backslashes = null.count("\\")
    body += [
        f"    row = f'{row}'",
        # A value holding a character that COPY text must escape (or cannot hold: NUL) shows up
        # as such a character, as a tab too many, or as a backslash beyond those of the NULL
        # markers; single-character scans find it cheaply.
        f"    if (row.count('\\t') != {len(fields) - 1}"
        f" or row.count('\\\\') != nulls * {null_backslashes}"
        " or '\\n' in row or '\\r' in row or '\\x00' in row):",
        "        return None",
        "    return row",
    ]
    namespace: dict[str, Any] = {
        "values_of": itemgetter(*(spec.key for spec in fields)), "NULL": null,
    }
    exec("\n".join(body), namespace)  # the source is built from the field list alone
    return namespace["row"]

