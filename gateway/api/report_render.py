"""The event report as CSV, as a self-contained HTML page of tables (no JavaScript, no external requests: to
print or archive), and the organiser's live doors dashboard: a static page without data
(`/events/{id}/report/view`) whose script (gateway/static/report.js) signs in with the organiser key, polls
the JSON report and draws the charts with the vendored uPlot library, in the event's time zone.

CSV: one long table, `section,bucket,key,label,metric,value` (see docs/gateway.md, "Organiser report"); times
in it are UTC.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from ..services.report import EventReport, wei_to_eth

CSV_HEADER = ("section", "bucket", "key", "label", "metric", "value")


def when(value: datetime | None) -> str:
    """UTC as `YYYY-MM-DD HH:MM:SS`, which spreadsheets read as a date; "" for unknown."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _cell(text: str | None) -> str:
    """Free text in a CSV cell: a leading = + - @ would start a spreadsheet formula, so it is quoted with
    '."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# ---- CSV
def csv_rows(report: EventReport) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []

    def add(
        section: str, metric: str, value: object, *, bucket: str = "", key: str = "", label: str = ""
    ) -> None:
        rows.append((section, bucket, key, label, metric, "" if value is None else str(value)))

    add("event", "event_id", report.event_id)
    add("event", "event_name", _cell(report.event_name))
    add("event", "generated_at", when(report.generated_at))
    add("event", "timezone", report.timezone)
    add("event", "indexed_to_block", report.indexed_to_block)
    add("event", "sales_bucket", report.sales.bucket)
    for row in report.sales.rows:
        for metric in ("gateway", "on_chain"):
            add(
                "sales",
                metric,
                getattr(row, metric),
                bucket=when(row.bucket),
                key=str(row.tier_id),
                label=_cell(row.tier_name),
            )
    for tier in report.sales.tiers:
        for metric in ("gateway", "on_chain", "total", "supply"):
            add(
                "sales_total",
                metric,
                getattr(tier, metric),
                key=str(tier.tier_id),
                label=_cell(tier.tier_name),
            )
    for checkin in report.checkins.rows:
        add(
            "checkins",
            "checkins",
            checkin.count,
            bucket=when(checkin.minute),
            key=checkin.gate,
            label=_cell(checkin.gate_label),
        )
    for gate in report.checkins.gates:
        add("checkins_total", "checkins", gate.count, key=gate.gate, label=_cell(gate.gate_label))
    for sale in report.resale.sales:
        values = {
            "channel": sale.channel,
            "token_id": sale.token_id,
            "tier_id": sale.tier_id,
            "price_wei": sale.price_wei,
            "price_eth": wei_to_eth(sale.price_wei),
            "cap_wei": sale.cap_wei,
            "cap_eth": None if sale.cap_wei is None else wei_to_eth(sale.cap_wei),
            "ratio": sale.ratio,
            "royalty_wei": sale.royalty_wei,
            "royalty_eth": None if sale.royalty_wei is None else wei_to_eth(sale.royalty_wei),
        }
        for metric, value in values.items():
            add(
                "resale",
                metric,
                value,
                bucket=when(sale.sold_at),
                key=str(sale.id),
                label=f"token {sale.token_id}",
            )
    summary = {
        "tickets_sold": report.sales.total,
        "sold_gateway": report.sales.gateway,
        "sold_on_chain": report.sales.on_chain,
        "checkins": report.checkins.total,
        "checkins_through_gates": report.checkins.through_gates,
        "checkins_on_chain": report.checkins.on_chain,
        "resale_sold": report.resale.sold,
        "resale_volume_wei": report.resale.volume_wei,
        "resale_volume_eth": wei_to_eth(report.resale.volume_wei),
        "resale_max_ratio": report.resale.max_ratio,
        "resale_royalty_owed_wei": report.resale.royalty_wei,
        "resale_royalty_owed_eth": wei_to_eth(report.resale.royalty_wei),
        "badges_issued": report.badges.issued,
        "badges_revoked": report.badges.revoked,
        "badges_held": report.badges.held,
    }
    for refusal in report.refusals.rows:
        add("refusals", "refusals", refusal.count, bucket=when(refusal.minute), key=refusal.reason)
    for reason in report.refusals.reasons:
        add("refusals_total", "refusals", reason.count, key=reason.reason)
    for tier in report.sales.tiers:
        for metric in ("refunded", "checked_in", "face_value_wei", "revenue_wei"):
            add("tier", metric, getattr(tier, metric), key=str(tier.tier_id), label=_cell(tier.tier_name))
    a, r, q = report.attendance, report.revenue, report.queue
    summary |= {
        "tickets_valid": a.tickets,
        "refunded": a.refunded,
        "checked_in": a.checked_in,
        "no_shows": a.no_shows,
        "attendance_rate": a.rate,
        "gate_conflicts": a.conflicts,
        "refusals": report.refusals.total,
        "revenue_primary_wei": r.primary_wei,
        "revenue_primary_eth": wei_to_eth(r.primary_wei),
        "royalty_bps": r.royalty_bps,
        "royalties_wei": r.royalties_wei,
        "royalties_on_chain_wei": r.royalties_on_chain_wei,
        "royalties_computed_wei": r.royalties_computed_wei,
        "queue_waiting": q.waiting,
        "queue_lag_seconds": q.lag_seconds,
        "queue_done": q.done,
    }
    for metric, figure in summary.items():
        add("summary", metric, figure)
    for person in report.attendees or ():
        for metric, value in (
            ("tier_id", person.tier_id),
            ("tier_name", _cell(person.tier_name)),
            ("gate", _cell(person.gate)),
            ("source", person.source),
        ):
            add(
                "attendee",
                metric,
                value,
                bucket=when(person.entered_at),
                key=str(person.token_id),
                label=f"token {person.token_id}",
            )
    return rows


def to_csv(report: EventReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(report))
    return out.getvalue()


# ---- the HTML page: tables only (the dashboard draws the charts)
STYLE = """
body{font:16px/1.45 system-ui,sans-serif;margin:16px;color:#1a1a1a;max-width:1000px}
h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.25rem;margin:28px 0 8px}
.meta{color:#555;margin:0 0 16px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.tile{border:1px solid #ccc;border-radius:8px;padding:8px 12px}
.tile dd{margin:0;font-size:1.5rem;font-weight:700}
.tile dt{color:#444}table{border-collapse:collapse;margin:8px 0;width:100%}.wrap{overflow-x:auto}
td,th{border-bottom:1px solid #ddd;padding:6px 10px;text-align:left}td.n,th.n{text-align:right}
"""


def local(value: datetime | None, zone: str) -> str:
    """`2030-05-01 21:03:00 BST` in the event's time zone; "" for unknown."""
    if value is None:
        return ""
    moment = value.astimezone(ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or zone)


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[object]], numeric: set[int]) -> str:
    cls = lambda i: ' class="n"' if i in numeric else ""
    out = [
        f'<div class="wrap"><table><caption class="meta">{escape(caption)}</caption><thead><tr>'
        + "".join(f'<th scope="col"{cls(i)}>{escape(h)}</th>' for i, h in enumerate(head))
        + "</tr></thead><tbody>"
    ]
    for row in rows:
        out.append(
            "<tr>"
            + "".join(f"<td{cls(i)}>{escape('' if v is None else str(v))}</td>" for i, v in enumerate(row))
            + "</tr>"
        )
    return "".join(out) + "</tbody></table></div>"


def tiles(report: EventReport) -> list[tuple[str, str, str]]:
    """(metric, label, value) of the headline figures, shared by the page and the dashboard's tests."""
    a, r, q = report.attendance, report.revenue, report.queue
    return [
        ("tickets", "tickets (not refunded)", str(a.tickets)),
        ("checked_in", "checked in", str(a.checked_in)),
        ("rate", "attendance", percent(a.rate)),
        ("no_shows", "not checked in", str(a.no_shows)),
        ("refusals", "refusals", str(report.refusals.total)),
        ("conflicts", "gate conflicts", str(a.conflicts)),
        ("queue", "waiting for the chain", f"{q.waiting} ({q.lag_seconds or 0:.0f} s)"),
        ("primary", "primary revenue", f"{wei_to_eth(r.primary_wei)} ETH"),
        (
            "royalties",
            "resale royalties",
            "unknown" if r.royalties_wei is None else f"{wei_to_eth(r.royalties_wei)} ETH",
        ),
        ("royalty_owed", "royalty owed (gateway)", f"{wei_to_eth(report.resale.royalty_wei)} ETH"),
        ("resales", "resales", str(report.resale.sold)),
        ("volume", "resale volume", f"{wei_to_eth(report.resale.volume_wei)} ETH"),
    ]


def to_html(report: EventReport) -> str:
    name = report.event_name or str(report.event_id)
    zone = report.timezone
    indexed = (
        "not indexed yet: on-chain purchases, check-ins and badges are missing"
        if report.indexed_to_block is None
        else f"chain data to block {report.indexed_to_block}"
    )
    untimed = sum(r.count for r in report.checkins.rows if r.minute is None)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Report: {escape(name)}</title><style>{STYLE}</style></head><body>",
        f"<header><h1>{escape(name)}</h1>",
        (
            f'<p class="meta">Generated {escape(local(report.generated_at, zone))} · times in '
            f"{escape(zone)} · "
            f"{escape(indexed)}</p></header><main>"
        ),
        '<section aria-labelledby="h-summary"><h2 id="h-summary">Summary</h2><dl class="tiles">'
        + "".join(
            f'<div class="tile" data-metric="{m}"><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>'
            for m, k, v in tiles(report)
        )
        + "</dl></section>",
        '<section aria-labelledby="h-tiers"><h2 id="h-tiers">Tiers</h2>',
        _table(
            "Sold against supply, checked in and primary revenue per tier",
            ["tier", "sold", "supply", "refunded", "checked in", "face value (ETH)", "revenue (ETH)"],
            [
                (
                    t.tier_name or f"tier {t.tier_id}",
                    t.total,
                    t.supply,
                    t.refunded,
                    t.checked_in,
                    "" if t.face_value_wei is None else wei_to_eth(t.face_value_wei),
                    wei_to_eth(t.revenue_wei),
                )
                for t in report.sales.tiers
            ],
            {1, 2, 3, 4, 5, 6},
        ),
        _table(
            f"Tickets sold per {report.sales.bucket}",
            ["from", "tier", "through the gateway", "on chain", "total"],
            [
                (local(r.bucket, zone), r.tier_name or f"tier {r.tier_id}", r.gateway, r.on_chain, r.total)
                for r in report.sales.rows
            ],
            {2, 3, 4},
        ),
        "</section>",
        '<section aria-labelledby="h-checkins"><h2 id="h-checkins">Check-ins</h2>',
        _table(
            "Check-ins per gate",
            ["gate", "check-ins"],
            [(g.gate_label or g.gate, g.count) for g in report.checkins.gates],
            {1},
        ),
        _table(
            "Check-ins per gate per minute",
            ["minute", "gate", "check-ins"],
            [(local(r.minute, zone), r.gate_label or r.gate, r.count) for r in report.checkins.rows],
            {2},
        ),
    ]
    if untimed:
        parts.append(
            f'<p class="meta">{untimed} on-chain check-ins have no time: their block time could not be '
            f"read.</p>"
        )
    parts += [
        "</section>",
        '<section aria-labelledby="h-refusals"><h2 id="h-refusals">Refusals</h2>',
        _table(
            "Refusals by reason",
            ["reason", "refusals"],
            [(r.reason, r.count) for r in report.refusals.reasons],
            {1},
        ),
        _table(
            "Refusals per minute",
            ["minute", "reason", "refusals"],
            [(local(r.minute, zone), r.reason, r.count) for r in report.refusals.rows],
            {2},
        ),
        "</section>",
        '<section aria-labelledby="h-resale"><h2 id="h-resale">Resale</h2>',
        _table(
            "Resales, price against the cap",
            ["sold", "channel", "token", "tier", "price (ETH)", "cap (ETH)", "price / cap"],
            [
                (
                    local(s.sold_at, zone),
                    s.channel,
                    s.token_id,
                    s.tier_id,
                    wei_to_eth(s.price_wei),
                    "" if s.cap_wei is None else wei_to_eth(s.cap_wei),
                    percent(s.ratio),
                )
                for s in report.resale.sales
            ],
            {2, 3, 4, 5, 6},
        ),
        "</section>",
        '<section aria-labelledby="h-badges"><h2 id="h-badges">Attendance badges</h2>',
        _table(
            "Badges",
            ["issued", "revoked", "held"],
            [(report.badges.issued, report.badges.revoked, report.badges.held)],
            {0, 1, 2},
        ),
        "</section></main></body></html>",
    ]
    return "\n".join(parts)


