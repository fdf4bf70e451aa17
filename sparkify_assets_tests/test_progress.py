"""Live progress on a terminal (a real pseudo-terminal), and where `sparkify load` records runs."""

import os
import pty
import re
import subprocess
import sys

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from sparkify_assets.cli.load import run_load
from sparkify_assets.core import settings

from .conftest import REPO, definitions_for

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(*args: str, **env: str) -> list[str]:
    """`sparkify ARGS` with stdout on a pseudo-terminal; its output lines, escapes removed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "sparkify_assets.cli.main", *args],
        stdout=follower,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm", **env},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end is closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=600) == 0, b"".join(chunks).decode()[-3000:]
    text = ANSI.sub("", b"".join(chunks).decode(errors="replace")).replace("\r", "\n")
    return [line.rstrip() for line in text.splitlines() if line.strip()]


@pytest.mark.slow
def test_a_terminal_gets_a_line_per_day_and_per_step_after_the_header(small_data, database_url):
    env = {"SPARKIFY_WAREHOUSE_URL": database_url, "SPARKIFY_DATA_URI": str(small_data)}
    lines = on_terminal("load", **env)
    assert lines[0].startswith("run ") and "days 2018-11-01 .. 2018-11-02" in lines[0]
    for day in ("2018-11-01", "2018-11-02"):
        assert any(
            re.fullmatch(rf"\s+staging_events\s+{day}\s+[\d,]+ rows\s+[\d.]+ s", line)
            for line in lines
        ), day
    for step, days in (("staging_events", "2 days"), ("songplays", "2 days"), ("users", "")):
        pattern = rf"\s+{step}\s+{days}\s+[\d,]+ rows\s+[\d.]+ s"
        assert any(re.fullmatch(pattern, line) for line in lines), (step, lines)
    assert lines[-1] == "load succeeded"

    quiet = on_terminal("load", "--quiet", **env)
    assert not any(" rows " in line for line in quiet)

    verbose = on_terminal("load", "--verbose", **env)
    assert any(" - INFO - " in line for line in verbose)
    assert not any(" - DEBUG - " in line for line in verbose)


@pytest.mark.slow
def test_without_dagster_home_a_load_records_into_the_projects_dagster_home(
    monkeypatch, tmp_path, warehouse, bundled_sample
):
    assert settings.dagster_home() != REPO / "dagster_home"  # the suite's own, set in conftest
    monkeypatch.delenv("DAGSTER_HOME")
    assert settings.dagster_home() == REPO / "dagster_home"  # what README's `dagster dev` uses
    readme = (REPO / "README.md").read_text()
    assert 'DAGSTER_HOME="$PWD/dagster_home" dg dev' in readme

    project = tmp_path / "project"  # a checkout elsewhere, so the real one stays untouched
    (project / "dagster_home").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    (project / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setattr(settings, "PROJECT_ROOT", project)
    report = run_load(definitions_for(warehouse, bundled_sample), str(bundled_sample))
    assert report.ok
    with DagsterInstance.from_config(str(project / "dagster_home")) as instance:
        (run,) = instance.get_runs()
        assert run.run_id == report.run_id and run.status == DagsterRunStatus.SUCCESS

    installed = tmp_path / "installed"  # no checkout: ./dagster_home, made with telemetry off
    installed.mkdir()
    monkeypatch.setattr(settings, "PROJECT_ROOT", installed)
    monkeypatch.chdir(installed)
    assert settings.dagster_home() == installed / "dagster_home"
