"""Processes as /proc sees them (Linux): a server's child by the port it serves, a process's nice value."""

from __future__ import annotations

import os
from pathlib import Path


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (field 3 onwards)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def nice_of(pid: int) -> int:
    return int(_stat_fields(pid)[16])  # field 19: nice


def _children(parent: int) -> list[tuple[int, str]]:
    """(pid, command line with NUL separators) of each child of `parent`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(_stat_fields(int(entry))[1]) == parent:
                found.append((int(entry), Path(f"/proc/{entry}/cmdline").read_text()))
        except OSError:  # it ended while we looked
            continue
    return found


def child_serving(parent: int, port: int) -> int:
    """The child of `parent` started with `--port <port>` (the doors' server of `ticketkit-gateway`)."""
    for pid, command in _children(parent):
        if f"--port\0{port}\0" in command:
            return pid
    raise AssertionError(f"no child of {parent} serves port {port}")


def workers_of(parent: int) -> list[int]:
    """uvicorn's worker processes under `parent` (started by multiprocessing's spawn)."""
    return [pid for pid, command in _children(parent) if "spawn_main" in command]


def environ_of(pid: int) -> dict[str, str]:
    """The environment `pid` was started with."""
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode().partition("=")[::2] for pair in pairs if pair)
