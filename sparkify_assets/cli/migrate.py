"""``sparkify plan`` and ``sparkify migrate``: bring a warehouse to this release's definitions.

``plan`` only reads: for the configured warehouse, each table current or changed and in what,
what the migration will do and the rows that costs. ``migrate`` runs it (asking first on a
terminal, like ``warehouse reset``; ``--yes`` for scripts). See docs/upgrading.md.
"""

from __future__ import annotations

import argparse
import sys

from sparkify_assets.core import settings


def _warehouse_and_source():
    from sparkify_assets.defs.resources import plain_warehouse, source_resource, warehouse_resource
    from sparkify_assets.ingest.open import open_source
    from sparkify_assets.warehouse.operations import connect_once

    deployment = settings.deployment()
    warehouse = plain_warehouse(warehouse_resource(deployment))
    connect_once(warehouse)
    return warehouse, open_source(source_resource(deployment).uri)


def cmd_plan(args: argparse.Namespace) -> int:
    from sparkify_assets.warehouse import migration

    warehouse, source = _warehouse_and_source()
    plan = migration.plan(warehouse, source)
    print(f"{warehouse.target_name()}, schema {warehouse.schema_name}: this release's definitions")
    print(plan.text())
    if plan.needed:
        print("`sparkify migrate` runs it; `sparkify sql --migration` prints its statements")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from sparkify_assets.warehouse import migration

    warehouse, source = _warehouse_and_source()
    plan = migration.plan(warehouse, source)
    if not plan.needed:
        print(plan.summary())
        return 0
    print(plan.text())
    if not args.yes:
        if not sys.stdin.isatty():
            raise settings.SettingsError(
                f"`sparkify migrate` rebuilds tables of {warehouse.target_name()}: "
                "add --yes to confirm"
            )
        if input("Migrate? Type yes to confirm: ").strip().lower() != "yes":
            print("nothing was changed")
            return 1
    done, seconds = migration.migrate(warehouse, source, lambda line: print(line, flush=True))
    print(f"migrated {len(done.needed)} tables in {seconds:.1f} s")
    return 0


def print_migration_sql() -> int:
    from sparkify_assets.warehouse import migration
    from sparkify_assets.warehouse.script import render_script

    warehouse, source = _warehouse_and_source()
    plan = migration.plan(warehouse, source)
    print(f"-- {plan.summary()}")
    print(render_script(warehouse.dialect.name, migration.printed(warehouse, plan)), end="")
    return 0


def add_commands(commands) -> None:
    plan = commands.add_parser(
        "plan", help="what an upgrade changed and what `sparkify migrate` will do (reads only)"
    )
    plan.set_defaults(run=cmd_plan)
    migrate = commands.add_parser(
        "migrate", help="bring the warehouse to this release's definitions (see `sparkify plan`)"
    )
    migrate.add_argument("--yes", action="store_true", help="do not ask before migrating")
    migrate.set_defaults(run=cmd_migrate)
