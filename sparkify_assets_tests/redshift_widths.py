"""Byte widths for the Redshift lint's ``varchar_width`` rule (see ``redshift_lint``).

Redshift counts VARCHAR(n) in bytes, up to 4 a character, and fails a statement that overflows a
column (r_Character_types.html). So every value an INSERT or UPDATE writes into a VARCHAR column
is bounded in bytes, following each column to what fills it: a table's declared type (from the
``Table`` model), or the expression that produces it in a CTE or subquery. Literals count their
UTF-8 bytes; LEFT counts characters (r_LEFT.html), so 4 bytes each; ``CASE WHEN OCTET_LENGTH(e)
<= n THEN e`` bounds that branch by n bytes (r_OCTET_LENGTH.html); a VARCHAR without a length is
VARCHAR(256). A value that cannot be bounded is a finding too.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

DIALECT = "redshift"
BYTES_PER_CHARACTER = 4  # the most a UTF-8 character takes in a Redshift VARCHAR
BARE_VARCHAR_BYTES = 256  # VARCHAR without a length, and TEXT, are VARCHAR(256)

# column types by table: {"public": {table: {column: "VARCHAR(64)"}}}
Widths = dict[str, dict[str, dict[str, str]]]


_TEXT_TYPES = {
    exp.DataType.Type.VARCHAR,
    exp.DataType.Type.CHAR,
    exp.DataType.Type.NVARCHAR,
    exp.DataType.Type.NCHAR,
    exp.DataType.Type.TEXT,
}
# Widest text form of the other types that could be cast or coerced into a VARCHAR.
_TEXT_FORM = {
    exp.DataType.Type.SMALLINT: 6,
    exp.DataType.Type.INT: 11,
    exp.DataType.Type.BIGINT: 20,
    exp.DataType.Type.DOUBLE: 25,
    exp.DataType.Type.FLOAT: 25,
    exp.DataType.Type.BOOLEAN: 5,
    exp.DataType.Type.DATE: 10,
    exp.DataType.Type.TIMESTAMP: 26,
}


def _type_bytes(data_type: exp.DataType | None) -> int | None:
    if data_type is None:
        return None
    if data_type.this in _TEXT_TYPES:
        if data_type.this == exp.DataType.Type.TEXT:
            return BARE_VARCHAR_BYTES
        sizes = data_type.expressions
        return int(sizes[0].name) if sizes else BARE_VARCHAR_BYTES
    return _TEXT_FORM.get(data_type.this)


def _literal_int(node: exp.Expression) -> int | None:
    return int(node.name) if isinstance(node, exp.Literal) and not node.is_string else None


def _guarded_bytes(condition: exp.Expression, branch: exp.Expression) -> int | None:
    """n when ``condition`` is ``OCTET_LENGTH(branch) <= n`` (or ``< n+1``)."""
    if not isinstance(condition, (exp.LTE, exp.LT)):
        return None
    length, bound = condition.this, _literal_int(condition.expression)
    if (
        bound is None
        or not isinstance(length, exp.Anonymous)
        or length.name.upper() != "OCTET_LENGTH"
        or length.expressions != [branch]
    ):
        return None
    return bound if isinstance(condition, exp.LTE) else bound - 1


def _min(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _max(values: Iterable[int | None]) -> int | None:
    values = list(values)
    return None if any(v is None for v in values) else max(values, default=0)


def max_bytes(node: exp.Expression, scope: Scope, widths: Widths) -> int | None:
    """The most bytes ``node`` can produce as text; None when it cannot be bounded.

    A column is followed to what fills it: a table's declared type, or the expression that
    produces it in a CTE or subquery (each branch of a UNION).
    """

    def bound(part):
        return max_bytes(part, scope, widths)

    if isinstance(node, (exp.Alias, exp.Paren)):
        return bound(node.this)
    if isinstance(node, exp.Null):
        return 0
    if isinstance(node, exp.Literal):
        return len(node.this.encode())
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return _type_bytes(node.to)
    if isinstance(node, exp.Column):
        return _column_bytes(node, scope, widths)
    if isinstance(node, exp.DPipe):
        sizes = [bound(node.this), bound(node.expression)]
        return None if None in sizes else sum(sizes)
    if isinstance(node, exp.Coalesce):
        return _max(bound(part) for part in (node.this, *node.expressions))
    if isinstance(node, exp.Case):
        branches = []
        for branch in node.args["ifs"]:
            value = bound(branch.args["true"])
            guard = _guarded_bytes(branch.this, branch.args["true"])
            branches.append(_min(value, guard) if guard is not None else value)
        default = node.args.get("default")
        return _max([*branches, bound(default) if default is not None else 0])
    if isinstance(
        node, (exp.Trim, exp.Upper, exp.Lower, exp.Initcap, exp.Nullif, exp.Max, exp.Min)
    ):
        return bound(node.this)
    if isinstance(node, exp.Left):
        count = _literal_int(node.expression)
        return _min(bound(node.this), count * BYTES_PER_CHARACTER if count is not None else None)
    if isinstance(node, exp.Replace):
        replacement = node.args.get("replacement")
        return bound(node.this) if replacement is not None and bound(replacement) == 0 else None
    return None


def _column_bytes(column: exp.Column, scope: Scope, widths: Widths) -> int | None:
    source = scope.sources.get(column.table)
    if isinstance(source, exp.Table):
        declared = _table_columns(source, widths).get(column.name)
        return _type_bytes(exp.DataType.build(declared, dialect=DIALECT)) if declared else None
    if isinstance(source, Scope):
        sizes = []
        for branch in _branches(source):
            (made,) = [p for p in branch.expression.selects if p.alias_or_name == column.name]
            sizes.append(max_bytes(made, branch, widths))
        return _max(sizes)
    return None


def _branches(scope: Scope) -> list[Scope]:
    """The SELECTs of a scope: itself, or each branch of a UNION / INTERSECT / EXCEPT."""
    if not scope.set_operation_scopes:
        return [scope]
    return [branch for inner in scope.set_operation_scopes for branch in _branches(inner)]


def _table_columns(table: exp.Table, widths: Widths) -> dict[str, str]:
    return widths.get(table.db or "public", {}).get(table.name, {})


def _qualified(query: exp.Expression, widths: Widths) -> exp.Expression:
    return qualify(
        query.copy(),
        schema=widths,
        db="public",
        dialect=DIALECT,
        validate_qualify_columns=False,
        quote_identifiers=False,
    )


def _fills(expression: exp.Expression, widths: Widths):
    """(table, [(column, value, scope)]) for each row shape an INSERT or UPDATE writes."""
    if isinstance(expression, exp.Insert) and isinstance(expression.this, exp.Schema):
        table = expression.this.this
        targets = [column.name for column in expression.this.expressions]
        query = _qualified(expression.expression, widths)
        if isinstance(query, exp.Values):
            root = build_scope(exp.select("1"))
            for row in query.expressions:
                yield table, [(t, v, root) for t, v in zip(targets, row.expressions, strict=True)]
            return
        root = build_scope(query)
        for branch in _branches(root):
            values = branch.expression.selects
            yield table, [(t, v, branch) for t, v in zip(targets, values, strict=True)]
    elif isinstance(expression, exp.Update):
        table = expression.this
        targets = [e.this.name for e in expression.expressions]
        select = exp.select(*[e.expression for e in expression.expressions]).from_(table.copy())
        root = build_scope(_qualified(select, widths))
        yield table, [(t, v, root) for t, v in zip(targets, root.expression.selects, strict=True)]


def varchar_width(expression: exp.Expression, widths: Widths, tokens) -> Iterable[str]:
    for table, row in _fills(expression, widths):
        columns = _table_columns(table, widths)
        for target, value, scope in row:
            declared = exp.DataType.build(columns[target], dialect=DIALECT)
            if declared.this not in _TEXT_TYPES:
                continue
            width, needed = _type_bytes(declared), max_bytes(value, scope, widths)
            if needed is None:
                yield f"{table.name}.{target} VARCHAR({width}): cannot bound {value.sql(DIALECT)}"
            elif needed > width:
                yield (
                    f"{table.name}.{target} is VARCHAR({width}) but is filled with up to "
                    f"{needed} bytes: {value.sql(DIALECT)[:120]}"
                )
