"""The code location as plain data, and its reviewed snapshot (``snapshots/code_location.json``).

The snapshot is the one written-down copy of the graph: ``test_code_location`` holds the code
location to it, and the UI and CLI tests compare what they see with it.
"""

from __future__ import annotations

import json
from pathlib import Path

from dagster import Definitions

SNAPSHOT = Path(__file__).parent / "snapshots" / "code_location.json"


def _names(keys) -> list[str]:
    return sorted(key.to_user_string() for key in keys)


def _job(job) -> dict:
    """An asset job by the assets it selects, an op job by its ops."""
    assets = job.asset_layer.executable_asset_keys if job.asset_layer else set()
    if assets:
        return {"assets": _names(assets)}
    return {"ops": sorted(node.name for node in job.nodes)}


def code_location(defs: Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    repository = defs.get_repository_def()
    return {
        "assets": {
            key.to_user_string(): {
                "group": node.group_name,
                "deps": _names(node.parent_keys),
                "partitions": str(node.partitions_def) if node.partitions_def else None,
                "backfill": str(node.backfill_policy) if node.backfill_policy else None,
                "kinds": sorted(node.kinds),
                "owners": list(node.owners),
                "pools": sorted(node.pools or ()),
            }
            for key, node in ((key, graph.get(key)) for key in graph.get_all_asset_keys())
        },
        "checks": {
            f"{key.asset_key.to_user_string()}:{key.name}": {
                "blocking": graph.get(key).blocking,
                "also_after": _names(set(graph.get(key).parent_entity_keys) - {key.asset_key}),
            }
            for key in graph.asset_check_keys
        },
        "jobs": {
            job.name: _job(job)
            for job in repository.get_all_jobs()
            if not job.name.startswith("__")  # Dagster's implicit asset job
        },
        "schedules": {
            schedule.name: {
                "cron": schedule.cron_schedule,
                "timezone": schedule.execution_timezone,
                "job": schedule.job_name,
                "default_status": schedule.default_status.value,
            }
            for schedule in repository.schedule_defs
        },
        "sensors": {
            sensor.name: {
                "type": sensor.sensor_type.value,
                "jobs": sorted(job.name for job in sensor.jobs) if sensor.has_jobs else [],
                "default_status": sensor.default_status.value,
            }
            for sensor in repository.sensor_defs
        },
    }


def reviewed() -> dict:
    """The reviewed snapshot, what every test that needs the graph compares with."""
    return json.loads(SNAPSHOT.read_text())


def sorted_deeply(value):
    if isinstance(value, dict):
        return {key: sorted_deeply(value[key]) for key in sorted(value)}
    return value
