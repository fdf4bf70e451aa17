"""What a failed statement tells the user: the server's own words, nothing secret."""

from __future__ import annotations

import psycopg2

from sparkify_assets.core.redact import redact


def describe_error(err: psycopg2.Error) -> str:
    """The server's message without the DSN, parameters or any other secret."""
    text = (getattr(err, "pgerror", None) or str(err)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(err).__name__]
    # libpq puts the reason on the first line, except for a lost connection, where the server's
    # last words ("terminating connection due to administrator command") come first and the
    # loss itself second: keep both, they are short.
    message = lines[0]
    if len(lines) > 1 and "server closed the connection" in lines[1]:
        message += f" ({lines[1]})"
    elif len(lines) > 1 and message.removeprefix("ERROR:").strip().isdigit():
        message += f" ({lines[1]})"  # Redshift's own codes ("ERROR: 1023") say why on the next
    return redact(message)
