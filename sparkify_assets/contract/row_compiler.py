"""A fast path for the record contract: one JSON line to one COPY row, in C as far as possible.

``records`` decodes a line into a dict and converts it field by field, with a small function per
field that knows every rule and every reject reason. That is clear, but at a million events the
dict and the per-field calls cost more than PostgreSQL's whole COPY. ``compile_row`` builds, from
the same field list, a typed msgspec decoder (strings, integers in range, numbers, required keys
all checked while decoding, into objects the garbage collector never has to visit) and one
straight-line function that formats the COPY row, like ``dataclasses`` and ``namedtuple`` do.

The fast path only ever *accepts*. Whenever a line is anything but plainly valid it returns None,
and the caller takes the field-by-field path, which then loads the record or quarantines it with
the exact reason. So the fast path can be conservative without changing any result, and
``sparkify_assets_tests/test_row_compiler.py`` checks that both paths agree value for value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, Protocol, Union

import msgspec


class FieldSpec(Protocol):
    key: str
    column: str  # the attribute name of the decoded record
    kind: str  # text | int | bigint | float | user_id
    max_bytes: int | None
    required: bool


class RuleSpec(Protocol):
    """A rule of meaning (``shape.Meaning``): in the records ``when`` selects, ``keys`` hold a
    value (not null; not '' either unless ``empty_ok``)."""

    keys: tuple[str, ...]
    when: tuple[str, str] | None
    empty_ok: bool


# userId strings shorter than this are digits-only numbers below 2**31 once they pass isdigit().
_SHORT_USER_ID = 10


def _bounded_int(bound: int) -> Any:
    # msgspec takes bounds that fit an int64 only, hence le= rather than lt=2**63.
    return Annotated[int, msgspec.Meta(ge=-bound, le=bound - 1)]


def _decoded_type(spec: FieldSpec, int_bounds: dict[str, int]) -> Any:
    """What msgspec accepts for a field: the rule, or a superset the formatter narrows."""
    if spec.kind == "text":
        # Characters, not bytes: the formatter re-checks bytes when a row is not pure ASCII.
        kind: Any = Annotated[str, msgspec.Meta(max_length=spec.max_bytes or 0)]
    elif spec.kind in int_bounds:
        kind = _bounded_int(int_bounds[spec.kind])
    elif spec.kind == "float":
        # Integers stay integers, written as the field-by-field path writes them (str(int)).
        kind = Union[_bounded_int(2**63), float]  # noqa: UP007 (a runtime type for msgspec)
    elif spec.kind == "user_id":
        kind = Annotated[str, msgspec.Meta(max_length=_SHORT_USER_ID - 1)]
    else:
        raise ValueError(f"no fast path for field kind {spec.kind!r}")
    return kind if spec.required else Union[kind, None]  # noqa: UP007


def record_type(name: str, fields: Iterable[FieldSpec], int_bounds: dict[str, int]) -> type:
    """A msgspec Struct with one attribute per field, named after its column, read from its key.

    Every key must be there (a missing key is not a null) and no other key may be: a record of
    another shape is left to the field-by-field path, which counts the keys that drifted.
    """
    attributes = [
        (spec.column, _decoded_type(spec, int_bounds), msgspec.field(name=spec.key))
        for spec in fields
    ]
    return msgspec.defstruct(name, attributes, gc=False, forbid_unknown_fields=True)


def _rule_code(rule: RuleSpec, variable: dict[str, str], kind: dict[str, str]) -> list[str]:
    """``return None`` when a record breaks the rule; read before NULL markers replace None."""

    def no_value(key: str) -> str:
        name = variable[key]
        text = kind[key] in ("text", "user_id") and not rule.empty_ok
        return f"not {name}" if text else f"{name} is None"

    broken = " or ".join(no_value(key) for key in rule.keys)
    if rule.when is not None:
        key, value = rule.when
        broken = f"{variable[key]} == {value!r} and ({broken})"
    return [f"    if {broken}:", "        return None"]


def _field_code(name: str, spec: FieldSpec) -> list[str]:
    lines = []
    if not spec.required:
        lines.append(f"    if {name} is None:\n        {name} = NULL\n        nulls += 1")
        other = "    elif "
    else:
        other = "    if "
    if spec.kind == "user_id":
        lines.append(f"{other}not ({name} == '' or ({name}.isdigit() and {name}.isascii())):")
        lines.append("        return None")
    return lines


def _bytes_code(names_and_specs: list[tuple[str, FieldSpec]]) -> list[str]:
    """Outside ASCII a character takes up to 4 bytes: check the byte sizes the columns allow,
    with the record contract's own test (``over_bytes``)."""
    limits = ", ".join(f"({name}, {spec.max_bytes})" for name, spec in names_and_specs)
    return [
        "    if not row.isascii():",
        "        try:",
        f"            for value, limit in ({limits},):",
        "                if over_bytes(value, limit):",
        "                    return None",
        "        except UnicodeEncodeError:",
        "            return None",
    ]


def compile_row(
    name: str,
    fields: Iterable[FieldSpec],
    rules: Iterable[RuleSpec] = (),
    *,
    null: str,
    int_bounds: dict[str, int],
    over_bytes: Callable[[str, int], bool],
) -> Callable[[bytes], tuple[str, Any] | None]:
    """``row(line)``: the tab-separated COPY values of a JSON line and its decoded record, or
    None. The record's attributes are the field's columns (``record.ts``). A record breaking
    one of ``rules`` gives None (the field-by-field path names the reason)."""
    fields = tuple(fields)
    decoder = msgspec.json.Decoder(record_type(name, fields, int_bounds))
    names = [f"v{index}" for index in range(len(fields))]
    body = [
        "def row(line):",
        "    try:",
        "        record = decode(line)",
        # UnicodeDecodeError for bad UTF-8, RecursionError for deep nesting; DecodeError is a
        # ValueError only in newer msgspec releases.
        "    except (DecodeError, ValueError, RecursionError):",
        "        return None",
        "    nulls = 0",
    ]
    body += [f"    {v} = record.{spec.column}" for v, spec in zip(names, fields, strict=True)]
    variable = {spec.key: v for v, spec in zip(names, fields, strict=True)}
    kind = {spec.key: spec.kind for spec in fields}
    for rule in rules:
        body += _rule_code(rule, variable, kind)
    for v, spec in zip(names, fields, strict=True):
        body += _field_code(v, spec)
    body.append("    row = f'" + "\\t".join(f"{{{variable}}}" for variable in names) + "'")
    text = [
        (variable, spec)
        for variable, spec in zip(names, fields, strict=True)
        if spec.kind == "text"
    ]
    if text:
        body += _bytes_code(text)
    body += [
        # A value holding a character that COPY text must escape (or cannot hold: NUL) shows up
        # as such a character, as a tab too many, or as a backslash beyond those of the NULL
        # markers; single-character scans find it cheaply (``in`` is a memchr, ``count`` is not,
        # so a row without NULL markers only asks whether it has a backslash at all).
        f"    if (row.count('\\t') != {len(fields) - 1}"
        f" or (row.count('\\\\') != nulls * {null.count(chr(92))} if nulls else '\\\\' in row)"
        " or '\\n' in row or '\\r' in row or '\\x00' in row):",
        "        return None",
        "    return row, record",
    ]
    namespace: dict[str, Any] = {
        "decode": decoder.decode,
        "DecodeError": msgspec.DecodeError,
        "NULL": null,
        "over_bytes": over_bytes,
    }
    exec("\n".join(body), namespace)  # the source is built from the field list alone
    return namespace["row"]
