"""The gateway's log lines on standard error: plain text, or one JSON object per line for a log collector.

`configure(level, log_format)` (called by create_app with the settings') sets the `gateway` (and
`ticketkit.rpc`) loggers' level and format, and with the JSON format also uvicorn's (its server and access
lines), so that one process writes one kind of line. Idempotent:
calling it again replaces what it set before. Nothing secret is logged (tests/hardening greps a demo's logs).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonFormatter", "configure"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "gateway-stderr"
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_ACCESS_FIELDS = (
    "client",
    "method",
    "path",
    "http_version",
    "status",
)  # uvicorn.access's arguments, in order


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the record's `extra` fields,
    an access line's request fields, and the exception's traceback as text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            entry |= dict(zip(_ACCESS_FIELDS, record.args))
        entry |= {
            key: value
            for key, value in vars(record).items()
            if key not in _RECORD_FIELDS and not key.startswith("_") and key not in entry
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "info", log_format: str = "text") -> None:
    """Send the `gateway` loggers' records from `level` up to standard error, as `log_format`
    ("text"/"json")."""
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    for name in ("gateway", "ticketkit.rpc"):  # ticketkit.rpc: nodes failing over, back, or all failing
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level.upper())
    if log_format == "json":
        for name in ("uvicorn", "uvicorn.access"):  # handlers uvicorn installed before it loaded the app
            for uvicorn_handler in logging.getLogger(name).handlers:
                uvicorn_handler.setFormatter(formatter)
