"""`sparkify sql`: every statement of a deployment, parsed by sqlglot as Redshift or PostgreSQL."""

import json
import re
from datetime import date
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from sparkify_assets.cli import main as cli
from sparkify_assets.contract.records import EVENT_FIELDS
from sparkify_assets.core.redact import redact
from sparkify_assets.sql.catalog import BUILT_TABLES, TABLES
from sparkify_assets.sql.checks import RULES
from sparkify_assets.sql.redshift_load import max_errors_for
from sparkify_assets.warehouse.redshift import redshift_warehouse_from_env
from sparkify_assets.warehouse.script import deployment_sql

ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read"
JSONPATHS = "s3://sparkify-config/log_json_path.json"
PASSWORD = "Velvet-Comet-3309"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SHIPPED_JSONPATHS = Path(cli.__file__).parents[1] / "sql" / "log_json_path.json"
# sqlglot has no grammar for LOCK, so it keeps it as an opaque command: check its shape instead.
LOCK = re.compile(r'^LOCK "\w+"\."\w+"(, "\w+"\."\w+")*$')


@pytest.fixture
def redshift_env(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "SPARKIFY_DATA_URI": "s3://sparkify-data/raw",
        "REDSHIFT_IAM_ROLE_ARN": ROLE,
        "AWS_REGION": "us-west-2",
        "SPARKIFY_LOG_JSONPATH": JSONPATHS,
        "REDSHIFT_PASSWORD": PASSWORD,
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    for name in ("REDSHIFT_HOST", "REDSHIFT_USER", "SPARKIFY_MAX_REJECT_SHARE"):
        monkeypatch.delenv(name, raising=False)


def run_sql(capsys, *args: str) -> str:
    code = cli.main(["sql", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def redshift_statements(keys_by_day=None) -> list[str]:
    warehouse = redshift_warehouse_from_env(require_connection=False)
    keys = keys_by_day or {date(2018, 11, 1): ["log_data/2018/11/2018-11-01-events.json"]}
    sections = deployment_sql(warehouse, "s3://sparkify-data/raw", keys)
    return [statement for section in sections for statement in section.statements]


def parse_redshift(text: str) -> exp.Expression:
    expressions = [e for e in sqlglot.parse(text, read="redshift") if e is not None]
    assert len(expressions) == 1, text
    return expressions[0]


def test_every_printed_statement_parses_as_redshift(redshift_env, capsys) -> None:
    output = run_sql(capsys, "--target", "redshift", "--days", "2018-11-01..2018-11-03")

    statements = redshift_statements()
    kinds = set()
    for text in statements:
        assert text.endswith(";")
        expression = parse_redshift(text)
        kinds.add(type(expression).__name__)
        if isinstance(expression, exp.Command):
            assert LOCK.match(expression.sql("redshift")), text
    assert kinds >= {"Create", "Copy", "Insert", "Delete", "Select", "Set", "Drop", "Commit"}
    # The whole printout is the same statements, one script, and parses as such too.
    parsed = [e for e in sqlglot.parse(output, read="redshift") if e is not None]
    assert sum(isinstance(e, exp.Copy) for e in parsed) == 3 + 1, "three days, then the songs"
    # Statements end a line with ";" (comments on columns may hold one mid-line).
    assert len(re.findall(r";$", output, flags=re.MULTILINE)) == len(parsed)


def test_sections_run_in_load_order(redshift_env, capsys) -> None:
    output = run_sql(capsys, "--target", "redshift", "--day", "2018-11-02", "--day", "2018-11-01")

    titles = re.findall(r"^-- (\S+(?: \S+)?)$", output, flags=re.MULTILINE)
    built = [table.name for table in BUILT_TABLES]
    assert titles[:4] == [
        "DDL",
        "staging_events 2018-11-01",
        "staging_events 2018-11-02",
        "staging_songs",
    ]
    checks_start = 4
    assert titles[checks_start:] == [
        f"check {rule.table}.{rule.name}" for rules in RULES.values() for rule in rules
    ]
    # Between staging and the checks: every built table's full rebuild (what `sparkify load`
    # runs), then its incremental run (what a day's run or a song refresh runs).
    sections = re.findall(r"^-- (\S+) \((.+)\)$", output, flags=re.MULTILINE)
    assert sections == [(name, "full rebuild") for name in built] + [
        (name, "incremental run for 2018-11-02, with pending changes") for name in built
    ]
    assert output.index("-- staging_songs\n") < output.index(f"-- {built[0]} (full rebuild)")
    assert output.rindex("pending changes)") < output.index("-- check ")


def test_copy_options_are_the_chosen_ones(redshift_env) -> None:
    copies = [parse_redshift(t) for t in redshift_statements() if t.startswith("COPY")]
    events, songs = copies

    def options(copy: exp.Copy) -> dict[str, str]:
        return {p.this.name: p.expression.name for p in copy.args["params"]}

    assert [f.name for f in events.args["files"]] == [
        "s3://sparkify-data/raw/log_data/2018/11/2018-11-01-events.json"
    ]
    assert events.args["credentials"].args["iam_role"].name == ROLE
    assert options(events) == {
        "FORMAT AS JSON": JSONPATHS,
        "REGION": "us-west-2",
        "MAXERROR": "100000",
        "COMPUPDATE": "OFF",
        "STATUPDATE": "OFF",
    }
    assert [f.name for f in songs.args["files"]] == ["s3://sparkify-data/raw/song_data/"]
    assert options(songs)["FORMAT AS JSON"] == "auto"


def test_maxerror_follows_the_reject_share(redshift_env, monkeypatch) -> None:
    monkeypatch.setenv("SPARKIFY_MAX_REJECT_SHARE", "0")

    (copy, _) = [t for t in redshift_statements() if t.startswith("COPY")]
    assert "\nMAXERROR 0\n" in copy
    assert (max_errors_for(0.0), max_errors_for(0.01)) == (0, 100_000)


def test_shipped_jsonpaths_follow_the_copy_column_order(redshift_env) -> None:
    paths = json.loads(SHIPPED_JSONPATHS.read_text())["jsonpaths"]
    (copy, _) = [parse_redshift(t) for t in redshift_statements() if t.startswith("COPY")]
    columns = [c.name for c in copy.this.expressions]

    assert columns == [f.column for f in EVENT_FIELDS]
    assert paths == [f"$['{f.key}']" for f in EVENT_FIELDS]


def test_shipped_jsonpaths_equal_the_public_samples(public_sample: Path) -> None:
    published = json.loads((public_sample / "log_json_path.json").read_text())
    assert json.loads(SHIPPED_JSONPATHS.read_text()) == published


def test_redshift_ddl_layout_and_sizes(redshift_env) -> None:
    creates = {
        e.this.this.name: e
        for e in map(parse_redshift, redshift_statements())
        if isinstance(e, exp.Create) and e.kind == "TABLE" and e.this.this.name in TABLES
    }
    songplays = creates["songplays"].sql("redshift")
    assert "DISTSTYLE KEY DISTKEY(start_time) SORTKEY(start_time)" in songplays
    for dimension in ("users", "songs", "artists"):
        assert "DISTSTYLE ALL" in creates[dimension].sql("redshift"), dimension

    def size(table: str, column: str) -> int:
        (definition,) = [
            c
            for c in creates[table].this.expressions
            if isinstance(c, exp.ColumnDef) and c.name == column
        ]
        return int(definition.args["kind"].expressions[0].name)

    assert size("staging_songs", "artist_name") >= 1024 > 256
    assert size("artists", "name") == size("staging_songs", "artist_name")
    assert size("songs", "title") == size("staging_songs", "title")
    assert size("songplays", "location") == size("staging_events", "location")


def test_transforms_are_the_same_sql_on_both_targets(redshift_env, capsys) -> None:
    def star_sections(target: str) -> str:
        output = run_sql(capsys, "--target", target, "--day", "2018-11-01")
        return output[output.index("-- songplays") : output.index("-- check")]

    redshift, postgres = star_sections("redshift"), star_sections("postgres")
    # What may differ: how writers are serialized, PostgreSQL's light ANALYZE after a day
    # (Redshift analyzes in the staging transaction and skips tables that barely changed), and
    # PostgreSQL's indexes, built after a full rebuild's insert (Redshift has none).
    daily = "|".join(table.name for table in BUILT_TABLES if table.window_column)
    target_only = re.compile(
        r"^(LOCK .*|SELECT pg_advisory_xact_lock.*|SET LOCAL default_statistics_target = 10|"
        rf'ANALYZE "public"\."({daily})"|'
        r'ALTER TABLE "public"\."\w+" (DROP|ADD) CONSTRAINT "\w+_pkey".*|'
        r'(DROP|CREATE) INDEX .*"\w+_brin".*|'
        r"SELECT brin_summarize_new_values.*)"
        r";\n",
        re.MULTILINE,
    )
    assert target_only.sub("", redshift) == target_only.sub("", postgres)
    assert "SET LOCAL default_statistics_target = 10;" in postgres
    assert 'ALTER TABLE "public"."songplays" DROP CONSTRAINT "songplays_pkey";' in postgres
    assert "DROP CONSTRAINT" not in redshift and "DROP INDEX" not in redshift
    for text in sqlglot.parse(postgres, read="postgres"):
        assert not isinstance(text, exp.Command)


def test_postgres_target_prints_copy_from_stdin(redshift_env, capsys) -> None:
    output = run_sql(capsys, "--target", "postgres", "--day", "2018-11-01")

    staging = output[output.index("-- staging_events") : output.index("-- staging_songs")]
    assert 'COPY "public"."staging_events" (' in staging and ") FROM STDIN;" in staging
    lock = "SELECT pg_advisory_xact_lock(hashtext('sparkify:staging_events:2018-11-01'));"
    assert lock in staging


def test_days_come_from_the_source_when_not_given(tmp_path: Path, monkeypatch, capsys) -> None:
    for day in ("2018-11-03", "2018-11-05"):
        path = tmp_path / "log_data" / "2018" / "11" / f"{day}-events.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    (tmp_path / "song_data").mkdir()
    monkeypatch.setenv("SPARKIFY_DATA_URI", str(tmp_path))

    output = run_sql(capsys, "--target", "postgres")

    assert re.findall(r"^-- staging_events (\S+)$", output, re.MULTILINE) == [
        "2018-11-03",
        "2018-11-05",
    ]
    assert "-- songplays (incremental run for 2018-11-05, with pending changes)" in output


def test_secrets_are_never_printed(redshift_env, monkeypatch, capsys) -> None:
    # Put the AWS secret where it would be printed: the masking must catch it.
    monkeypatch.setenv("SPARKIFY_DATA_URI", f"s3://sparkify-data/{AWS_SECRET}")

    output = run_sql(capsys, "--target", "redshift", "--day", "2018-11-01")

    assert "s3://sparkify-data/***/log_data/2018/11/2018-11-01-events.json" in output
    assert AWS_SECRET not in output and PASSWORD not in output
    assert ROLE in output, "an IAM role ARN is not a secret"
    assert redact(f"password {PASSWORD}") == "password ***"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SPARKIFY_DATA_URI": "/data/sparkify"}, "SPARKIFY_DATA_URI must be s3://bucket/prefix"),
        ({"REDSHIFT_IAM_ROLE_ARN": "sparkify-role"}, "is not an IAM role ARN"),
        ({"SPARKIFY_LOG_JSONPATH": "/tmp/x.json"}, "SPARKIFY_LOG_JSONPATH must be an s3:// URI"),
        (
            {"REDSHIFT_LOAD_ERRORS_VIEW": "stv_nope"},
            "REDSHIFT_LOAD_ERRORS_VIEW must be one of sys_load_error_detail, stl_load_errors",
        ),
    ],
)
def test_bad_configuration_is_a_one_line_error(
    redshift_env, monkeypatch, capsys, change: dict, message: str
) -> None:
    for name, value in change.items():
        monkeypatch.setenv(name, value)

    code = cli.main(["sql", "--target", "redshift", "--day", "2018-11-01"])

    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("sparkify: ") and message in err and err.count("\n") == 1


def test_unset_copy_settings_print_as_named_placeholders(monkeypatch, capsys) -> None:
    for name in (
        "AWS_REGION",
        "REDSHIFT_IAM_ROLE_ARN",
        "SPARKIFY_LOG_JSONPATH",
        "SPARKIFY_DATA_URI",
        "REDSHIFT_HOST",
        "REDSHIFT_USER",
        "REDSHIFT_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)

    code = cli.main(["sql", "--target", "redshift", "--day", "2018-11-01"])

    out, err = capsys.readouterr()
    assert code == 0
    assert "REGION 'set-AWS_REGION'" in out and "set-REDSHIFT_IAM_ROLE_ARN" in out
    assert "not set, shown as placeholders" in err and "AWS_REGION" in err


def _day_section(output: str, day: str) -> str:
    start = output.index(f"-- staging_events {day}\n")
    return output[start : output.index("\n\n-- ", start)]


def test_sql_prints_every_statement_of_both_paths_of_a_load(redshift_env, capsys) -> None:
    """The audit's item 7: the per-file load_audit writes and the failure path are printed."""
    output = run_sql(capsys, "--target", "redshift", "--days", "2018-11-01..2018-11-02")

    for day in ("2018-11-01", "2018-11-02"):
        section = _day_section(output, day)
        transactions = section.split("\nBEGIN;")[1:]
        copying, moving, tidying, failing = transactions
        assert "COPY" in copying and "LOCK" not in copying
        assert moving.lstrip().startswith("LOCK ")
        delete = (
            'DELETE FROM "public"."load_audit" '
            f"WHERE asset = 'staging_events' AND partition_key = '{day}';"
        )
        assert delete in moving and delete in failing
        file = f"log_data/2018/11/{day}-events.json"
        assert 'INSERT INTO "public"."load_audit"' in moving and f"'{file}', 0, 0, 0," in moving
        assert "ANALYZE" in tidying and "DROP TABLE" in tidying
        # The failure path, under a comment that says when it runs.
        before = section.split("\nBEGIN;")[3]
        assert before.rstrip().splitlines()[-1].startswith("-- only when the copy or the move")
        assert "SELECT source, line_number, reason FROM" in failing
        assert 'UPDATE "public"."load_audit" SET loaded = 0' in failing
        # Literals where the load sends literals: only the marker query reads the session.
        assert section.count("pg_backend_pid()") == 1 and "SYSDATE" in copying
        assert '"session_id" = 0 AND "start_time" >= ' in moving
    songs = output[output.index("-- staging_songs\n") :]
    assert songs.count("-- only when the copy or the move above fails") == 1
    assert 'INSERT INTO "public"."load_audit"' in songs


def test_postgres_prints_its_failure_path_too(redshift_env, capsys) -> None:
    output = run_sql(capsys, "--target", "postgres", "--day", "2018-11-01")

    section = _day_section(output, "2018-11-01")
    load, kept = section.split("\nBEGIN;")[1:]
    assert "-- only when the load above rejected more than SPARKIFY_MAX_REJECT_SHARE" in load
    assert 'COPY "public"."load_rejects"' in kept and 'COPY "public"."load_audit"' in kept
    assert 'UPDATE "public"."load_audit" SET loaded = 0' in kept
