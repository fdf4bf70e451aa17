"""Decorator arguments and results every table asset shares, derived from its Table definition."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    DagsterInvariantViolationError,
    Failure,
    RetryRequested,
)

from sparkify_assets.contract.layout import days_in
from sparkify_assets.core import settings
from sparkify_assets.core.errors import UserError
from sparkify_assets.core.faults import is_transient
from sparkify_assets.core.redact import redact
from sparkify_assets.defs.assets.metadata import (
    definition_metadata,
    describe,
)
from sparkify_assets.sql import fingerprint
from sparkify_assets.sql.dialect import POSTGRES, REDSHIFT
from sparkify_assets.sql.tables import Table

OWNERS = ["team:data-platform"]
# The warehouse retries a dropped connection or a deadlock itself, within seconds. What is still
# failing after that (a server restarting for longer, S3 throttling beyond botocore's own
# retries) gets the whole step again, later: up to STEP_RETRIES times, after about 5 s, then
# 10 s. See failing_fast for what never does.
#
# Not a Dagster RetryPolicy: Dagster turns an *interrupt* of a step that has one (Ctrl-C, SIGTERM,
# the UI's Terminate) into a retry, by design for preempted containers, so a stopped load would
# start the interrupted step again. failing_fast asks for the retry itself (RetryRequested), only
# for transient errors; an interrupt then always ends the run.
STEP_RETRIES = 2
STEP_RETRY_DELAY_SECONDS = 5.0


def _retry_delay() -> float:
    """Exponential (5 s, 10 s) with +-50% jitter, so steps that failed together spread out."""
    try:
        attempt = AssetExecutionContext.get().retry_number
    except DagsterInvariantViolationError:  # called outside a step
        attempt = 0
    return STEP_RETRY_DELAY_SECONDS * 2**attempt * random.uniform(0.5, 1.5)


# Every table asset writes to the one warehouse. Unlimited by default; an instance can cap the
# steps writing at once: `dagster instance concurrency set sparkify_warehouse 2`.
WAREHOUSE_POOL = "sparkify_warehouse"


@contextmanager
def failing_fast() -> Iterator[None]:
    """Re-run the step (RetryRequested) only for failures that may pass; never for interrupts,
    which are not ``Exception``s and pass through as they are.

    Bad SQL, wrong credentials, a missing bucket or folder, too many bad records: another
    attempt would fail the same way, minutes later. They fail the step at once, with the
    (secret-free) message as the failure's description.
    """
    try:
        yield
    except Failure as failure:
        failure.allow_retries = False
        raise
    except Exception as err:
        if is_transient(err):
            raise RetryRequested(max_retries=STEP_RETRIES, seconds_to_wait=_retry_delay()) from err
        failure = Failure(description=redact(str(err)) or type(err).__name__, allow_retries=False)
        if isinstance(err, UserError):
            raise failure from None  # the message is the whole story; a stack adds noise
        raise failure from err  # anything else may be a bug: keep its traceback


def target_kind() -> str:
    return "redshift" if settings.deployment() == "redshift" else "postgres"


def source_kinds() -> tuple[str, ...]:
    """Where staging reads from: JSON files, in S3 when the source (or the target) is there."""
    in_s3 = settings.data_uri().startswith("s3://") or settings.deployment() == "redshift"
    return ("json", "s3") if in_s3 else ("json",)


def asset_args(table: Table, group: str, extra_kinds: tuple[str, ...] = ()) -> dict:
    """The @asset keyword arguments that come straight from the table definition."""
    return {
        "name": table.name,
        "description": describe(table),
        "group_name": group,
        "kinds": {target_kind(), *extra_kinds},
        "owners": OWNERS,
        "pool": WAREHOUSE_POOL,
        # Every table, partitioned or not, runs a range of days as ONE run: the daily assets
        # take the whole range in one step (each day still its own transaction), and the
        # unpartitioned dimensions join that run after them, so
        # `dagster asset materialize --select '*' --partition-range A...B` is a single run.
        "backfill_policy": BackfillPolicy.single_run(),
        "metadata": definition_metadata(table),
        # The table's fingerprint on this target: the UI marks the asset changed after an
        # upgrade changed what builds it (docs/upgrading.md).
        "code_version": code_version(table),
    }


def code_version(table: Table) -> str:
    dialect = REDSHIFT if target_kind() == "redshift" else POSTGRES
    return fingerprint.current(dialect)[table.name][0]


def partition_days(context: AssetExecutionContext) -> list[date]:
    """The UTC days this run materializes (one, or a backfill range)."""
    return days_in(*partition_window(context))


def partition_window(context: AssetExecutionContext) -> tuple[date, date]:
    window = context.partition_time_window
    return window.start.date(), window.end.date()
