"""The sparkify command: load, plan, migrate, warehouse, generate, sql, cluster.

Errors the user can act on (bad configuration, unreachable source or warehouse) are printed as
one line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from datetime import date, timedelta
from pathlib import Path

from sparkify_assets.cli.migrate import add_commands as add_migration_commands
from sparkify_assets.contract.layout import days_in
from sparkify_assets.core import settings
from sparkify_assets.core.errors import UserError
from sparkify_assets.core.redact import redact

DESCRIPTION = "The Sparkify warehouse: load, plan, migrate, warehouse, generate, sql, cluster."
# A ValueError here is a refused argument value (a bad day, a bad share): its message is the news.
USER_ERRORS = (UserError, ValueError)


def cmd_load(args: argparse.Namespace) -> int:
    from dagster import DagsterExecutionInterruptedError

    from sparkify_assets.cli.progress import RunTracker
    from sparkify_assets.core.interrupts import Interrupted, exit_code, interrupts_raise

    tracker = RunTracker()
    with interrupts_raise() as signals:
        try:
            report = _load_with_progress(args, tracker)
        except Interrupted as err:  # before or after the run, or a second signal
            signum = err.signum
        except (KeyboardInterrupt, DagsterExecutionInterruptedError):
            # Dagster's own, when a signal hit its bookkeeping rather than a step.
            signum = signals.first() or signal.SIGINT
        else:
            signum = signals.first()
            if signum is None:
                print(format_report_without_header(report))
                return 0 if report.ok else 1
    print(tracker.interruption(signum), file=sys.stderr)
    return exit_code(signum)


def _load_with_progress(args: argparse.Namespace, tracker):
    from sparkify_assets.cli.load import plan_load, run_load
    from sparkify_assets.cli.progress import LiveProgress
    from sparkify_assets.definitions import defs

    definitions = defs()
    if settings.deployment() == "redshift":
        _cluster_progress_to_stderr()  # resuming a paused cluster first takes minutes
    plan = plan_load(definitions)
    print(plan.header(), flush=True)  # first, before anything runs
    if plan.stale:
        print(plan.stale.message(plan.uri), file=sys.stderr, flush=True)
    steps = len(definitions.resolve_job_def("load_everything").graph.nodes)
    live = not (args.quiet or args.verbose) and sys.stdout.isatty()
    with LiveProgress(live, steps) as progress:
        tracker.on_line, tracker.on_step = progress.line, progress.step
        return run_load(
            definitions,
            quiet=not args.verbose,
            max_reject_share=args.max_reject_share,
            full_refresh=args.full_refresh,
            plan=plan,
            tracker=tracker,
        )


def format_report_without_header(report) -> str:
    from sparkify_assets.cli.load import format_report

    return format_report(report, header=False)


def cmd_warehouse(args: argparse.Namespace) -> int:
    from sparkify_assets.warehouse import embedded

    if args.action == "reset":
        return _reset(args.yes)
    if args.action == "url":
        if settings.warehouse_url():
            print(
                "SPARKIFY_WAREHOUSE_URL is set: the platform uses that server, not the "
                "embedded one (its URL is not printed because it may hold a password)."
            )
            return 0
        print(embedded.ensure_running(settings.home()))
    elif args.action == "status":
        state = embedded.status(settings.home())
        print(
            f"embedded PostgreSQL in {state.pgdata}: "
            + (f"running (pid {state.pid})\n{state.dsn}" if state.running else "stopped")
        )
    else:
        stopped = embedded.stop(settings.home())
        print("stopped" if stopped else "was not running")
    return 0


def _reset(confirmed: bool) -> int:
    """Empty the warehouse's tables and forget their materializations in Dagster."""
    from dagster import AssetKey

    from sparkify_assets.cli.load import load_instance
    from sparkify_assets.defs.resources import plain_warehouse, warehouse_resource
    from sparkify_assets.sql.catalog import TABLES
    from sparkify_assets.warehouse.operations import connect_once, reset_tables

    warehouse = plain_warehouse(warehouse_resource(settings.deployment()))
    target = warehouse.target_name()
    if not confirmed:
        if not sys.stdin.isatty():
            raise settings.SettingsError(
                f"`sparkify warehouse reset` deletes every row of {target}: add --yes to confirm"
            )
        answer = input(f"Delete every row of {target}? Type yes to confirm: ")
        if answer.strip().lower() != "yes":
            print("nothing was changed")
            return 1
    connect_once(warehouse)
    reset_tables(warehouse)
    with load_instance() as instance:
        instance.wipe_assets([AssetKey(name) for name in TABLES])
        home = instance.root_directory
    print(
        f"emptied all {len(TABLES)} tables of {target}, and forgot their materializations in "
        f"{home}; `sparkify load` builds them again"
    )
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from sparkify_assets.synthetic.generate import GenerateError, generate

    try:
        summary = generate(
            Path(args.out), events=args.events, songs=args.songs, days=args.days, seed=args.seed
        )
    except OSError as err:  # a read-only disk, a full one, a path through a file
        raise GenerateError(f"cannot write into {args.out}: {err.strerror or err}") from None
    print(summary)
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}") from None


