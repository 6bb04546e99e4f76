"""`GET /verifikasi`: the verifikator's work page (queue, record detail, decisions).

Like /dashboard, the page holds no data of its own: it is served without a key (only HTML,
CSS and JavaScript) and the browser calls the /api/v1 endpoints with the key the user pastes,
so roles and scope are enforced exactly as for any other client. Only the periode list,
which is not sensitive and has no API of its own, and the fixed list of alasan codes are
rendered into the page. The skeleton, base stylesheet and key/API script are the page kit's
(app/web/pages)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from app.verification.schemas import ALASAN_KODE
from app.web.pages import Page

page = Page("verifikasi", Path(__file__).parent)

router = APIRouter(include_in_schema=False)


@router.get("/verifikasi", response_class=HTMLResponse)
async def verifikasi_page(request: Request):
    return await page.render(request, alasan=[{"kode": k, "label": v} for k, v in ALASAN_KODE.items()])


def install(app: FastAPI) -> None:
    """The page and its static files, all served by the app itself."""
    page.install(app, router)
