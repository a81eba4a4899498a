"""Fixtures for the tests against a gateway served over HTTP (uvicorn in a thread, SQLite) and real Chromium:
every module of this directory. `database_url` and `client` override tests/gateway/conftest.py's here, so
the conftest helpers (organisers, events, fans, tickets) go over HTTP to the live gateway.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
AXE = (
    Path(__file__).resolve().parents[3] / "node_modules" / "axe-core" / "axe.min.js"
)  # pinned in package.json


@pytest.fixture()
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'gateway.db'}"  # one process serves the browser: SQLite is enough


@pytest.fixture()
def live(app):
    """The app served by uvicorn on a free port, in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture()
def client(live):
    """The conftest helpers (organisers, events, fans, tickets) go over HTTP to the live gateway."""
    with httpx.Client(base_url=live, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def playwright():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make deps` (or `make browser`) installs Debian's chromium")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture()
def launch(playwright):
    """launch(video=None) -> a Chromium browser; with `video`, a Y4M file its fake camera shows."""
    browsers = []

    def do(video: Path | None = None):
        args = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
        if video is not None:
            args.append(f"--use-file-for-fake-video-capture={video}")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        browsers.append(browser)
        return browser

    yield do
    for browser in browsers:
        browser.close()


@pytest.fixture()
def gate_key(client, org, gw_event):
    response = client.post(
        f"/events/{gw_event['id']}/gate-keys", json={"label": "North door"}, headers=org["headers"]
    )
    assert response.status_code == 201, response.text
    return response.json()["api_key"]


def axe_violations(page, *, above: str = "minor") -> list[dict]:
    """axe-core's violations on the page more severe than `above` (as {id, impact, help, nodes})."""
    page.add_script_tag(content=AXE.read_text())
    results = page.evaluate("async () => (await axe.run(document)).violations")
    order = ["minor", "moderate", "serious", "critical"]
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results
        if order.index(v["impact"] or "minor") > order.index(above)
    ]
