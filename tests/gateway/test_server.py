"""`ticketkit-gateway` (gateway/server.py) as a real process: the doors' server beside the workers — bound to
the command's life, started again if it dies, and a clear error for a port that cannot be its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from gateway import process as gateway_process
from tests.utils.processes import child_serving
from ticketkit.chain import free_port

pytestmark = pytest.mark.usefixtures("client")  # the database exists (and is emptied after) on both engines


@pytest.fixture()
def command(settings, tmp_path):
    """`ticketkit-gateway` with a doors' port; yields (process, the doors' URL, the doors' port)."""
    port, doors_port = free_port(), free_port()
    log = (tmp_path / "gateway.log").open("w")
    process = gateway_process.spawn(settings, port=port, doors_port=doors_port, log=log, run_migrations=False)
    doors = f"http://127.0.0.1:{doors_port}"
    try:
        gateway_process.wait_serving(f"http://127.0.0.1:{port}", process)  # the workers start after the doors
        gateway_process.wait_serving(doors, process)
        yield process, doors, doors_port
    finally:
        gateway_process.stop(process, timeout=15)
        log.close()


def test_the_doors_server_is_started_again_if_it_dies(command):
    process, doors, doors_port = command
    os.kill(child_serving(process.pid, doors_port), signal.SIGKILL)
    gateway_process.wait_serving(doors, process, timeout=15)  # RuntimeError if not started again in time
    assert process.poll() is None


def test_the_doors_server_stops_when_the_command_is_killed(command):
    """Even a SIGKILL of `ticketkit-gateway` (no chance to stop its child) takes the doors' server down."""
    process, doors, _ = command
    process.kill()
    process.wait(timeout=5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{doors}/healthz", timeout=1)
        except httpx.ConnectError:
            return  # nothing listens on the doors' port any more
        except httpx.TransportError:
            pass  # accepted, then reset: the server is stopping right now; look again
        time.sleep(0.1)
    pytest.fail("the doors' server still answers 10 s after its parent was killed")


def test_a_doors_port_taken_by_another_program_is_a_clear_error(settings, tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        log = (tmp_path / "gateway.log").open("w")
        process = gateway_process.spawn(settings, port=free_port(), doors_port=taken, log=log)
        assert process.wait(timeout=60) == 2
        log.close()
    assert (
        f"port {taken} (the doors' server) is taken by another program"
        in (tmp_path / "gateway.log").read_text()
    )


def test_the_doors_port_must_differ_from_the_port():
    run = subprocess.run(
        [sys.executable, "-m", "gateway.server", "--port", "8123", "--doors-port", "8123"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert run.returncode == 2 and "--doors-port must differ from --port" in run.stderr
