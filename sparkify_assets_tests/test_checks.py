"""Every asset check passes on good data and fails on data built to break it.

A good two-day dataset is loaded once through Dagster. Each rule is then evaluated after SQL that
breaks exactly what it guards, inside a transaction that is rolled back, so one load serves all.
A rule without a breaking case here fails the suite: a check that cannot fail is a defect.
"""

import os

import psycopg2
import pytest
import sqlglot
from dagster import (
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    build_op_context,
    define_asset_job,
)
from psycopg2 import sql
from psycopg2.extras import LoggingConnection

from sparkify_assets.cli.load import LoadReport, check_outcomes, format_report, run_load
from sparkify_assets.core.settings import SettingsError, check_workers
from sparkify_assets.defs.assets import all_assets
from sparkify_assets.defs.checks import TABLE_CHECKS, table_checks
from sparkify_assets.defs.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from sparkify_assets.defs.partitions import daily_partitions
from sparkify_assets.sql.analytics import ANALYTICS_TABLES
from sparkify_assets.sql.catalog import TABLES
from sparkify_assets.sql.checks import RULES, WARN, Rule, count_and_sample
from sparkify_assets.sql.dialect import POSTGRES
from sparkify_assets.sql.render import to_text
from sparkify_assets.warehouse import embedded
from sparkify_assets.warehouse.postgres import PostgresWarehouse

from .builders import GOOD_DAYS, PLAYS_PER_DAY, write_good_data
from .conftest import definitions_for
from .rule_results import evaluate

DRIFT_RULE_NAMES = ("new_keys", "missing_keys")
RULE_BY_KEY = {(rule.table, rule.name): rule for rules in RULES.values() for rule in rules}
PLAY_3 = (
    115 * 4294967296 + (115 * 2654435761 + 3) % 4294967296
)  # session 115 (the 15th), item 3: user 13, song SO000003


def duplicate_and_null_key(table: str) -> list[str]:
    """Redshift does not enforce keys: drop PostgreSQL's, then add a copy and a NULL key."""
    key = TABLES[table].primary_key[0]  # of a composite key, NULL in its first column suffices
    others = ", ".join(name for name in TABLES[table].column_names if name != key)
    key_type = next(column.type for column in TABLES[table].columns if column.name == key)
    return [
        f'ALTER TABLE "{table}" DROP CONSTRAINT "{table}_pkey"',
        f'ALTER TABLE "{table}" ALTER COLUMN {key} DROP NOT NULL',
        f'INSERT INTO "{table}" SELECT * FROM "{table}" ORDER BY 1 LIMIT 1',
        f'INSERT INTO "{table}" ({key}, {others}) '
        f'SELECT CAST(NULL AS {key_type}), {others} FROM "{table}" ORDER BY 1 LIMIT 1',
    ]


# Every keyed table (star and analytics): emptied, then given a duplicate and a NULL key.
GENERIC_BREAKERS = {
    (table, rule.name): {
        "not_empty": (1, [f'DELETE FROM "{table}"'], "no rows, 0"),
        "primary_key": (2, duplicate_and_null_key(table), ", 2"),
    }[rule.name]
    for table, rules in RULES.items()
    for rule in rules
    if rule.name in ("not_empty", "primary_key")
}

