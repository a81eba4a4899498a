"""The door as fans and stewards live it (issue 15), in real Chromium against a real gateway and anvil: the
fan's pass with no signal, the scanner's layout and answers, re-entry and day passes at the gate.

Fixtures (a live uvicorn gateway, Chromium): live/conftest.py. Screenshots go to tests/output/ (git-ignored).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from playwright.sync_api import expect

from gateway.core import codes
from tests.utils.browser import CHROMIUM, CODE, GREEN, RED, code_for, read_qr, watch_errors, y4m
from tests.utils.gate import bind_key, verify
from tests.utils.http import bearer

ROOT = Path(__file__).resolve().parents[3]
OUTPUT = ROOT / "tests" / "output"
SIZES = {"phone": (360, 640), "tablet": (768, 1024), "laptop": (1280, 800)}
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # package.json pins it (tests only, never served)


def _shot(page, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"))


def _axe(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (the context bypasses the CSP to
    inject it: the pages allow no inline script)."""
    if not page.evaluate("Boolean(window.axe)"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id}: ${
            v.nodes.map((n) => n.target.join(" ") + " " + n.failureSummary).join("; ")}`)""")
    return found


def _in_view(page, selector: str) -> None:
    """The element is visible and wholly inside the viewport (nothing that matters below the fold)."""
    box = page.locator(selector).bounding_box()
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    assert box is not None, selector
    assert (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width + 0.5
        and box["y"] + box["height"] <= height + 0.5
    ), (selector, box, width, height)


def _door(client, org, event_id, **body):
    response = client.put(f"/events/{event_id}/door", json=body, headers=org["headers"])
    assert response.status_code == 200, response.text


def _controlled(page) -> None:
    """Wait until the service worker controls the page (it keeps the pages for offline)."""
    page.evaluate("""async () => {
        await navigator.serviceWorker.ready;
        if (!navigator.serviceWorker.controller) {
            await new Promise((done) => navigator.serviceWorker.addEventListener("controllerchange", done));
        }
    }""")


# ---- the fan's pass with no signal
def test_the_pass_works_after_a_reload_with_no_network(
    playwright, launch, live, client, new_fan, issue, gate_key
):
    fan = new_fan()
    ticket = issue(fan)["tickets"][0]
    context = launch().new_context(**playwright.devices["Pixel 7"])
    page = context.new_page()
    errors = watch_errors(page)
    page.goto(f"{live}/app/ticket#token={fan['session_token']}")
    qr = page.locator("#qr")
    expect(qr).to_have_attribute("data-code", CODE)  # one ticket: its code at once, no tap
    _controlled(page)

    context.set_offline(True)
    page.reload()  # the page from the service worker, the tickets and the key from the phone
    expect(qr).to_have_attribute("data-code", CODE)
    expect(page.locator("#status")).to_contain_text("No signal")
    shown = read_qr(qr.screenshot())  # the code on screen (it may rotate while read: compare the ticket)
    assert CODE.match(shown) and str(codes.decode(shown).ticket_id) == ticket["id"]
    _shot(page, "pass-offline-phone")
    page.close()  # the browser dropped the tab: a new one, still offline
    page = context.new_page()
    page.goto(f"{live}/app/ticket")
    expect(page.locator("#qr")).to_have_attribute("data-code", CODE)
    context.set_offline(False)
    assert verify(client, gate_key, page.locator("#qr").get_attribute("data-code"))["admit"] is True
    assert [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_the_pass_works_after_a_browser_restart_with_no_network(
    playwright, live, client, new_fan, issue, gate_key, tmp_path
):
    fan = new_fan()
    ticket = issue(fan)["tickets"][0]
    profile = tmp_path / "profile"  # the phone's browser profile, kept across the restart

    def browser():
        phone = {k: v for k, v in playwright.devices["Pixel 7"].items() if k != "default_browser_type"}
        return playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), **phone
        )

    context = browser()
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(f"{live}/app/ticket#token={fan['session_token']}")
    expect(page.locator("#qr")).to_have_attribute("data-code", CODE)
    _controlled(page)
    context.close()  # the browser quits (or the phone restarts it)
    context = browser()
    try:
        context.set_offline(True)
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"{live}/app/ticket")  # from the home screen, no network
        expect(page.locator("#qr")).to_have_attribute("data-code", CODE)
        expect(page.locator("#status")).to_contain_text("No signal")
        code = page.locator("#qr").get_attribute("data-code")
        assert str(codes.decode(code).ticket_id) == ticket["id"]
        assert verify(client, gate_key, code)["admit"] is True  # the gate takes it (the gate is online)
    finally:
        context.close()


# ---- one rule list: the browser runs the shared vectors
def test_the_scanner_runs_the_shared_rule_vectors(launch, live):
    vectors = json.loads((Path(__file__).parent.parent / "gate_vectors.json").read_text())
    page = launch().new_page()
    errors = watch_errors(page)
    page.goto(f"{live}/app/scanner")
    answers = page.evaluate(
        """async (vectors) => {
        const {Snapshot, Local} = await import("./static/offline.js");
        const out = [];
        for (const suite of vectors.suites) {
            const snapshot = new Snapshot({tickets: suite.tickets, rules: suite.rules,
                                           cancelled: suite.cancelled, tiers: suite.tiers,
                                           generated_at: vectors.now - 13});
            for (const c of suite.cases) {
                const a = await snapshot.decide(c.code, vectors.now * 1000, new Local(suite.local),
                                                c.direction);
                out.push([suite.name, c.name, a.reason, a.unverified]);
            }
        }
        const newer = new Snapshot({tickets: [], cancelled: false, generated_at: 0,
                                    rules: {...vectors.suites[0].rules,
                                            order: ["malformed_code", "rule_from_2030"]}});
        const unknown = await newer.decide(vectors.suites[0].cases[0].code, 0);
        out.push(["newer gateway", "unknown rule", unknown.reason, false]);
        return out;
    }""",
        vectors,
    )
    expected = [
        [s["name"], c["name"], c["expect"], c["unverified"]] for s in vectors["suites"] for c in s["cases"]
    ]
    assert answers == expected + [["newer gateway", "unknown rule", "update_scanner", False]]
    assert errors == []


# ---- the fan's pass: what it shows, its used state, signing out
def test_the_pass_shows_the_event_and_its_check_in(
    launch, live, client, org, gw_event, new_fan, issue, gate_key
):
    _door(
        client,
        org,
        gw_event["id"],
        timezone="Europe/London",
        venue="Hyde Park",
        starts_at="2026-07-04T17:00:00Z",
        doors_at="2026-07-04T16:30:00Z",
    )
    fan = new_fan()
    ticket = issue(fan)["tickets"][0]
    placed = client.put(
        f"/events/{gw_event['id']}/tickets/{ticket['id']}/place",
        json={"section": "B", "row": "12", "seat": "7"},
        headers=org["headers"],
    )
    assert placed.status_code == 200, placed.text
    browser = launch()
    for name, (width, height) in reversed(SIZES.items()):  # the phone last: each browser links its own key
        context = browser.new_context(
            viewport={"width": width, "height": height}, bypass_csp=True, locale="en-GB"
        )
        page = context.new_page()
        errors = watch_errors(page)
        page.clock.install()  # time flows, and the test can move it on
        page.goto(f"{live}/app/ticket#token={fan['session_token']}")
        expect(page.locator("#qr")).to_have_attribute("data-code", CODE)
        details = page.locator("#pass-details")
        for text in [
            "Sat, 4 Jul 2026",
            "18:00",
            "BST",
            "17:30",
            "Hyde Park",
            "Section B · Row 12 · Seat 7",
            "General",
        ]:
            expect(details).to_contain_text(text)  # London time: 17:00 UTC is 18:00 BST
        for selector in ["#pass-title", "#pass-details", "#qr", "#countdown-text"]:
            _in_view(page, selector)  # the code and what it is for, on one screen
        expect(page.locator("#back")).to_be_hidden()  # one ticket: no list to go back to
        _shot(page, f"pass-{name}")
        assert _axe(page) == [], name
        assert errors == []
        if name == "phone":
            phone = page
        else:
            context.close()
    page = phone
    # checked in at the gate: the open pass says so and shows no code
    code = page.locator("#qr").get_attribute("data-code")
    scanned = client.post("/gate/scan", json={"code": code}, headers=bearer(gate_key)).json()
    assert scanned["admit"] is True, scanned
    page.clock.fast_forward(11_000)
    expect(page.locator("#pass-used")).to_have_text(re.compile(r"^Checked in at \d\d:\d\d, North door$"))
    expect(page.locator("#pass-code")).to_be_hidden()
    expect(page.locator("#pass")).to_have_attribute("data-state", "used")
    _shot(page, "pass-used-phone")
    assert _axe(page) == []
    page.reload()  # the used state stays (the list knows it)
    expect(page.locator("#pass-used")).to_be_visible()
    expect(page.locator("#pass-code")).to_be_hidden()
    # signing out asks first, in the fan's words
    page.click("#sign-out")
    expect(page.locator("#confirm-sign-out")).to_be_visible()
    expect(page.locator("#confirm-sign-out")).to_contain_text("recovery code")
    assert _axe(page) == []
    page.click("#sign-out-cancel")
    expect(page.locator("#pass")).to_be_visible()
    page.click("#sign-out")
    page.click("#sign-out-ok")
    expect(page.locator("#recover")).to_be_visible()
    expect(page.locator("#recover")).to_contain_text("recovery code")
    expect(page.locator("#sign-in")).to_be_hidden()  # the token form is folded away
    _shot(page, "sign-in-phone")
    assert _axe(page) == []


def test_the_pass_asks_for_the_screen_to_stay_on_and_is_installable(launch, live, client, new_fan, issue):
    fan = new_fan()
    issue(fan)
    page = launch().new_page()
    page.goto(f"{live}/app/ticket#token={fan['session_token']}")
    expect(page.locator("#qr")).to_have_attribute("data-code", CODE)
    expect(page.locator("body")).to_have_attribute(
        "data-awake", re.compile("true|false")
    )  # asked (headless: no)
    manifest = page.evaluate("""async () => {
        const link = document.querySelector('link[rel="manifest"]');
        const response = await fetch(link.href);
        const data = await response.json();
        const icons = await Promise.all(data.icons.map(async (icon) => {
            const r = await fetch(new URL(icon.src, link.href));
            return [icon.sizes, r.status, r.headers.get("content-type")];
        }));
        return {type: response.headers.get("content-type"),
                start: new URL(data.start_url, link.href).pathname, display: data.display, icons};
    }""")
    assert manifest == {
        "type": "application/manifest+json",
        "start": "/app/ticket",
        "display": "standalone",
        "icons": [
            ["192x192", 200, "image/png"],
            ["512x512", 200, "image/png"],
            ["any", 200, "image/svg+xml"],
        ],
    }


# ---- the scanner: what fits the screen, what it says
def test_the_scanner_fits_every_screen_and_names_its_gate(launch, live, client, gate_key):
    browser = launch()
    for name, (width, height) in SIZES.items():
        context = browser.new_context(
            viewport={"width": width, "height": height}, bypass_csp=True, permissions=["camera"]
        )
        page = context.new_page()
        errors = watch_errors(page)
        page.goto(f"{live}/app/scanner#key={gate_key}")
        expect(page.locator("#bar")).to_have_attribute("data-snapshot-tickets", "0")
        expect(page.locator("#gate-title")).to_have_text("Gig · North door")
        expect(page.locator("#snapshot-state")).to_contain_text(re.compile(r"list: 0 tickets, \d+ s old"))
        for selector in ["#gate-title", "#change-key", "#bar", "#counts", "#start", "#camera"]:
            _in_view(page, selector)
        _shot(page, f"scanner-{name}")
        assert _axe(page) == [], name
        assert errors == []
        context.close()
    # a wrong key: the steward reads why, on screen, at the smallest size
    context = browser.new_context(viewport={"width": 360, "height": 640}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live}/app/scanner#key=tkg_not-a-key")
    expect(page.locator("#status")).to_contain_text("gate key is not accepted")
    _in_view(page, "#status")
    _in_view(page, "#start")
    _shot(page, "scanner-wrong-key-phone")
    # changing the key asks first: one tap never erases it
    page.click("#change-key")
    expect(page.locator("#confirm-change")).to_be_visible()
    assert _axe(page) == []
    page.click("#confirm-change-cancel")
    assert page.evaluate("localStorage.getItem('ticketkit.gate.key')") == "tkg_not-a-key"
    page.click("#change-key")
    page.click("#confirm-change-ok")
    expect(page.locator("#key-form")).to_be_visible()
    assert page.evaluate("localStorage.getItem('ticketkit.gate.key')") is None
    assert _axe(page) == []


def _start(page):
    page.click("#start")


def test_reentry_at_the_scanner_entry_exit_and_back_in(
    launch, live, client, org, gw_event, new_fan, issue, gate_key, tmp_path
):
    _door(client, org, gw_event["id"], entry_policy="reentry")
    fan = new_fan()
    ticket = issue(fan)["tickets"][0]
    browser = launch(y4m(tmp_path / "qr.y4m", code_for(bind_key(client, fan, ticket["id"]), ticket["id"])))
    context = browser.new_context(
        viewport={"width": 360, "height": 640}, permissions=["camera"], bypass_csp=True
    )
    page = context.new_page()
    errors = watch_errors(page)
    page.goto(f"{live}/app/scanner#key={gate_key}")
    expect(page.locator("#bar")).to_have_attribute("data-snapshot-tickets", "1")
    expect(page.locator("#direction")).to_be_visible()  # re-entry: the steward picks entry or exit
    _in_view(page, "#direction")
    page.click("#start")
    answer = page.locator("#answer")
    expect(answer).to_have_attribute("data-admit", "true", timeout=15_000)
    expect(answer).to_have_css("background-color", GREEN)
    expect(page.locator("body")).to_have_attribute("data-last-signal", "admit")  # its beep played (WebAudio)
    assert _axe(page) == []  # the answer's text reaches 4.5:1 on green
    _shot(page, "scanner-admit-phone")
    expect(answer).to_have_attribute("data-reason", "already_checked_in", timeout=10_000)
    expect(answer).to_contain_text("Already inside")
    expect(answer).to_have_css("background-color", RED)
    expect(page.locator("body")).to_have_attribute("data-last-signal", "refuse")
    assert _axe(page) == []  # and on red
    _shot(page, "scanner-refuse-phone")
    page.locator("#direction-exit").dispatch_event(
        "click"
    )  # the steward's tap (the answer covers the screen)
    expect(answer).to_contain_text("EXIT OK", timeout=10_000)
    page.locator("#direction-entry").dispatch_event("click")
    expect(answer).to_contain_text("ADMIT", timeout=10_000)
    expect(answer).to_have_attribute("data-admit", "true")
    expect(page.locator("#count-admitted")).to_have_text(re.compile(r"[3-9]"))  # entry, exit, entry
    expect(page.locator("#count-refused")).not_to_have_text("0")
    history = [
        (li.get_attribute("data-admit"), li.get_attribute("data-reason"))
        for li in page.locator("#history li").all()
    ][::-1]  # oldest first
    assert history[:2] == [("true", ""), ("false", "already_checked_in")], history
    assert errors == []
    entries = client.get("/gate/snapshot", headers=bearer(gate_key)).json()
    [listed] = json.loads(entries["payload"])["tickets"]
    assert (listed[5], listed[6]) == (2, 1)  # entries, exits


def test_a_day_pass_enters_once_today_at_the_scanner(
    launch, live, client, org, gw_event, new_fan, issue, gate_key, tmp_path
):
    today = time.strftime("%Y-%m-%d", time.gmtime())
    _door(client, org, gw_event["id"], entry_policy="days", entry_days=[today])
    fan = new_fan()
    ticket = issue(fan)["tickets"][0]
    browser = launch(y4m(tmp_path / "qr.y4m", code_for(bind_key(client, fan, ticket["id"]), ticket["id"])))
    page = browser.new_context(permissions=["camera"]).new_page()
    page.goto(f"{live}/app/scanner#key={gate_key}")
    expect(page.locator("#bar")).to_have_attribute("data-snapshot-tickets", "1")
    expect(page.locator("#direction")).to_be_hidden()  # day passes have no exit scans
    page.click("#start")
    answer = page.locator("#answer")
    expect(answer).to_have_attribute("data-admit", "true", timeout=15_000)
    expect(answer).to_contain_text("Already entered today", timeout=10_000)


def test_offline_the_scanner_says_what_it_knows_of_a_ticket_linked_after_its_list(
    launch, live, client, new_fan, issue, gate_key, tmp_path
):
    fan = new_fan()
    ticket = issue(fan)["tickets"][0]
    key = codes.new_device_key()  # the fan's phone, linked only after the gate took its list
    browser = launch(y4m(tmp_path / "qr.y4m", code_for(key, ticket["id"])))
    context = browser.new_context(permissions=["camera"])
    page = context.new_page()
    page.goto(f"{live}/app/scanner#key={gate_key}")
    expect(page.locator("#bar")).to_have_attribute("data-snapshot-tickets", "1")
    page.route("**/gate/snapshot*", lambda route: route.abort())  # no newer list reaches this gate
    linked = client.post(
        f"/tickets/{ticket['id']}/device",
        json={"public_key": codes.public_key_text(key)},
        headers=fan["headers"],
    )
    assert linked.status_code == 201, linked.text
    context.set_offline(True)
    expect(page.locator("#bar")).to_have_attribute("data-online", "false")
    page.click("#start")
    answer = page.locator("#answer")
    expect(answer).to_have_attribute("data-reason", "not_in_list", timeout=15_000)
    expect(answer).to_contain_text(re.compile(r"Not in this gate's list \(list \d+ s old\)"))
    assert "not set up on a phone" not in answer.text_content()


def test_the_scanner_refreshes_its_list_by_delta(launch, live, client, new_fan, issue, gate_key):
    fan = new_fan()
    _first, second = issue(fan, quantity=2)["tickets"]
    page = launch().new_page()
    requests: list[str] = []
    page.on(
        "request",
        lambda request: (
            requests.append(request.url)
            if "/gate/snapshot?" in request.url or request.url.endswith("/gate/snapshot")
            else None
        ),
    )
    page.goto(f"{live}/app/scanner#key={gate_key}")
    expect(page.locator("#bar")).to_have_attribute("data-snapshot-tickets", "2")
    key = bind_key(client, fan, second["id"])
    page.evaluate("window.dispatchEvent(new Event('online'))")  # what a regained signal does: refresh now
    expect(page.locator("#bar")).to_have_attribute("data-deltas", "1")
    assert "?since=" in requests[-1] and "?since=" not in requests[0], requests
    page.reload()  # the list and its delta come back from IndexedDB, verified again
    expect(page.locator("#bar")).to_have_attribute("data-snapshot-tickets", "2")
    answer = page.evaluate(
        """async (code) => {
        const {Snapshot} = await import("./static/offline.js");
        const store = await import("./static/store.js");
        const kept = await store.get("gate-lists", "list");
        const list = new Snapshot(JSON.parse(kept.snapshot.payload));
        for (const d of kept.deltas) list.merge(JSON.parse(d.payload));
        return (await list.decide(code, Date.now())).admit;
    }""",
        codes.sign_code(key, second["id"]),
    )
    assert answer is True  # the key linked after the full list arrived with the delta
