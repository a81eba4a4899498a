"""Every error becomes a JSON body {"error": code, "detail": ...}; bad input is always a 4xx."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

import ticketkit as tk

from ..errors import GatewayError

log = logging.getLogger("gateway")

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    401: "unauthorized",
    403: "forbidden",
    413: "body_too_large",
}


class ErrorBody(BaseModel):
    """Every error body: a stable `error` code, a `detail` (text, or the validation errors), more fields."""

    model_config = ConfigDict(extra="allow")
    error: str
    detail: Any = None


# Declared on every route (main.py), so the OpenAPI document describes the error bodies the API really sends
# (FastAPI's default 422 schema, HTTPValidationError, does not fit them). JSON whatever the route's own
# response class (an HTML page's errors are JSON too): the schema is given as content, not as a model.
_ERROR_CONTENT = {"application/json": {"schema": ErrorBody.model_json_schema()}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "Refused: `error` is a stable code, `detail` says why", "content": _ERROR_CONTENT},
    "5XX": {"description": "The blockchain node failed (502, 503): retry", "content": _ERROR_CONTENT},
}


def _body(code: str, detail: object, **extra: object) -> dict[str, object]:
    return {"error": code, "detail": detail, **extra}


def _jsonable(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def install(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway(_: Request, error: GatewayError) -> JSONResponse:
        return JSONResponse(_body(error.code, error.detail, **error.extra), status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in error.errors()
        ]
        for e in errors:
            if e["loc"] == [
                "header",
                "idempotency-key",
            ]:  # required, at most 200 characters (deps.IdempotencyKey)
                code = (
                    "idempotency_key_required"
                    if e["type"] in ("missing", "string_too_short")
                    else "invalid_idempotency_key"
                )
                return JSONResponse(
                    _body(
                        code,
                        "the Idempotency-Key header is required: 1 to 200 characters, "
                        "the same for every retry of one request",
                    ),
                    status_code=422,
                )
        return JSONResponse(_body("invalid_request", errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            _body(_HTTP_CODES.get(error.status_code, "http_error"), error.detail),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(tk.ContractRevert)
    async def _revert(_: Request, error: tk.ContractRevert) -> JSONResponse:
        args = {k: _jsonable(v) for k, v in error.args_dict.items()}
        return JSONResponse(_body(error.code, str(error), args=args), status_code=409)

    @app.exception_handler(tk.InvalidInput)
    async def _invalid(_: Request, error: tk.InvalidInput) -> JSONResponse:
        return JSONResponse(_body(error.code, str(error)), status_code=422)

    @app.exception_handler(tk.ChainError)
    async def _chain(_: Request, error: tk.ChainError) -> JSONResponse:
        log.warning("chain error: %s", error.code)
        status = 503 if isinstance(error, tk.RPCUnavailable) else 502
        return JSONResponse(
            _body(error.code, "the blockchain node failed; retry with the same Idempotency-Key"),
            status_code=status,
        )

    @app.exception_handler(SQLAlchemyTimeout)
    async def _pool_timeout(_: Request, error: SQLAlchemyTimeout) -> JSONResponse:
        # Every admitted request has a connection of its own (api/admission.py, db.py): this is a fault, not
        # load.
        log.warning("database pool exhausted: %s", error)
        return JSONResponse(
            _body("database_busy", "the database is busy: retry", retry_after=1),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(OperationalError)
    async def _database(_: Request, error: OperationalError) -> JSONResponse:
        """The database did not answer in time (statement timeout, a lock held too long) or went away."""
        log.warning("database unavailable: %s", type(error.orig).__name__)
        return JSONResponse(
            _body("database_unavailable", "the database did not answer in time: retry", retry_after=1),
            status_code=503,
            headers={"Retry-After": "1"},
        )
