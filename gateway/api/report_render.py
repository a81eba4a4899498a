"""The event report as CSV and as a self-contained HTML page with inline SVG charts (no JavaScript, no
external requests), plus the static viewer page that fetches it with the organiser key.

CSV: one long table, `section,bucket,key,label,metric,value` (see docs/gateway.md, "Organiser report").
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from ..services.report import BUCKETS, ON_CHAIN, CheckinRow, EventReport, SalesRow, wei_to_eth

CSV_HEADER = ("section", "bucket", "key", "label", "metric", "value")
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
ON_CHAIN_COLOUR = "#555555"


def when(value: datetime | None) -> str:
    """UTC as `YYYY-MM-DD HH:MM:SS`, which spreadsheets read as a date; "" for unknown."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _cell(text: str | None) -> str:
    """Free text in a CSV cell: a leading = + - @ would start a spreadsheet formula, so it is quoted with '."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# ---- CSV
def csv_rows(report: EventReport) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []

    def add(section: str, metric: str, value: object, *, bucket: str = "", key: str = "", label: str = "") -> None:
        rows.append((section, bucket, key, label, metric, "" if value is None else str(value)))

    add("event", "event_id", report.event_id)
    add("event", "event_name", _cell(report.event_name))
    add("event", "generated_at", when(report.generated_at))
    add("event", "indexed_to_block", report.indexed_to_block)
    add("event", "sales_bucket", report.sales.bucket)
    for row in report.sales.rows:
        for metric in ("gateway", "on_chain"):
            add("sales", metric, getattr(row, metric), bucket=when(row.bucket), key=str(row.tier_id),
                label=_cell(row.tier_name))
    for tier in report.sales.tiers:
        for metric in ("gateway", "on_chain", "total", "supply"):
            add("sales_total", metric, getattr(tier, metric), key=str(tier.tier_id), label=_cell(tier.tier_name))
    for row in report.checkins.rows:
        add("checkins", "checkins", row.count, bucket=when(row.minute), key=row.gate, label=_cell(row.gate_label))
    for gate in report.checkins.gates:
        add("checkins_total", "checkins", gate.count, key=gate.gate, label=_cell(gate.gate_label))
    for sale in report.resale.sales:
        values = {"channel": sale.channel, "token_id": sale.token_id, "tier_id": sale.tier_id,
                  "price_wei": sale.price_wei, "price_eth": wei_to_eth(sale.price_wei), "cap_wei": sale.cap_wei,
                  "cap_eth": None if sale.cap_wei is None else wei_to_eth(sale.cap_wei), "ratio": sale.ratio,
                  "royalty_wei": sale.royalty_wei,
                  "royalty_eth": None if sale.royalty_wei is None else wei_to_eth(sale.royalty_wei)}
        for metric, value in values.items():
            add("resale", metric, value, bucket=when(sale.sold_at), key=str(sale.id), label=f"token {sale.token_id}")
    summary = {"tickets_sold": report.sales.total, "sold_gateway": report.sales.gateway,
               "sold_on_chain": report.sales.on_chain, "checkins": report.checkins.total,
               "checkins_through_gates": report.checkins.through_gates, "checkins_on_chain": report.checkins.on_chain,
               "resale_sold": report.resale.sold, "resale_volume_wei": report.resale.volume_wei,
               "resale_volume_eth": wei_to_eth(report.resale.volume_wei), "resale_max_ratio": report.resale.max_ratio,
               "resale_royalty_owed_wei": report.resale.royalty_wei,
               "resale_royalty_owed_eth": wei_to_eth(report.resale.royalty_wei),
               "badges_issued": report.badges.issued, "badges_revoked": report.badges.revoked,
               "badges_held": report.badges.held}
    for metric, value in summary.items():
        add("summary", metric, value)
    return rows


def to_csv(report: EventReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(report))
    return out.getvalue()


# ---- SVG helpers
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _svg(chart_id: str, title: str, body: Sequence[str]) -> str:
    return (f'<svg id="{chart_id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _frame(y_max: float, y_label: str, *, integer: bool = True) -> list[str]:
    """Axes, horizontal grid lines at 0, half and the top, and the y axis label."""
    parts = []
    plot_h = HEIGHT - TOP - BOTTOM
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        value = y_max * fraction
        text = str(round(value)) if integer else _num(value)
        if integer and fraction == 0.5 and value != round(value):
            continue
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{_num(y)}" x2="{WIDTH - RIGHT}" y2="{_num(y)}" '
                     f'stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{_num(y + 4)}" text-anchor="end" font-size="11">{text}</text>')
    parts.append(f'<text x="12" y="{TOP + plot_h / 2}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {TOP + plot_h / 2})">{escape(y_label)}</text>')
    return parts


def _empty(chart_id: str, title: str) -> str:
    return _svg(chart_id, title, [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="13" '
                                  f'fill="#777">nothing yet</text>'])


def stacked_time_bars(chart_id: str, title: str, y_label: str, slot: timedelta,
                      bars: Sequence[tuple[datetime, str, int, str]], colours: dict[str, str]) -> str:
    """Stacked bars on a time axis: one `<rect class="bar">` per (slot start, series, count, tooltip), stacked
    within a slot in the order given. The x axis runs from the first slot to the end of the last one."""
    bars = [b for b in bars if b[2] > 0]
    if not bars:
        return _empty(chart_id, title)
    start = min(b[0] for b in bars)
    end = max(b[0] for b in bars) + slot
    slots = max(1, round((end - start) / slot))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals: dict[datetime, int] = defaultdict(int)
    for at, _, count, _ in bars:
        totals[at] += count
    y_max = max(totals.values())
    slot_w = plot_w / slots
    bar_w = max(1.0, slot_w * 0.8)
    parts = _frame(y_max, y_label)
    stacked: dict[datetime, int] = defaultdict(int)
    for at, series, count, tooltip in bars:
        x = LEFT + (at - start) / (end - start) * plot_w + (slot_w - bar_w) / 2
        height = count / y_max * plot_h
        y = TOP + plot_h - (stacked[at] + count) / y_max * plot_h
        stacked[at] += count
        parts.append(f'<rect class="bar" data-series="{escape(series)}" x="{_num(x)}" y="{_num(y)}" '
                     f'width="{_num(bar_w)}" height="{_num(height)}" fill="{colours.get(series, "#888")}">'
                     f"<title>{escape(tooltip)}</title></rect>")
    fmt = "%Y-%m-%d %H:%M" if slot < timedelta(days=1) else "%Y-%m-%d"
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - BOTTOM + 16}" font-size="11">{start.strftime(fmt)} UTC</text>')
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="end">'
                 f"{end.strftime(fmt)}</text>")
    return _svg(chart_id, title, parts)


def ratio_points(chart_id: str, title: str, points: Sequence[tuple[float, str]]) -> str:
    """One `<circle class="point">` per (price / cap, tooltip) in order sold, against a dashed cap line at 1."""
    if not points:
        return _empty(chart_id, title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    y_max = max(1.1, max(r for r, _ in points) * 1.05)
    parts = _frame(y_max, "price / cap", integer=False)
    cap_y = TOP + plot_h * (1 - 1 / y_max)
    parts.append(f'<line class="cap" x1="{LEFT}" y1="{_num(cap_y)}" x2="{WIDTH - RIGHT}" y2="{_num(cap_y)}" '
                 f'stroke="#e15759" stroke-dasharray="6 4"/>')
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{_num(cap_y - 4)}" font-size="11" text-anchor="end" '
                 f'fill="#e15759">cap</text>')
    step = plot_w / len(points)
    for i, (ratio, tooltip) in enumerate(points):
        x = LEFT + step * (i + 0.5)
        y = TOP + plot_h * (1 - ratio / y_max)
        parts.append(f'<circle class="point" cx="{_num(x)}" cy="{_num(y)}" r="4" fill="#4e79a7">'
                     f"<title>{escape(tooltip)}</title></circle>")
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - BOTTOM + 16}" font-size="11">sales in order sold →</text>')
    return _svg(chart_id, title, parts)


# ---- the HTML page
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#666;margin:0 0 16px}.tiles{display:flex;flex-wrap:wrap;gap:12px}
.tile{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.tile b{display:block;font-size:20px}table{border-collapse:collapse;margin:8px 0}
td,th{border-bottom:1px solid #eee;padding:3px 10px;text-align:left}td.n,th.n{text-align:right}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;
margin-right:4px;border-radius:2px}svg.chart{max-width:100%;height:auto}
"""


