"""A lint for SQL sent to Amazon Redshift: what sqlglot's parser accepts but Redshift rejects.

Every rule works on sqlglot's AST of one statement (``lint(text, widths)``), and on its tokens
where the AST does not keep what matters (the name a function was called by: NOW and GETDATE
parse alike; an operator: ``c ->> 'k'`` and JSON_EXTRACT_PATH_TEXT parse alike). Each returns
findings, one line each. The rules and the Amazon Redshift Database Developer Guide pages they
come from (https://docs.aws.amazon.com/redshift/latest/dg/...):

* ``varchar_width`` (``redshift_widths``): a VARCHAR(n) column filled by an INSERT or UPDATE
  must hold the widest value its expression can produce, in bytes: Redshift counts VARCHAR in
  bytes (up to 4 a character) and an overflow fails the statement. Widths of table columns come
  from the ``Table`` model. r_Character_types.html, r_LEFT.html, r_OCTET_LENGTH.html.
* ``distinct_on``: SELECT [TOP n] [ALL | DISTINCT] only. r_SELECT_list.html.
* ``on_conflict`` and ``returning``: INSERT takes VALUES or a query and nothing after it (no ON
  CONFLICT, no RETURNING). r_INSERT_30.html.
* ``unsupported_function``: IS DISTINCT FROM, GENERATE_SERIES (a set-returning function, never
  against a table), STRING_AGG, ARRAY_AGG, EVERY, CORR, COVAR_*, REGR_*, CLOCK_TIMESTAMP,
  JUSTIFY_*, PG_SLEEP, TRANSACTION_TIMESTAMP, DIV, SETSEED, WIDTH_BUCKET, GENERATE_SUBSCRIPTS,
  BIT_LENGTH, OVERLAY, CONVERT*, advisory locks. c_unsupported-postgresql-functions.html.
* ``leader_node_only``: SUBSTR, FACTORIAL, CURRENT_SCHEMA(S), HAS_*_PRIVILEGE and the
  deprecated NOW/CURRENT_TIMESTAMP/CURRENT_TIME/LOCALTIME/AGE/ISFINITE in a statement that reads
  a table, where a leader-node-only function returns an error (GETDATE and SYSDATE are fine).
  c_SQL_functions_leader_node_only.html, c_sql-functions-leader-node.html.
* ``array_or_json``: array constructors, subscripts and operators (``@>``, ``<@``, ``&&``,
  ``[i]``) and JSON operators (``->``, ``->>``, ``#>``, ``#>>``); neither arrays nor JSON are
  Redshift types.
  c_unsupported-postgresql-functions.html, c_unsupported-postgresql-datatypes.html,
  c_unsupported-postgresql-features.html (subscript expressions, array constructors).
* ``unsupported_type``: ARRAY, JSON(B), UUID, SERIAL, MONEY, BIT, XML, HSTORE, INET in DDL or
  CAST; TEXT, which Redshift turns into VARCHAR(256). c_unsupported-postgresql-datatypes.html,
  r_Character_types.html.
* ``aggregate_filter``: ``agg(...) FILTER (WHERE ...)``: no aggregate's syntax has a FILTER
  clause (r_COUNT.html and the other aggregate pages); CASE inside the aggregate instead.
* ``window_frame``: frames are ``ROWS ...`` only (no RANGE, GROUPS or EXCLUDE), and an aggregate
  window function with ORDER BY needs an explicit frame. c_Window_functions.html,
  r_WF_COUNT.html (and the other r_WF_* aggregate pages).
* ``count_distinct_window``: COUNT(DISTINCT ...) OVER (...): "DISTINCT is not supported".
  r_WF_COUNT.html.
* ``correlated_subquery``: correlated subqueries in the select list, in a join's ON clause,
  inside a subquery with a window function, or skipping a query level. r_correlated_subqueries.html
  (the patterns Redshift cannot decorrelate); select-list correlation is refused here too, as the
  audit asked, because its decorrelation is not documented.
* ``merge_source``: MERGE ... USING a table (temporary or permanent), not a subquery or CTE; one
  WHEN MATCHED and one WHEN NOT MATCHED, without ``AND`` conditions. r_MERGE.html.
* ``values_table``, ``collation``: VALUES lists as constant tables and COLLATE are unsupported
  features. c_unsupported-postgresql-features.html, c_collation_sequences.html.
* ``statement_size`` (in ``lint`` itself): at most 16 MB per statement. r_INSERT_30.html.

What only a cluster can settle is listed in docs/redshift.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import build_scope
from sqlglot.tokens import Token, TokenType

from .redshift_widths import DIALECT, Widths, varchar_width

MAX_STATEMENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


Rule = Callable[[exp.Expression, Widths, list[Token]], Iterable[str]]
RULES: dict[str, Rule] = {}


def rule(function: Rule) -> Rule:
    RULES[function.__name__] = function
    return function


def parse(text: str) -> list[exp.Expression]:
    # LOCK has no grammar in sqlglot: it is kept as a Command, with a warning each time.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    return [e for e in sqlglot.parse(text, read=DIALECT) if e is not None]


def _statement_tokens(text: str) -> list[list[Token]]:
    """The tokens of each statement of ``text`` (for what the AST does not keep: the name a
    function was called by, an operator's spelling)."""
    statements: list[list[Token]] = [[]]
    for token in sqlglot.tokenize(text, read=DIALECT):
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    return [tokens for tokens in statements if tokens]


def lint(text: str, widths: Widths) -> list[Finding]:
    """Every finding for the statements in ``text`` (a script or one statement)."""
    findings = []
    if len(text.encode()) > MAX_STATEMENT_BYTES:
        findings.append(Finding("statement_size", "over 16 MB"))
    for expression, tokens in zip(parse(text), _statement_tokens(text), strict=True):
        if isinstance(expression, exp.Command):
            continue  # LOCK: sqlglot keeps it as text; its shape is tested on its own
        for name, check in RULES.items():
            findings += [Finding(name, m) for m in check(expression, widths, tokens)]
    return findings


RULES["varchar_width"] = varchar_width


# --- unsupported PostgreSQL features ------------------------------------------------------


def _found(expression: exp.Expression, *kinds) -> Iterable[exp.Expression]:
    return expression.find_all(*kinds)


@rule
def distinct_on(expression, widths, tokens):
    for distinct in _found(expression, exp.Distinct):
        if distinct.args.get("on") is not None:
            yield f"DISTINCT ON: {distinct.parent.sql(DIALECT)[:80]}"


@rule
def on_conflict(expression, widths, tokens):
    for node in _found(expression, exp.OnConflict):
        yield f"ON CONFLICT: {node.sql(DIALECT)[:80]}"


@rule
def returning(expression, widths, tokens):
    for node in _found(expression, exp.Returning):
        yield f"RETURNING: {node.sql(DIALECT)[:80]}"


_UNSUPPORTED_CLASSES = {
    exp.NullSafeNEQ: "IS DISTINCT FROM",
    exp.NullSafeEQ: "IS NOT DISTINCT FROM",
    exp.GroupConcat: "STRING_AGG",
    exp.ArrayAgg: "ARRAY_AGG",
    exp.GenerateSeries: "GENERATE_SERIES",
    exp.ExplodingGenerateSeries: "GENERATE_SERIES",
    exp.Corr: "CORR",
    exp.CovarPop: "COVAR_POP",
    exp.CovarSamp: "COVAR_SAMP",
    exp.BitLength: "BIT_LENGTH",
}
_UNSUPPORTED_NAMES = {
    "STRING_AGG",
    "ARRAY_AGG",
    "EVERY",
    "XML_AGG",
    "CORR",
    "COVAR_POP",
    "COVAR_SAMP",
    "REGR_AVGX",
    "REGR_AVGY",
    "REGR_COUNT",
    "REGR_INTERCEPT",
    "REGR_R2",
    "REGR_SLOPE",
    "REGR_SXX",
    "REGR_SXY",
    "REGR_SYY",
    "CLOCK_TIMESTAMP",
    "JUSTIFY_DAYS",
    "JUSTIFY_HOURS",
    "JUSTIFY_INTERVAL",
    "PG_SLEEP",
    "TRANSACTION_TIMESTAMP",
    "DIV",
    "SETSEED",
    "WIDTH_BUCKET",
    "GENERATE_SERIES",
    "GENERATE_SUBSCRIPTS",
    "BIT_LENGTH",
    "OVERLAY",
    "CONVERT",
    "CONVERT_FROM",
    "CONVERT_TO",
    "PG_ADVISORY_LOCK",
    "PG_ADVISORY_XACT_LOCK",
    "PG_TRY_ADVISORY_LOCK",
    "PG_TRY_ADVISORY_XACT_LOCK",
}


@rule
def unsupported_function(expression, widths, tokens):
    for node in expression.walk():
        name = _UNSUPPORTED_CLASSES.get(type(node))
        if (
            name is None
            and isinstance(node, exp.Anonymous)
            and (node.name.upper() in _UNSUPPORTED_NAMES)
        ):
            name = node.name.upper()
        if name:
            yield f"{name} is not supported: {node.sql(DIALECT)[:80]}"


_LEADER_ONLY = {
    "CURRENT_SCHEMA",
    "CURRENT_SCHEMAS",
    "HAS_DATABASE_PRIVILEGE",
    "HAS_SCHEMA_PRIVILEGE",
    "HAS_TABLE_PRIVILEGE",
    "SUBSTR",
    "FACTORIAL",
    "AGE",
    "NOW",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "LOCALTIME",
    "ISFINITE",
}


@rule
def leader_node_only(expression, widths, tokens):
    if expression.find(exp.Table) is None:
        return  # runs on the leader node alone, where these work
    for token in tokens:
        if token.token_type != TokenType.STRING and token.text.upper() in _LEADER_ONLY:
            yield f"{token.text.upper()} runs on the leader node only, not against a table"


# Array and JSON operators, by their tokens: the AST maps ``c ->> 'k'`` and Redshift's own
# JSON_EXTRACT_PATH_TEXT(c, 'k') to the same node.
_ARRAY_JSON_OPERATORS = {
    TokenType.ARROW,
    TokenType.DARROW,
    TokenType.HASH_ARROW,
    TokenType.DHASH_ARROW,
    TokenType.AT_GT,
    TokenType.LT_AT,
    TokenType.DAMP,
}


@rule
def array_or_json(expression, widths, tokens):
    for token in tokens:
        if token.token_type in _ARRAY_JSON_OPERATORS:
            yield f"array/JSON operator {token.text}"
    for node in expression.find_all(exp.Array, exp.Bracket):
        yield f"array constructor or subscript: {node.sql(DIALECT)[:80]}"


_UNSUPPORTED_TYPES = {
    getattr(exp.DataType.Type, name)
    for name in (
        "ARRAY JSON JSONB UUID MONEY BIT XML SERIAL BIGSERIAL SMALLSERIAL TEXT HSTORE INET"
    ).split()
}


@rule
def unsupported_type(expression, widths, tokens):
    for node in _found(expression, exp.DataType):
        if node.this in _UNSUPPORTED_TYPES:
            yield f"type {node.sql(DIALECT)} is not a Redshift type (TEXT is VARCHAR(256))"


@rule
def aggregate_filter(expression, widths, tokens):
    for node in _found(expression, exp.Filter):
        yield f"FILTER (WHERE ...): {node.sql(DIALECT)[:80]}"


_FRAMED = (exp.AggFunc, exp.FirstValue, exp.LastValue, exp.NthValue)
_UNFRAMED = (
    exp.RowNumber,
    exp.Rank,
    exp.DenseRank,
    exp.PercentRank,
    exp.CumeDist,
    exp.Ntile,
    exp.Lag,
    exp.Lead,
)


@rule
def window_frame(expression, widths, tokens):
    for window in _found(expression, exp.Window):
        spec = window.args.get("spec")
        function = window.this
        if spec is not None:
            if (spec.args.get("kind") or "").upper() != "ROWS":
                yield f"only ROWS frames: {window.sql(DIALECT)[:80]}"
            if spec.args.get("exclude"):
                yield f"no EXCLUDE in frames: {window.sql(DIALECT)[:80]}"
        elif (
            window.args.get("order") is not None
            and isinstance(function, _FRAMED)
            and not isinstance(function, _UNFRAMED)
        ):
            yield f"an aggregate with ORDER BY needs a ROWS frame: {window.sql(DIALECT)[:80]}"


@rule
def count_distinct_window(expression, widths, tokens):
    for window in _found(expression, exp.Window):
        if isinstance(window.this, exp.Count) and isinstance(window.this.this, exp.Distinct):
            yield f"COUNT(DISTINCT) in a window: {window.sql(DIALECT)[:80]}"


def _inside(node: exp.Expression, outer: exp.Expression, arg: str) -> bool:
    """Whether ``node`` sits in ``outer``'s ``arg`` (e.g. a SELECT's select list)."""
    while node is not None and node.parent is not outer:
        node = node.parent
    return node is not None and node.arg_key == arg


@rule
def correlated_subquery(expression, widths, tokens):
    root = build_scope(
        expression if not isinstance(expression, exp.Insert) else expression.expression
    )
    if root is None:
        return
    for scope in root.traverse():
        if not scope.is_correlated_subquery:
            continue
        outer = scope.parent.expression if scope.parent else None
        text = scope.expression.sql(DIALECT)[:80]
        if isinstance(outer, exp.Select) and _inside(scope.expression, outer, "expressions"):
            yield f"correlated subquery in the select list: {text}"
        if scope.expression.find_ancestor(exp.Join) is not None and any(
            _inside(scope.expression, join, "on")
            for join in [scope.expression.find_ancestor(exp.Join)]
        ):
            yield f"correlated subquery in an ON clause: {text}"
        if scope.expression.find(exp.Window) is not None:
            yield f"correlated subquery with a window function: {text}"
        parent_sources = set(scope.parent.sources) if scope.parent else set()
        for column in scope.external_columns:
            if column.table and column.table not in parent_sources:
                yield f"correlation skips a query level ({column.sql(DIALECT)}): {text}"


@rule
def merge_source(expression, widths, tokens):
    if not isinstance(expression, exp.Merge):
        return
    using = expression.args.get("using")
    if not isinstance(using, exp.Table):
        yield f"MERGE USING must name a table, not {using.sql(DIALECT)[:60]}"
    if expression.args.get("with") is not None:
        yield "MERGE cannot use a WITH clause"
    whens = expression.args.get("whens")
    for when in whens.expressions if whens is not None else []:
        if when.args.get("condition") is not None:
            yield f"WHEN ... AND condition: {when.sql(DIALECT)[:80]}"


@rule
def values_table(expression, widths, tokens):
    for values in _found(expression, exp.Values):
        if not isinstance(values.parent, exp.Insert):
            yield f"VALUES as a table: {values.sql(DIALECT)[:80]}"


@rule
def collation(expression, widths, tokens):
    for node in _found(expression, exp.Collate):
        yield f"COLLATE: {node.sql(DIALECT)[:80]}"
