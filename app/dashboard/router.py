"""`GET /dashboard`: capaian pendataan at a glance for a kepala dinas.

The page holds no data of its own. It is served without a key (it is only HTML, CSS and
JavaScript) and the browser then calls the same /api/v1 endpoints with the key the user pastes,
so scope and roles are enforced exactly as for any other client. Only the periode list, which
is not sensitive and has no API of its own, is rendered into the page. The skeleton, base
stylesheet and key/API script are the page kit's (app/web/pages)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from app.web.pages import Page

page = Page("dashboard", Path(__file__).parent)

router = APIRouter(include_in_schema=False)


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request):
    return await page.render(request)


def install(app: FastAPI) -> None:
    """The page and its static files (CSS, JavaScript), all served by the app itself."""
    page.install(app, router)