def _colours(keys: Sequence[str]) -> dict[str, str]:
    colours = {}
    for i, key in enumerate(k for k in keys if k != ON_CHAIN):
        colours[key] = PALETTE[i % len(PALETTE)]
    colours[ON_CHAIN] = ON_CHAIN_COLOUR
    return colours


def _legend(items: Sequence[tuple[str, str]], colours: dict[str, str]) -> str:
    return '<p class="legend">' + "".join(f'<span><i style="background:{colours[key]}"></i>{escape(label)}</span>'
                                          for key, label in items) + "</p>"


def _table(head: Sequence[str], rows: Sequence[Sequence[object]], numeric: set[int]) -> str:
    cls = lambda i: ' class="n"' if i in numeric else ""  # noqa: E731
    out = ["<table><tr>" + "".join(f"<th{cls(i)}>{escape(h)}</th>" for i, h in enumerate(head)) + "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td{cls(i)}>{escape('' if v is None else str(v))}</td>"
                                    for i, v in enumerate(row)) + "</tr>")
    return "".join(out) + "</table>"


def _tier_label(row: SalesRow) -> str:
    return row.tier_name or f"tier {row.tier_id}"


def _gate_label(row: CheckinRow) -> str:
    return row.gate_label or f"gate {row.gate[:8]}"


