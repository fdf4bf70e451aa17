"""The code location's shape against a reviewed snapshot: asset keys, deps, partitions, kinds,
checks, jobs, schedules and sensors.

``snapshots/code_location.json`` is the one written-down copy of the graph. A change to the
graph fails here with the difference; when the change is meant, regenerate the file and review
its diff with the rest of the change:

    UPDATE_SNAPSHOT=1 pytest sparkify_assets_tests/test_code_location.py
"""

import json
import os

from .conftest import definitions_for
from .location_snapshot import SNAPSHOT, code_location, reviewed, sorted_deeply


def test_code_location_matches_the_reviewed_snapshot(warehouse, bundled_sample):
    current = sorted_deeply(code_location(definitions_for(warehouse, bundled_sample)))
    if os.environ.get("UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n")
    assert current == reviewed(), (
        "the code location changed; if that is meant, run "
        "UPDATE_SNAPSHOT=1 pytest sparkify_assets_tests/test_code_location.py "
        "and review the diff of snapshots/code_location.json"
    )
