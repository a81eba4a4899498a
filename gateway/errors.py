"""The gateway's own errors: a stable `code`, an HTTP status, and extra fields for the JSON body."""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        self.extra = extra


class Unauthorized(GatewayError):
    status = 401
    code = "unauthorized"


class Forbidden(GatewayError):
    status = 403
    code = "forbidden"


class NotFound(GatewayError):
    status = 404
    code = "not_found"


class Conflict(GatewayError):
    status = 409
    code = "conflict"


class Unprocessable(GatewayError):
    status = 422
    code = "invalid_request"


class ServiceUnavailable(GatewayError):
    status = 503
    code = "unavailable"
