"""Run-failure alerts: a real failed run, the real sensor, and a Slack stand-in on loopback."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, build_run_status_sensor_context

from sparkify_assets.defs.alerts import AlertError, FailureAlerts, run_failure_alert
from sparkify_assets.defs.resources import alerts_resource
from sparkify_assets_tests.conftest import definitions_for

SECRET = "hunter2-in-the-path"
# A partition whose file is missing: the copy of the bundled sample below lacks it (the
# partitions end with the bundled sample's last day, so a later day is no partition at all).
MISSING_DAY = "2018-11-30"


class SlackStandIn:
    """An HTTP server on 127.0.0.1 that records what is posted to it, answering ``status``."""

    def __init__(self, status: int = 200, reply: bytes = b"ok"):
        self.received: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                kind = self.headers.get("Content-Type", "")
                if "json" in kind:
                    stand_in.received.append({"path": self.path, **json.loads(body)})
                else:  # slack_sdk posts form fields
                    from urllib.parse import parse_qsl

                    stand_in.received.append({"path": self.path, **dict(parse_qsl(body.decode()))})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack():
    stand_in = SlackStandIn(reply=b'{"ok": true}')
    yield stand_in
    stand_in.close()


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory, bundled_sample_module, server_home):
    """A load_day run that failed (no log file for its day), from a folder whose path holds a
    secret: the error quotes the path, so the alert must mask it."""
    from sparkify_assets.warehouse import embedded
    from sparkify_assets.warehouse.postgres import PostgresWarehouse

    folder = tmp_path_factory.mktemp("alerts") / f"data-{SECRET}"
    shutil.copytree(bundled_sample_module, folder)
    (folder / "log_data" / "2018" / "11" / f"{MISSING_DAY}-events.json").unlink()
    warehouse = PostgresWarehouse(url=embedded.ensure_running(server_home, "alerts_test"))
    instance = DagsterInstance.ephemeral()
    defs = definitions_for(warehouse, folder)
    # Songs first, so the day's dimension checks pass and only the missing day fails.
    defs.resolve_job_def("refresh_songs").execute_in_process(
        instance=instance, asset_selection=[AssetKey("staging_songs")]
    )
    result = defs.resolve_job_def("load_day").execute_in_process(
        instance=instance, partition_key=MISSING_DAY, raise_on_error=False
    )
    assert not result.success
    yield instance, result.dagster_run
    instance.dispose()


@pytest.fixture(scope="module")
def bundled_sample_module():
    from sparkify_assets.core.settings import BUNDLED_SAMPLE

    return BUNDLED_SAMPLE


def evaluate(failed_run, alerts: FailureAlerts):
    instance, run = failed_run
    (failure,) = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_event=failure.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    return run_failure_alert(context, alerts=alerts)


def test_the_sensor_is_on_by_default():
    assert run_failure_alert.default_status.value == "RUNNING"


def test_a_failed_run_is_posted_to_the_webhook(failed_run, slack, monkeypatch):
    monkeypatch.setenv("SPARKIFY_TEST_SECRET", SECRET)  # masked as every known secret is
    evaluate(failed_run, FailureAlerts(webhook_url=slack.url + "/services/T0/B0/x"))

    (message,) = slack.received
    text = message["text"]
    run = failed_run[1]
    assert message["path"] == "/services/T0/B0/x"
    assert f"run {run.run_id} of job load_day failed" in text
    assert f"Partition: {MISSING_DAY}" in text
    assert "Failed steps: staging_events\n" in text
    assert f"First error: no log file for {MISSING_DAY} under " in text
    assert text.rstrip().endswith("/log_data")
    assert SECRET not in text and "***" in text


def test_token_and_channel_post_through_dagster_slack(failed_run, slack, monkeypatch):
    dagster_slack = pytest.importorskip("dagster_slack")
    from slack_sdk import WebClient

    monkeypatch.setattr(
        dagster_slack.SlackResource,
        "get_client",
        lambda resource: WebClient(resource.token, base_url=slack.url + "/api/"),
    )
    evaluate(failed_run, FailureAlerts(slack_token="xoxb-test-token", slack_channel="#data"))

    (message,) = slack.received
    assert message["path"] == "/api/chat.postMessage" and message["channel"] == "#data"
    assert "Failed steps: staging_events" in message["text"]


def test_a_refused_alert_fails_the_tick_without_showing_the_url(failed_run):
    refusing = SlackStandIn(status=404, reply=b"no_service")
    try:
        url = refusing.url + "/services/T0/B0/secret-path"
        with pytest.raises(AlertError) as raised:
            evaluate(failed_run, FailureAlerts(webhook_url=url))
    finally:
        refusing.close()
    assert str(raised.value) == "the Slack webhook refused the alert: HTTP 404"


def test_without_slack_settings_the_alert_is_only_logged(failed_run, capfd):
    alerts = FailureAlerts()
    assert alerts.destination() == "log"
    evaluate(failed_run, alerts)
    logged = capfd.readouterr().err
    assert "WARNING - Sparkify run" in logged and "Failed steps: staging_events" in logged
    assert "alert sent to log" in logged


def test_the_environment_chooses_the_destination(monkeypatch):
    monkeypatch.setenv("SPARKIFY_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    resource = alerts_resource()
    assert type(resource.webhook_url).__name__ == "EnvVar"  # resolved at run time, never shown
    monkeypatch.delenv("SPARKIFY_SLACK_WEBHOOK_URL")
    monkeypatch.setenv("SPARKIFY_SLACK_TOKEN", "xoxb-1")
    monkeypatch.setenv("SPARKIFY_SLACK_CHANNEL", "#data")
    assert alerts_resource().slack_channel == "#data"
