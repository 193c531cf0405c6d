"""Small helpers for htmx requests and responses."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response


def is_htmx(request: Request) -> bool:
    """True for requests made by htmx (and not history restores, which want a full page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def redirect(request: Request, url: str) -> Response:
    """303 after a normal POST; HX-Redirect for htmx so the whole page changes."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
