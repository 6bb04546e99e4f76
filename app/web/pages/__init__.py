"""What the browser pages served by the app (/dashboard, /verifikasi) share: their security
headers, the periode they open on, and the page kit — one HTML skeleton (templates/base.html:
head, header, the key entry form), one base stylesheet (static/kumkm.css: colours, panels, cards,
tables as CSS custom properties and rules) and two script modules (static/kumkm.js: the key in
sessionStorage, calls to /api/v1 with it, a problem's `code` in Indonesian words, numbers and
dates as Indonesian readers write them; static/wilayah.js: the chained wilayah selects), served
at /static/kumkm/. Each page keeps only what is its own: its template extends base.html, its
stylesheet follows kumkm.css and sets the kit's variables where it differs, its script (an ES
module, with the page's other modules beside it) imports from the kit's.

The pages hold no data: the browser calls /api/v1 with the key the user pastes, which lives in
the tab's sessionStorage."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from app.core.settings import settings
from app.record.reference import known_periode, today_wib

KIT = Path(__file__).parent
KIT_STATIC = "kumkm-static"
LEAFLET_STATIC = "leaflet-static"


def leaflet_dist() -> Path:
    """Leaflet's own dist files (leaflet.js, leaflet.css, images/) in the installed
    django-js-lib-leaflet wheel: found, not imported (its package is a Django app)."""
    spec = importlib.util.find_spec("js_lib_leaflet")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("django-js-lib-leaflet is not installed: the map's Leaflet comes from it (pyproject.toml)")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "js_lib_leaflet"


def modules(static: Path, entry: str = "") -> list[str]:
    """The script modules in a static folder but its entry, which the page loads itself: the
    page preloads them (<link rel=modulepreload>) instead of finding them import by import."""
    return sorted(p.name for p in static.glob("*.js") if p.name != entry)


KIT_MODULES = modules(KIT / "static")

# A script injected into a page could read the key from sessionStorage: allow scripts, styles
# and requests only from this origin, and never run inside another site's frame.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def security_headers() -> dict[str, str]:
    """SECURITY_HEADERS, with the basemap's tile origin allowed as an image source when one is
    set (KUMKM_MAP_TILE_URL): tiles are images only, so scripts, styles and requests stay this
    origin's alone."""
    origin = settings.map_tile_origin
    if origin is None:
        return SECURITY_HEADERS
    csp = SECURITY_HEADERS["Content-Security-Policy"].replace("img-src 'self' data:;", f"img-src 'self' data: {origin};")
    return {**SECURITY_HEADERS, "Content-Security-Policy": csp}


async def periode_choices() -> tuple[list[str], str]:
    """Every known periode, and the one a page shows before it knows the key: the running
    round, or past the last known one, the latest. Once the key is given, the page's script
    moves to the newest periode with data inside the key's wilayah (GET /api/v1/periode; kit
    `pilihPeriode`) unless its address names one."""
    periode = sorted(await known_periode())
    year = str(today_wib().year)
    return periode, year if year in periode else (periode[-1] if periode else "")


class Page:
    """One browser page: served at /<name>, its template `<name>.html` (extending the kit's
    base.html) in `<folder>/templates`, its `<name>.css` and `<name>.js` (the module the page
    loads; the others in the folder are what it imports) in `<folder>/static`, served at
    /<name>/static/."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        # the page's own templates first, then the kit's (base.html, its partials)
        self.templates = Jinja2Templates(directory=[folder / "templates", KIT / "templates"])
        self.modules = modules(folder / "static", f"{name}.js")

    async def render(self, request: Request, **context: Any) -> Response:
        """The page with the periode choice (not sensitive, no API of its own) and whatever
        else the page puts in its markup, under the security headers."""
        periode, default = await periode_choices()
        return self.templates.TemplateResponse(
            request,
            f"{self.name}.html",
            {
                "halaman": self.name,
                "periode": periode,
                "default_periode": default,
                "modul_kit": KIT_MODULES,
                "modul_halaman": self.modules,
                "peta_tile_url": settings.map_tile_url,
                "peta_tile_atribusi": settings.map_tile_attribution,
                **context,
            },
            headers=security_headers(),
        )

    def install(self, app: FastAPI, router: APIRouter) -> None:
        """The page's route, its static files and, once for all pages, the kit's."""
        app.include_router(router)
        app.mount(f"/{self.name}/static", StaticFiles(directory=self.folder / "static"), name=f"{self.name}-static")
        if not any(getattr(route, "name", None) == KIT_STATIC for route in app.routes):
            app.mount("/static/kumkm", StaticFiles(directory=KIT / "static"), name=KIT_STATIC)
            app.mount("/static/leaflet", StaticFiles(directory=leaflet_dist()), name=LEAFLET_STATIC)
