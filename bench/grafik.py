"""The dashboard's cumulative chart: its own SVG against uPlot, measured in Chromium (issue 31 §5,
docs/kampanye.md, Charts).

    ./dev bench grafik [--runs 15] [--throttle 4] [--uplot DIR] [--chartjs DIR]

Serves two pages from this machine (uvicorn on 127.0.0.1, the dashboard's Content-Security-
Policy on every answer) that draw the same chart from the same answer of
GET /api/v1/kampanye/kemajuan (a provinsi over 120 days, 333,870 records against a target of
489,000 revised once, with a deadline and a projection; made here, no database):

- `svg`: the dashboard's own module, app/dashboard/static/kemajuan.js, as served (its gambar());
- `uplot`: uPlot 1.6 (uplot.iife.min.js and uplot.min.css from the PyPI package `youplot`, MIT,
  no dependencies: the only well-kept uPlot build on PyPI) with bench/grafik_static/
  kemajuan_uplot.js drawing the same series, dashes, labels and deadline rule;
- `chartjs`, only with --chartjs DIR (a folder with Chart.min.js and Chart.min.css of Chart.js
  2.9, e.g. djangocms-charts' static/djangocms_charts/output/Chart.js/2.9.4/, the only minified
  Chart.js on PyPI): the same chart with kemajuan_chartjs.js.

Both pages load the same kit (kumkm.css, dashboard.css, kumkm.js); each run is a fresh browser
context (nothing cached), the two alternate run by run. Per page it prints:

- page weight: the bytes of every JS/CSS file the page loaded, and of those the chart's own
  (svg: kemajuan.js, which also holds the progress tables' code; uplot: the library, its CSS
  and the glue module), as served (the service does not compress) and gzip -6 for reference;
- time to first chart: from navigation start to the end of the frame after the chart was drawn
  (performance.now() in the page), median and range over the runs; and the drawing alone (from
  the answer parsed to the chart drawn);
- both again with the CPU slowed `--throttle` times (Chrome's CPU throttling: a slow office
  laptop or phone), unless --throttle 0.

A page that logs an error (a CSP refusal among them) fails the bench."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import importlib.util
import socket
import statistics
import threading
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app.web.pages import KIT, SECURITY_HEADERS

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "grafik_static"
DASHBOARD_STATIC = ROOT / "app" / "dashboard" / "static"
CHART_FILES = {"svg": ("/dashboard/static/kemajuan.js",), "uplot": ("/lib/uplot/", "/bench/kemajuan_uplot.js")}
CHARTJS_FILES = ("/lib/chartjs/", "/bench/kemajuan_chartjs.js")
DAYS = 120
TOTAL = 333_870  # Tabel 2.8 of Sumatera Selatan's Renstra: the records at the campaign's end


def uplot_dir(given: str | None) -> Path:
    """uPlot's built files: --uplot DIR, else the installed `youplot` package's vendor folder
    (found, not imported)."""
    if given:
        path = Path(given)
    else:
        spec = importlib.util.find_spec("youplot")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("uPlot not found: install the bench extras (pip install -e '.[bench]': youplot) or pass --uplot DIR")
        path = Path(next(iter(spec.submodule_search_locations))) / "vendor"
    for name in ("uplot.iife.min.js", "uplot.min.css"):
        if not (path / name).is_file():
            raise SystemExit(f"{path / name} is missing")
    return path


def kemajuan_doc(sampai: dt.date = dt.date(2026, 11, 30)) -> dict:
    """An answer of /api/v1/kampanye/kemajuan for a provinsi: DAYS days ending at `sampai`,
    a month's ramp then a steady pace adding up to TOTAL, diterima trailing five days at 80%,
    a target of 450,000 revised to 489,000 halfway, a deadline 45 days after `sampai`."""
    dari = sampai - dt.timedelta(days=DAYS - 1)
    weights = [min(d + 1, 30) for d in range(DAYS)]
    per_day = [TOTAL * w // sum(weights) for w in weights]
    per_day[-1] += TOTAL - sum(per_day)
    harian, cum = [], 0
    cums: list[int] = []
    for d, n in enumerate(per_day):
        cum += n
        cums.append(cum)
        harian.append(
            {
                "hari": (dari + dt.timedelta(days=d)).isoformat(),
                "masuk": n,
                "kumulatif_masuk": cum,
                "kumulatif_diterima": cums[d - 5] * 4 // 5 if d >= 5 else 0,
                "target": 450_000 if d < DAYS // 2 else 489_000,
            }
        )
    target, batas = 489_000, sampai + dt.timedelta(days=45)
    n7 = sum(per_day[-7:])
    hari = -(-(target - TOTAL) * 7 // n7)
    proyeksi = sampai + dt.timedelta(days=hari)
    return {
        "dari": dari.isoformat(),
        "sampai": sampai.isoformat(),
        "target": {"target": target, "batas_waktu": batas.isoformat()},
        "kumulatif": {"masuk": TOTAL},
        "proyeksi": {"status": "tepat_waktu" if proyeksi <= batas else "terlambat", "tanggal": proyeksi.isoformat(), "alasan": None},
        "harian": harian,
    }


class Headers(BaseHTTPMiddleware):
    """The pages' security headers (app/web/pages: strict CSP, no-store) on every answer."""

    async def dispatch(self, request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response


def make_app(uplot: Path, chartjs: Path | None) -> Starlette:
    doc = kemajuan_doc()

    async def data(request):
        return JSONResponse(doc)

    async def no_icon(request):
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/bench/data.json", data),
            Route("/favicon.ico", no_icon),
            Mount("/bench", StaticFiles(directory=HERE)),
            Mount("/static/kumkm", StaticFiles(directory=KIT / "static")),
            Mount("/dashboard/static", StaticFiles(directory=DASHBOARD_STATIC)),
            Mount("/lib/uplot", StaticFiles(directory=uplot)),
            *([Mount("/lib/chartjs", StaticFiles(directory=chartjs))] if chartjs else []),
        ]
    )
    app.add_middleware(Headers)
    return app


