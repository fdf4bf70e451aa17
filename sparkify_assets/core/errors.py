"""The one base of every error whose message is written for the user.

Such an error names the thing that is wrong and the fix, contains no secret, and is shown as
one line, without a traceback, by the CLI and by a failed Dagster step. Anything else that
escapes is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message."""
