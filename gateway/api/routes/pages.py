"""The browser pages: the fan's ticket page (`/app/ticket`), the gate scanner (`/app/scanner`), their
scripts, styles and vendored libraries (`/app/static/...`) and the service worker (`/app/sw.js`, scope
`/app/`) that lets them load with no network. Files from gateway/static; nothing here needs Node at run time.

The pages call the JSON API relative to their own address (`../`), so the gateway may be mounted under a path.
WebCrypto and the camera need a secure context: HTTPS, or http://localhost while developing.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).resolve().parents[2] / "static"

# Only browser files leave the directory (it also holds the vendoring script, gateway/static/vendor).
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
}

# Everything the pages load comes from this origin; the API is the only thing they connect to.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "Cache-Control": "no-cache",  # revalidate (ETag): a deploy reaches phones at their next load
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_PAGE_HEADERS = _HEADERS | {"Content-Security-Policy": _CSP, "Permissions-Policy": "camera=(self)"}

router = APIRouter(prefix="/app", include_in_schema=False)


@router.get("/ticket")
def ticket_page() -> FileResponse:
    """The fan's page: `/app/ticket#token=tkf_...` (kept in the browser), optionally `&ticket=<uuid>`."""
    return FileResponse(STATIC / "ticket.html", media_type=_TYPES[".html"], headers=_PAGE_HEADERS)


@router.get("/scanner")
def scanner_page() -> FileResponse:
    """The gate's page: `/app/scanner#key=tkg_...` (kept in the browser), or the key typed in."""
    return FileResponse(STATIC / "scanner.html", media_type=_TYPES[".html"], headers=_PAGE_HEADERS)


@router.get("/sw.js")
def service_worker() -> FileResponse:
    """Served from /app/ so that its scope covers both pages."""
    return FileResponse(STATIC / "sw.js", media_type=_TYPES[".js"], headers=_HEADERS)


class BrowserFiles(StaticFiles):
    """gateway/static, restricted to browser files, their types set whatever the platform's mime table."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        suffix = PurePosixPath(path).suffix
        if suffix not in _TYPES:
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["content-type"] = _TYPES[suffix]
        response.headers.update(_HEADERS)
        return response


def install(app: FastAPI) -> None:
    """Serve the pages and their files on `app`."""
    app.include_router(router)
    app.mount("/app/static", BrowserFiles(directory=STATIC), name="app-static")
