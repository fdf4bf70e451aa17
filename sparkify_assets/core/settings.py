"""Every environment variable the platform reads, with its default, in one place.

Secrets (passwords, keys) are not read here: they reach resources through ``dagster.EnvVar`` so
that Dagster resolves them at run time and never records their values.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sparkify_assets.core.errors import UserError

BUNDLED_SAMPLE = Path(__file__).parents[1] / "sample_data"
DEFAULT_FIRST_DAY = "2018-11-01"
DEFAULT_MAX_REJECT_SHARE = 0.05


class SettingsError(UserError, ValueError):
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


def last_day() -> date | None:
    """SPARKIFY_LAST_DAY, the last daily partition; None when unset (see defs.partitions)."""
    raw = os.environ.get("SPARKIFY_LAST_DAY")
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError as err:
        raise SettingsError(f"SPARKIFY_LAST_DAY must be YYYY-MM-DD, got {raw!r}") from err
    if day < date.fromisoformat(first_day()):
        raise SettingsError(f"SPARKIFY_LAST_DAY {raw} is before SPARKIFY_FIRST_DAY {first_day()}")
    return day


# The project's own Dagster instance folder (holding dagster.yaml), when this is a checkout.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def dagster_home() -> Path:
    """Where ``sparkify load`` records its runs: DAGSTER_HOME, else the project's dagster_home.

    The project's folder is the checkout's ``dagster_home/`` (the one README's ``dagster dev``
    uses); an installed package without a checkout uses ``./dagster_home``.
    """
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"]).expanduser().resolve()
    root = PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").is_file() else Path.cwd()
    return root / "dagster_home"


def _number(variable: str, default, convert, kind: str, low, high=None):
    """An optional numeric variable, converted and bounded, or a SettingsError naming it."""
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = convert(raw)
    except ValueError as err:
        raise SettingsError(f"{variable} must be {kind}, got {raw!r}") from err
    if value < low or (high is not None and value > high):
        bounds = f"within {low}..{high}" if high is not None else f"at least {low}"
        raise SettingsError(f"{variable} must be {bounds}, got {raw!r}")
    return value


def max_reject_share() -> float:
    return _number("SPARKIFY_MAX_REJECT_SHARE", DEFAULT_MAX_REJECT_SHARE, float, "a number", 0, 1)


def drift_sample_lines() -> int:
    """Redshift: the first lines of each day file read from S3 for the key check (0: none)."""
    return _number("SPARKIFY_DRIFT_SAMPLE_LINES", 0, int, "a whole number", 0, MAX_SAMPLE_LINES)


MAX_SAMPLE_LINES = 10_000
DEFAULT_CHECK_WORKERS = 2
MAX_CHECK_WORKERS = 8


def check_workers() -> int:
    """Connections one asset-check step evaluates its rules on at once (1 = one after another)."""
    return _number(
        "SPARKIFY_CHECK_WORKERS", DEFAULT_CHECK_WORKERS, int, "a whole number", 1, MAX_CHECK_WORKERS
    )


def deployment() -> str:
    """``local`` (embedded or any PostgreSQL) or ``redshift``."""
    value = os.environ.get("SPARKIFY_DEPLOYMENT") or "local"
    if value not in ("local", "redshift"):
        raise SettingsError(f"SPARKIFY_DEPLOYMENT must be 'local' or 'redshift', got {value!r}")
    return value


# --- Redshift (SPARKIFY_DEPLOYMENT=redshift) -----------------------------------------------------
REDSHIFT_DEFAULT_PORT = 5439
REDSHIFT_DEFAULT_DATABASE = "sparkify"
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


@dataclass(frozen=True)
class RedshiftSettings:
    """Everything but the password, which reaches the resource as EnvVar('REDSHIFT_PASSWORD')."""

    host: str
    port: int
    database: str
    user: str
    iam_role_arn: str
    region: str
    log_jsonpath: str
    load_errors_view: str


def _redshift_port() -> int:
    raw = os.environ.get("REDSHIFT_PORT") or str(REDSHIFT_DEFAULT_PORT)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"REDSHIFT_PORT must be a TCP port number, got {raw!r}")
    return int(raw)


# What `sparkify sql` shows for COPY settings that are not set yet: the SQL can be read before
# the cluster, the role or the bucket exists. The names say which variable to set.
PRINTING_PLACEHOLDERS = {
    "REDSHIFT_IAM_ROLE_ARN": "arn:aws:iam::000000000000:role/set-REDSHIFT_IAM_ROLE_ARN",
    "AWS_REGION": "set-AWS_REGION",
    "SPARKIFY_LOG_JSONPATH": "s3://set-sparkify-log-jsonpath/log_json_path.json",
    "SPARKIFY_DATA_URI": "s3://set-sparkify-data-uri/sparkify",
}


def check_copy_settings(role: str, jsonpath: str) -> None:
    """REDSHIFT_IAM_ROLE_ARN and SPARKIFY_LOG_JSONPATH become literals in COPY: refuse bad ones."""
    if not _ROLE_ARN.match(role):
        raise SettingsError(f"REDSHIFT_IAM_ROLE_ARN is not an IAM role ARN: {role!r}")
    if not jsonpath.startswith("s3://"):
        raise SettingsError(f"SPARKIFY_LOG_JSONPATH must be an s3:// URI, got {jsonpath!r}")


def redshift(require_connection: bool = True) -> RedshiftSettings:
    """The REDSHIFT_*/AWS_REGION/SPARKIFY_LOG_JSONPATH variables, checked together.

    ``require_connection=False`` is for printing SQL: host, user and password are then optional,
    and unset COPY settings print as ``PRINTING_PLACEHOLDERS``.
    """
    needed = ["REDSHIFT_IAM_ROLE_ARN", "AWS_REGION", "SPARKIFY_LOG_JSONPATH"]
    environ = dict(os.environ)
    if require_connection:
        needed += ["REDSHIFT_HOST", "REDSHIFT_USER", "REDSHIFT_PASSWORD"]
    else:
        environ = {**PRINTING_PLACEHOLDERS, **{k: v for k, v in environ.items() if v}}
    missing = [name for name in needed if not environ.get(name)]
    if missing:
        raise SettingsError(
            f"the Redshift deployment needs {', '.join(missing)} (see docs/redshift.md)"
        )
    role, jsonpath = environ["REDSHIFT_IAM_ROLE_ARN"], environ["SPARKIFY_LOG_JSONPATH"]
    check_copy_settings(role, jsonpath)
    return RedshiftSettings(
        host=os.environ.get("REDSHIFT_HOST", ""),
        port=_redshift_port(),
        database=os.environ.get("REDSHIFT_DATABASE") or REDSHIFT_DEFAULT_DATABASE,
        user=os.environ.get("REDSHIFT_USER", ""),
        iam_role_arn=role,
        region=environ["AWS_REGION"],
        log_jsonpath=jsonpath,
        # Checked against the views sql.redshift_load knows; empty means its default.
        load_errors_view=os.environ.get("REDSHIFT_LOAD_ERRORS_VIEW", ""),
    )


REDSHIFT_AUTH_MODES = ("iam", "password")
DEFAULT_IDLE_MINUTES = 30
DEFAULT_RESUME_WAIT_MINUTES = 30


def _flag(variable: str, default: bool) -> bool:
    raw = os.environ.get(variable, "").strip().lower()
    if not raw:
        return default
    if raw not in ("1", "true", "yes", "0", "false", "no"):
        raise SettingsError(f"{variable} must be true or false, got {raw!r}")
    return raw in ("1", "true", "yes")


def redshift_auth() -> str:
    """REDSHIFT_AUTH: ``iam`` (temporary credentials), or ``password`` (REDSHIFT_PASSWORD).

    Unset, it is ``password`` while REDSHIFT_PASSWORD is set (as before IAM auth existed), else
    ``iam``.
    """
    default = "password" if os.environ.get("REDSHIFT_PASSWORD") else "iam"
    value = os.environ.get("REDSHIFT_AUTH") or default
    if value not in REDSHIFT_AUTH_MODES:
        raise SettingsError(f"REDSHIFT_AUTH must be 'iam' or 'password', got {value!r}")
    return value


def redshift_resource() -> dict[str, str | int | bool | list[str]]:
    """The Redshift resource's configuration from the environment, read when the code location
    loads so the UI shows it; nothing is required here (a run checks what it needs)."""
    auth = redshift_auth()
    workgroup = os.environ.get("REDSHIFT_WORKGROUP", "")
    explicit_cluster = os.environ.get("SPARKIFY_CLUSTER_ID", "")
    # A password-mode host that names no cluster may be anyone's: do not manage its lifecycle.
    knows_target = bool(workgroup or explicit_cluster or auth == "iam")
    groups = os.environ.get("REDSHIFT_DB_GROUPS", "")
    return {
        "cluster_identifier": explicit_cluster or "sparkify",
        "workgroup": workgroup,
        "namespace": os.environ.get("REDSHIFT_NAMESPACE") or workgroup,
        "host": os.environ.get("REDSHIFT_HOST", ""),
        "port": _redshift_port(),
        "database": os.environ.get("REDSHIFT_DATABASE") or REDSHIFT_DEFAULT_DATABASE,
        "user": os.environ.get("REDSHIFT_USER", ""),
        "region": os.environ.get("AWS_REGION", ""),
        "iam_role_arn": os.environ.get("REDSHIFT_IAM_ROLE_ARN", ""),
        "log_jsonpath": os.environ.get("SPARKIFY_LOG_JSONPATH", ""),
        "auth": auth,
        "db_groups": [group.strip() for group in groups.split(",") if group.strip()],
        "auto_create_user": _flag("REDSHIFT_AUTO_CREATE_USER", False),
        "resume_on_demand": _flag("SPARKIFY_REDSHIFT_RESUME", knows_target),
        "resume_wait_minutes": _number(
            "SPARKIFY_REDSHIFT_RESUME_WAIT_MINUTES",
            DEFAULT_RESUME_WAIT_MINUTES,
            int,
            "a whole number",
            1,
        ),
        "pause_after_idle_minutes": _number(
            "SPARKIFY_REDSHIFT_IDLE_MINUTES", DEFAULT_IDLE_MINUTES, int, "a whole number", 1
        ),
        "load_errors_view": os.environ.get("REDSHIFT_LOAD_ERRORS_VIEW", ""),
    }


# --- the Redshift cluster (sparkify cluster ...) ------------------------------------------------
_CLUSTER_VARIABLES = {
    "SPARKIFY_CLUSTER_ID": "cluster_id",
    "SPARKIFY_CLUSTER_ROLE": "role_name",
    "SPARKIFY_CLUSTER_NODE_TYPE": "node_type",
    "REDSHIFT_DATABASE": "database",
    "REDSHIFT_USER": "master_user",
    "AWS_REGION": "region",
}


def cluster_overrides() -> dict[str, str | int]:
    """The cluster's shape as far as the environment sets it; the rest keeps its defaults."""
    values: dict[str, str | int] = {
        field: os.environ[name]
        for name, field in _CLUSTER_VARIABLES.items()
        if os.environ.get(name)
    }
    nodes = _positive_int("SPARKIFY_CLUSTER_NODES", 0)
    if nodes:
        values["node_count"] = nodes
    return values