class Served:
    """uvicorn in a thread on a free loopback port, stopped on exit."""

    def __init__(self, app: Starlette) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the bench's web server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def one_run(browser, base: str, variant: str, throttle: float, shot: Path | None = None) -> dict:
    from tests.support.browser import DESKTOP

    context = await browser.new_context(viewport=DESKTOP, locale="id-ID")
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    finished: list = []
    page.on("requestfinished", lambda r: finished.append(r))
    if throttle:
        cdp = await context.new_cdp_session(page)
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    await page.goto(f"{base}/bench/{variant}.html")
    await page.wait_for_selector("body[data-pertama-ms]", timeout=30_000)
    first = float(await page.get_attribute("body", "data-pertama-ms"))
    drawn = float(await page.get_attribute("body", "data-gambar-ms"))
    shown = await page.get_attribute("body", "data-ada") == "true"
    files: dict[str, int] = {}
    for request in finished:
        path = request.url.removeprefix(base)
        if path.endswith((".js", ".css")):
            files[path] = (await request.sizes())["responseBodySize"]
    if shot is not None:
        await page.locator("#grafik-kemajuan").screenshot(path=shot / f"grafik-{variant}.png")
    await context.close()
    if errors or not shown:
        raise SystemExit(f"{variant}: the chart failed ({'drawn' if shown else 'not drawn'}): {errors}")
    return {"first_ms": first, "draw_ms": drawn, "files": files}


def weigh(files: dict[str, int], prefixes: tuple[str, ...], served: dict[str, Path]) -> dict:
    chart = {p: n for p, n in files.items() if p.startswith(prefixes)}

    def gz(paths) -> int:
        return sum(len(gzip.compress(file_of(p, served).read_bytes(), 6)) for p in paths)

    return {
        "page_bytes": sum(files.values()),
        "page_gzip": gz(files),
        "chart_bytes": sum(chart.values()),
        "chart_gzip": gz(chart),
        "chart_files": chart,
    }


