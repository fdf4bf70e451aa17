"""The only door to Dagster's private API (``dagster._…``); everything else imports ``dagster``.

Each name is here because Dagster 1.13's public API has nothing that serves:

- ``PARTITION_NAME_TAG`` and the ``ASSET_PARTITION_RANGE_*_TAG`` pair: the tags that say which
  days a run covers. ``sparkify load`` sets the range on its one run (``execute_in_process``
  takes a single ``partition_key``), and the asset checks read it to check only those days.
- ``InstanceRef``: an instance from a folder's ``dagster.yaml`` with overrides, so that
  ``sparkify load`` records into ``DAGSTER_HOME`` without capturing compute logs;
  ``DagsterInstance.from_config`` takes no overrides. ``NO_COMPUTE_LOGS`` names the no-op
  compute-log manager by its module, which is private too.

A Dagster upgrade that moves any of these fails here, at import, and nowhere else.
"""

from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

NO_COMPUTE_LOGS = {
    "compute_logs": {
        "module": "dagster._core.storage.noop_compute_log_manager",
        "class": "NoOpComputeLogManager",
    }
}

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "NO_COMPUTE_LOGS",
    "PARTITION_NAME_TAG",
    "InstanceRef",
]
