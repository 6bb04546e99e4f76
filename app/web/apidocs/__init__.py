"""/docs (Swagger UI) and /redoc (ReDoc), served by the service itself.

FastAPI's own pages load their scripts from a CDN with no integrity check, and users paste
their API key into /docs: a CDN that served other code would have it. Here the assets come
from the fastapi-offline wheel (installed with the service, so the pages also work without
internet) and are served under /static/apidocs/; the pages' own start-up code is a file
beside them, so the Content-Security-Policy allows no inline script at all. Swagger UI keeps
the pasted key in the tab's memory only (persistAuthorization off)."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

HERE = Path(__file__).parent
VENDOR = Path(fastapi_offline.__file__).parent / "static"

_COMMON = (
    "default-src 'none'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# ReDoc writes its styles into <style> elements as it renders (styled-components) and runs its
# search in a worker made from a blob: inline styles and blob workers are allowed there, never
# inline scripts.
CSP = {"swagger": _COMMON + "; style-src 'self'", "redoc": _COMMON + "; style-src 'self' 'unsafe-inline'; worker-src blob:"}
HEADERS = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

# One page shape for both: the viewer's stylesheet and bundle, then its start-up script, all by
# relative address, so the pages work under a reverse proxy's --root-path as well.
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - {viewer}</title>
<link rel="icon" href="static/apidocs/vendor/favicon.png">
<link rel="stylesheet" href="static/apidocs/{stylesheet}">
</head><body><div id="{kind}" data-openapi="openapi.json"></div>
<script src="static/apidocs/vendor/{bundle}"></script>
<script src="static/apidocs/{kind}-init.js"></script>
</body></html>
"""
_VIEWERS = {
    "swagger": {"viewer": "Swagger UI", "stylesheet": "vendor/swagger-ui.css", "bundle": "swagger-ui-bundle.js"},
    "redoc": {"viewer": "ReDoc", "stylesheet": "redoc.css", "bundle": "redoc.standalone.js"},
}


def install(app: FastAPI) -> None:
    """Create the app with docs_url=None and redoc_url=None, then this."""
    title = html.escape(app.title)

    def page(kind: str) -> Callable[[], Awaitable[HTMLResponse]]:
        body = _PAGE.format(title=title, kind=kind, **_VIEWERS[kind])

        async def serve() -> HTMLResponse:
            return HTMLResponse(body, headers={"Content-Security-Policy": CSP[kind], **HEADERS})

        return serve

    app.add_api_route("/docs", page("swagger"), include_in_schema=False, methods=["GET"])
    app.add_api_route("/redoc", page("redoc"), include_in_schema=False, methods=["GET"])
    app.mount("/static/apidocs/vendor", StaticFiles(directory=VENDOR), name="apidocs-vendor")
    app.mount("/static/apidocs", StaticFiles(directory=HERE / "static"), name="apidocs")
