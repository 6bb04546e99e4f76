"""What the browser tests share: Debian's chromium and how it is started, the two screen
sizes, and the steps every page takes (the key typed in, a table row read as the user sees it)."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
# No network beyond loopback in tests, and nothing Chromium would fetch for itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


async def enter_key(page, key: str) -> None:
    await page.fill("#kunci", key)
    await page.click("#form-kunci button[type=submit]")


async def row_cells(row) -> dict[str, str]:
    cells = {"nama": (await row.locator(".nama").inner_text()).strip()}
    for td in await row.locator("td[data-kolom]").all():
        cells[await td.get_attribute("data-kolom")] = (await td.inner_text()).strip()
    return cells
