"""What the lifecycle of a Redshift target reports, for a provisioned cluster and Serverless.

``ClusterInfo`` is what ``status``/``up``/``pause``/``resume``/``down`` return: never a
credential. The hours a cluster ran (or stayed paused) come from two tags the lifecycle writes on
the cluster itself when it becomes available or paused, so any process (the CLI, a run, the idle
sensor) can tell without Dagster's event log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sparkify_assets.ops.network import REDSHIFT_PORT

ABSENT = "absent"
# Cluster states in which a run can connect, and those ``resume`` can turn into that.
AVAILABLE = "available"
PAUSED_STATES = ("pausing", "paused", "resuming")

AVAILABLE_SINCE_TAG = "sparkify:available-since"
PAUSED_SINCE_TAG = "sparkify:paused-since"

Clock = Callable[[], float]


class Progress(Protocol):
    """Where lifecycle progress goes: a ``logging.Logger`` or a Dagster run's ``context.log``."""

    def info(self, msg: str, *args: Any) -> Any: ...


def progress_or_default(progress: Progress | None) -> Progress:
    return progress if progress is not None else logging.getLogger("sparkify_assets.ops")


@dataclass(frozen=True)
class ClusterInfo:
    """What a caller needs to know about the cluster (or workgroup), never including credentials."""

    identifier: str
    status: str
    endpoint_host: str | None
    endpoint_port: int | None
    role_arn: str | None
    # CIDRs allowed to reach the cluster on TCP 5439; empty means nothing outside the VPC can.
    ingress: tuple[str, ...]
    kind: str = "cluster"  # or "Serverless workgroup"
    # What this call changed: "resumed", "paused", or None.
    event: str | None = None
    # When an available cluster became so (ISO 8601, from its tag; None when not known).
    available_since: str | None = None
    # Hours since the cluster last became available (on a pause) or paused (on a resume).
    ran_hours: float | None = None
    paused_hours: float | None = None

    @property
    def subject(self) -> str:
        return f"Redshift {self.kind} {self.identifier!r}"

    @property
    def endpoint(self) -> str | None:
        if self.endpoint_host is None:
            return None
        return f"{self.endpoint_host}:{self.endpoint_port}"

    @property
    def ingress_summary(self) -> str:
        if not self.ingress:
            return f"tcp/{REDSHIFT_PORT} closed: no ingress CIDR opened"
        return f"tcp/{REDSHIFT_PORT} open to {', '.join(self.ingress)}"

    def summary(self) -> str:
        if self.status == ABSENT:
            return f"{self.subject} not found (status {ABSENT})"
        hours = ""
        if self.ran_hours is not None:
            hours = f"; ran {self.ran_hours:.2f} h since it became available"
        if self.paused_hours is not None:
            hours = f"; was paused {self.paused_hours:.2f} h"
        if self.available_since and not hours:
            hours = f"; available since {self.available_since}"
        return (
            f"{self.subject} is {self.status} at {self.endpoint}; "
            f"role {self.role_arn}; {self.ingress_summary}{hours}"
        )

    def as_metadata(self) -> dict[str, str | float]:
        metadata: dict[str, str | float] = {
            "identifier": self.identifier,
            "kind": self.kind,
            "status": self.status,
            "endpoint": self.endpoint or "",
            "role_arn": self.role_arn or "",
            "ingress": self.ingress_summary,
        }
        if self.event is not None:
            metadata["event"] = self.event
        if self.available_since is not None:
            metadata["available_since"] = self.available_since
        if self.ran_hours is not None:
            metadata["ran_hours"] = round(self.ran_hours, 4)
        if self.paused_hours is not None:
            metadata["paused_hours"] = round(self.paused_hours, 4)
        return metadata


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def tag_value(tags: list[dict[str, str]], key: str) -> str | None:
    return next((tag["Value"] for tag in tags if tag.get("Key") == key), None)


def seconds_of(value: str | None) -> float | None:
    """Seconds since the epoch of an ISO 8601 time, None when missing or malformed."""
    try:
        return datetime.fromisoformat(value).timestamp() if value else None
    except ValueError:
        return None


def hours_since(tags: list[dict[str, str]], key: str, now: float) -> float | None:
    """Hours from the time tag ``key`` holds to ``now``; None when the tag is missing or bad."""
    since = seconds_of(tag_value(tags, key))
    return None if since is None else max(now - since, 0.0) / 3600
