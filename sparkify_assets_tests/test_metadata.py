"""What the Dagster UI shows: descriptions, groups, kinds, owners, lineage and the metadata of
every materialization, read back from a real Dagster instance after a real load."""

import shutil
import string
from datetime import date

import pytest
import sqlglot
from dagster import AssetKey, DagsterInstance, FloatMetadataValue, IntMetadataValue
from psycopg2 import sql

from sparkify_assets.cli.load import run_load
from sparkify_assets.defs.assets import all_assets
from sparkify_assets.defs.assets.metadata import (
    PREVIEW_ROWS,
    WIDE_COLUMNS,
    WIDE_PREVIEW_ROWS,
    markdown_table,
    preview_markdown,
)
from sparkify_assets.defs.partitions import daily_partitions
from sparkify_assets.sql import render
from sparkify_assets.sql.analytics import ANALYTICS_TABLES
from sparkify_assets.sql.catalog import (
    STAGING_TABLES,
    STAR_TABLES,
    STATE_TABLES,
    SUMMARY_TABLES,
    TABLES,
)
from sparkify_assets.sql.checks import RULES, count_and_sample, rules_for
from sparkify_assets.sql.model import Column, Table, TableKind, check_lineage, derived_from
from sparkify_assets.sql.tables import SONGPLAYS, STAGING_EVENTS
from sparkify_assets.warehouse import embedded
from sparkify_assets.warehouse.postgres import PostgresWarehouse

from .builders import write_dataset
from .conftest import REPO, definitions_for

GROUPS = {
    **{table.name: "staging" for table in STAGING_TABLES},
    **{table.name: "star" for table in STAR_TABLES},
    **{table.name: "analytics" for table in ANALYTICS_TABLES},
    **{table.name: "state" for table in STATE_TABLES},
    **{table.name: "summary" for table in SUMMARY_TABLES},
}
SPECS = {
    spec.key.to_user_string(): spec
    for asset in all_assets(daily_partitions())
    for spec in asset.specs
}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_table_is_an_asset_described_grouped_kinded_and_owned():
    assert set(SPECS) == set(GROUPS)
    for name, spec in SPECS.items():
        table = TABLES[name]
        assert spec.group_name == GROUPS[name]
        assert spec.description.startswith(table.description)
        if table.primary_key:
            assert f"Key: ({', '.join(table.primary_key)})" in spec.description
        assert spec.owners == ["team:data-platform"]
        assert "postgres" in spec.kinds
        assert ("json" if GROUPS[name] == "staging" else "sql") in spec.kinds
        assert spec.metadata["dagster/table_name"] == name
        schema = spec.metadata["dagster/column_schema"]
        assert [column.name for column in schema.columns] == list(table.column_names)


def test_asset_dependencies_are_the_tables_its_sql_reads_and_its_lineage_names():
    for name, spec in SPECS.items():
        table = TABLES[name]
        deps = {dep.asset_key.to_user_string() for dep in spec.deps}
        if table.build:
            texts = [table.build, *((table.scope.select,) if table.scope else ())]
            named = set().union(*map(_placeholders, texts)) & set(TABLES)
            assert deps == named - {name}, name
        lineage_sources = {source for deps_ in table.column_lineage.values() for source, _ in deps_}
        assert lineage_sources <= deps, name
        if GROUPS[name] != "staging":
            assert set(table.column_lineage) == set(table.column_names), name


def test_lineage_naming_an_unknown_column_is_refused():
    columns = (Column("x", "INTEGER", lineage=derived_from("songplays", "nope")),)
    wrong = Table("wrong", "", columns, TableKind.LOG)
    check_lineage(TABLES.values())
    with pytest.raises(ValueError, match=r"wrong\.x: lineage names unknown column songplays\.nope"):
        check_lineage([*TABLES.values(), wrong])