def _day_range(text: str) -> list[date]:
    first, separator, last = text.partition("..")
    if not separator or _day(first) > _day(last):
        raise argparse.ArgumentTypeError(f"expected FIRST..LAST with FIRST <= LAST, got {text!r}")
    return days_in(_day(first), _day(last) + timedelta(days=1))


def _keys_by_day(args: argparse.Namespace, data_uri: str) -> dict[date, list[str]]:
    from sparkify_assets.contract.layout import day_file_key
    from sparkify_assets.ingest.open import open_source

    days = [*args.day, *(args.days or [])]
    if days:
        return {day: [day_file_key(day)] for day in days}
    listing = open_source(data_uri).event_files()
    return {day: [file.key for file in files] for day, files in listing.items()}


def cmd_sql(args: argparse.Namespace) -> int:
    from sparkify_assets.warehouse.script import deployment_sql, render_script

    if args.migration:
        from sparkify_assets.cli.migrate import print_migration_sql

        return print_migration_sql()

    target = args.target or ("redshift" if settings.deployment() == "redshift" else "postgres")
    if target == "redshift":
        from sparkify_assets.ingest.s3_uri import copy_source_uri
        from sparkify_assets.warehouse.redshift import redshift_warehouse_from_env

        warehouse = redshift_warehouse_from_env(require_connection=False)
        data_uri = (
            copy_source_uri(settings.data_uri())
            if os.environ.get("SPARKIFY_DATA_URI")
            else settings.PRINTING_PLACEHOLDERS["SPARKIFY_DATA_URI"]
        )
        unset = [name for name in settings.PRINTING_PLACEHOLDERS if not os.environ.get(name)]
        if unset and not (args.day or args.days) and "SPARKIFY_DATA_URI" in unset:
            raise settings.SettingsError(
                "set SPARKIFY_DATA_URI=s3://… or give --day/--days to print the Redshift SQL"
            )
        if unset:
            print(f"-- not set, shown as placeholders: {', '.join(unset)}", file=sys.stderr)
    else:
        from sparkify_assets.warehouse.postgres import PostgresWarehouse

        warehouse = PostgresWarehouse(home=settings.home())
        data_uri = settings.data_uri()
    sections = deployment_sql(warehouse, data_uri, _keys_by_day(args, data_uri))
    print(render_script(target, sections), end="")
    return 0


class _ProgressToStderr(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)  # whatever sys.stderr is at the time


def _cluster_progress_to_stderr() -> None:
    # Creating a cluster takes minutes: show the lifecycle's own progress messages.
    log = logging.getLogger("sparkify_assets.ops")
    if not any(isinstance(handler, _ProgressToStderr) for handler in log.handlers):
        log.addHandler(_ProgressToStderr())
    log.setLevel(logging.INFO)


