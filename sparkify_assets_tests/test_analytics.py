"""Each analytics table equals the answer computed in plain Python from the same JSON files.

Datasets: one written by the test (``builders.write_dataset``: seeded, small, with the edge
cases the rules are about), the public Udacity sample and the bundled sample (each skipped when
absent). The oracle (``listening.py``) shares no SQL with the warehouse.
"""

import os
import re
from collections import Counter
from pathlib import Path

import pytest
import sqlglot
from psycopg2 import sql

from sparkify_assets.cli.load import run_load
from sparkify_assets.core.settings import BUNDLED_SAMPLE
from sparkify_assets.sql import changes, render
from sparkify_assets.sql.analytics import ANALYTICS_TABLES, TOP_N
from sparkify_assets.sql.catalog import ALL_TABLES
from sparkify_assets.sql.dialect import REDSHIFT
from sparkify_assets.warehouse import embedded
from sparkify_assets.warehouse.postgres import PostgresWarehouse

from .builders import write_dataset
from .conftest import PUBLIC_SAMPLE, definitions_for
from .listening import Listening


@pytest.fixture(scope="module", params=["written", "public", "bundled"])
def dataset(request, tmp_path_factory) -> Path:
    if request.param == "written":
        return write_dataset(tmp_path_factory.mktemp("listening"))
    root = PUBLIC_SAMPLE if request.param == "public" else BUNDLED_SAMPLE
    if not (root / "log_data").is_dir():
        pytest.skip(f"{request.param} sample not present at {root}")
    return root


@pytest.fixture(scope="module")
def loaded(dataset, server_home) -> tuple[PostgresWarehouse, Listening]:
    """The dataset loaded through Dagster (load_everything), and its oracle."""
    name = f"analytics_{os.getpid()}_{dataset.name.lower().replace('-', '_')}"
    warehouse = PostgresWarehouse(url=embedded.ensure_running(server_home, name))
    report = run_load(definitions_for(warehouse, dataset), str(dataset))
    assert report.ok, report.failures
    return warehouse, Listening(dataset)


def _rows(warehouse: PostgresWarehouse, table: str) -> list[tuple]:
    return sorted(warehouse.query(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))))


def test_written_dataset_has_the_edge_cases_the_rules_are_about(tmp_path):
    oracle = Listening(write_dataset(tmp_path))

    ranks = oracle.top_songs()
    ranked = Counter((period, start, rank) for period, start, rank, *_ in ranks)
    assert any(copies > 1 for copies in ranked.values())  # songs tied for a rank
    assert any(rank == TOP_N for _, _, rank in ranked)  # periods with more songs than kept
    assert {play.song_id for play in oracle.plays} >= {"SOTWIN0001", "SOTWIN0002", None}
    changes = oracle.level_changes()
    assert any(row[6] and row[7] for row in changes)  # a user who went up and back down
    weeks = {start for period, start, *_ in ranks if period == "week"}  # Thursday to Monday
    assert len(weeks) == 3
    assert max(len(plays) for plays in oracle.by_user().values()) > TOP_N


@pytest.mark.parametrize("table", [table.name for table in ANALYTICS_TABLES])
def test_analytics_table_equals_the_answer_computed_in_python(loaded, table):
    warehouse, oracle = loaded
    expected = getattr(oracle, table)()  # one oracle function per analytics table
    assert _rows(warehouse, table) == expected


@pytest.mark.parametrize("table", ANALYTICS_TABLES, ids=lambda table: table.name)
def test_analytics_sql_is_redshift_sql_too(table):
    statements = [
        # What a build runs: whole, and for a scope.
        *changes.replace_all(table, ALL_TABLES, "sparkify", "batch", REDSHIFT),
        *changes.fill_scope(table, "sparkify"),
        *changes.replace_scope(table, ALL_TABLES, "sparkify", "batch"),
        render.query(table.highlights, "sparkify"),
        render.create_table(table, "sparkify", REDSHIFT),
    ]
    for text in map(render.to_text, statements):
        assert sqlglot.parse_one(text, read="redshift") is not None
        assert not re.search(r"DISTINCT\s+ON|FILTER\s*\(|::", text, re.IGNORECASE)
