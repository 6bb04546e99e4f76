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

from app.core.reference import known_periode, today_wib

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(include_in_schema=False)

# The key lives in sessionStorage, so a script injected into this page could read it: allow
# scripts, styles and requests only from this origin, and never run inside another site's frame.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request):
    periode = sorted(await known_periode())
    year = str(today_wib().year)
    # the running round by default; past the last known one, the latest
    default = year if year in periode else (periode[-1] if periode else "")
    return templates.TemplateResponse(request, "dashboard.html",
                                      {"periode": periode, "default_periode": default},
                                      headers=SECURITY_HEADERS)


def install(app: FastAPI) -> None:
    """The page and its static files (CSS, JavaScript), all served by the app itself."""
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
