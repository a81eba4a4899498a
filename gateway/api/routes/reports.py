"""The organiser's event report: JSON, CSV and a self-contained HTML page (organiser API key, own events only).

The HTML page is authenticated like the rest (Authorization: Bearer). Browsers use the static viewer
(`/events/{id}/report/view`, no data in it): it asks for the key, fetches `report.html` with the header and
shows it in a sandboxed frame. The key never goes into a URL (logs, history, Referer) or a cookie (CSRF).
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
from ..report_render import VIEWER_HTML, VIEWER_SCRIPT_HASH, to_csv, to_html
from ..routing import OneTripRoute

router = APIRouter(prefix="/events", tags=["reports"], route_class=OneTripRoute)

BucketQuery = Annotated[Bucket | None, Query(description="sales bucket; default: from the span of the sales")]

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
VIEWER_CSP = (f"default-src 'none'; script-src '{VIEWER_SCRIPT_HASH}'; style-src 'unsafe-inline'; "
              "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _report(event_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, organiser: OrganiserDep,
            bucket: Bucket | None) -> EventReport:
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    return service.event_report(session=session, event=event, bucket=bucket,
                                block_times=service.chain_block_times(runtime.chain))


@router.get("/{event_id}/report", response_model=EventReport)
def event_report(event_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, organiser: OrganiserDep,
                 bucket: BucketQuery = None) -> EventReport:
    return _report(event_id, session, runtime, organiser, bucket)


@router.get("/{event_id}/report.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "section,bucket,key,label,metric,value"}})
def event_report_csv(event_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, organiser: OrganiserDep,
                     bucket: BucketQuery = None) -> Response:
    report = _report(event_id, session, runtime, organiser, bucket)
    return Response(to_csv(report), media_type="text/csv; charset=utf-8",
                    headers=PRIVATE | {"Content-Disposition": f'attachment; filename="report-{event_id}.csv"'})


@router.get("/{event_id}/report.html", response_class=HTMLResponse)
def event_report_html(event_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, organiser: OrganiserDep,
                      bucket: BucketQuery = None) -> HTMLResponse:
    report = _report(event_id, session, runtime, organiser, bucket)
    return HTMLResponse(to_html(report), headers=PRIVATE | {"Content-Security-Policy": REPORT_CSP})


@router.get("/{event_id}/report/view", response_class=HTMLResponse)
def event_report_viewer(event_id: uuid.UUID) -> HTMLResponse:
    """A static page without data: asks for the organiser key and shows `report.html` fetched with it."""
    return HTMLResponse(VIEWER_HTML, headers=PRIVATE | {"Content-Security-Policy": VIEWER_CSP})
