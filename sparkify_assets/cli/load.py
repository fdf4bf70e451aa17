"""``sparkify load``: materialize every asset for every day found in the source, through Dagster.

The whole range runs as one Dagster run of ``load_everything`` (each day is still its own
transaction). The run is recorded in DAGSTER_HOME, or, when that is unset, in the project's
``dagster_home/``, the instance README's ``dagster dev`` opens, so every load shows up there.

Before the run: the source's days are listed, the warehouse is connected to once (one line at
once when it cannot be reached) and compared with the source (one line when it holds days the
source lacks). During the run, ``RunTracker`` follows its events (see ``cli.progress``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, Definitions

from sparkify_assets.cli.drift import DriftReport, drift_report
from sparkify_assets.cli.progress import RunTracker
from sparkify_assets.cli.stale_data import StaleData, stale_data
from sparkify_assets.cli.stale_runs import fail_stale_runs, process_tags
from sparkify_assets.core import settings
from sparkify_assets.core.redact import redact
from sparkify_assets.defs.assets.factory import FULL_REFRESH_TAG
from sparkify_assets.defs.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    NO_COMPUTE_LOGS,
    InstanceRef,
)
from sparkify_assets.defs.resources import plain_warehouse
from sparkify_assets.ingest.base import SourceError
from sparkify_assets.ingest.open import open_source
from sparkify_assets.sql.catalog import TABLES
from sparkify_assets.warehouse import migration
from sparkify_assets.warehouse.operations import connect_once

DEFAULT_INSTANCE_YAML = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    severity: str
    violations: int | None = None


@dataclass
class LoadPlan:
    """What a load is about to do, known before its run starts."""

    run_id: str
    uri: str
    first_day: date
    last_day: date
    stale: StaleData | None = None

    def header(self) -> str:
        return f"run {self.run_id}: days {self.first_day} .. {self.last_day} from {self.uri}"


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
    interrupted: bool = False
    stale: StaleData | None = None
    drift: DriftReport = field(default_factory=DriftReport)

    @property
    def ok(self) -> bool:
        return (
            self.success
            and not self.interrupted
            and all(c.passed or c.severity == "WARN" for c in self.checks)
        )


def load_instance() -> DagsterInstance:
    """The instance ``sparkify load`` records into (see the module docstring)."""
    home = settings.dagster_home()
    if not home.exists():
        home.mkdir(parents=True)
        (home / "dagster.yaml").write_text(DEFAULT_INSTANCE_YAML)
    # `sparkify load` runs in its own process and shows its own progress: no compute-log
    # capture. Dagster's local capture would start `tail` and an orphan-watcher process per run,
    # which a terminal's Ctrl-C (sent to the whole process group) makes print tracebacks.
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides=NO_COMPUTE_LOGS))


def source_days(uri: str) -> tuple[date, date]:
    days = sorted(open_source(uri).event_files())
    if not days:
        raise SourceError(f"no log_data/YYYY/MM/YYYY-MM-DD-events.json files under {uri}")
    if days[0] < date.fromisoformat(settings.first_day()):
        raise SourceError(
            f"{uri} has events from {days[0]}, before SPARKIFY_FIRST_DAY "
            f"{settings.first_day()}: set SPARKIFY_FIRST_DAY to {days[0]} or earlier"
        )
    last = settings.last_day()
    if last and days[-1] > last:
        raise SourceError(
            f"{uri} has events up to {days[-1]}, after SPARKIFY_LAST_DAY {last}: "
            f"set SPARKIFY_LAST_DAY to {days[-1]} or later, or unset it"
        )
    return days[0], days[-1]


def plan_load(defs: Definitions, uri: str | None = None) -> LoadPlan:
    """List the source, check the warehouse answers, and compare the two (nothing is written
    but the tables, created if missing)."""
    uri = uri or settings.data_uri()
    first, last = source_days(uri)
    warehouse = plain_warehouse(defs.resources["warehouse"])
    connect_once(warehouse)
    source = open_source(uri)
    migrate_first(warehouse, source)
    stale = stale_data(warehouse, source, set(source.event_files()))
    return LoadPlan(str(uuid.uuid4()), uri, first, last, stale)


def migrate_first(warehouse, source) -> None:
    """On a laptop, a load after an upgrade just works: it migrates first, saying so."""
    warehouse.ensure_tables()  # a new warehouse is created as this release's: nothing to do
    if not migration.plan(warehouse).needed:
        return
    print("this warehouse was built by other definitions: migrating it first", flush=True)
    _, seconds = migration.migrate(warehouse, source, lambda line: print(f"  {line}", flush=True))
    print(f"migrated in {seconds:.1f} s", flush=True)


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


def _run_config(verbose: bool, max_reject_share: float | None) -> dict:
    # The report says what failed, one line each: the console log stays quiet unless asked for,
    # and even then shows INFO and up, not Dagster's DEBUG stream.
    level = "INFO" if verbose else "CRITICAL"
    run_config: dict = {"loggers": {"console": {"config": {"log_level": level}}}}
    if max_reject_share is not None:
        staging = {"config": {"max_reject_share": max_reject_share}}
        run_config["ops"] = {"staging_events": staging, "staging_songs": staging}
    return run_config


def _cancel_on_interrupt(instance: DagsterInstance, run_id: str):
    """Mark the run CANCELING when a step is interrupted, so Dagster ends it as CANCELED (the
    user stopped it) rather than as an unexplained failure."""

    def cancel() -> None:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status == DagsterRunStatus.STARTED:
            instance.report_run_canceling(run, message="sparkify load was interrupted")

    return cancel


def run_load(
    defs: Definitions,
    uri: str | None = None,
    quiet: bool = True,
    max_reject_share: float | None = None,
    full_refresh: bool = False,
    plan: LoadPlan | None = None,
    tracker: RunTracker | None = None,
) -> LoadReport:
    """Run load_everything over the source's days; ``max_reject_share`` overrides the setting.

    Every day is reloaded, so every built table is rebuilt whole (the cheapest way to take in
    everything); song files load by fingerprint unless ``full_refresh`` re-reads them all.
    ``quiet=False`` shows Dagster's INFO log on the console. ``tracker`` follows the run.
    """
    plan = plan or plan_load(defs, uri)
    # Disposed here, in this thread: left to the garbage collector, its SQLite connections may
    # be closed from a worker thread, which SQLite refuses with a traceback on stderr.
    with load_instance() as instance:
        return _run(defs, plan, instance, quiet, max_reject_share, full_refresh, tracker)


def _run(
    defs: Definitions,
    plan: LoadPlan,
    instance: DagsterInstance,
    quiet: bool,
    max_reject_share: float | None,
    full_refresh: bool,
    tracker: RunTracker | None,
) -> LoadReport:
    job = defs.resolve_job_def("load_everything")
    tracker = tracker or RunTracker()
    tracker.on_interrupt = tracker.on_interrupt or _cancel_on_interrupt(instance, plan.run_id)
    stale_runs = fail_stale_runs(instance, job.name)
    instance.add_event_listener(plan.run_id, tracker.on_event)
    result = job.execute_in_process(
        instance=instance,
        run_config=_run_config(not quiet, max_reject_share),
        run_id=plan.run_id,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: plan.first_day.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: plan.last_day.isoformat(),
            FULL_REFRESH_TAG: "all" if full_refresh else "derived",
            **process_tags(),
        },
        raise_on_error=False,
    )
    report = LoadReport(
        result.run_id,
        plan.first_day,
        plan.last_day,
        result.success,
        _failures(result),
        check_outcomes(result),
        stale_runs=stale_runs,
        interrupted=tracker.interrupted_step is not None,
        stale=plan.stale,
    )
    if not report.interrupted:  # an interrupted load stops at once
        warehouse = plain_warehouse(defs.resources["warehouse"])
        report.row_counts = warehouse.row_counts()
        report.drift = drift_report(warehouse)
    return report


def _grouped(checks: list[CheckOutcome]) -> list[CheckOutcome]:
    """Checks table by table (in table order), each table's in the order they ran."""
    order = {name: index for index, name in enumerate(TABLES)}
    return sorted(checks, key=lambda check: order.get(check.asset, len(order)))


