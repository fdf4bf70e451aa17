"""Run-failure alerts: a sensor, on wherever the daemon runs, that tells someone a run failed.

The message names the run, its job (and partition), the failed steps and the first line of the
first error, masked like every error the platform shows. Where it goes:

- ``SPARKIFY_SLACK_WEBHOOK_URL`` set: posted to that Slack incoming webhook (plain HTTPS POST,
  nothing to install);
- ``SPARKIFY_SLACK_TOKEN`` and ``SPARKIFY_SLACK_CHANNEL`` set: posted with dagster-slack's client
  (``pip install -e ".[slack]"``);
- neither: written to the sensor's log, visible on the sensor's ticks in the UI.

The webhook URL and the token are secrets: they arrive as ``EnvVar`` and never appear in a log
or an error message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from dagster import (
    ConfigurableResource,
    DefaultSensorStatus,
    RunFailureSensorContext,
    run_failure_sensor,
)

from sparkify_assets.core.errors import UserError
from sparkify_assets.core.redact import redact

POST_TIMEOUT_SECONDS = 10
MAX_LINE_CHARS = 300  # one error line, not a page of SQL, in a chat message


class AlertError(UserError):
    """The alert could not be delivered; the tick fails and the next one tries the run again."""


class FailureAlerts(ConfigurableResource):
    """Where run-failure alerts go (see the module docstring); all fields optional."""

    webhook_url: str = ""
    slack_token: str = ""
    slack_channel: str = ""

    def destination(self) -> str:
        if self.webhook_url:
            return "Slack webhook"
        if self.slack_token and self.slack_channel:
            return f"Slack channel {self.slack_channel}"
        return "log"

    def send(self, text: str) -> None:
        if self.webhook_url:
            self._post_to_webhook(text)
        elif self.slack_token and self.slack_channel:
            self._post_with_token(text)

    def _post_to_webhook(self, text: str) -> None:
        request = urllib.request.Request(
            self.webhook_url,
            data=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=POST_TIMEOUT_SECONDS):
                pass
        except urllib.error.HTTPError as err:  # the URL is the secret: never in the message
            raise AlertError(f"the Slack webhook refused the alert: HTTP {err.code}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise AlertError(f"the Slack webhook is unreachable: {redact(str(reason))}") from None

    def _post_with_token(self, text: str) -> None:
        try:
            from dagster_slack import SlackResource
        except ImportError:
            raise AlertError(
                'SPARKIFY_SLACK_TOKEN needs dagster-slack: pip install -e ".[slack]"'
            ) from None
        from slack_sdk.errors import SlackApiError

        client = SlackResource(token=self.slack_token).get_client()
        try:
            client.chat_postMessage(channel=self.slack_channel, text=text)
        except SlackApiError as err:
            raise AlertError(f"Slack refused the alert: {err.response.get('error')}") from None


def first_line(text: str) -> str:
    line = next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
    line = redact(line)
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"


def step_error(step) -> str:
    """A failed step's message: a ``Failure``'s own description, else the exception's text."""
    failure = step.step_failure_data
    described = failure.user_failure_data and failure.user_failure_data.description
    return described or (failure.error.message if failure.error else "")


def failure_message(context: RunFailureSensorContext) -> str:
    """What failed, in a few lines: run, job, partition, failed steps, the first error line."""
    run = context.dagster_run
    steps = context.get_step_failure_events()
    error = next((first_line(step_error(step)) for step in steps if step_error(step)), "")
    lines = [f"Sparkify run {run.run_id} of job {run.job_name} failed."]
    partition = run.tags.get("dagster/partition")
    if partition:
        lines.append(f"Partition: {partition}")
    if steps:
        lines.append("Failed steps: " + ", ".join(sorted({step.step_key for step in steps})))
    lines.append("First error: " + (error or first_line(context.failure_event.message or "")))
    return "\n".join(lines)


@run_failure_sensor(
    name="run_failure_alert",
    default_status=DefaultSensorStatus.RUNNING,
    description="Posts a failed run (steps, first error line) to Slack when configured; logs it "
    "otherwise.",
)
def run_failure_alert(context: RunFailureSensorContext, alerts: FailureAlerts) -> None:
    message = failure_message(context)
    context.log.warning(message)
    alerts.send(message)
    context.log.info(f"alert sent to {alerts.destination()}")
