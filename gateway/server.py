"""`ticketkit-gateway`: the gateway's production server — uvicorn with N worker processes behind one socket,
configured by GATEWAY_* environment variables (gateway/core/config.py) or a .env file.

    ticketkit-gateway [--host 0.0.0.0] [--port 8000] [--workers N] [--doors-port 8001] [--nice N]
                      [--log-level info] [--access-log]

With `--doors-port` (GATEWAY_DOORS_PORT) it also runs the doors' server: one process of its own, at normal CPU
priority, for the stewards' scanners (they open `/app/scanner` on that port; the page's /gate/* calls go
there too), while the N workers on `--port` run at a lower priority (`--nice`, 10 by default with a doors
port). A fan flood then shares neither an interpreter lock nor the CPU scheduler's favour with the doors
(docs/gateway.md, "Under a crowd", has the figures). The doors' process runs no background work (sending,
the check-in queue, the indexer: the workers do).

Before the workers start it checks the settings (a clear message for a missing or wrong variable), applies the
database migrations once (the workers then skip them), raises the open-files limit to its maximum (every
connection of a crowd is a file descriptor), and gives the workers a shared directory for their Prometheus
figures. SIGTERM or Ctrl-C: queued requests are answered 503 `shutting_down` at once, running ones get
`GRACEFUL_SECONDS` to finish, the background threads stop, and the process exits (docs/gateway.md).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from pydantic import ValidationError

GRACEFUL_SECONDS = (
    5  # running requests get this long to finish after SIGTERM; what is queued is answered at once
)
BACKLOG = 4096  # connections the kernel holds for accept() during a burst (uvicorn's default is 2048)
# An idle keep-alive connection is closed after this long (uvicorn's default, 5 s, is shorter than a phone's
# polling pause: each poll would pay a new connection, and a request sent as the server closes the connection
# is lost to the client; nginx's default is 75 s).
KEEP_ALIVE_SECONDS = 75
PR_SET_PDEATHSIG = 1  # prctl(2)
PARENT_ENV = "TICKETKIT_GATEWAY_PARENT"  # set for the doors' server: the process whose life it is bound to
DOORS_NICE = 10  # the workers' default `--nice` beside a doors' server
WORKERS_SWITCH_INTERVAL_MS = "5"  # beside a doors' server the workers serve no scans (config.py)
# The doors' process: its own admission limits for anything but /gate/* (it serves the whole app, but only the
# stewards' devices are pointed at it), and no background work.
DOORS_ENV = {
    "GATEWAY_RUN_MIGRATIONS": "false",
    "GATEWAY_SENDER_ENABLED": "false",
    "GATEWAY_CHECKIN_QUEUE_ENABLED": "false",
    "GATEWAY_INDEXER_ENABLED": "false",
    "GATEWAY_LANE_API_LIMIT": "1",
    "GATEWAY_SWITCH_INTERVAL_MS": "1",
}


def raise_open_files_limit() -> int:
    """The soft limit on open files raised to the hard one; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ticketkit-gateway", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("GATEWAY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("GATEWAY_WORKERS", os.cpu_count() or 1)),
        help="worker processes (default: one per core)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--access-log", action="store_true", help="one line per request (off by default)")
    parser.add_argument(
        "--doors-port",
        type=int,
        default=int(os.environ.get("GATEWAY_DOORS_PORT") or 0),
        help="also run the doors' server (one process, normal priority) on this port for the scanners",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=None if os.environ.get("GATEWAY_NICE") is None else int(os.environ["GATEWAY_NICE"]),
        help=f"lower the workers' CPU priority by this much (default {DOORS_NICE} with --doors-port, else 0)",
    )
    args = parser.parse_args(argv)
    if parent := os.environ.pop(PARENT_ENV, None):
        _die_with(int(parent))
    if args.doors_port and args.doors_port == args.port:
        parser.error("--doors-port must differ from --port (the doors' server listens on a port of its own)")
    if args.nice is None:
        args.nice = DOORS_NICE if args.doors_port else 0

    from .core.config import Settings  # after argparse: --help works without any setting

    try:
        settings = Settings()
    except ValidationError as error:
        names = ", ".join("GATEWAY_" + str(e["loc"][0]).upper() for e in error.errors())
        print(
            f"ticketkit-gateway: the settings are incomplete or wrong ({names}):\n{error}\n"
            "Set them as environment variables or in a .env file (docs/gateway.md).",
            file=sys.stderr,
        )
        return 2
    if settings.run_migrations:
        from . import db

        db.upgrade(settings.database_url)
        os.environ["GATEWAY_RUN_MIGRATIONS"] = "false"  # done once here, not by every worker at once
    limit = raise_open_files_limit()
    metrics_dir = None
    if (args.workers > 1 or args.doors_port) and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="ticketkit-gateway-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # one /metrics over every process
    doors = Doors(args) if args.doors_port else None
    if doors is not None:  # before the nice below: it keeps priority 0
        # A SIGTERM before uvicorn handles them, or raised again by uvicorn once it has stopped (with one
        # worker it serves in this process), leaves through a `finally` that stops the doors' server.
        signal.signal(signal.SIGTERM, _exit)
        try:
            doors.start()
        except RuntimeError as error:
            print(f"ticketkit-gateway: {error}", file=sys.stderr)
            return 2
        except SystemExit:
            doors.stop()
            raise
        os.environ.setdefault("GATEWAY_SWITCH_INTERVAL_MS", WORKERS_SWITCH_INTERVAL_MS)  # for the workers
    if args.nice > 0:
        os.nice(args.nice)  # the workers inherit it
    import uvicorn

    from .core import logs

    logs.configure(settings.log_level, settings.log_format)  # text or JSON, like every other line
    logging.getLogger("gateway").info(
        "ticketkit-gateway: http://%s:%s with %d worker(s)%s, database %s, open-files limit %d",
        args.host,
        args.port,
        args.workers,
        f" at nice {args.nice}, the doors on port {args.doors_port}" if doors else "",
        settings.database_url.split("@")[-1],
        limit,
    )
    try:
        uvicorn.run(
            "gateway.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=args.access_log,
            backlog=BACKLOG,
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    finally:
        if doors is not None:
            doors.stop()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


class Doors:
    """The doors' server beside the workers: this command again, one worker, priority 0, no doors of its own.
    It gets SIGTERM if this process dies, however it dies; if it exits on its own while this process runs, it
    is started again (the scanners' requests go nowhere else)."""

    START_SECONDS = 60  # to answer on its port the first time (migrations are done by then)

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a restart and a stop never cross: the process stopped is the last one
        self._watcher = threading.Thread(target=self._watch, name="doors-watcher", daemon=True)

    def start(self) -> None:
        """Start it and wait until its port accepts connections; RuntimeError if the port is taken or it exits
        first."""
        if not _free(self.args.host, self.args.doors_port):
            raise RuntimeError(f"port {self.args.doors_port} (the doors' server) is taken by another program")
        self.process = self._spawn()
        deadline = time.monotonic() + self.START_SECONDS
        while not _accepts(self.args.host, self.args.doors_port):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the doors' server exited with {self.process.returncode} before serving port "
                    f"{self.args.doors_port} (its log above says why)"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the doors' server did not serve port {self.args.doors_port} in time")
            time.sleep(0.1)
        self._watcher.start()

    def stop(self) -> None:
        """SIGTERM (it drains like the workers), then SIGKILL if it has not stopped in time."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=GRACEFUL_SECONDS + 5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            with self._lock:
                process = self.process
                if self._stopping.is_set() or process is None or process.poll() is None:
                    continue
                logging.getLogger("gateway").error(
                    "the doors' server exited with %s: starting it again", process.returncode
                )
                self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen:
        args = self.args
        command = [sys.executable, "-m", "gateway.server", "--host", args.host]
        command += ["--port", str(args.doors_port), "--workers", "1", "--doors-port", "0", "--nice", "0"]
        command += ["--log-level", args.log_level, *(["--access-log"] if args.access_log else [])]
        env = {**os.environ, **DOORS_ENV, PARENT_ENV: str(os.getpid())}
        return subprocess.Popen(command, env=env)


def _die_with(parent: int) -> None:
    """In the doors' server: receive SIGTERM when `parent` dies (Linux), or stop now if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        sys.exit(0)


def _exit(*_: Any) -> None:
    raise SystemExit(0)


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _accepts(host: str, port: int) -> bool:
    with (
        contextlib.suppress(OSError),
        socket.create_connection(("127.0.0.1" if host in ("0.0.0.0", "") else host, port), timeout=1),
    ):
        return True
    return False


if __name__ == "__main__":
    sys.exit(main())
