"""``dagster dev`` as a user starts it: its GraphQL answer, and the lineage page in a real browser.

One ``dagster dev`` serves the whole module, on a free loopback port, with a temporary
DAGSTER_HOME holding the project's dagster.yaml. It is stopped with SIGTERM: a background dagster
ignores SIGINT when its parent did and copies that disposition to SIGTERM, so the child restores
SIGINT to the default first; it runs in its own process group, which is killed at the end so no
code server or daemon is left behind.

Jobs, schedules and sensors are compared with whatever the code location defines, so the test
covers new ones as they land.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pytest
from dagster import DagsterInstance

from sparkify_assets.warehouse import embedded

from .conftest import REPO
from .location_snapshot import reviewed

# A real `dagster dev` and browser take a minute: left out of the quick start's `pytest`.
pytestmark = pytest.mark.slow

STARTUP_SECONDS = 180  # generous: CI machines are small and the code location imports dagster
STOP_SECONDS = 60
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Every asset with its group, kinds and deps, as the reviewed snapshot has them.
ASSETS = reviewed()["assets"]

ASSETS_QUERY = """{
  assetNodes {
    assetKey { path }
    groupName
    kinds
    owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
    internalFreshnessPolicy {
      __typename
      ... on CronFreshnessPolicy { deadlineCron lowerBoundDeltaSeconds timezone }
    }
  }
}"""
REPOSITORY_QUERY = """{
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes { name jobs { name } schedules { name } sensors { name sensorState { status } } }
    }
  }
  shouldShowNux
}"""
LOCATION_QUERY = """{
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}"""


RESOURCES_QUERY = """{
  allTopLevelResourceDetailsOrError(
    repositorySelector: {repositoryLocationName: "%s", repositoryName: "%s"}
  ) {
    __typename
    ... on ResourceDetailsList {
      results { name configFields { name } configuredValues { key value type } }
    }
  }
}"""
# What an operator exports for Redshift: the UI must show it (and not the password's value).
REDSHIFT_PASSWORD = "Ui-Hidden-Pa55word-" + str(os.getpid())
REDSHIFT_ENV = {
    "SPARKIFY_CLUSTER_ID": "sparkify-prod",
    "REDSHIFT_DATABASE": "warehouse",
    "REDSHIFT_USER": "sparkify_loader",
    "AWS_REGION": "eu-west-1",
    "REDSHIFT_IAM_ROLE_ARN": "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read",
    "SPARKIFY_LOG_JSONPATH": "s3://sparkify-config/log_json_path.json",
    "REDSHIFT_AUTH": "iam",
    "REDSHIFT_PASSWORD": REDSHIFT_PASSWORD,
}


@dataclass
class DagsterDev:
    url: str
    home: Path

    def graphql(self, query: str) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        assert not answer.get("errors"), answer["errors"]
        return answer["data"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _log_tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:])


def _wait_until_loaded(ui: DagsterDev, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster dev exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            entries = ui.graphql(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            entries = []
        for entry in entries:
            if entry["loadStatus"] == "LOADED":
                location = entry["locationOrLoadError"]
                if location["__typename"] == "PythonError":
                    pytest.fail(f"code location {entry['name']} failed: {location['message']}")
                return
        time.sleep(0.5)
    pytest.fail(f"dagster dev not ready after {STARTUP_SECONDS} s:\n{_log_tail(log)}")


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen) -> bool:
    """SIGTERM the process group; SIGKILL what is left. True when SIGTERM sufficed."""
    group = process.pid  # start_new_session: the leader's pid is the group id
    if _group_alive(group):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    while _group_alive(group) and time.monotonic() < deadline:
        time.sleep(0.2)  # the code server and daemon leave after their parent
    stopped = not _group_alive(group)
    if not stopped:
        os.killpg(group, signal.SIGKILL)
        process.wait(timeout=10)
    return stopped


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster-dev-home")
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    sparkify_home = home / "sparkify"  # in case a sensor's run starts a warehouse
    port = _free_port()
    env = dict(
        os.environ,
        **REDSHIFT_ENV,
        DAGSTER_HOME=str(home),
        SPARKIFY_HOME=str(sparkify_home),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    log = home / "dagster-dev.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                str(REPO / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
    ui = DagsterDev(f"http://127.0.0.1:{port}", home)
    try:
        _wait_until_loaded(ui, process, log)
        yield ui
    finally:
        stopped_by_sigterm = _stop(process)
        embedded.stop(sparkify_home)
    assert stopped_by_sigterm, f"dagster dev ignored SIGTERM:\n{_log_tail(log)}"


@pytest.fixture(scope="module")
def asset_nodes(dagster_dev) -> dict[str, dict]:
    nodes = dagster_dev.graphql(ASSETS_QUERY)["assetNodes"]
    return {"/".join(node["assetKey"]["path"]): node for node in nodes}


def test_ui_shows_every_asset_with_its_group_kinds_and_owner(asset_nodes):
    assert set(asset_nodes) == set(ASSETS)
    for name, node in asset_nodes.items():
        assert node["groupName"] == ASSETS[name]["group"], name
        assert sorted(node["kinds"]) == ASSETS[name]["kinds"], name
        assert node["owners"] == [{"team": "data-platform"}], name


def test_ui_shows_the_dependencies(asset_nodes):
    upstream = {
        name: sorted("/".join(key["path"]) for key in node["dependencyKeys"])
        for name, node in asset_nodes.items()
    }
    assert upstream == {name: asset["deps"] for name, asset in ASSETS.items()}


def test_ui_shows_the_checks_of_every_star_table(asset_nodes):
    checks = {
        name: {check["name"] for check in node["assetChecksOrError"].get("checks", [])}
        for name, node in asset_nodes.items()
    }
    defined: dict[str, set[str]] = {name: set() for name in asset_nodes}
    for check in reviewed()["checks"]:
        asset, name = check.split(":")
        defined[asset].add(name)
    assert checks == defined


def test_ui_shows_every_job_schedule_and_sensor_of_the_code_location(dagster_dev):
    answer = dagster_dev.graphql(REPOSITORY_QUERY)
    (repository,) = answer["repositoriesOrError"]["nodes"]
    shown = {
        kind: {item["name"] for item in repository[kind]}
        for kind in ("jobs", "schedules", "sensors")
    }
    snapshot = reviewed()
    assert set(snapshot["jobs"]) <= shown["jobs"]
    assert set(snapshot["schedules"]) == shown["schedules"]
    assert set(snapshot["sensors"]) == shown["sensors"]


def test_ui_shows_the_daily_deadline_on_what_the_daily_run_builds(asset_nodes):
    policies = {name: node["internalFreshnessPolicy"] for name, node in asset_nodes.items()}
    for name in ("staging_songs", "songs", "artists"):  # change with song files: no calendar
        assert policies.pop(name) is None, name
    expected = {
        "__typename": "CronFreshnessPolicy",
        "deadlineCron": "0 3 * * *",
        "lowerBoundDeltaSeconds": 3 * 3600,
        "timezone": "UTC",
    }
    assert policies == {name: expected for name in policies}


def test_ui_shows_the_redshift_resource_configuration(dagster_dev):
    (location,) = dagster_dev.graphql(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
    (repository,) = dagster_dev.graphql(REPOSITORY_QUERY)["repositoriesOrError"]["nodes"]
    answer = dagster_dev.graphql(RESOURCES_QUERY % (location["name"], repository["name"]))
    resources = {
        resource["name"]: resource
        for resource in answer["allTopLevelResourceDetailsOrError"]["results"]
    }
    redshift = resources["redshift"]
    shown = {
        value["key"]: (value["type"], value["value"]) for value in redshift["configuredValues"]
    }
    for key, value in (
        ("cluster_identifier", "sparkify-prod"),
        ("database", "warehouse"),
        ("user", "sparkify_loader"),
        ("region", "eu-west-1"),
        ("iam_role_arn", REDSHIFT_ENV["REDSHIFT_IAM_ROLE_ARN"]),
        ("log_jsonpath", REDSHIFT_ENV["SPARKIFY_LOG_JSONPATH"]),
        ("auth", "iam"),
    ):
        assert shown[key] == ("VALUE", json.dumps(value)), key
    # The secret is shown as the variable that holds it, never its value.
    assert shown["password"] == ("ENV_VAR", "REDSHIFT_PASSWORD")
    fields = {field["name"] for field in redshift["configFields"]}
    assert {"workgroup", "namespace", "host", "port", "resume_on_demand"} <= fields
    assert REDSHIFT_PASSWORD not in json.dumps(answer)


def test_only_the_failure_alert_runs_by_default(dagster_dev):
    (repository,) = dagster_dev.graphql(REPOSITORY_QUERY)["repositoriesOrError"]["nodes"]
    running = {s["name"] for s in repository["sensors"] if s["sensorState"]["status"] == "RUNNING"}
    assert running == {"run_failure_alert"}


def test_project_dagster_yaml_turns_off_the_pop_up_and_telemetry(dagster_dev):
    assert dagster_dev.graphql(REPOSITORY_QUERY)["shouldShowNux"] is False
    instance = DagsterInstance.from_config(str(dagster_dev.home))
    assert (instance.nux_enabled, instance.telemetry_enabled) == (False, False)


# --- a real browser -----------------------------------------------------------------------------


class _TextNodes(HTMLParser):
    def __init__(self):
        super().__init__()
        self.texts: set[str] = set()

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.add(data.strip())


def _chromium(url: str, profile: Path, *action: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--window-size=2200,2200",
            # Virtual time runs ahead while the page is idle; the GraphQL fetches still happen.
            "--virtual-time-budget=20000",
            *action,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def _lineage_url(dagster_dev: DagsterDev) -> str:
    # Groups start collapsed; the page keeps the expanded ones in this query parameter.
    groups = sorted({asset["group"] for asset in ASSETS.values()})
    expanded = ",".join(f"global@global:{group}" for group in groups)
    return f"{dagster_dev.url}/asset-groups?{urlencode({'expanded': expanded})}"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_lineage_page_renders_every_asset_in_a_real_browser(dagster_dev, asset_nodes, tmp_path):
    url = _lineage_url(dagster_dev)
    dom = _chromium(url, tmp_path / "profile", "--dump-dom").stdout
    parser = _TextNodes()
    parser.feed(dom)
    assert "Global asset lineage" in parser.texts
    assert {"staging", "star", "analytics"} <= parser.texts
    assert set(asset_nodes) <= parser.texts, sorted(set(asset_nodes) - parser.texts)

    screenshot = tmp_path / "asset-lineage.png"
    _chromium(url, tmp_path / "profile", f"--screenshot={screenshot}")
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (2200, 2200)
    # A blank or error page compresses to a few kB; the drawn graph is hundreds of kB.
    assert len(png) > 150_000, f"screenshot looks empty: {screenshot}"
