"""A database login: where to connect, as whom, and until when the password is good.

The Redshift warehouse (``warehouse/``) connects with it; the temporary credentials that fill it
come from ``ops/`` (GetClusterCredentials, GetCredentials). It lives here, below both, so neither
imports the other. The password never appears in ``repr`` or ``str``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class DatabaseLogin:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    # Seconds since the epoch after which the password is refused; None: it does not expire.
    expires_at: float | None = None

    def good_until(self, now: float, margin: float) -> bool:
        """Whether a connection opened at ``now`` still has ``margin`` seconds of validity."""
        return self.expires_at is None or now + margin < self.expires_at


class LoginSource(Protocol):
    """Hands out a login for each new connection, fetching fresh credentials when asked."""

    def login(self) -> DatabaseLogin: ...
