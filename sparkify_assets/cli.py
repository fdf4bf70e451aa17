"""The ``sparkify`` command: load, warehouse, generate, sql, cluster.

Errors the user can act on (bad configuration, unreachable source or warehouse) are printed as
one line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import settings
from .source import SourceError
from .warehouse.base import WarehouseError
from .warehouse.embedded import EmbeddedWarehouseError

USER_ERRORS = (
    SourceError, WarehouseError, EmbeddedWarehouseError, settings.SettingsError, ValueError,
)


def cmd_load(args: argparse.Namespace) -> int:
    from .definitions import defs
    from .load import format_report, run_load

    report = run_load(defs, quiet=not args.verbose, max_reject_share=args.max_reject_share)
    print(format_report(report))
    return 0 if report.ok else 1


def cmd_warehouse(args: argparse.Namespace) -> int:
    from .warehouse import embedded

    if args.action == "url":
        if settings.warehouse_url():
            print("SPARKIFY_WAREHOUSE_URL is set: the platform uses that server, not the "
                  "embedded one (its URL is not printed because it may hold a password).")
            return 0
        print(embedded.ensure_running(settings.home()))
    elif args.action == "status":
        state = embedded.status(settings.home())
        print(f"embedded PostgreSQL in {state.pgdata}: "
              + (f"running (pid {state.pid})\n{state.dsn}" if state.running else "stopped"))
    else:
        stopped = embedded.stop(settings.home())
        print("stopped" if stopped else "was not running")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .generate import generate

    summary = generate(Path(args.out), events=args.events, songs=args.songs, days=args.days,
                       seed=args.seed)
    print(summary)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparkify", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    load = commands.add_parser("load", help="build every table for every day in the source")
    load.add_argument("--verbose", action="store_true", help="show Dagster's event log")
    load.add_argument("--max-reject-share", type=float, metavar="SHARE",
                      help="share of a partition's records that may be quarantined "
                           "(overrides SPARKIFY_MAX_REJECT_SHARE for this run)")
    load.set_defaults(run=cmd_load)

    warehouse = commands.add_parser("warehouse", help="the embedded PostgreSQL")
    warehouse.add_argument("action", choices=("url", "status", "stop"))
    warehouse.set_defaults(run=cmd_warehouse)

    gen = commands.add_parser("generate", help="write synthetic data in the real layout")
    gen.add_argument("out", help="folder to write song_data/ and log_data/ into")
    gen.add_argument("--events", type=int, default=10_000)
    gen.add_argument("--songs", type=int, default=200)
    gen.add_argument("--days", type=int, default=30)
    gen.add_argument("--seed", type=int, default=42)
    gen.set_defaults(run=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except USER_ERRORS as err:
        print(f"sparkify: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