# (table, rule) -> (violations, SQL that breaks it, text an offending row in the sample shows)
BREAKERS = GENERIC_BREAKERS | {
    ("staging_events", "rejects"): (
        1,
        [
            "INSERT INTO load_rejects VALUES ('staging_events', '2018-11-15', "
            "'log_data/2018/11/2018-11-15-events.json', 7, '{', 'not valid JSON', now())"
        ],
        "log_data/2018/11/2018-11-15-events.json, 7, not valid JSON",
    ),
    ("staging_events", "reconciles_with_audit"): (
        1,
        ["DELETE FROM staging_events WHERE event_date = '2018-11-15' AND line_number = 3"],
        "2018-11-15, log_data/2018/11/2018-11-15-events.json, 14, 14, 0, 13, 0",
    ),
    ("staging_events", "length_not_negative"): (
        1,
        [
            "UPDATE staging_events SET length = -1 WHERE event_date = '2018-11-16' "
            "AND line_number = 2"
        ],
        "log_data/2018/11/2018-11-16-events.json, 2, -1.0",
    ),
    ("staging_songs", "rejects"): (
        1,
        [
            "INSERT INTO load_rejects VALUES ('staging_songs', '', 'song_data/A/B/C/TRX.json', "
            "1, '[]', 'not a JSON object (got list)', now())"
        ],
        "song_data/A/B/C/TRX.json, 1, not a JSON object",
    ),
    # Two days' files with a new key (one of them twice), and a song file that lost one.
    ("staging_events", "new_keys"): (
        2,
        [
            "INSERT INTO load_drift VALUES "
            "('staging_events', '2018-11-16', 'log_data/2018/11/2018-11-16-events.json', "
            "'mood', 'unknown', 14, 1, now()), "
            "('staging_events', '2018-11-15', 'log_data/2018/11/2018-11-15-events.json', "
            "'mood', 'unknown', 3, 2, now()), "
            "('staging_events', '2018-11-16', 'log_data/2018/11/2018-11-16-events.json', "
            "'userID', 'unknown', 1, 5, now())"
        ],
        "mood, 2018-11-15, 2018-11-16, 2, 17, log_data/2018/11/2018-11-15-events.json",
    ),
    ("staging_events", "missing_keys"): (
        1,
        [
            "INSERT INTO load_drift VALUES "
            "('staging_events', '2018-11-15', 'log_data/2018/11/2018-11-15-events.json', "
            "'level', 'missing', 14, 1, now()), "
            "('staging_events', '2018-11-15', 'log_data/2018/11/2018-11-15-events.json', "
            "'mood', 'unknown', 14, 1, now())"
        ],
        "level, 2018-11-15, 2018-11-15, 1, 14, log_data/2018/11/2018-11-15-events.json",
    ),
    ("staging_songs", "new_keys"): (
        1,
        [
            "INSERT INTO load_drift VALUES ('staging_songs', '', 'song_data/A/B/C/TRX.json', "
            "'artistName', 'unknown', 1, 1, '2026-01-02 03:04:05')"
        ],
        "artistName, 2026-01-02, 2026-01-02, 1, 1, song_data/A/B/C/TRX.json",
    ),
    ("staging_songs", "missing_keys"): (
        1,
        [
            "INSERT INTO load_drift VALUES ('staging_songs', '', 'song_data/A/B/C/TRX.json', "
            "'artist_name', 'missing', 1, 1, '2026-01-02 03:04:05')"
        ],
        "artist_name, 2026-01-02, 2026-01-02, 1, 1, song_data/A/B/C/TRX.json",
    ),
    ("staging_songs", "reconciles_with_audit"): (
        1,
        [
            "INSERT INTO staging_songs (song_id, artist_id, source) "
            "VALUES ('SOEXTRA', 'AREXTRA', 'song_data/extra.json')"
        ],
        ", all files, 10, 10, 0, 11, 0",
    ),
    ("songplays", "rows_per_day_match_staging"): (
        1,
        [f"DELETE FROM songplays WHERE songplay_id = {PLAY_3}"],
        f"2018-11-15, {PLAYS_PER_DAY}, {PLAYS_PER_DAY - 1}",
    ),
    ("songplays", "start_time_in_partition_day"): (
        1,
        [
            f"UPDATE songplays SET start_time = start_time + INTERVAL '1 day' "
            f"WHERE songplay_id = {PLAY_3}"
        ],
        f"{PLAY_3}, 2018-11-16 00:03:00.123000, None",
    ),
    ("songplays", "level_is_free_or_paid"): (
        1,
        [f"UPDATE songplays SET level = 'gold' WHERE songplay_id = {PLAY_3}"],
        f"{PLAY_3}, gold",
    ),
    ("songplays", "user_id_in_users"): (
        4,
        ["DELETE FROM users WHERE user_id = 13"],
        f"{PLAY_3}, 13",
    ),
    ("songplays", "start_time_in_time"): (
        1,
        ["DELETE FROM time WHERE start_time = '2018-11-15 00:03:00.123'"],
        f"{PLAY_3}, 2018-11-15 00:03:00.123000",
    ),
    ("songplays", "song_id_in_songs"): (
        2,
        ["DELETE FROM songs WHERE song_id = 'SO000003'"],
        f"{PLAY_3}, SO000003",
    ),
    ("songplays", "artist_id_in_artists"): (
        2,
        ["DELETE FROM artists WHERE artist_id = 'AR0003'"],
        f"{PLAY_3}, AR0003",
    ),
    ("user_latest_by_day", "match_staging_events_user_days"): (
        1,
        [
            "INSERT INTO user_latest_by_day (day, user_id, ts, session_id, item_in_session) "
            "VALUES ('2018-11-15', 99, 0, 0, 0)"
        ],
        "2018-11-15, 99, 0, 1",
    ),
    ("users", "match_user_latest_by_day_user_ids"): (
        1,
        ["INSERT INTO users VALUES (99, 'Ghost', 'User', 'F', 'free')"],
        "not in user_latest_by_day, 99",
    ),
    ("users", "level_is_free_or_paid"): (
        1,
        ["UPDATE users SET level = NULL WHERE user_id = 12"],
        "12, None",
    ),
    ("songs", "duration_not_negative"): (
        1,
        ["UPDATE songs SET duration = -5 WHERE song_id = 'SO000004'"],
        "SO000004, -5.0",
    ),
    ("user_plays_by_hour", "match_songplays_hours"): (
        1,
        [f"DELETE FROM songplays WHERE songplay_id = {PLAY_3}"],
        "2018-11-15 00:00:00, 13, ",
    ),
    ("time", "match_songplays_start_times"): (
        1,
        ["INSERT INTO time (start_time) VALUES ('2018-11-20 10:00:00')"],
        "not in songplays, 2018-11-20 10:00:00",
    ),
}

