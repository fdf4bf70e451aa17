"""What a migration will do to a warehouse, decided from what the warehouse holds.

``decide`` compares, table by table, the fingerprint recorded in ``table_versions`` with this
release's (``sql.fingerprint``) and the live columns with the definition (``sql.alter``), and
picks an action. It reads nothing itself, so ``sparkify plan``, ``sparkify sql --migration``, the
migration and the tests all decide the same way from the same facts.

* A **built** table (state, star, summary, analytics) whose definition changed, that has no
  record, or that reads a table the migration rebuilds or re-reads, is rebuilt whole from its
  upstream tables (dropped and created again first when its shape changed). Its incremental
  state is part of it or in ``pending_changes``, which the rebuild answers, so nothing of the old
  definition is left to build on.
* A **staging** table's rows come from the source. It is altered in place (``sql.alter``); when
  its record contract changed, the days it holds are re-read from the source (the days the
  source no longer has keep their rows, altered). Without a record (an older release) its rows
  are kept when its columns already match, else altered and re-read.
* The **logs and pending_changes** are altered in place and kept; a missing one is created.
* A table recorded by an older release that this one does not define is dropped. ``RENAMED``
  maps a kept table's new name to its old one, which is renamed instead of dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sparkify_assets.sql import catalog, fingerprint
from sparkify_assets.sql.alter import Alteration, LiveColumn, diff
from sparkify_assets.sql.dialect import Dialect
from sparkify_assets.sql.model import Table
from sparkify_assets.sql.state import TABLE_VERSIONS

STAGING = {table.name for table in catalog.STAGING_TABLES}
# new name -> the name an older release gave the same kept table (staging or a log).
RENAMED: dict[str, str] = {}

CURRENT, CHANGED, UNRECORDED, NEW, REMOVED = "current", "changed", "no record", "new", "removed"


@dataclass(frozen=True)
class Facts:
    """What the warehouse holds, read by ``migration.read_facts``."""

    columns: dict[str, list[LiveColumn]]  # live tables -> columns
    stored: dict[str, tuple[str, dict]]  # recorded tables -> (fingerprint, canonical form)
    rows: dict[str, int]  # live tables -> rows
    staging_days: tuple[date, ...] = ()  # days staging_events holds
    source_files: dict[date, int] | None = None  # event files per day in the source, if listed
    song_files: int | None = None


@dataclass
class Step:
    table: Table | None  # None: a table this release no longer defines
    name: str
    status: str
    changed: list[str] = field(default_factory=list)
    action: str = ""  # "" when current
    alteration: Alteration | None = None
    create: bool = False  # the table is missing (or dropped and created again: built tables)
    rebuild: bool = False
    reread: bool = False
    reread_days: tuple[date, ...] = ()
    reread_files: int = 0
    kept_days: int = 0  # days the source no longer has: kept as they are (altered)
    rename_from: str | None = None
    rows: int = 0

    @property
    def needed(self) -> bool:
        return bool(self.action)


@dataclass
class Plan:
    steps: list[Step]

    @property
    def needed(self) -> list[Step]:
        return [step for step in self.steps if step.needed]

    @property
    def rows_to_rebuild(self) -> int:
        return sum(step.rows for step in self.needed if step.rebuild or step.reread)

    def summary(self) -> str:
        needed = self.needed
        if not needed:
            return "every table is current: nothing to migrate"
        rebuilt = sum(step.rebuild for step in needed)
        altered = sum(bool(step.alteration and not step.alteration.empty) for step in needed)
        parts = [f"{rebuilt} rebuilt", f"{altered} altered"]
        for step in needed:
            if step.reread and step.name == "staging_events":
                parts.append(f"{len(step.reread_days)} days ({step.reread_files} files) re-read")
            elif step.reread:
                parts.append(f"{step.reread_files} song files re-read")
        dropped = [step.name for step in needed if step.status == REMOVED]
        if dropped:
            parts.append(f"dropped: {', '.join(dropped)}")
        return (
            f"{len(needed)} of {len(self.steps)} tables to migrate: {'; '.join(parts)}; "
            f"about {self.rows_to_rebuild:,} rows to rebuild or re-read"
        )

    def text(self) -> str:
        width = max(len(step.name) for step in self.steps)
        lines = [f"{'table':<{width}}  {'status':<9}  {'rows':>10}  changed in -> migration"]
        for step in self.steps:
            what = ", ".join(step.changed) or "-"
            action = f" -> {step.action}" if step.action else ""
            lines.append(
                f"{step.name:<{width}}  {step.status:<9}  {step.rows:>10,}  {what}{action}"
            )
        return "\n".join([*lines, "", self.summary()])


def _upstream_touched(table: Table, steps: dict[str, Step]) -> list[str]:
    return [
        name
        for name in fingerprint.upstream(table)
        if name in steps and (steps[name].rebuild or steps[name].reread)
    ]


def _reread(step: Step, facts: Facts) -> None:
    step.reread = True
    if step.name == "staging_events":
        listed = facts.source_files
        held = facts.staging_days
        step.reread_days = tuple(d for d in held if listed is None or listed.get(d))
        step.kept_days = len(held) - len(step.reread_days)
        step.reread_files = sum((listed or {}).get(d, 0) for d in step.reread_days)
        if listed is None:
            step.reread_files = len(step.reread_days)  # one file a day, as the layout has it
        text = f"re-read {len(step.reread_days)} days ({step.reread_files} files)"
        if step.kept_days:
            text += f", keep {step.kept_days} days the source no longer has"
    else:
        step.reread_files = facts.song_files if facts.song_files is not None else step.rows
        text = f"re-read {step.reread_files} song files"
    step.action = ", ".join(filter(None, [step.action, text]))


def _kept(step: Step, table: Table, facts: Facts, live: list[LiveColumn], record, form) -> None:
    """A staging, log or pending table: altered in place; staging re-read when its contract
    changed (or, without a record, when its columns do not match)."""
    layout = record is not None and _target_layout(record[1]) != _target_layout(form)
    step.alteration = diff(table, live, layout)
    if not step.alteration.empty:
        step.action = f"alter ({step.alteration.describe()})"
    contract_changed = (
        record[1].get("contract") != form["contract"]
        if record is not None
        else not step.alteration.empty
    )
    if table.name in STAGING and contract_changed:
        _reread(step, facts)
    if not step.action:
        step.action = "record (rows kept)"


def decide(facts: Facts, dialect: Dialect, tables=None) -> Plan:
    """The migration of the warehouse ``facts`` describes to ``tables`` (this release's)."""
    tables = [t for t in (tables or catalog.ALL_TABLES) if t.name != TABLE_VERSIONS.name]
    defined = fingerprint.current(dialect, tables)
    steps: dict[str, Step] = {}
    renamed_from = {old: new for new, old in RENAMED.items()}
    for table in _in_migration_order(tables):
        name = table.name
        source_name = name
        if name not in facts.columns and RENAMED.get(name) in facts.columns:
            source_name = RENAMED[name]
        record = facts.stored.get(source_name)
        live = facts.columns.get(source_name)
        step = Step(table, name, CURRENT, rows=facts.rows.get(source_name, 0))
        if source_name != name:
            step.rename_from = source_name
            step.action = f"rename {source_name}"
        steps[name] = step
        fresh = defined[name][0]
        if live is None:
            step.status, step.create, step.changed = NEW, True, ["new table"]
        elif record is None:
            step.status, step.changed = UNRECORDED, ["no fingerprint"]
        elif record[0] != fresh or source_name != name:
            step.status = CHANGED
            step.changed = fingerprint.changed_parts(record[1], defined[name][1])
        touched = _upstream_touched(table, steps)
        if step.status == CURRENT and not touched:
            continue
        if step.status == CURRENT:
            step.status, step.changed = CHANGED, [f"{n} rebuilt" for n in touched]
        if table.built:
            step.rebuild = True
            step.create = _reshaped(table, live, record, defined[name][1])
            step.action = "create and rebuild" if step.create else "rebuild"
        elif live is None:
            step.action = "create"
            if name in STAGING and name != "staging_events":
                _reread(step, facts)
        else:
            _kept(step, table, facts, live, record, defined[name][1])
    defined_names = {table.name for table in tables}
    for name in sorted(facts.stored):
        if name in defined_names or name in renamed_from or name == TABLE_VERSIONS.name:
            continue
        steps[name] = Step(
            None, name, REMOVED, ["not defined"], "drop", rows=facts.rows.get(name, 0)
        )
    return Plan(list(steps.values()))


def _target_layout(form: dict):
    """The layout a table is created with (Redshift's DISTSTYLE, DISTKEY, SORTKEY); indexes
    (PostgreSQL) are made by every step with IF NOT EXISTS, so they need no new table."""
    return (form.get("layout") or {}).get("target")


def _reshaped(table: Table, live, record, form) -> bool:
    """Whether a built table is dropped and created before its rebuild: when it is missing, its
    columns (names, order, types) or layout differ, or nothing says what its layout is."""
    if live is None or record is None or _target_layout(record[1]) != _target_layout(form):
        return True
    return [c.name for c in live] != list(table.column_names) or not diff(table, live).empty


def _in_migration_order(tables) -> list[Table]:
    """Logs and pending_changes first (staging loads and rebuilds write them), then staging,
    then the built tables in run order."""
    kept = [t for t in tables if not t.built and t.name not in STAGING]
    staging = [t for t in tables if t.name in STAGING]
    built = [t for t in tables if t.built]
    return kept + staging + built
