"""`ticketkit-gateway`: the gateway's production server — uvicorn with N worker processes behind one socket,
configured by GATEWAY_* environment variables (gateway/core/config.py) or a .env file.

    ticketkit-gateway [--host 0.0.0.0] [--port 8000] [--workers N] [--log-level info] [--access-log]

Before the workers start it checks the settings (a clear message for a missing or wrong variable), applies the
database migrations once (the workers then skip them), raises the open-files limit to its maximum (every
connection of a crowd is a file descriptor), and gives the workers a shared directory for their Prometheus
figures. SIGTERM or Ctrl-C: queued requests are answered 503 `shutting_down` at once, running ones get
`GRACEFUL_SECONDS` to finish, the background threads stop, and the process exits (docs/gateway.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import sys
import tempfile

from pydantic import ValidationError

GRACEFUL_SECONDS = (
    5  # running requests get this long to finish after SIGTERM; what is queued is answered at once
)
BACKLOG = 4096  # connections the kernel holds for accept() during a burst (uvicorn's default is 2048)
# An idle keep-alive connection is closed after this long (uvicorn's default, 5 s, is shorter than a phone's
# polling pause: each poll would pay a new connection, and a request sent as the server closes the connection
# is lost to the client; nginx's default is 75 s).
KEEP_ALIVE_SECONDS = 75


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
        "--nice",
        type=int,
        default=int(os.environ.get("GATEWAY_NICE", "0")),
        help=(
            "lower the workers' CPU priority by this much (e.g. 10 for the fans' server beside a doors "
            "server)"
        ),
    )
    args = parser.parse_args(argv)

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
    if args.nice > 0:
        os.nice(args.nice)  # the workers inherit it
    metrics_dir = None
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="ticketkit-gateway-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    import uvicorn

    from .core import logs

    logs.configure(settings.log_level, settings.log_format)  # text or JSON, like every other line
    logging.getLogger("gateway").info(
        "ticketkit-gateway: http://%s:%s with %d worker(s), database %s, open-files limit %d",
        args.host,
        args.port,
        args.workers,
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
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