def cmd_cluster(args: argparse.Namespace) -> int:
    """The lifecycle through the same ``redshift`` resource the runs and the cluster jobs use."""
    import json

    from sparkify_assets.defs.redshift import redshift_resource

    _cluster_progress_to_stderr()
    redshift = redshift_resource()
    if args.serverless and not redshift.serverless:
        redshift = redshift.model_copy(update={"workgroup": "sparkify", "namespace": "sparkify"})
    info = {
        "up": lambda: redshift.up(args.ingress_cidr),
        "status": redshift.status,
        "pause": redshift.pause,
        "resume": redshift.resume,
        "down": lambda: redshift.down(args.final_snapshot),
    }[args.action]()
    print(f"{info.status} {info.endpoint or '-'}")
    print(info.summary())
    if args.action == "up":
        target = (
            f"REDSHIFT_WORKGROUP={redshift.workgroup}"
            if redshift.serverless
            else f"SPARKIFY_CLUSTER_ID={redshift.cluster_identifier}"
        )
        print(
            f"export REDSHIFT_HOST={info.endpoint_host} REDSHIFT_PORT={info.endpoint_port} "
            f"REDSHIFT_IAM_ROLE_ARN={info.role_arn} {target}"
        )
        print(
            "# IAM auth: the least-privilege policy of the identity that runs the loads "
            f"({redshift.auth} mode now; set REDSHIFT_AUTH=iam to use it):"
        )
        print(json.dumps(redshift.loading_policy(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparkify", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)

    load = commands.add_parser("load", help="build every table for every day in the source")
    load.add_argument(
        "--verbose", action="store_true", help="show Dagster's event log (INFO and up)"
    )
    load.add_argument(
        "--quiet", action="store_true", help="no live progress, only the closing report"
    )
    load.add_argument(
        "--max-reject-share",
        type=float,
        metavar="SHARE",
        help="share of a partition's records that may be quarantined "
        "(overrides SPARKIFY_MAX_REJECT_SHARE for this run)",
    )
    load.add_argument(
        "--full-refresh",
        action="store_true",
        help="also re-read every song file, ignoring the fingerprints of the last load",
    )
    load.set_defaults(run=cmd_load)

    warehouse = commands.add_parser(
        "warehouse",
        help="the embedded PostgreSQL (url, status, stop), or empty any warehouse (reset)",
    )
    warehouse.add_argument(
        "action",
        choices=("url", "status", "stop", "reset"),
        help="url: start it if needed and print its DSN; status; stop; "
        "reset: empty every table of the configured warehouse",
    )
    warehouse.add_argument(
        "--yes", action="store_true", help="reset: do not ask before deleting every row"
    )
    warehouse.set_defaults(run=cmd_warehouse)

    gen = commands.add_parser("generate", help="write synthetic data in the real layout")
    gen.add_argument("out", help="folder to write song_data/ and log_data/ into")
    gen.add_argument(
        "--events", type=int, default=10_000, help="log events in all (default: %(default)s)"
    )
    gen.add_argument(
        "--songs", type=int, default=200, help="song files, one song each (default: %(default)s)"
    )
    gen.add_argument(
        "--days",
        type=int,
        default=30,
        help="day files from 2018-11-01, at most 3653 (default: %(default)s)",
    )
    gen.add_argument(
        "--seed",
        type=int,
        default=42,
        help="the same seed and sizes give byte-identical files (default: %(default)s)",
    )
    gen.set_defaults(run=cmd_generate)

    show = commands.add_parser("sql", help="print every statement a deployment runs, in order")
    show.add_argument(
        "--target",
        choices=("redshift", "postgres"),
        help="default: redshift when SPARKIFY_DEPLOYMENT=redshift, else postgres",
    )
    show.add_argument(
        "--day",
        type=_day,
        action="append",
        default=[],
        help="stage this day (repeatable); default: every day in the source",
    )
    show.add_argument(
        "--days", type=_day_range, metavar="FIRST..LAST", help="stage every day of this range"
    )
    show.add_argument(
        "--migration",
        action="store_true",
        help="print what `sparkify migrate` would run on the configured warehouse (reads it)",
    )
    show.set_defaults(run=cmd_sql)

    add_migration_commands(commands)

    cluster = commands.add_parser(
        "cluster", help="the Amazon Redshift cluster or Serverless workgroup (boto3)"
    )
    actions = cluster.add_subparsers(dest="action", required=True)
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument(
        "--serverless",
        action="store_true",
        help="a Serverless namespace and workgroup (REDSHIFT_WORKGROUP, default sparkify) "
        "instead of a provisioned cluster; implied when REDSHIFT_WORKGROUP is set",
    )
    up = actions.add_parser(
        "up",
        parents=[target],
        help="create or resume the cluster (or workgroup) and its S3 read role; print the "
        "IAM policy the loading identity needs",
    )
    up.add_argument(
        "--ingress-cidr",
        metavar="CIDR",
        help="open tcp/5439 to this CIDR only (e.g. your IP/32); default: open nothing",
    )
    for action, text in (
        ("status", "state and host:port"),
        ("pause", "stop compute billing (provisioned only)"),
        ("resume", "resume a paused cluster"),
    ):
        actions.add_parser(action, parents=[target], help=text)
    down = actions.add_parser(
        "down", parents=[target], help="delete the cluster, its security group and role"
    )
    down.add_argument("--final-snapshot", metavar="ID", help="take a final snapshot first")
    cluster.set_defaults(run=cmd_cluster)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except USER_ERRORS as err:
        print(f"sparkify: {redact(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