def test_every_keyed_table_has_the_not_empty_and_primary_key_rules():
    keyed = {table.name for table in TABLES.values() if table.primary_key}
    built = (*STATE_TABLES, *STAR_TABLES, *SUMMARY_TABLES, *ANALYTICS_TABLES)
    assert keyed == {table.name for table in built}
    generic = {
        name: [rule.name for rule in rules][:2] for name, rules in RULES.items() if name in keyed
    }
    assert generic == {name: ["not_empty", "primary_key"] for name in keyed}


def test_composite_key_rule_finds_duplicates_and_null_keys(warehouse):
    # Redshift does not enforce keys, so the table is created without a constraint here too.
    pairs = Table(
        "pairs",
        "",
        (Column("a", "INTEGER"), Column("b", "INTEGER")),
        TableKind.LOG,
        primary_key=("a", "b"),
    )
    (_, rule) = rules_for(pairs)
    with warehouse.transaction() as cursor:
        cursor.execute("CREATE TABLE pairs (a INTEGER, b INTEGER)")
        cursor.execute("INSERT INTO pairs VALUES (1, 1), (1, 1), (1, 2), (2, 1), (NULL, 3)")
    count, sample = count_and_sample(rule, "public")
    assert warehouse.query(count) == [(2,)]
    assert sorted(warehouse.query(sample), key=str) == [(1, 1, 2), (None, 3, 1)]
    assert rule.description.startswith("(a, b) is unique and never NULL")


def test_markdown_preview_cells_are_escaped_cut_and_null_marked():
    text = markdown_table(["a", "b"], [("x|y\nz", None), ("w" * 60, 3)])
    lines = text.splitlines()
    assert lines[:2] == ["| a | b |", "|---|---|"]
    assert lines[2] == "| x\\|y z | NULL |"
    assert lines[3].startswith("| " + "w" * 39 + "… | 3")
    assert markdown_table(["a"], []) == "_no rows_"


