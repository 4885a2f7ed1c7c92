"""An embedded PostgreSQL left by a SIGKILLed process is stopped by the next one to leave."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil

from minertrace.db.embedded import HANDLES_FILE, EmbeddedServer, release_dead_handles

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from minertrace.db.embedded import EmbeddedServer
    EmbeddedServer(Path(sys.argv[1]))
    print("ready", flush=True)
    time.sleep(600)
    """
)


def _postmaster(pgdata: Path) -> psutil.Process | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        return psutil.Process(int(pid_file.read_text().splitlines()[0]))
    except psutil.NoSuchProcess:
        return None


def _holders(pgdata: Path) -> list[int]:
    return [int(p) for p in json.loads((pgdata / HANDLES_FILE).read_text())]


def test_a_server_left_by_a_killed_process_is_stopped_by_the_next_holder(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(pgdata)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    postmaster = _postmaster(pgdata)
    assert postmaster is not None and postmaster.is_running()
    assert holder.pid in _holders(pgdata)

    server = EmbeddedServer(pgdata)
    assert _holders(pgdata) == [os.getpid()]
    server.stop()
    postmaster.wait(timeout=20)
    assert not postmaster.is_running()


def test_live_holders_are_kept(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / HANDLES_FILE).write_text(f"[{os.getpid()}]")
    assert release_dead_handles(pgdata) == []
    assert (pgdata / HANDLES_FILE).read_text() == f"[{os.getpid()}]"
