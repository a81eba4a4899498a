"""The organiser's event report: JSON, CSV and a self-contained HTML page of tables (organiser API key, own
events only), and the live doors dashboard.

Everything with data is authenticated like the rest (Authorization: Bearer). The dashboard
(`/events/{id}/report/view`) is a static page with no data: its script asks for the key, polls the JSON report
and draws it. The key never goes into a URL (logs, history, Referer) or a cookie (CSRF).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from ...services import events as event_service
from ...services import report as service
from ...services.report import Bucket, EventReport
from ..deps import OrganiserDep, RuntimeDep, SessionDep
from ..report_render import VIEWER_HTML, to_csv, to_html
from ..routing import OneTripRoute

router = APIRouter(prefix="/events", tags=["reports"], route_class=OneTripRoute)

BucketQuery = Annotated[Bucket | None, Query(description="sales bucket; default: from the span of the sales")]

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
# The dashboard's scripts and styles are gateway/static files (uPlot sets inline styles on its elements).
VIEWER_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
AttendeesQuery = Annotated[
    bool, Query(description="add the pseudonymous attendee list (ticket, tier, entry, gate)")
]


def _report(
    event_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    organiser: OrganiserDep,
    bucket: Bucket | None,
    attendees: bool = False,
) -> EventReport:
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    return service.event_report(
        session=session,
        event=event,
        bucket=bucket,
        attendees=attendees,
        block_times=service.chain_block_times(runtime.chain),
        royalty_bps=service.chain_royalty_bps(runtime.chain, event.collection_address),
    )


@router.get("/{event_id}/report", response_model=EventReport, response_model_exclude_none=False)
def event_report(
    event_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    organiser: OrganiserDep,
    bucket: BucketQuery = None,
    attendees: AttendeesQuery = False,
) -> EventReport:
    """The report as JSON; the dashboard polls it. `attendees=true` adds the attendee list (an export)."""
    return _report(event_id, session, runtime, organiser, bucket, attendees)


@router.get(
    "/{event_id}/report.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "section,bucket,key,label,metric,value"}},
)
def event_report_csv(
    event_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    organiser: OrganiserDep,
    bucket: BucketQuery = None,
) -> Response:
    report = _report(event_id, session, runtime, organiser, bucket, attendees=True)
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers=PRIVATE | {"Content-Disposition": f'attachment; filename="report-{event_id}.csv"'},
    )


@router.get("/{event_id}/report.html", response_class=HTMLResponse)
def event_report_html(
    event_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    organiser: OrganiserDep,
    bucket: BucketQuery = None,
) -> HTMLResponse:
    report = _report(event_id, session, runtime, organiser, bucket)
    return HTMLResponse(to_html(report), headers=PRIVATE | {"Content-Security-Policy": REPORT_CSP})


@router.get("/{event_id}/report/view", response_class=HTMLResponse)
def event_report_viewer(event_id: uuid.UUID) -> HTMLResponse:
    """The live doors dashboard: a static page without data; its script signs in with the organiser key, polls
    the JSON report every few seconds and draws it (uPlot, in the event's time zone)."""
    return HTMLResponse(VIEWER_HTML, headers=PRIVATE | {"Content-Security-Policy": VIEWER_CSP})
