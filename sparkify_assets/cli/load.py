"""``sparkify load``: materialize every asset for every day found in the source, through Dagster.

The whole range runs as one Dagster run of ``load_everything`` (each day is still its own
transaction). With DAGSTER_HOME set the run is recorded there, so it shows up in ``dagster dev``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date

from dagster import DagsterEventType, DagsterInstance, Definitions
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from sparkify_assets.cli.stale_runs import fail_stale_runs, process_tags
from sparkify_assets.core import settings
from sparkify_assets.core.redact import redact
from sparkify_assets.defs.assets.factory import FULL_REFRESH_TAG
from sparkify_assets.defs.resources import plain_warehouse
from sparkify_assets.ingest.base import SourceError
from sparkify_assets.ingest.open import open_source


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    severity: str
    violations: int | None = None


@dataclass
class LoadReport:
    run_id: str
    first_day: date
    last_day: date
    success: bool
    failures: list[str] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    stale_runs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.success and all(c.passed or c.severity == "WARN" for c in self.checks)


def _instance() -> DagsterInstance:
    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()


def source_days(uri: str) -> tuple[date, date]:
    days = sorted(open_source(uri).event_files())
    if not days:
        raise SourceError(f"no log_data/YYYY/MM/YYYY-MM-DD-events.json files under {uri}")
    if days[0] < date.fromisoformat(settings.first_day()):
        raise SourceError(
            f"{uri} has events from {days[0]}, before SPARKIFY_FIRST_DAY "
            f"{settings.first_day()}: set SPARKIFY_FIRST_DAY to {days[0]} or earlier"
        )
    return days[0], days[-1]


def _failures(result) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            failure = event.step_failure_data
            error, raised = failure.error, failure.user_failure_data
            if error and error.cls_name == "DagsterAssetCheckFailedError":
                continue  # a blocking check: its FAIL line in the report already says so
            # A dagster.Failure is already a message for the user: show it without its class.
            text = (
                raised.description
                if raised and raised.description
                else error.message.strip()
                if error
                else "failed"
            )
            messages.append(f"{event.step_key}: {redact(text)}")
    return messages


def check_outcomes(result) -> list[CheckOutcome]:
    outcomes = []
    for e in result.get_asset_check_evaluations():
        violations = e.metadata.get("violations")
        outcomes.append(
            CheckOutcome(
                e.asset_key.to_user_string(),
                e.check_name,
                e.passed,
                e.severity.value,
                violations.value if violations is not None else None,
            )
        )
    return outcomes


def _run_config(quiet: bool, max_reject_share: float | None) -> dict:
    run_config: dict = {}
    if quiet:
        # The report below says what failed, in one line each: no step tracebacks on the console.
        run_config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}}
    if max_reject_share is not None:
        staging = {"config": {"max_reject_share": max_reject_share}}
        run_config["ops"] = {"staging_events": staging, "staging_songs": staging}
    return run_config


def run_load(
    defs: Definitions,
    uri: str | None = None,
    quiet: bool = True,
    max_reject_share: float | None = None,
    full_refresh: bool = False,
) -> LoadReport:
    """Run load_everything over the source's days; ``max_reject_share`` overrides the setting.

    Every day is reloaded, so every built table is rebuilt whole (the cheapest way to take in
    everything); song files load by fingerprint unless ``full_refresh`` re-reads them all.
    """
    first, last = source_days(uri or settings.data_uri())
    job = defs.resolve_job_def("load_everything")
    run_config = _run_config(quiet, max_reject_share)
    instance = _instance()
    stale_runs = fail_stale_runs(instance, job.name)
    result = job.execute_in_process(
        instance=instance,
        run_config=run_config,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
            FULL_REFRESH_TAG: "all" if full_refresh else "derived",
            **process_tags(),
        },
        raise_on_error=False,
    )
    report = LoadReport(
        result.run_id,
        first,
        last,
        result.success,
        _failures(result),
        check_outcomes(result),
        stale_runs=stale_runs,
    )
    report.row_counts = plain_warehouse(defs.resources["warehouse"]).row_counts()
    return report


def format_report(report: LoadReport) -> str:
    lines = [f"run {report.run_id}: days {report.first_day} .. {report.last_day}", ""]
    if report.stale_runs:
        lines += [
            f"  marked failed: run {run_id}, left running by a killed load"
            for run_id in report.stale_runs
        ] + [""]
    width = max(map(len, report.row_counts), default=5)
    lines += [f"  {name:<{width}}  {rows:>10,}" for name, rows in report.row_counts.items()]
    lines.append("")
    for check in report.checks:
        verdict = "pass" if check.passed else ("WARN" if check.severity == "WARN" else "FAIL")
        found = (
            ""
            if check.passed or check.violations is None
            else (f"  ({check.violations:,} violation{'s' if check.violations != 1 else ''})")
        )
        lines.append(f"  {verdict:<4}  {check.asset}.{check.check}{found}")
    for failure in report.failures:
        lines.append(f"  FAILED {failure}")
    lines.append("")
    lines.append("load succeeded" if report.ok else "load FAILED")
    return "\n".join(lines)
