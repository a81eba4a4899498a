"""The app's routes, flattened, and which credential each one asks for (read from its dependencies)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from gateway.api import deps

_KINDS = {deps.current_organiser: "organiser", deps.current_fan: "fan", deps.current_gate_key: "gate"}


def iter_routes(app: FastAPI):
    """Every route of the app, included routers flattened (FastAPI >= 0.16x keeps them nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        yield from app.routes
        return
    for context in iter_route_contexts(app.routes):
        yield context.original_route if isinstance(context.original_route, APIRoute) else context


def methods_of(route) -> set[str]:
    methods = set(route.methods or ())
    return methods - {"HEAD"} if "GET" in methods else methods  # Starlette adds HEAD to every GET


def route_index(app: FastAPI) -> dict[tuple[str, str], object]:
    return {(method, route.path): route for route in iter_routes(app) for method in methods_of(route)}


def auth_kinds(route) -> set[str]:
    """The credential kinds a route's dependencies require: organiser, fan, gate (none: public)."""
    found: set[str] = set()
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dependency = stack.pop()
        if dependency.call in _KINDS:
            found.add(_KINDS[dependency.call])
        stack.extend(dependency.dependencies)
    return found


def auth_kind(route) -> str:
    kinds = auth_kinds(route)
    assert len(kinds) <= 1, f"{route.path} asks for several credentials: {kinds}"
    return kinds.pop() if kinds else "public"
