"""Keeps secrets out of every message a user, a log or the Dagster event log sees.

Secrets reach the platform only through the environment (a password inside
SPARKIFY_WAREHOUSE_URL, REDSHIFT_PASSWORD, the AWS keys). Libraries do not always keep them to
themselves: libpq's "invalid dsn" error quotes the whole connection string, password included. So
every message built from a library error passes through ``redact`` before anyone sees it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import unquote

MASK = "***"

# //user:password@host, after any scheme or none (libpq echoes a mistyped "postgresql//..."
# too): keep the user and host, they help; hide the password.
_URL_PASSWORD = re.compile(r"(?P<head>//[^:/@\s'\"]*:)(?P<password>[^@\s'\"]+)(?=@)")
# libpq key=value strings and similar: password=..., secret: ...
_KEY_VALUE = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd|secret|token)\s*[=:]\s*)(?:'[^']*'|\"[^\"]*\"|[^\s,;]+)",
    re.I,
)
# Variables whose whole value is a secret. AWS_ACCESS_KEY_ID is not secret on its own, but the
# platform never needs to show it either.
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|CREDENTIAL", re.I)
# Shorter values are too likely to occur by chance in ordinary text ("1", "on").
_MIN_SECRET_LENGTH = 4


def environment_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Secret values in the environment, longest first (so a secret's prefix never wins)."""
    environ = os.environ if environ is None else environ
    found: set[str] = set()
    for name, value in environ.items():
        if not value:
            continue
        if _SECRET_NAME.search(name):
            found.add(value)
        for match in _URL_PASSWORD.finditer(value):
            found.update({match["password"], unquote(match["password"])})
    return sorted((s for s in found if len(s) >= _MIN_SECRET_LENGTH), key=len, reverse=True)


def redact(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with URL passwords, ``password=...`` values and known secret values masked."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    text = _KEY_VALUE.sub(lambda m: m["head"] + MASK, text)
    for secret in environment_secrets() if secrets is None else secrets:
        text = text.replace(secret, MASK)
    return text
