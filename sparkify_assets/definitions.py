"""The code location, built when Dagster (or ``sparkify load``) asks for it, never at import.

``SPARKIFY_DEPLOYMENT=local`` (default) builds in PostgreSQL: the embedded server, or the one
``SPARKIFY_WAREHOUSE_URL`` names. ``redshift`` builds in Amazon Redshift. The assets are the same;
only the ``warehouse`` resource changes (and the source must then be ``s3://``). Every deployment
also carries the Redshift cluster jobs and their ``cluster`` resource.
"""

from __future__ import annotations

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    from sparkify_assets.core import settings
    from sparkify_assets.defs.location import build_definitions, resources_for

    return build_definitions(resources_for(settings.deployment()))
