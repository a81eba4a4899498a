"""The door as fans and stewards live it (issue 15), in real Chromium against a real gateway and anvil: the
fan's pass with no signal, the scanner's layout and answers, re-entry and day passes at the gate.

Fixtures (a live uvicorn gateway, Chromium) come from test_pages. Screenshots go to tests/output/ (git-ignored).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from playwright.sync_api import expect

from gateway.core import codes

from .test_pages import (  # noqa: F401 - fixtures
    CODE,
    _bind,
    _read_qr,
    _verify,
    _watch_errors,
    client,
    database_url,
    gate_key,
    launch,
    live,
    playwright,
)

OUTPUT = Path(__file__).resolve().parents[1] / "output"
SIZES = {"phone": (360, 640), "tablet": (768, 1024), "laptop": (1280, 800)}


def _shot(page, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"))


def _controlled(page) -> None:
    """Wait until the service worker controls the page (it keeps the pages for offline)."""
    page.evaluate("""async () => {
        await navigator.serviceWorker.ready;
        if (!navigator.serviceWorker.controller) {
            await new Promise((done) => navigator.serviceWorker.addEventListener("controllerchange", done));
        }
    }""")


# ---- the fan's pass with no signal
def test_the_pass_works_after_a_reload_with_no_network(playwright, launch, live, client, new_fan, issue, gate_key):
    fan = new_fan()
    ticket = issue(fan)["tickets"][0]
    context = launch().new_context(**playwright.devices["Pixel 7"])
    page = context.new_page()
    errors = _watch_errors(page)
    page.goto(f"{live}/app/ticket#token={fan['session_token']}")
    qr = page.locator("#qr")
    expect(qr).to_have_attribute("data-code", CODE)  # one ticket: its code at once, no tap
    _controlled(page)

    context.set_offline(True)
    page.reload()  # the page from the service worker, the tickets and the key from the phone
    expect(qr).to_have_attribute("data-code", CODE)
    expect(page.locator("#status")).to_contain_text("No signal")
    shown = qr.get_attribute("data-code")
    assert _read_qr(qr.screenshot()) == shown
    assert str(codes.decode(shown).ticket_id) == ticket["id"]
    _shot(page, "pass-offline-phone")
    page.close()  # the browser dropped the tab: a new one, still offline
    page = context.new_page()
    page.goto(f"{live}/app/ticket")
    expect(page.locator("#qr")).to_have_attribute("data-code", CODE)
    context.set_offline(False)
    assert _verify(client, gate_key, page.locator("#qr").get_attribute("data-code"))["admit"] is True
    assert [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


# ---- one rule list: the browser runs the shared vectors
def test_the_scanner_runs_the_shared_rule_vectors(launch, live):
    vectors = json.loads((Path(__file__).with_name("gate_vectors.json")).read_text())
    page = launch().new_page()
    errors = _watch_errors(page)
    page.goto(f"{live}/app/scanner")
    answers = page.evaluate("""async (vectors) => {
        const {Snapshot, Local} = await import("./static/offline.js");
        const out = [];
        for (const suite of vectors.suites) {
            const snapshot = new Snapshot({tickets: suite.tickets, rules: suite.rules, cancelled: suite.cancelled,
                                           generated_at: vectors.now - 13});
            for (const c of suite.cases) {
                const a = await snapshot.decide(c.code, vectors.now * 1000, new Local(suite.local), c.direction);
                out.push([suite.name, c.name, a.reason, a.unverified]);
            }
        }
        const newer = new Snapshot({tickets: [], cancelled: false, generated_at: 0,
                                    rules: {...vectors.suites[0].rules, order: ["malformed_code", "rule_from_2030"]}});
        out.push(["newer gateway", "unknown rule", (await newer.decide(vectors.suites[0].cases[0].code, 0)).reason,
                  false]);
        return out;
    }""", vectors)
    expected = [[s["name"], c["name"], c["expect"], c["unverified"]] for s in vectors["suites"] for c in s["cases"]]
    assert answers == expected + [["newer gateway", "unknown rule", "update_scanner", False]]
    assert errors == []