def format_report(report: LoadReport, header: bool = True) -> str:
    lines = [f"run {report.run_id}: days {report.first_day} .. {report.last_day}", ""]
    lines = lines if header else [""]
    if report.stale_runs:
        lines += [
            f"  marked failed: run {run_id}, left running by a killed load"
            for run_id in report.stale_runs
        ] + [""]
    width = max(map(len, report.row_counts), default=5)
    lines += [f"  {name:<{width}}  {rows:>10,}" for name, rows in report.row_counts.items()]
    lines.append("")
    for check in _grouped(report.checks):
        verdict = "pass" if check.passed else ("WARN" if check.severity == "WARN" else "FAIL")
        found = (
            ""
            if check.passed or check.violations is None
            else (f"  ({check.violations:,} violation{'s' if check.violations != 1 else ''})")
        )
        lines.append(f"  {verdict:<4}  {check.asset}.{check.check}{found}")
    lines += report.drift.file_lines()
    for failure in report.failures:
        lines.append(f"  FAILED {failure}")
    lines += report.drift.summary_lines()
    if report.stale and not report.ok:
        lines.append(
            "  (the warehouse also holds data this source lacks, see the first lines; "
            "`sparkify warehouse reset` empties it)"
        )
    lines.append("")
    lines.append("load succeeded" if report.ok else "load FAILED")
    return "\n".join(lines)