def sales_chart(report: EventReport) -> tuple[str, str]:
    tiers = [str(t.tier_id) for t in report.sales.tiers]
    colours = _colours(tiers)
    bars = [(row.bucket, str(row.tier_id), row.total,
             f"{_tier_label(row)}, {when(row.bucket)}: {row.total} ({row.gateway} gateway, {row.on_chain} on chain)")
            for row in report.sales.rows]
    svg = stacked_time_bars("sales-chart", f"Tickets sold per tier per {report.sales.bucket}", "tickets",
                            BUCKETS[report.sales.bucket], bars, colours)
    legend = _legend([(str(t.tier_id), t.tier_name or f"tier {t.tier_id}") for t in report.sales.tiers], colours)
    return svg, legend


def checkins_chart(report: EventReport) -> tuple[str, str]:
    gates = [g.gate for g in report.checkins.gates]
    colours = _colours(gates)
    bars = [(row.minute, row.gate, row.count, f"{_gate_label(row)}, {when(row.minute)}: {row.count}")
            for row in report.checkins.rows if row.minute is not None]
    svg = stacked_time_bars("checkins-chart", "Check-ins per gate per minute", "check-ins", timedelta(minutes=1),
                            bars, colours)  # type: ignore[arg-type]
    legend = _legend([(g.gate, g.gate_label or f"gate {g.gate[:8]}") for g in report.checkins.gates], colours)
    return svg, legend


def resale_chart(report: EventReport) -> str:
    points = [(sale.ratio, f"token {sale.token_id}: {wei_to_eth(sale.price_wei)} ETH of a "
                           f"{wei_to_eth(sale.cap_wei or 0)} ETH cap ({sale.ratio:.1%})")
              for sale in report.resale.sales if sale.ratio is not None]
    return ratio_points("resale-chart", "Resale prices against the cap", points)  # type: ignore[arg-type]


