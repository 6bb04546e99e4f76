"""`GET /verifikasi`: the verifikator's work page (queue, record detail, decisions).

Like /dashboard, the page holds no data of its own: it is served without a key (only HTML,
CSS and JavaScript) and the browser calls the /api/v1 endpoints with the key the user pastes,
so roles and scope are enforced exactly as for any other client. Only the periode list,
which is not sensitive and has no API of its own, and the fixed list of alasan codes are
rendered into the page."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.core.pages import SECURITY_HEADERS, periode_choices
from app.verification.schemas import ALASAN_KODE

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(include_in_schema=False)


@router.get("/verifikasi", response_class=HTMLResponse)
async def verifikasi_page(request: Request):
    periode, default = await periode_choices()
    alasan = [{"kode": k, "label": v} for k, v in ALASAN_KODE.items()]
    return templates.TemplateResponse(request, "verifikasi.html",
                                      {"periode": periode, "default_periode": default, "alasan": alasan},
                                      headers=SECURITY_HEADERS)


def install(app: FastAPI) -> None:
    """The page and its static files, all served by the app itself."""
    app.include_router(router)
    app.mount("/verifikasi/static", StaticFiles(directory=HERE / "static"), name="verifikasi-static")
