"""The daily partitions end where the data does, and the schedule still loads yesterday."""

from datetime import UTC, date, datetime, timedelta

import pytest
from dagster import DagsterInstance, build_schedule_context

from sparkify_assets.cli.load import source_days
from sparkify_assets.core.settings import SettingsError
from sparkify_assets.defs.partitions import daily_partitions
from sparkify_assets.ingest.base import SourceError
from sparkify_assets.synthetic.generate import generate

from .conftest import definitions_for


def test_a_folder_sources_partitions_end_with_its_last_day_file(small_data, bundled_sample):
    # The bundled sample (the default source) holds November 2018: 30 partitions, not 2,952.
    assert daily_partitions().get_partition_keys() == [
        (date(2018, 11, 1) + timedelta(days=n)).isoformat() for n in range(30)
    ]
    assert daily_partitions(str(small_data)).get_partition_keys() == ["2018-11-01", "2018-11-02"]


def test_an_s3_source_has_partitions_up_to_yesterday():
    partitions = daily_partitions("s3://bucket/prefix")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert partitions.get_last_partition_key() == yesterday.isoformat()


def test_sparkify_last_day_sets_the_end_and_is_checked(monkeypatch, small_data, tmp_path):
    monkeypatch.setenv("SPARKIFY_LAST_DAY", "2018-11-10")
    assert daily_partitions(str(small_data)).get_last_partition_key() == "2018-11-10"
    assert daily_partitions("s3://bucket/prefix").get_last_partition_key() == "2018-11-10"
    longer = tmp_path / "longer"
    generate(longer, events=200, songs=5, days=12, seed=2)
    with pytest.raises(SourceError, match="events up to 2018-11-12, after SPARKIFY_LAST_DAY"):
        source_days(str(longer))
    for bad, message in (("11/10/2018", "must be YYYY-MM-DD"), ("2018-10-01", "before")):
        monkeypatch.setenv("SPARKIFY_LAST_DAY", bad)
        with pytest.raises(SettingsError, match=message):
            daily_partitions(str(small_data))


def test_the_schedule_loads_yesterday_and_skips_days_after_the_data(warehouse, bundled_sample):
    defs = definitions_for(warehouse, bundled_sample)
    schedule = defs.resolve_schedule_def("load_yesterday")
    with DagsterInstance.ephemeral() as instance:

        def tick(moment: datetime):
            context = build_schedule_context(
                instance=instance,
                repository_def=defs.get_repository_def(),
                scheduled_execution_time=moment,
            )
            return schedule.evaluate_tick(context)

        (request,) = tick(datetime(2018, 11, 30, 1, tzinfo=UTC)).run_requests
        assert request.partition_key == "2018-11-29"
        (request,) = tick(datetime(2018, 12, 1, 1, tzinfo=UTC)).run_requests
        assert request.partition_key == "2018-11-30"  # the last day, once
        after = tick(datetime(2018, 12, 2, 1, tzinfo=UTC))
        assert not after.run_requests
        assert after.skip_message.startswith(
            "yesterday (2018-12-01) is not a daily partition (2018-11-01 .. 2018-11-30"
        )
