"""Routing: the routers' order is free, because no two routers claim the same path."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from app.main import app


def _routers() -> list[list[APIRoute]]:
    found = []
    for included in app.routes:
        router = getattr(included, "original_router", None)
        if router is not None:
            found.append([r for r in router.routes if isinstance(r, APIRoute)])
    return found


def _example(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _clashes(routers: list[list[APIRoute]]) -> list[tuple[str, str]]:
    """Pairs of routes of different routers that could both serve one request."""
    return [
        (a.path, b.path)
        for i, routes_a in enumerate(routers)
        for routes_b in routers[i + 1 :]
        for a in routes_a
        for b in routes_b
        if a.methods & b.methods
        and (b.path_regex.match(_example(a.path)) or a.path_regex.match(_example(b.path)))
    ]


def test_no_route_of_one_router_matches_a_path_of_another() -> None:
    # app/main.py puts the busiest routers first; that is only safe while no path could be
    # served by two routers (within one router, the order of its routes still decides).
    routers = _routers()
    assert len(routers) >= 10
    assert _clashes(routers) == []


def test_a_clash_is_found() -> None:
    def page() -> None: ...

    literal = APIRoute("/trajectories/new", endpoint=page, methods=["GET"])
    variable = APIRoute("/trajectories/{trajectory_id}", endpoint=page, methods=["GET"])
    other_method = APIRoute("/trajectories/{trajectory_id}", endpoint=page, methods=["POST"])

    assert _clashes([[literal], [variable]]) == [
        ("/trajectories/new", "/trajectories/{trajectory_id}")
    ]
    assert _clashes([[variable], [literal]]) != []
    assert _clashes([[literal], [other_method]]) == []
