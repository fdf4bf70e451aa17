"""Every environment variable the platform reads, with its default, in one place.

Secrets (passwords, keys) are not read here: they reach resources through ``dagster.EnvVar`` so
that Dagster resolves them at run time and never records their values.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

BUNDLED_SAMPLE = Path(__file__).parent / "sample_data"
DEFAULT_FIRST_DAY = "2018-11-01"
DEFAULT_MAX_REJECT_SHARE = 0.05


class SettingsError(ValueError):
    """A configuration value is malformed; the message names the variable."""


def data_uri() -> str:
    """Folder (or ``s3://bucket/prefix``) holding ``song_data/`` and ``log_data/``."""
    return os.environ.get("SPARKIFY_DATA_URI") or str(BUNDLED_SAMPLE)


def warehouse_url() -> str:
    """DSN of an existing PostgreSQL; empty means the embedded server."""
    return os.environ.get("SPARKIFY_WAREHOUSE_URL", "")


def home() -> str:
    """Where the embedded server keeps its data; relative paths are taken from the cwd."""
    return str(Path(os.environ.get("SPARKIFY_HOME") or ".sparkify").expanduser().resolve())


def first_day() -> str:
    raw = os.environ.get("SPARKIFY_FIRST_DAY") or DEFAULT_FIRST_DAY
    try:
        date.fromisoformat(raw)
    except ValueError as err:
        raise SettingsError(f"SPARKIFY_FIRST_DAY must be YYYY-MM-DD, got {raw!r}") from err
    return raw


def max_reject_share() -> float:
    raw = os.environ.get("SPARKIFY_MAX_REJECT_SHARE")
    if not raw:
        return DEFAULT_MAX_REJECT_SHARE
    try:
        share = float(raw)
    except ValueError as err:
        raise SettingsError(f"SPARKIFY_MAX_REJECT_SHARE must be a number, got {raw!r}") from err
    if not 0.0 <= share <= 1.0:
        raise SettingsError(f"SPARKIFY_MAX_REJECT_SHARE must be within 0..1, got {raw!r}")
    return share


def deployment() -> str:
    """``local`` (embedded or any PostgreSQL) or ``redshift``."""
    value = os.environ.get("SPARKIFY_DEPLOYMENT") or "local"
    if value not in ("local", "redshift"):
        raise SettingsError(f"SPARKIFY_DEPLOYMENT must be 'local' or 'redshift', got {value!r}")
    return value
