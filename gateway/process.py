"""Run the gateway as processes of its own (the production server, `python -m gateway.server`), configured by
GATEWAY_* environment variables only: what several-process tests, fault tests and the benchmarks start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx
from pydantic import SecretStr

from .core.config import Settings


def settings_env(settings: Settings, **overrides: Any) -> dict[str, str]:
    """The GATEWAY_* variables that make a new process's Settings() equal `settings` (plus `overrides`)."""
    env = {}
    for name, value in (settings.model_dump() | overrides).items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"GATEWAY_{name.upper()}"] = str(value)
    return env


def spawn(
    settings: Settings,
    *,
    port: int,
    workers: int = 1,
    log: IO[Any] | None = None,
    log_level: str = "warning",
    access_log: bool = False,
    nice: int | None = None,
    doors_port: int = 0,
    **overrides: Any,
) -> subprocess.Popen:
    """Start the production server (`ticketkit-gateway`, gateway/server.py) on 127.0.0.1:`port` with `workers`
    processes behind one socket, and with `doors_port` the doors' server beside them (its default `nice`
    then 10); see `wait_serving`."""
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        **settings_env(settings, **overrides),
    }
    command = [
        sys.executable,
        "-m",
        "gateway.server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        log_level,
    ]
    if access_log:
        command.append("--access-log")
    command += ["--doors-port", str(doors_port)]
    if nice is not None:
        command += ["--nice", str(nice)]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT if log else None)


def wait_serving(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Return once `url` answers (RuntimeError if the process exits or `timeout` passes first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"the gateway process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the gateway did not answer at {url} within {timeout} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
