"""The gateway's log lines: its own loggers reach standard error, as text or as one JSON object per line."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from gateway import process as gateway_process
from gateway.core import logs
from gateway.core.config import Settings
from ticketkit.chain import free_port


@pytest.fixture(autouse=True)
def _restore_gateway_logger():
    gateway = logging.getLogger("gateway")
    handlers, level = list(gateway.handlers), gateway.level
    yield
    gateway.handlers[:], gateway.level = handlers, level


def test_json_lines_carry_level_logger_message_extras_and_tracebacks(capsys):
    logs.configure("info", "json")
    log = logging.getLogger("gateway.indexer")
    log.info("indexed %d events", 3, extra={"chain_id": 31337})
    log.debug("not at this level")
    try:
        raise ValueError("the node blinked")
    except ValueError:
        log.exception("poll failed")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("info", "gateway.indexer", "indexed 3 events"),
        ("error", "gateway.indexer", "poll failed"),
    ]
    assert lines[0]["chain_id"] == 31337 and lines[0]["time"].endswith("+00:00")
    assert "ValueError: the node blinked" in lines[1]["exception"]


def test_configuring_again_replaces_the_handler_and_the_level(capsys):
    logs.configure("info", "json")
    logs.configure("warning", "text")
    log = logging.getLogger("gateway.sending")
    log.info("quiet now")
    log.warning("nonce gap filled")
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith("WARNING gateway.sending: nonce gap filled")


def test_settings_take_the_level_and_format_in_any_case_and_refuse_others():
    settings = Settings(key_encryption_secret="x", log_level="WARNING", log_format="JSON")
    assert (settings.log_level, settings.log_format) == ("warning", "json")
    with pytest.raises(ValueError, match="log_format"):
        Settings(key_encryption_secret="x", log_format="xml")


def test_a_gateway_process_writes_its_access_lines_as_json(tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'gateway.db'}", key_encryption_secret="x" * 32, log_format="json"
    )
    port, out = free_port(), tmp_path / "gateway.log"
    with out.open("w") as log:
        process = gateway_process.spawn(settings, port=port, log=log, log_level="info", access_log=True)
        try:
            gateway_process.wait_serving(f"http://127.0.0.1:{port}", process)
            answer = httpx.get(f"http://127.0.0.1:{port}/events/not-a-uuid")
        finally:
            gateway_process.stop(process, timeout=30)
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    access = [e for e in lines if e["logger"] == "uvicorn.access"]
    assert {"method": "GET", "path": "/events/not-a-uuid"}.items() <= access[-1].items()
    assert access[-1]["status"] == answer.status_code
    assert any(e["logger"] == "uvicorn.error" for e in lines)  # the server's own lines too