WARN_RULES = {
    ("staging_events", "rejects"),
    ("staging_songs", "rejects"),
    *((table, name) for table in ("staging_events", "staging_songs") for name in DRIFT_RULE_NAMES),
    ("staging_events", "length_not_negative"),
    ("songs", "duration_not_negative"),
    ("songplays", "level_is_free_or_paid"),
    ("users", "level_is_free_or_paid"),
    # An analytics answer may be empty (no level changes this month): warn, never block.
    *((table.name, "not_empty") for table in ANALYTICS_TABLES),
}
REFERENCE_RULES = {
    ("songplays", "user_id_in_users"),
    ("songplays", "start_time_in_time"),
    ("songplays", "song_id_in_songs"),
    ("songplays", "artist_id_in_artists"),
}


@pytest.fixture(scope="module")
def good_warehouse(server_home, tmp_path_factory) -> PostgresWarehouse:
    root = write_good_data(tmp_path_factory.mktemp("good-data"))
    warehouse = PostgresWarehouse(url=embedded.ensure_running(server_home, f"checks_{os.getpid()}"))
    report = run_load(definitions_for(warehouse, root), str(root))
    assert report.ok and all(check.passed for check in report.checks), format_report(report)
    return warehouse


def test_every_rule_has_a_case_that_breaks_it():
    assert set(BREAKERS) == set(RULE_BY_KEY)


def test_severity_follows_who_broke_what():
    for key, rule in RULE_BY_KEY.items():
        if key in WARN_RULES:
            assert (rule.severity, rule.blocking) == (WARN, False), key
        elif key in REFERENCE_RULES:
            assert (rule.severity, rule.blocking, rule.after) == (
                "ERROR",
                False,
                (key[1].split("_in_")[1],),
            ), key
        else:
            assert (rule.severity, rule.blocking, rule.after) == ("ERROR", True, ()), key


@pytest.mark.parametrize("key", sorted(BREAKERS), ids="{0[0]}.{0[1]}".format)
def test_check_fails_on_data_built_to_break_it(good_warehouse, key):
    rule = RULE_BY_KEY[key]
    expected, statements, offending = BREAKERS[key]
    connection = psycopg2.connect(good_warehouse.url)
    try:
        with connection.cursor() as cursor:
            before = evaluate(rule, cursor, "public")
            for statement in statements:
                cursor.execute(statement)
            after = evaluate(rule, cursor, "public")
    finally:
        connection.rollback()  # the next case starts from the good load again
        connection.close()

    assert before.passed and before.metadata["violations"].value == 0
    assert not after.passed
    assert after.severity.value == rule.severity
    assert after.metadata["violations"].value == expected
    assert offending in after.metadata["sample"].value, after.metadata["sample"].value


