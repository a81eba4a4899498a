"""Processes as /proc sees them (Linux): a server's child by the port it serves, a process's nice value."""

from __future__ import annotations

import os
from pathlib import Path


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (field 3 onwards)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def nice_of(pid: int) -> int:
    return int(_stat_fields(pid)[16])  # field 19: nice


def child_serving(parent: int, port: int) -> int:
    """The child of `parent` started with `--port <port>` (the doors' server of `ticketkit-gateway`)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if (
                int(_stat_fields(int(entry))[1]) == parent
                and f"--port\0{port}\0" in Path(f"/proc/{entry}/cmdline").read_text()
            ):
                return int(entry)
        except OSError:  # it ended while we looked
            continue
    raise AssertionError(f"no child of {parent} serves port {port}")


def environ_of(pid: int) -> dict[str, str]:
    """The environment `pid` was started with."""
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode().partition("=")[::2] for pair in pairs if pair)


def workers_of(parent: int) -> list[int]:
    """uvicorn's worker processes under `parent` (started by multiprocessing's spawn)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if (
                int(_stat_fields(int(entry))[1]) == parent
                and "spawn_main" in Path(f"/proc/{entry}/cmdline").read_text()
            ):
                found.append(int(entry))
        except OSError:
            continue
    return found
