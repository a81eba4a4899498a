"""Probes and metrics: `GET /healthz` (alive: no database, no thread, never queued), `GET /readyz` (ready to
serve: database, RPC node, check-in queue lag, indexer lag; 503 naming the failing part), `GET /metrics`
(Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from ...core import metrics
from ...runtime import Runtime
from ...services import health
from ..deps import RuntimeDep
from ..routing import OneTripRoute

router = APIRouter(tags=["operations"], route_class=OneTripRoute)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers (liveness). Cheap enough for a probe every second under any load."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready: `failing` names the parts"}})
def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready to serve (readiness): each part with its state; 503 with `error` `not_ready` and the failing
    parts."""
    found = health.readiness(runtime)
    checks = {name: {"ok": check.ok, "detail": check.detail} for name, check in found.checks.items()}
    if found.ok:
        return JSONResponse({"status": "ready", "checks": checks})
    return JSONResponse(
        {
            "error": "not_ready",
            "detail": f"not ready: {', '.join(found.failing)}",
            "failing": found.failing,
            "checks": checks,
        },
        status_code=503,
        headers={"Retry-After": "5"},
    )


def _live(runtime: Runtime) -> dict[tuple[str, str], float | None]:
    """The gauges that live in the database, read at scrape time."""
    with Session(runtime.engine) as session:
        queued, waited = health.checkin_lag(session)
    found = health.readiness(runtime)
    indexer, outbox = found.checks.get("indexer"), found.checks.get("sending")
    return {
        ("gateway_checkin_queue_depth", "Admissions not yet checked in on chain"): float(queued),
        (
            "gateway_checkin_queue_lag_seconds",
            "How long the oldest admission not on chain has waited",
        ): waited,
        (
            "gateway_indexer_lag_blocks",
            "Blocks between the chain head and the indexer's cursor",
        ): indexer.value if indexer is not None else None,
        ("gateway_sending_pending", "Operator transactions not final yet (the outbox)"): outbox.value
        if outbox is not None
        else None,
        (
            "gateway_sending_held_by_fee_ceiling",
            "1 while a transaction waits because fees pass the ceiling",
        ): None if outbox is None else float(not outbox.ok),
        ("gateway_ready", "1 when /readyz answers ready"): 1.0 if found.ok else 0.0,
    }


@router.get("/metrics", response_class=Response)
def prometheus(runtime: RuntimeDep) -> Response:
    """Prometheus exposition: requests and latency per route, lanes (running, queued, shed), pool use, the
    check-in queue's depth and lag, the indexer's lag."""
    body, content_type = metrics.render(lambda: _live(runtime))
    return Response(body, media_type=content_type)
