"""What the browser pages served by the app (/dashboard, /verifikasi) share: their security
headers and the periode they open on. The pages hold no data: the browser calls /api/v1 with
the key the user pastes, which lives in the tab's sessionStorage."""
from __future__ import annotations

from app.core.reference import known_periode, today_wib

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


async def periode_choices() -> tuple[list[str], str]:
    """Every known periode, and the one a page opens on: the running round, or past the last
    known one, the latest."""
    periode = sorted(await known_periode())
    year = str(today_wib().year)
    return periode, year if year in periode else (periode[-1] if periode else "")
