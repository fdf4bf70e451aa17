"""A fingerprint per table definition: what must be equal for rows to be built the same way.

A table's canonical form holds everything that decides its rows and its shape on one target:
columns (name, type, NOT NULL), primary key, the target's layout (Redshift's DISTSTYLE, DISTKEY
and SORTKEY; PostgreSQL's day index), the build SQL, the window and scope (how an incremental
run finds what to replace, and what it announces downstream), for a staging table its record
contract (fields, widths, rules), and the fingerprints of the tables it reads. Descriptions,
figures and summaries are left out: they change what the UI says, never a row.

SQL is compared token by token (whitespace, comments and keyword case do not count), so
re-indenting a build in Python changes nothing. Not with sqlglot's printer: its output changes
between sqlglot releases, and upgrading a library must not rebuild the warehouse.

The warehouse keeps the fingerprint (and the canonical form, to say what changed) of the
definition that built each table's rows in ``table_versions`` (see ``sql.versions``).
"""

from __future__ import annotations

import hashlib
import json
import re

from sparkify_assets.contract import records
from sparkify_assets.sql import catalog
from sparkify_assets.sql.dialect import Dialect
from sparkify_assets.sql.model import Table
from sparkify_assets.sql.state import TABLE_VERSIONS

# Tokens of the SQL the platform writes: quoted strings and identifiers, {placeholders}, words,
# numbers, and single punctuation characters.
_TOKENS = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\{\w*\}|[A-Za-z_][A-Za-z0-9_$]*|\d+(?:\.\d+)?|\S"
)
_COMMENT = re.compile(r"--[^\n]*")
# The contract of each staging table: the fields the record parser maps to its columns.
_CONTRACTS = {"staging_events": records.EVENT_FIELDS, "staging_songs": records.SONG_FIELDS}
# Its rules of meaning (``contract.meaning``): declared data, so they need no revision number.
_MEANINGS = {"staging_events": records.EVENT_RULES, "staging_songs": records.SONG_RULES}
PENDING = "pending_changes"


def normal_sql(text: str | None) -> str | None:
    """SQL as a space-separated token list: layout, comments and keyword case do not count."""
    if text is None:
        return None
    tokens = _TOKENS.findall(_COMMENT.sub(" ", text))
    return " ".join(t if t[0] in "'\"{" else t.upper() for t in tokens)


def reads(table: Table) -> list[str]:
    """The tables a table's SQL reads (its declared dependencies, checked against the SQL)."""
    return sorted(name for name in table.depends_on if name != PENDING)


def upstream(table: Table) -> list[str]:
    """What a table's rows depend on: the tables it reads, and pending_changes if it has a scope
    (an incremental run of it reads what its producers announced there)."""
    return reads(table) + ([PENDING] if table.scope else [])


def _columns(table: Table) -> list:
    return [[c.name, " ".join(c.type.upper().split()), c.nullable] for c in table.columns]


def _contract(table: Table) -> dict | None:
    fields = _CONTRACTS.get(table.name)
    if fields is None:
        return None
    return {
        "fields": [[f.key, f.column, str(f.kind), f.max_bytes, f.required] for f in fields],
        "rules": records.RULES_REVISION,
        "meaning": [
            [list(rule.keys), list(rule.when) if rule.when else None, rule.empty_ok]
            for rule in _MEANINGS[table.name]
        ],
        "raw_record_limit": records.RAW_RECORD_LIMIT,
    }


def _layout(table: Table, dialect: Dialect) -> dict:
    return {
        "target": normal_sql(dialect.layout(table)),
        "indexes": [[i.name, i.method, i.column] for i in dialect.indexes(table)],
    }


def _scope(table: Table) -> dict:
    scope = table.scope
    return {
        "kind": table.kind.value,
        "window_column": table.window_column,
        "emits": [[e.kind.value, [normal_sql(k) for k in e.keys]] for e in table.emits],
        "consumes": [[c.producer, c.kind.value] for c in scope.consumes] if scope else None,
        "scope_columns": [[c.name, c.type.upper(), c.nullable] for c in scope.columns]
        if scope
        else None,
        "select": normal_sql(scope.select) if scope else None,
        "rows": normal_sql(scope.rows) if scope else None,
        "hooks": [[h.name, normal_sql(h.predicate)] for h in scope.hooks] if scope else None,
    }


def canonical(
    table: Table, dialect: Dialect, tables: dict[str, Table] | None = None, memo=None
) -> dict:
    """The definition as plain data, upstream tables by their fingerprints."""
    tables = tables or catalog.TABLES
    memo = {} if memo is None else memo
    return {
        "name": table.name,
        "columns": _columns(table),
        "keys": list(table.primary_key),
        "layout": _layout(table, dialect),
        "sql": normal_sql(table.build),
        "scope": _scope(table),
        "contract": _contract(table),
        "upstream": {
            name: fingerprint(tables[name], dialect, tables, memo)
            for name in upstream(table)
            if name in tables
        },
    }


def digest(form: dict) -> str:
    text = json.dumps(form, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def fingerprint(
    table: Table, dialect: Dialect, tables: dict[str, Table] | None = None, memo=None
) -> str:
    memo = {} if memo is None else memo
    if table.name not in memo:
        memo[table.name] = digest(canonical(table, dialect, tables, memo))
    return memo[table.name]


def current(dialect: Dialect, tables=None) -> dict[str, tuple[str, dict]]:
    """name -> (fingerprint, canonical form) of every table of ``tables`` (default: this
    release's), the ledger ``table_versions`` itself left out."""
    tables = catalog.ALL_TABLES if tables is None else tables
    by_name = {table.name: table for table in tables}
    memo: dict[str, str] = {}
    out = {}
    for table in tables:
        if table.name == TABLE_VERSIONS.name:
            continue
        form = canonical(table, dialect, by_name, memo)
        out[table.name] = (digest(form), form)
    return out


# What each part of the canonical form is called when the plan says what changed.
PARTS = {
    "columns": "columns",
    "keys": "primary key",
    "layout": "layout",
    "sql": "SQL",
    "scope": "scope",
    "contract": "record contract",
}


def changed_parts(old: dict | None, new: dict) -> list[str]:
    """What differs between a stored canonical form and this release's (upstream by name)."""
    if old is None:
        return ["no fingerprint"]
    parts = [label for key, label in PARTS.items() if old.get(key) != new.get(key)]
    before, after = old.get("upstream", {}), new.get("upstream", {})
    parts += [
        f"upstream {name}"
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]
    return parts
