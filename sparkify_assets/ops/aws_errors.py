"""What a failed AWS call means to the operator: one line naming the resource, never a secret.

botocore raises a dozen exception types whose text can echo request values (the master password
is one of them). ``aws_errors`` turns each into a ``ClusterError`` whose message says which
action on which resource failed, why in words (``ERROR_HINTS``), and the AWS error code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    WaiterError,
)

from sparkify_assets.core.errors import UserError
from sparkify_assets.core.redact import redact

# botocore error codes worth a human explanation; anything else is reported verbatim.
ERROR_HINTS = {
    **dict.fromkeys(
        ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"),
        "these AWS credentials are not allowed to do this (check the IAM permissions)",
    ),
    **dict.fromkeys(
        (
            "InvalidClientTokenId",
            "AuthFailure",
            "SignatureDoesNotMatch",
            "UnrecognizedClientException",
            "InvalidAccessKeyId",
        ),
        "AWS rejected the credentials (check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
        "AWS_PROFILE)",
    ),
    **dict.fromkeys(
        ("ExpiredToken", "ExpiredTokenException", "RequestExpired"),
        "the AWS session token has expired (refresh the credentials)",
    ),
    **dict.fromkeys(
        (
            "ClusterQuotaExceeded",
            "NumberOfNodesQuotaExceeded",
            "NumberOfNodesPerClusterLimitExceeded",
        ),
        "the account's Redshift quota is used up (delete an unused cluster or request a "
        "quota increase)",
    ),
    "InsufficientClusterCapacity": "AWS has no capacity for this node type right now "
    "(try another node type or region)",
    "InvalidClusterState": "the cluster is busy changing state (wait a few minutes and retry)",
}


class ClusterError(UserError):
    """A cluster operation failed; the message is one human-readable line without secrets."""


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "Unknown")


def explain(error: ClientError, action: str, subject: str) -> str:
    message = error.response.get("Error", {}).get("Message", "")
    reason = ERROR_HINTS.get(error_code(error), message or "AWS returned an error")
    return f"cannot {action} {subject}: {reason} ({error_code(error)})"


def one_line(text: str, secret: str) -> str:
    """``text`` on one line with ``secret`` (and any password-shaped value) masked."""
    return redact(" ".join(text.split()), [secret] if secret else [])


@contextmanager
def aws_errors(action: str, subject: str, secret: str = "") -> Iterator[None]:
    """Turn botocore failures into a one-line ClusterError that names the resource."""
    try:
        yield
    except ClientError as error:
        raise ClusterError(one_line(explain(error, action, subject), secret)) from error
    except NoCredentialsError as error:
        raise ClusterError(
            f"cannot {action} {subject}: no AWS credentials found (set AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY or AWS_PROFILE)"
        ) from error
    except NoRegionError as error:
        raise ClusterError(
            f"cannot {action} {subject}: no AWS region configured (set AWS_REGION)"
        ) from error
    except WaiterError as error:
        raise ClusterError(
            f"cannot {action} {subject}: gave up waiting ({error.reason})"
        ) from error
    except BotoCoreError as error:
        # e.g. parameter validation, whose text can echo request values: redact it.
        raise ClusterError(one_line(f"cannot {action} {subject}: {error}", secret)) from error


class _MaskSecret(logging.Filter):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._secret in message:
            record.msg, record.args = redact(message, [self._secret]), ()
        return True


@contextmanager
def secret_masked_in_wire_log(secret: str) -> Iterator[None]:
    """botocore's DEBUG wire log prints request bodies, so mask the secret while it is sent."""
    wire_log = logging.getLogger("botocore.endpoint")
    mask = _MaskSecret(secret)
    wire_log.addFilter(mask)
    try:
        yield
    finally:
        wire_log.removeFilter(mask)
