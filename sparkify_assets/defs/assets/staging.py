"""Staging assets: raw JSON from the source into staging_events (per day) and staging_songs.

How a day is loaded depends on the target (streamed COPY FROM STDIN, or Redshift COPY FROM S3);
the asset only decides which days to load and reports what happened. The assets are made by
``staging_assets`` when the code location loads, with its daily partitions.
"""

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)
from pydantic import Field

from sparkify_assets.defs.assets.common import (
    asset_args,
    failing_fast,
    partition_days,
    partition_window,
    source_kinds,
)
from sparkify_assets.defs.assets.factory import full_refresh
from sparkify_assets.defs.assets.metadata import (
    materialization_metadata,
    record_partition_figures,
    run_range,
    staging_figures,
)
from sparkify_assets.defs.progress import day_done_message
from sparkify_assets.defs.resources import SparkifySource
from sparkify_assets.sql.tables import STAGING_EVENTS, STAGING_SONGS
from sparkify_assets.warehouse.base import RejectThresholdExceeded, StagingResult, Warehouse


class StagingConfig(Config):
    """Run configuration of a staging load (Launchpad: ops.<asset>.config)."""

    max_reject_share: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "Share of a partition's records that may be quarantined before the partition fails. "
            "Empty: the warehouse's setting (SPARKIFY_MAX_REJECT_SHARE, default 0.05)."
        ),
    )
    clear_missing_days: bool = Field(
        default=False,
        description=(
            "A day without a log file is emptied (its rows, and all built from them, removed) "
            "instead of failing the run. The log sensor sets it for a deleted day file."
        ),
    )


def _summary(results: list[StagingResult], warehouse: Warehouse) -> dict:
    return staging_figures(results, warehouse.max_reject_share)


def staging_assets(daily: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    """staging_events, one partition a day, and staging_songs."""
    kinds = source_kinds()
    return [
        asset(partitions_def=daily, **asset_args(STAGING_EVENTS, "staging", kinds))(load_events),
        asset(**asset_args(STAGING_SONGS, "staging", kinds))(load_songs),
    ]


def load_events(
    context: AssetExecutionContext,
    config: StagingConfig,
    warehouse: ResourceParam[Warehouse],
    source: SparkifySource,
) -> MaterializeResult:
    with failing_fast():
        return _load_days(
            context,
            warehouse.with_max_reject_share(config.max_reject_share),
            source,
            config.clear_missing_days,
        )


def _load_days(
    context: AssetExecutionContext, warehouse: Warehouse, source: SparkifySource, clear: bool
) -> MaterializeResult:
    days = partition_days(context)
    raw = source.open()
    files_by_day = raw.event_files()
    results: list[StagingResult] = []
    failures: list[str] = []
    for day in days:
        files = files_by_day.get(day, [])
        if not files:
            if len(days) == 1 and not clear:
                raise Failure(f"no log file for {day} under {raw.uri}/log_data")
            context.log.warning(f"no log file for {day}: its staging rows are cleared")
        try:
            result = warehouse.stage_events_day(raw, day, files)
        except RejectThresholdExceeded as err:
            failures.append(str(err))
            continue
        if result.rejected:
            context.log.warning(f"{day}: {result.rejected} record(s) quarantined in load_rejects")
        for line in result.drift:
            context.log.warning(f"{day}: source drift: {line}")
        context.log.info(day_done_message(result.partition, result.loaded, result.seconds))
        results.append(result)
    # The days that did load are committed: give downstream builds their statistics either way;
    # a day's run samples lightly, so it does not read the whole history.
    warehouse.refresh_statistics(STAGING_EVENTS, one_day=len(days) == 1)
    if failures:
        raise Failure("\n".join(failures), metadata=_summary(results, warehouse))
    # Each day's own figures on its partition; the run's totals under run_* names only.
    record_partition_figures(
        context,
        warehouse,
        STAGING_EVENTS,
        {
            r.partition: _summary([r], warehouse) | {"files": MetadataValue.int(len(r.files))}
            for r in results
        },
    )
    window = partition_window(context)
    totals = {f"run_{key}": value for key, value in _summary(results, warehouse).items()}
    metadata = totals | {"run_days": MetadataValue.text(f"{run_range(window)} ({len(days)} days)")}
    return MaterializeResult(
        metadata=metadata | materialization_metadata(warehouse, STAGING_EVENTS, window)
    )


def load_songs(
    context: AssetExecutionContext,
    config: StagingConfig,
    warehouse: ResourceParam[Warehouse],
    source: SparkifySource,
) -> MaterializeResult:
    with failing_fast():
        share = config.max_reject_share
        full = full_refresh(context, songs=True)
        return _load_songs(warehouse.with_max_reject_share(share), source, full)


def _load_songs(warehouse: Warehouse, source: SparkifySource, full: bool) -> MaterializeResult:
    """Only the new and changed song files, and the removed ones dropped; all when ``full``."""
    try:
        result = warehouse.stage_songs(source.open(), full=full)
    except RejectThresholdExceeded as err:
        raise Failure(str(err)) from None
    warehouse.refresh_statistics(STAGING_SONGS)
    return MaterializeResult(
        metadata=_summary([result], warehouse)
        | {"files": MetadataValue.int(result.records)}
        | materialization_metadata(warehouse, STAGING_SONGS)
    )