def test_a_wide_preview_shows_records_and_a_narrow_one_a_table():
    narrow = preview_markdown(["a", "b"], [(1, 2)])
    assert narrow.splitlines()[0] == "| a | b |"
    columns = [f"c{i}" for i in range(WIDE_COLUMNS + 1)]
    rows = [tuple(range(len(columns))), tuple("x" * len(columns))] * WIDE_PREVIEW_ROWS
    wide = preview_markdown(columns, rows)
    assert wide.count("**row ") == WIDE_PREVIEW_ROWS
    blocks = wide.split("\n\n")
    assert blocks[0] == "**row 1**"
    assert blocks[1].splitlines()[2] == "| c0 | 0 |"
    assert max(len(line.split(" | ")) for line in wide.splitlines() if "|" in line) == 2


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, server_home):
    """A load of the synthetic dataset recorded in a DAGSTER_HOME with the project's yaml:
    the warehouse, the data folder, and every materialization by asset and partition."""
    home = tmp_path_factory.mktemp("dagster-home")
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    data = write_dataset(tmp_path_factory.mktemp("metadata-data"))
    warehouse = PostgresWarehouse(url=embedded.ensure_running(server_home, "metadata_test"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        report = run_load(definitions_for(warehouse, data), str(data))
        assert report.ok, report.failures
        instance = DagsterInstance.get()
        events = {
            name: [
                record.asset_materialization
                for record in instance.fetch_materializations(AssetKey(name), limit=1000).records
            ]
            for name in SPECS
        }
    return warehouse, data, events


@pytest.fixture(scope="module")
def materialized(recorded):
    """The warehouse and, per asset, the metadata of its latest materialization."""
    warehouse, _, events = recorded
    return warehouse, {
        name: materializations[0].metadata for name, materializations in events.items()
    }


def test_every_materialization_shows_size_shape_lineage_and_a_preview(materialized):
    warehouse, metadata = materialized
    for name, values in metadata.items():
        table = TABLES[name]
        (rows,) = warehouse.query(sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(name)))[
            0
        ]
        assert rows > 0, name
        assert values["dagster/row_count"].value == rows, name
        assert values["dagster/table_name"].value == f"public.{name}"
        schema = values["dagster/column_schema"].value
        assert [(c.name, c.type) for c in schema.columns] == [
            (c.name, c.type) for c in table.columns
        ]
        preview = values["preview"].value.splitlines()
        value = values["preview"].value
        if table.window_column:  # a multi-day run: the preview says it is the run's, not a day's
            assert preview[0].startswith("_First rows of the run's days 2018-11-01 .. ")
            preview = preview[2:]
            value = value.split("\n\n", 1)[1]
        shown = min(rows, PREVIEW_ROWS)
        if len(table.columns) <= WIDE_COLUMNS:
            assert preview[0] == "| " + " | ".join(table.column_names) + " |"
            assert len(preview) == 2 + shown
        else:  # records of two columns, so it never runs off the page
            records = value.split("**row ")[1:]
            assert len(records) == min(shown, WIDE_PREVIEW_ROWS)
            for record in records:
                lines = record.strip().splitlines()[2:]
                assert lines[0] == "| column | value |"
                names = [line.split(" | ")[0][2:] for line in lines[2:]]
                assert names == list(table.column_names)
        if GROUPS[name] != "staging":
            lineage = values["dagster/column_lineage"].value
            assert {
                column: {(dep.asset_key.to_user_string(), dep.column_name) for dep in deps}
                for column, deps in lineage.deps_by_column.items()
            } == {column: set(deps) for column, deps in table.column_lineage.items()}
            assert values["build_seconds"].value >= 0


def _records_per_day(data) -> dict[str, int]:
    """Each day file's records, counted from the file itself (non-blank lines)."""
    return {
        path.name[:10]: sum(1 for line in path.read_bytes().splitlines() if line.strip())
        for path in (data / "log_data").rglob("*-events.json")
    }


def test_a_multi_day_run_records_each_partitions_own_figures(recorded):
    warehouse, data, events = recorded
    records = _records_per_day(data)
    day_rows = {
        "staging_events": "SELECT event_date, COUNT(*) FROM staging_events GROUP BY 1",
        "songplays": "SELECT CAST(start_time AS DATE), COUNT(*) FROM songplays GROUP BY 1",
    }
    for name, statement in day_rows.items():
        rows = {day.isoformat(): count for day, count in warehouse.query(statement)}
        assert len(set(rows.values())) > 1, "the days must differ for this test to mean anything"
        by_partition = {event.partition: event.metadata for event in events[name]}
        assert sorted(by_partition) == sorted(records)  # one materialization per day of the run
        for day, metadata in by_partition.items():
            assert metadata["dagster/partition_row_count"].value == rows.get(day, 0), (name, day)
            assert metadata["dagster/row_count"].value == sum(rows.values())  # the table's
    plays = dict(
        warehouse.query(
            "SELECT CAST(start_time AS DATE), COUNT(DISTINCT user_id) FROM songplays GROUP BY 1"
        )
    )
    for event in events["songplays"]:  # the table's own figures, per day too
        day = date.fromisoformat(event.partition)
        assert event.metadata["plays"].value == event.metadata["dagster/partition_row_count"].value
        assert event.metadata["listeners"].value == plays[day], event.partition
    for day, metadata in ((e.partition, e.metadata) for e in events["staging_events"]):
        assert metadata["records_read"].value == records[day], day
        assert metadata["rows_loaded"].value == metadata["dagster/partition_row_count"].value
        assert metadata["records_rejected"].value == 0 and metadata["files"].value == 1
        # The run's totals are there too, named as the run's.
        assert metadata["run_records_read"].value == sum(records.values())
        assert metadata["run_days"].value.startswith("2018-11-01 .. ")
    assert "dagster/partition_row_count" not in events["users"][0].metadata


def test_staging_reports_load_timings_and_rejects(materialized):
    _, metadata = materialized
    for name in ("staging_events", "staging_songs"):
        values = metadata[name]
        assert values["records_rejected"].value == 0
        assert values["records_read"].value == values["rows_loaded"].value
        assert values["load_seconds"].value > 0


def test_every_analytics_asset_shows_its_answer_as_markdown(materialized):
    warehouse, metadata = materialized
    for table in ANALYTICS_TABLES:
        highlights = metadata[table.name]["highlights"].value.splitlines()
        assert highlights[0].startswith("| ") and highlights[1].startswith("|---")
        assert len(highlights) > 2
    (changed,) = warehouse.query("SELECT COUNT(*) FROM level_changes")[0]
    assert (
        metadata["level_changes"]["highlights"].value.splitlines()[2].startswith(f"| {changed} |")
    )


def test_figures_are_numbers_dagster_can_plot(recorded, materialized):
    warehouse, metadata = materialized
    latest_day = recorded[2]["songplays"][0].partition
    ints, floats = IntMetadataValue, FloatMetadataValue
    staging = metadata["staging_events"]
    for name, kind in (
        ("records_read", ints),
        ("rows_loaded", ints),
        ("records_rejected", ints),
        ("reject_share", floats),
        ("load_seconds", floats),
    ):
        assert isinstance(staging[name], kind), name
    assert staging["reject_share"].value == 0.0

    plays = metadata["songplays"]  # the latest partition's: its own day's figures
    ((count, matched, listeners),) = warehouse.query(
        "SELECT COUNT(*), COUNT(song_id), COUNT(DISTINCT user_id) FROM songplays "
        "WHERE CAST(start_time AS DATE) = %s",
        (latest_day,),
    )
    assert isinstance(plays["plays"], ints) and plays["plays"].value == count
    assert isinstance(plays["listeners"], ints) and plays["listeners"].value == listeners
    assert isinstance(plays["share_matched"], floats)
    assert plays["share_matched"].value == pytest.approx(matched / count, abs=1e-4)
    assert 0 < plays["share_matched"].value < 1  # the day has matched and unmatched plays
    ((count, listeners),) = warehouse.query(
        "SELECT COUNT(*), COUNT(DISTINCT user_id) FROM songplays"
    )

    total = metadata["plays_by_level"]["total_plays"]
    assert isinstance(total, ints) and total.value == count
    recent = metadata["recent_plays"]["listeners"]
    assert isinstance(recent, ints) and recent.value == listeners
    for table in (*STAR_TABLES, *ANALYTICS_TABLES):
        assert isinstance(metadata[table.name]["build_seconds"], floats), table.name


def test_the_per_day_figures_query_is_postgres_and_redshift_sql():
    window = (date(2018, 11, 1), date(2018, 11, 3))
    for table in (STAGING_EVENTS, SONGPLAYS):
        text = render.to_text(render.counts_by_day(table, "public", window))
        assert sqlglot.parse_one(text, read="redshift") is not None
        assert "GROUP BY 1" in text and "DISTINCT ON" not in text


def test_a_days_run_counts_its_day_not_the_whole_history(recorded):
    warehouse, data, events = recorded
    day = events["songplays"][0].partition
    instance = DagsterInstance.ephemeral()
    job = definitions_for(warehouse, data).resolve_job_def("load_day")
    assert job.execute_in_process(instance=instance, partition_key=day).success
    (plays,) = warehouse.query(
        f"SELECT COUNT(*) FROM songplays WHERE CAST(start_time AS DATE) = '{day}'"
    )[0]
    (users,) = warehouse.query("SELECT COUNT(*) FROM users")[0]
    songplays = instance.fetch_materializations(AssetKey("songplays"), limit=1).records[0]
    metadata = songplays.asset_materialization.metadata
    assert metadata["dagster/partition_row_count"].value == plays
    assert "dagster/row_count" not in metadata  # that would read every day of the table
    users_run = instance.fetch_materializations(AssetKey("users"), limit=1).records[0]
    assert users_run.asset_materialization.metadata["dagster/row_count"].value == users
