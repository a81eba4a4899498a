"""The app's routes, flattened, and which credential each one asks for (read from its dependencies)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from gateway.api import deps

_KINDS = {
    deps.current_organiser: "organiser",
    deps.current_fan: "fan",
    deps.current_fan_ref: "fan",
    deps.current_fan_token: "fan",
    deps.current_gate_key: "gate",
}


def iter_routes(app: FastAPI):
    """Every route of the app, included routers flattened (FastAPI >= 0.137 keeps them nested; pyproject.toml
    pins < 0.137 for now, see there)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        yield from app.routes
        return
    for context in iter_route_contexts(app.routes):
        yield context.original_route if isinstance(context.original_route, APIRoute) else context


def methods_of(route) -> set[str]:
    """The route's methods (HEAD only where there is no GET: Starlette adds it to each); a mount: MOUNT."""
    if getattr(route, "methods", None) is None:
        return {"MOUNT"}
    methods = set(route.methods)
    return methods - {"HEAD"} if "GET" in methods else methods


def route_index(app: FastAPI) -> dict[tuple[str, str], object]:
    return {(method, route.path): route for route in iter_routes(app) for method in methods_of(route)}


def _calls(route) -> list:
    """Everything a route's dependencies (and theirs) call."""
    dependant = getattr(route, "dependant", None)
    stack, calls = (list(dependant.dependencies) if dependant is not None else []), []
    while stack:
        dependency = stack.pop()
        calls.append(dependency.call)
        stack.extend(dependency.dependencies)
    return calls


def auth_kinds(route) -> set[str]:
    """The credential kinds a route's dependencies require: organiser, fan, gate (none: public)."""
    return {_KINDS[call] for call in _calls(route) if call in _KINDS}


def reads_credentials(route) -> bool:
    """Whether the route reads an Authorization header at all (a public route may take an optional one)."""
    return any(call is deps._bearer for call in _calls(route))  # the one HTTPBearer


def auth_kind(route) -> str:
    kinds = auth_kinds(route)
    assert len(kinds) <= 1, f"{route.path} asks for several credentials: {kinds}"
    return kinds.pop() if kinds else "public"
