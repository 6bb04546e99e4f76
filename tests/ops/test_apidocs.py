"""/docs and /redoc, where users paste their key, run only the service's own scripts: every
asset comes from the service (they work without internet), under a Content-Security-Policy
that allows no inline script, and the pages render the API in Debian's chromium."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_nothing_from_elsewhere_and_run_no_inline_script(client, page):
    r = await client.get(page)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline';" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert "cdn" not in r.text.lower() and "https://" not in r.text and "<script>" not in r.text
    for asset in (
        "static/apidocs/vendor/favicon.png",
        "static/apidocs/vendor/swagger-ui-bundle.js" if page == "/docs" else "static/apidocs/vendor/redoc.standalone.js",
    ):
        assert asset in r.text
        assert (await client.get("/" + asset)).status_code == 200


@pytest.mark.parametrize(("page", "shown"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")])
async def test_the_docs_pages_render_under_their_csp(live_server, browser, page, shown):
    context = await browser.new_context()
    tab = await context.new_page()
    elsewhere: list[str] = []
    blocked: list[str] = []
    violations: list[str] = []

    def foreign(url: str) -> bool:
        return urlsplit(url).netloc not in ("", urlsplit(live_server.url).netloc) and not url.startswith(("data:", "blob:"))

    # what reached another host; ReDoc's sidebar names a logo on its makers' CDN, which the
    # CSP stops in the browser (the request fails there, nothing leaves)
    tab.on("response", lambda resp: elsewhere.append(resp.url) if foreign(resp.url) else None)
    tab.on("requestfailed", lambda req: blocked.append((req.url, req.failure)) if foreign(req.url) and req.failure != "csp" else None)
    tab.on(
        "console",
        lambda msg: (
            violations.append(msg.text)
            if "Content Security Policy" in msg.text and "redocly" not in msg.text.lower() and "redoc.ly" not in msg.text
            else None
        ),
    )
    await tab.goto(live_server.url + page)
    title = tab.locator(shown).first
    await title.wait_for(timeout=30_000)
    assert "KUMKM registry" in await title.inner_text()
    assert elsewhere == [] and blocked == [], (elsewhere, blocked)
    assert violations == [], violations
    await context.close()