def file_of(path: str, served: dict[str, Path]) -> Path:
    for prefix, folder in served.items():
        if path.startswith(prefix):
            return folder / path.removeprefix(prefix)
    raise KeyError(path)


async def measure(
    base: str, runs: int, throttles: list[float], served: dict[str, Path], shots: Path | None, variants: dict[str, tuple[str, ...]]
) -> dict:
    from playwright.async_api import async_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
    from tests.support.debian import ensure_installed

    ensure_installed(CHROMIUM, ["chromium", "fonts-dejavu-core"], "the chart bench")
    results: dict = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for throttle in throttles:
                for variant in variants:  # a first run each, not counted: Chromium's own warm-up
                    await one_run(browser, base, variant, throttle, None if throttle else shots)
                got: dict[str, list[dict]] = {v: [] for v in variants}
                for _ in range(runs):
                    for variant in variants:
                        got[variant].append(await one_run(browser, base, variant, throttle))
                for variant, rs in got.items():
                    firsts = [r["first_ms"] for r in rs]
                    draws = [r["draw_ms"] for r in rs]
                    results[(variant, throttle)] = {
                        **weigh(rs[-1]["files"], variants[variant], served),
                        "first_median": statistics.median(firsts),
                        "first_min": min(firsts),
                        "first_max": max(firsts),
                        "draw_median": statistics.median(draws),
                        "draw_max": max(draws),
                    }
        finally:
            await browser.close()
    return results


def report(results: dict, runs: int) -> None:
    print(f"\nChart on the dashboard: own SVG (kemajuan.js) vs the libraries; {DAYS} days, {runs} runs each, fresh context per run")
    print(f"{'page':<7}{'cpu':>6}{'chart B':>10}{'chart gz':>10}{'page B':>10}{'page gz':>10}{'1st chart ms (min-max)':>26}{'draw ms':>10}")
    for (variant, throttle), r in results.items():
        rng = f"{r['first_median']:.0f} ({r['first_min']:.0f}-{r['first_max']:.0f})"
        cpu = f"{throttle:g}x" if throttle else "1x"
        print(
            f"{variant:<7}{cpu:>6}{r['chart_bytes']:>10,}{r['chart_gzip']:>10,}{r['page_bytes']:>10,}{r['page_gzip']:>10,}"
            f"{rng:>26}{r['draw_median']:>10.1f}"
        )
    for (variant, throttle), r in results.items():
        if not throttle:
            print(f"  {variant} chart files: " + ", ".join(f"{p} {n:,} B" for p, n in r["chart_files"].items()))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench grafik", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="measured runs per page (after one warm-up each)")
    parser.add_argument("--throttle", type=float, default=4, help="CPU slow-down of the second set (0: none)")
    parser.add_argument("--chartjs", type=Path, help="also measure Chart.js 2.9: a folder with Chart.min.js and Chart.min.css")
    parser.add_argument("--screenshots", type=Path, help="save each chart as DIR/grafik-<page>.png, to compare them by eye")
    parser.add_argument("--uplot", help="folder with uplot.iife.min.js and uplot.min.css (default: the youplot package's)")
    args = parser.parse_args(argv)
    uplot = uplot_dir(args.uplot)
    served = {"/bench/": HERE, "/static/kumkm/": KIT / "static", "/dashboard/static/": DASHBOARD_STATIC, "/lib/uplot/": uplot}
    variants = dict(CHART_FILES)
    if args.chartjs:
        for name in ("Chart.min.js", "Chart.min.css"):
            if not (args.chartjs / name).is_file():
                raise SystemExit(f"{args.chartjs / name} is missing")
        served["/lib/chartjs/"] = args.chartjs
        variants["chartjs"] = CHARTJS_FILES
    throttles = [0.0] + ([args.throttle] if args.throttle else [])
    with Served(make_app(uplot, args.chartjs)) as base:
        results = asyncio.run(measure(base, args.runs, throttles, served, args.screenshots, variants))
    report(results, args.runs)
