"""A read-only or full SPARKIFY_HOME is a clear one-line error, not a traceback.

Real file systems, not mocks: as root (who ignores permission bits) the tests mount a small tmpfs
in a private mount namespace (``unshare -m``), read-only or nearly full, and run the `sparkify`
command inside it. Where mount namespaces are unavailable they skip, saying so; a non-root user
gets the read-only case from a folder without write permission instead.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SPARKIFY = f"{sys.executable} -m sparkify_assets.cli.main"


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True
    )
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(
    not _can_mount(), reason="needs root and mount namespaces (unshare -m) to mount a tmpfs"
)


def _in_private_mount(script: str, env: dict) -> subprocess.CompletedProcess:
    """Run a shell script in its own mount namespace: its mounts vanish when it ends."""
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=600
    )


def _marked(output: str, marker: str) -> list[str]:
    return [line.split(marker, 1)[1] for line in output.splitlines() if marker in line]


@needs_mount
def test_a_home_on_a_read_only_file_system_is_a_clear_error(tmp_path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    home = mount_point / "home"
    env = {**os.environ, "SPARKIFY_HOME": str(home)}
    script = f"""
        mount -t tmpfs -o ro,size=1m tmpfs {mount_point} || exit 99
        {SPARKIFY} warehouse url 2> {tmp_path}/stderr
        echo "@rc=$?"
    """
    completed = _in_private_mount(script, env)
    assert _marked(completed.stdout, "@rc=") == ["2"], completed.stdout + completed.stderr
    assert (tmp_path / "stderr").read_text() == (
        f"sparkify: SPARKIFY_HOME {home} is not usable (Read-only file system); point "
        "SPARKIFY_HOME at a writable folder.\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits (see the tmpfs test)")
def test_a_home_without_write_permission_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    env = {**os.environ, "SPARKIFY_HOME": str(locked / "home")}
    completed = subprocess.run(
        [*SPARKIFY.split(), "warehouse", "url"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "is not usable (Permission denied)" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.slow  # fault injection: a load of 100,000 events onto a disk that fills
@needs_mount
def test_a_disk_that_fills_up_during_a_load_is_a_clear_error(tmp_path, generated_data):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    home = mount_point / "home"
    env = {**os.environ, "SPARKIFY_HOME": str(home), "SPARKIFY_DATA_URI": str(generated_data)}
    # 64 MB: enough for a new server (about 45 MB) and its database, not for 100,000 events.
    script = f"""
        mount -t tmpfs -o size=64m tmpfs {mount_point} || exit 99
        {SPARKIFY} load > /dev/null 2> {tmp_path}/stderr
        echo "@rc=$?"
        {SPARKIFY} warehouse stop > /dev/null 2>&1
    """
    completed = _in_private_mount(script, env)
    assert _marked(completed.stdout, "@rc=") == ["2"], completed.stdout + completed.stderr
    last_line = Path(tmp_path / "stderr").read_text().strip().splitlines()[-1]
    assert last_line.startswith("sparkify: ")
    assert "No space left on device" in last_line
    assert f"The disk holding {home / 'pgdata'} is full" in last_line
