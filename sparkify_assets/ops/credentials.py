"""Database logins for runs: temporary IAM credentials, renewed before they expire.

``auth=iam`` asks AWS for a database password that lasts ``duration_seconds`` (15-60 minutes):

* provisioned, with a database user: ``GetClusterCredentials`` (the user, optionally created on
  first login and put in ``db_groups``);
* provisioned, without one: ``GetClusterCredentialsWithIAM``, which logs in as the caller's own
  IAM identity (``IAMR:role`` or ``IAM:user``);
* Serverless: ``GetCredentials`` for the workgroup.

``RunLogin`` hands each new connection a login. Before the first one it resumes a paused cluster
(``ensure_available``); it keeps temporary credentials until ``renew_seconds`` before they
expire, then fetches new ones, so a long run reconnects with fresh credentials. The password is
never logged: botocore's wire log (which prints response bodies at DEBUG) is muted for the call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sparkify_assets.core.login import DatabaseLogin
from sparkify_assets.ops.aws_clients import AwsClients
from sparkify_assets.ops.aws_errors import ClusterError, aws_errors
from sparkify_assets.ops.lifecycle import Clock, ClusterInfo, Progress, progress_or_default

# botocore loggers that print request or response bodies at DEBUG.
WIRE_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.hooks")
DEFAULT_DURATION_SECONDS = 3600
DEFAULT_RENEW_SECONDS = 300


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def wire_log_muted() -> Iterator[None]:
    """No botocore wire logging while a call whose response holds a password runs."""
    drop = _DropAll()
    loggers = [logging.getLogger(name) for name in WIRE_LOGGERS]
    for logger in loggers:
        logger.addFilter(drop)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(drop)


@dataclass(frozen=True)
class TemporaryCredentials:
    user: str
    password: str = field(repr=False)
    expires_at: float  # seconds since the epoch


def cluster_credentials(
    aws: AwsClients,
    cluster_id: str,
    database: str,
    db_user: str = "",
    *,
    auto_create: bool = False,
    db_groups: tuple[str, ...] = (),
    duration_seconds: int = DEFAULT_DURATION_SECONDS,
) -> TemporaryCredentials:
    """Temporary credentials for a provisioned cluster (see the module docstring)."""
    subject = f"Redshift cluster {cluster_id!r}"
    with aws_errors("get database credentials for", subject), wire_log_muted():
        if db_user:
            extra: dict[str, Any] = {"DbGroups": list(db_groups)} if db_groups else {}
            answer = aws.redshift.get_cluster_credentials(
                DbUser=db_user,
                DbName=database,
                ClusterIdentifier=cluster_id,
                DurationSeconds=duration_seconds,
                AutoCreate=auto_create,
                **extra,
            )
        else:
            answer = aws.redshift.get_cluster_credentials_with_iam(
                DbName=database, ClusterIdentifier=cluster_id, DurationSeconds=duration_seconds
            )
    return TemporaryCredentials(
        answer["DbUser"], answer["DbPassword"], answer["Expiration"].timestamp()
    )


def serverless_credentials(
    aws: AwsClients,
    workgroup: str,
    database: str,
    duration_seconds: int = DEFAULT_DURATION_SECONDS,
) -> TemporaryCredentials:
    """Temporary credentials for a Serverless workgroup, as the caller's IAM identity."""
    subject = f"Redshift Serverless workgroup {workgroup!r}"
    with aws_errors("get database credentials for", subject), wire_log_muted():
        answer = aws.serverless.get_credentials(
            workgroupName=workgroup, dbName=database, durationSeconds=duration_seconds
        )
    return TemporaryCredentials(
        answer["dbUser"], answer["dbPassword"], answer["expiration"].timestamp()
    )


class RunLogin:
    """The ``LoginSource`` of one warehouse: resume on demand, then a login per connection.

    ``available`` makes the target available and returns it (``ensure_available``), or is None
    when nothing should be resumed; ``credentials`` fetches temporary credentials, or is None in
    password mode, where ``user``/``password`` are used as given. ``host``/``port`` win over the
    endpoint the target reports. ``on_resumed`` hears of every resume this caused.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str,
        password: str = "",
        available: Callable[[Progress], ClusterInfo] | None = None,
        credentials: Callable[[], TemporaryCredentials] | None = None,
        on_resumed: Callable[[ClusterInfo], None] | None = None,
        progress: Progress | None = None,
        renew_seconds: float = DEFAULT_RENEW_SECONDS,
        clock: Clock,
    ) -> None:
        self._host, self._port, self._user, self._password = host, port, user, password
        self._available, self._credentials = available, credentials
        self._on_resumed = on_resumed
        self._progress = progress_or_default(progress)
        self._renew_seconds, self._clock = renew_seconds, clock
        self._lock = threading.Lock()
        self._ready = False
        self._current: DatabaseLogin | None = None

    def __repr__(self) -> str:
        return f"RunLogin(host={self._host!r}, port={self._port}, user={self._user!r})"

    def login(self) -> DatabaseLogin:
        with self._lock:
            if not self._ready:
                self._prepare()
            current = self._current
            if current is None or not current.good_until(self._clock(), self._renew_seconds):
                current = self._current = self._fresh()
            return current

    def forget(self) -> None:
        """Fetch new credentials for the next connection (a retry after a lost connection)."""
        with self._lock:
            self._current = None

    def _prepare(self) -> None:
        if self._available is not None:
            info = self._available(self._progress)
            if not self._host:
                if info.endpoint_host is None:
                    raise ClusterError(f"cannot connect to {info.subject}: it has no endpoint")
                self._host, self._port = info.endpoint_host, info.endpoint_port or self._port
            if info.event == "resumed" and self._on_resumed is not None:
                self._on_resumed(info)
        self._ready = True

    def _fresh(self) -> DatabaseLogin:
        if self._credentials is None:
            return DatabaseLogin(self._host, self._port, self._user, self._password)
        credentials = self._credentials()
        self._progress.info(
            "Got temporary database credentials for %s, valid for %.0f minutes.",
            credentials.user,
            (credentials.expires_at - self._clock()) / 60,
        )
        return DatabaseLogin(
            self._host, self._port, credentials.user, credentials.password, credentials.expires_at
        )