def test_rules_parse_as_redshift_sql():
    for key, rule in RULE_BY_KEY.items():
        for statement in count_and_sample(rule, "sparkify"):
            parsed = sqlglot.parse_one(to_text(statement), read="redshift")  # raises if invalid
            assert isinstance(parsed, (sqlglot.exp.Select, sqlglot.exp.Union)), key


def test_checks_run_in_the_load_run_after_the_tables_they_read_and_can_fail(warehouse, tmp_path):
    root = write_good_data(tmp_path)
    defs = definitions_for(warehouse, root)
    first, last = GOOD_DAYS[0].isoformat(), GOOD_DAYS[-1].isoformat()
    result = defs.resolve_job_def("load_everything").execute_in_process(
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
        tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
    )
    assert result.success
    order = [
        (event.event_type, event.step_key)
        for event in result.all_events
        if event.event_type in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS)
    ]
    starts_integrity = order.index((DagsterEventType.STEP_START, "songplays_integrity_checks"))
    for table in ("users", "time", "songs", "artists"):
        assert order.index((DagsterEventType.STEP_SUCCESS, table)) < starts_integrity
    assert {(c.asset, c.check) for c in check_outcomes(result)} == set(RULE_BY_KEY)

    # Break the warehouse behind Dagster's back, then run only the checks against it.
    # (A play of an unknown user, not a deleted user: users' own blocking reconciliation check
    # would fail first and, as blocking checks do, hold back the checks that read users.)
    warehouse.query(f"UPDATE songplays SET user_id = 99 WHERE songplay_id = {PLAY_3} RETURNING 1")
    warehouse.query("UPDATE staging_events SET length = -2 WHERE line_number = 1 RETURNING 1")
    checks_only = Definitions(
        assets=all_assets(daily_partitions()),
        asset_checks=TABLE_CHECKS,
        resources=defs.resources,
        jobs=[define_asset_job("check_everything", AssetSelection.all_asset_checks())],
    )
    checked = checks_only.resolve_job_def("check_everything").execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False
    )
    outcomes = check_outcomes(checked)
    failed = {(c.asset, c.check): (c.severity, c.violations) for c in outcomes if not c.passed}
    assert failed == {
        ("songplays", "user_id_in_users"): ("ERROR", 1),
        # The moved play: one play short in its user's hour, and an hour of user 99 unsummarized.
        ("user_plays_by_hour", "match_songplays_hours"): ("ERROR", 2),
        ("staging_events", "length_not_negative"): ("WARN", 2),  # line 1 of both days
    }
    report = LoadReport(
        checked.run_id, GOOD_DAYS[0], GOOD_DAYS[-1], checked.success, checks=outcomes
    )
    text = format_report(report)
    assert "  FAIL  songplays.user_id_in_users  (1 violation)" in text
    assert "  WARN  staging_events.length_not_negative  (2 violations)" in text
    assert text.endswith("load FAILED")


class StatementLog(list):
    """What one connection executed: psycopg2's LoggingConnection writes each statement here."""

    def write(self, text: str) -> None:
        self.append(text.strip())


# Dagster hands a step a copy of its resource, so the logs live outside the warehouse object.
CONNECTION_LOGS: list[StatementLog] = []


class RecordingWarehouse(PostgresWarehouse):
    """The real warehouse, keeping one StatementLog per connection it opens."""

    def connect(self):
        connection = psycopg2.connect(self.dsn(), connection_factory=LoggingConnection)
        log = StatementLog()
        connection.initialize(log)
        CONNECTION_LOGS.append(log)
        return connection

    def run_check_step(self, check) -> tuple[list[tuple], list[list[str]]]:
        """One check step invoked directly: its results as plain values, and what it executed."""
        CONNECTION_LOGS.clear()
        results = [outcome(result) for result in check(build_op_context(), warehouse=self)]
        # The step's copy of the resource runs ensure_tables' DDL transaction first (its lock
        # after the wait for a migration): not a check. A worker may find no query left to
        # take, so a check connection's log can be empty.
        return results, [
            list(log) for log in CONNECTION_LOGS if "sparkify:ddl" not in "".join(log[:2])
        ]


def outcome(result) -> tuple:
    metadata = {key: value.value for key, value in result.metadata.items()}
    return result.asset_key, result.check_name, result.passed, result.severity, metadata


