"""`GET /dashboard`: capaian pendataan at a glance for a kepala dinas.

The page holds no data of its own. It is served without a key (it is only HTML, CSS and
JavaScript) and the browser then calls the same /api/v1 endpoints with the key the user pastes,
so scope and roles are enforced exactly as for any other client. Only the periode list, which
is not sensitive and has no API of its own, is rendered into the page."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.core.pages import SECURITY_HEADERS, periode_choices

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(include_in_schema=False)


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request):
    periode, default = await periode_choices()
    return templates.TemplateResponse(request, "dashboard.html",
                                      {"periode": periode, "default_periode": default},
                                      headers=SECURITY_HEADERS)


def install(app: FastAPI) -> None:
    """The page and its static files (CSS, JavaScript), all served by the app itself."""
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
