"""Sparkify warehouse as Dagster software-defined assets.

``dagster dev -m sparkify_assets`` finds ``defs`` here; the definitions live in ``definitions``.
"""

import warnings

from dagster import BetaWarning

# backfill_policy is beta in Dagster; we rely on it knowingly for one-run backfills.
warnings.filterwarnings("ignore", category=BetaWarning, message=".*backfill_policy.*")

from .definitions import defs  # noqa: E402

__all__ = ["defs"]
