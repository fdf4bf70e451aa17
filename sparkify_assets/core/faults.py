"""Which failures are worth another attempt, and how long to wait before it.

A failure is *transient* when the same work may well succeed a moment later: the connection to
the warehouse dropped, the server is restarting, two transactions deadlocked, S3 throttled us. Every
warehouse write replaces its partition in one transaction, so re-running the whole transaction is
always safe. Everything else (bad SQL, a missing table, wrong credentials, a missing bucket) is
*permanent*: retrying only delays the clear error the user needs.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import psycopg2

# SQLSTATEs that describe the moment, not the statement. Class 08 (connection exception) is
# transient as a whole.
TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
    "57P01",  # admin_shutdown (pg_terminate_backend, server stopping)
    "57P02",  # crash_shutdown (another backend crashed; the server restarts)
    "57P03",  # cannot_connect_now (starting up, in recovery)
    "53300",  # too_many_connections
}

# Redshift reports a serializable isolation conflict as internal_error XX000 with its own code in
# the message ("ERROR: 1023 DETAIL: Serializable isolation violation on table ..."); AWS advises
# retrying the transaction. XX000 alone is any internal error, so the code must be there too.
REDSHIFT_INTERNAL_ERROR = "XX000"
REDSHIFT_SERIALIZABLE_CONFLICT = re.compile(
    r"(^|ERROR:)\s*1023\b|serializable isolation violation", re.IGNORECASE
)

# Connection failures carry no SQLSTATE (libpq reports them before there is a session), so they
# are told apart by their text. These will not go away by waiting.
PERMANENT_CONNECT_ERRORS = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "no pg_hba.conf entry",
    "does not exist",  # role or database
    "could not translate host name",
    "invalid dsn",
    "invalid connection option",
    "invalid uri",
    "invalid integer value",
    "certificate",
    "ssl is not enabled",
    "server does not support ssl",
)


def is_transient_db_error(err: BaseException) -> bool:
    """A psycopg2 error that a fresh connection and a new attempt may not hit again."""
    if isinstance(err, psycopg2.InterfaceError):
        return True  # the connection is already closed: a new one may work
    if not isinstance(err, psycopg2.Error):
        return False
    code = getattr(err, "pgcode", None)
    if code == REDSHIFT_INTERNAL_ERROR:
        return _is_serializable_conflict(err)
    if code:
        return code in TRANSIENT_SQLSTATES or code.startswith("08")
    if isinstance(err, psycopg2.OperationalError):
        text = str(err).lower()
        return not any(marker in text for marker in PERMANENT_CONNECT_ERRORS)
    return False


def _is_serializable_conflict(err: psycopg2.Error) -> bool:
    diag = getattr(err, "diag", None)
    texts = (getattr(diag, "message_primary", None), getattr(err, "pgerror", None), str(err))
    return any(REDSHIFT_SERIALIZABLE_CONFLICT.search(text) for text in texts if text)


def _is_transient_aws_error(err: BaseException) -> bool:
    try:
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.retries.standard import (
            RetryContext,
            ThrottledRetryableChecker,
            TransientRetryableChecker,
        )
    except ImportError:  # pragma: no cover - botocore comes with boto3, a dependency
        return False
    if isinstance(err, ClientError):
        context = RetryContext(attempt_number=1, parsed_response=err.response)
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return (
            ThrottledRetryableChecker().is_retryable(context)
            or TransientRetryableChecker().is_retryable(context)
            or status in (500, 502, 503, 504)
        )
    if isinstance(err, BotoCoreError):
        # Connection resets, read timeouts, endpoint unreachable: botocore's own notion.
        return TransientRetryableChecker().is_retryable(
            RetryContext(attempt_number=1, caught_exception=err)
        )
    return False


def is_transient(err: BaseException) -> bool:
    """Any failure a later attempt of the same step may not hit (see the module docstring)."""
    if getattr(err, "transient", False):  # e.g. TransientWarehouseError: retries gave up
        return True
    if isinstance(err, psycopg2.Error):
        return is_transient_db_error(err)
    if isinstance(err, (ConnectionError, TimeoutError)):
        return True
    return _is_transient_aws_error(err)


def backoff(attempts: int, first: float = 0.5, cap: float = 8.0) -> Iterator[float | None]:
    """One delay to sleep after each failed attempt; None after the last (then give up).

    Exponential with "equal jitter": half the delay is fixed, half random, so processes that
    failed together (a server restart drops every connection at once) do not retry in lockstep.
    """
    for attempt in range(attempts - 1):
        delay = min(cap, first * 2**attempt)
        yield delay / 2 + random.uniform(0, delay / 2)
    yield None
