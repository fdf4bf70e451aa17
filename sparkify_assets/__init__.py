"""Sparkify warehouse as Dagster software-defined assets.

``dagster dev -m sparkify_assets`` finds ``defs`` here; the definitions live in ``definitions``.
"""

from .definitions import defs

__all__ = ["defs"]