DEFAULT_S3_WORKERS = 16
DEFAULT_S3_MAX_ATTEMPTS = 8


def _positive_int(variable: str, default: int) -> int:
    return _number(variable, default, int, "a whole number", 1)


def s3_workers() -> int:
    """Threads fetching small S3 objects (song files) at once."""
    return _positive_int("SPARKIFY_S3_WORKERS", DEFAULT_S3_WORKERS)


def s3_max_attempts() -> int:
    """Attempts per S3 request, first one included (botocore's standard AWS_MAX_ATTEMPTS)."""
    return _positive_int("AWS_MAX_ATTEMPTS", DEFAULT_S3_MAX_ATTEMPTS)


def s3_retry_mode() -> str:
    """botocore retry mode (AWS_RETRY_MODE); adaptive also rate-limits the client on throttling."""
    mode = os.environ.get("AWS_RETRY_MODE") or "adaptive"
    if mode not in ("legacy", "standard", "adaptive"):
        raise SettingsError(f"AWS_RETRY_MODE must be legacy, standard or adaptive, got {mode!r}")
    return mode


def s3_unsigned() -> bool:
    """Read a public bucket (e.g. s3://udacity-dend) without AWS credentials."""
    return os.environ.get("SPARKIFY_S3_UNSIGNED", "").lower() in ("1", "true", "yes")