def to_html(report: EventReport) -> str:
    name = report.event_name or str(report.event_id)
    sales_svg, sales_legend = sales_chart(report)
    checkins_svg, checkins_legend = checkins_chart(report)
    ratio = report.resale.max_ratio
    tiles = [("tickets sold", report.sales.total), ("checked in", report.checkins.total),
             ("resales", report.resale.sold), ("resale volume", f"{wei_to_eth(report.resale.volume_wei)} ETH"),
             ("royalty owed (gateway)", f"{wei_to_eth(report.resale.royalty_wei)} ETH"),
             ("max price / cap", "–" if ratio is None else f"{ratio:.1%}"),
             ("badges issued", report.badges.issued), ("badges revoked", report.badges.revoked)]
    indexed = ("not indexed yet: on-chain purchases, check-ins and badges are missing"
               if report.indexed_to_block is None else f"chain data to block {report.indexed_to_block}")
    untimed = sum(r.count for r in report.checkins.rows if r.minute is None)
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Report: {escape(name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(name)}</h1>",
        f'<p class="meta">Generated {escape(when(report.generated_at))} UTC · {escape(indexed)}</p>',
        '<div class="tiles">' + "".join(f'<div class="tile"><b>{escape(str(v))}</b>{escape(k)}</div>'
                                        for k, v in tiles) + "</div>",
        f"<h2>Sales per tier (per {report.sales.bucket})</h2>", sales_svg, sales_legend,
        _table(["tier", "name", "supply", "through the gateway", "on chain", "total"],
               [(t.tier_id, t.tier_name, t.supply, t.gateway, t.on_chain, t.total) for t in report.sales.tiers],
               {0, 2, 3, 4, 5}),
        "<h2>Check-ins per gate per minute</h2>", checkins_svg, checkins_legend,
        _table(["gate", "check-ins"], [(g.gate_label or g.gate, g.count) for g in report.checkins.gates], {1}),
    ]
    if untimed:
        parts.append(f'<p class="meta">{untimed} on-chain check-ins not plotted: their block time could not be '
                     f"read.</p>")
    parts += [
        "<h2>Resale</h2>", resale_chart(report),
        _table(["sold (UTC)", "channel", "token", "tier", "price (ETH)", "cap (ETH)", "price / cap"],
               [(when(s.sold_at), s.channel, s.token_id, s.tier_id, wei_to_eth(s.price_wei),
                 "" if s.cap_wei is None else wei_to_eth(s.cap_wei), "" if s.ratio is None else f"{s.ratio:.1%}")
                for s in report.resale.sales], {2, 3, 4, 5, 6}),
        "<h2>Attendance badges</h2>",
        _table(["issued", "revoked", "held"], [(report.badges.issued, report.badges.revoked, report.badges.held)],
               {0, 1, 2}),
        "</body></html>",
    ]
    return "\n".join(parts)


# ---- the viewer: a static page (no data) that fetches report.html with the key and shows it sandboxed
VIEWER_SCRIPT = """
const form = document.getElementById("login"), key = document.getElementById("key");
const message = document.getElementById("message"), frame = document.getElementById("report");
const STORE = "ticketkit-organiser-key";
key.value = sessionStorage.getItem(STORE) || "";
async function show() {
  message.textContent = "Loading...";
  const response = await fetch("../report.html", {headers: {Authorization: "Bearer " + key.value},
                                                  cache: "no-store", credentials: "omit"});
  if (!response.ok) {
    frame.srcdoc = "";
    message.textContent = response.status === 404 ? "No such event for this key." : "Refused: " + response.status;
    return;
  }
  sessionStorage.setItem(STORE, key.value);
  frame.srcdoc = await response.text();
  message.textContent = "";
}
const failed = () => { message.textContent = "The gateway did not answer."; };
form.addEventListener("submit", (e) => { e.preventDefault(); show().catch(failed); });
if (key.value) show().catch(failed);
"""
VIEWER_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(VIEWER_SCRIPT.encode()).digest()).decode()

VIEWER_HTML = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Event report</title><style>body{{font:14px system-ui,sans-serif;margin:16px}}
iframe{{border:0;width:100%;height:85vh}}</style></head><body>
<form id="login"><label>Organiser API key <input id="key" type="password" autocomplete="off" required></label>
<button>Show report</button> <span id="message"></span></form>
<iframe id="report" sandbox title="report"></iframe>
<script>{VIEWER_SCRIPT}</script>
</body></html>"""