def rules_of(check) -> list[Rule]:
    """A check step's rules in the order RULES lists them."""
    keys = {(key.asset_key.path[0], key.name) for key in check.check_keys}
    return [rule for key, rule in RULE_BY_KEY.items() if key in keys]


def test_checks_on_two_connections_give_the_same_results_and_count_each_table_once(
    good_warehouse, monkeypatch
):
    # A user and a start time that no play has: one failing rule in each of two groups, and
    # rows_checked that differ from the good load's.
    good_warehouse.query("INSERT INTO users VALUES (99, 'Ghost', 'User', 'F', 'free') RETURNING 1")
    good_warehouse.query("INSERT INTO time (start_time) VALUES ('2018-11-20 10:00:00') RETURNING 1")
    try:
        warehouse = RecordingWarehouse(url=good_warehouse.url)
        runs = {}
        for workers in ("1", "2"):
            monkeypatch.setenv("SPARKIFY_CHECK_WORKERS", workers)
            runs[workers] = [warehouse.run_check_step(check) for check in TABLE_CHECKS]
        connection = psycopg2.connect(good_warehouse.url)
        try:
            with connection.cursor() as cursor:  # the rules one by one, each counting its table
                reference = [
                    [outcome(evaluate(rule, cursor, "public")) for rule in rules_of(check)]
                    for check in TABLE_CHECKS
                ]
        finally:
            connection.close()
        rows = {
            table: good_warehouse.query(
                sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(table))
            )[0][0]
            for table in RULES
        }
    finally:
        good_warehouse.query("DELETE FROM users WHERE user_id = 99 RETURNING 1")
        good_warehouse.query(
            "DELETE FROM time WHERE start_time = '2018-11-20 10:00:00' RETURNING 1"
        )

    sequential = [results for results, _ in runs["1"]]
    concurrent = [results for results, _ in runs["2"]]
    assert sequential == reference
    assert concurrent == reference
    assert {
        (str(asset.path[0]), name)
        for group in concurrent
        for asset, name, passed, _, _ in group
        if not passed
    } == {("users", "match_user_latest_by_day_user_ids"), ("time", "match_songplays_start_times")}
    assert all(
        metadata["rows_checked"] == rows[asset.path[0]]
        for group in concurrent
        for asset, _, _, _, metadata in group
    )

    for workers, steps in runs.items():
        for check, (results, logs) in zip(TABLE_CHECKS, steps, strict=True):
            table = results[0][0].path[0]
            # Each connection reads one snapshot, and asks first what other runs are half-way
            # through (docs/concurrency.md); the rest is the rules' own queries.
            assert all(log[0] == POSTGRES.consistent_reads[0] for log in logs if log), check
            statements = [
                statement
                for log in logs
                for statement in log[1:]
                if '"public"."pending_changes"' not in statement
            ]
            assert statements.count(f'SELECT COUNT(*) FROM "public"."{table}"') == 1, check
            assert len(statements) == len(results) + 1 + sum(  # + a sample per failing rule
                not passed for _, _, passed, _, _ in results
            ), check
            # One connection sequentially; two opened when there is more than one query to run.
            assert len(logs) == (1 if workers == "1" else 2), (workers, check)


def test_an_error_in_any_rule_fails_the_check_step(good_warehouse, monkeypatch):
    broken = Rule(
        "users",
        "reads_a_missing_table",
        "Reads a table that does not exist.",
        lambda schema, window=None: sql.SQL("SELECT 1 FROM {}").format(
            sql.Identifier(schema, "no_such_table")
        ),
    )
    check = table_checks("broken_checks", [*RULES["users"], broken])
    for workers in ("1", "2"):
        monkeypatch.setenv("SPARKIFY_CHECK_WORKERS", workers)
        with pytest.raises(psycopg2.errors.UndefinedTable, match="no_such_table"):
            list(check(build_op_context(), warehouse=good_warehouse))


@pytest.mark.parametrize("raw", ["0", "9", "two"])
def test_check_workers_outside_1_to_8_is_refused_by_name(monkeypatch, raw):
    monkeypatch.setenv("SPARKIFY_CHECK_WORKERS", raw)
    with pytest.raises(SettingsError, match=f"SPARKIFY_CHECK_WORKERS must be .*{raw!r}"):
        check_workers()