# ---- the live dashboard: a static page (no data); gateway/static/report.js does the rest
VIEWER_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Doors dashboard</title>
<link rel="stylesheet" href="../../../app/static/vendor/uPlot.min.css">
<link rel="stylesheet" href="../../../app/static/report.css"></head><body>
<header><h1 id="title">Doors dashboard</h1>
<p id="status" class="meta">Sign in with the organiser API key.</p></header>
<main>
<section id="signin" aria-labelledby="h-signin"><h2 id="h-signin">Sign in</h2>
<form id="login"><label for="key">Organiser API key</label>
<input id="key" type="password" autocomplete="off" required spellcheck="false">
<button>Show the dashboard</button></form>
<p id="message" role="alert"></p></section>
<div id="dashboard" hidden>
<section aria-labelledby="h-now"><h2 id="h-now">At the doors</h2><dl id="tiles" class="tiles"></dl></section>
<section aria-labelledby="h-checkins"><h2 id="h-checkins">Check-ins per minute, by gate</h2>
<div id="chart-checkins" class="chart" role="img"></div><div id="table-gates"></div></section>
<section aria-labelledby="h-refusals"><h2 id="h-refusals">Refusals per minute, by reason</h2>
<div id="chart-refusals" class="chart" role="img"></div><div id="table-reasons"></div></section>
<section aria-labelledby="h-tiers"><h2 id="h-tiers">Tiers: sold, checked in, revenue</h2>
<div id="table-tiers"></div><div id="chart-sales" class="chart" role="img"></div></section>
<section aria-labelledby="h-resale"><h2 id="h-resale">Resale prices, percent of the cap</h2>
<div id="chart-resale" class="chart" role="img"></div><div id="table-resale"></div></section>
<section aria-labelledby="h-exports"><h2 id="h-exports">Exports</h2>
<p>Refusals and the attendee list (ticket, tier, entry time, gate: no contact data) are in both.</p>
<p><button id="export-csv" type="button">Download CSV</button>
<button id="export-json" type="button">Download JSON</button>
<button id="signout" type="button">Sign out</button></p></section>
</div>
</main>
<script src="../../../app/static/vendor/uPlot.iife.min.js"></script>
<script src="../../../app/static/report.js"></script>
</body></html>"""
