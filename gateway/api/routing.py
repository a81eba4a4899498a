"""`OneTripRoute`: a plain `def` endpoint runs, renders its answer and ends its database session in ONE trip
to the thread pool.

FastAPI on its own runs a sync endpoint in one thread trip, validates its answer in a second and closes a
`yield` dependency's session in a third; a session that read something holds its pooled connection across
those trips, waiting for threads that requests holding other connections may be waiting for (the starvation
of fastapi/fastapi#3205). Here the endpoint's trip also renders the JSON (the route's response model, as
FastAPI would) and closes every `Session` it was given, so no connection outlives the trip that used it.
The session dependency (deps.get_session) is async and lazy: making a Session costs no I/O.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.responses import Response


class OneTripRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(inspect.unwrap(endpoint)):
            endpoint = self._one_trip(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def _one_trip(self, endpoint: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(endpoint)
        def run(**values: Any) -> Any:
            try:
                answer = endpoint(**values)
                if isinstance(answer, Response) or not isinstance(self.response_class, DefaultPlaceholder):
                    return answer
                return self._render(answer)
            finally:
                for value in values.values():
                    if isinstance(value, Session):
                        value.close()

        return run

    def _render(self, answer: Any) -> Response:
        """The JSON FastAPI would send for `answer` (response model, status code), made in this thread."""
        status = self.status_code or 200
        if self.response_field is None:
            if answer is None and status == 204:
                return Response(status_code=204)
            from fastapi.encoders import jsonable_encoder
            from fastapi.responses import JSONResponse

            return JSONResponse(jsonable_encoder(answer), status_code=status)
        value, errors = self.response_field.validate(answer, {}, loc=("response",))
        if errors:
            raise ResponseValidationError(errors=errors, body=answer)
        content = self.response_field.serialize_json(
            value,
            include=self.response_model_include,
            exclude=self.response_model_exclude,
            by_alias=True,
            exclude_unset=self.response_model_exclude_unset,
            exclude_defaults=self.response_model_exclude_defaults,
            exclude_none=self.response_model_exclude_none,
        )
        return Response(content=content, status_code=status, media_type="application/json")
