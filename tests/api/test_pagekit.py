"""The page kit (app/web/pages) as a browser receives it: both pages are the kit's skeleton with
the kit's stylesheet and script modules under their own, everything from files (the
Content-Security-Policy runs nothing inline), and every name a page's modules import is one the
module they import it from exports — a missing one would stop the whole page from running. What
the pages do with it is tested in a real browser by tests/ops/test_dashboard.py and
tests/ops/test_verifikasi_page.py, the kit's wilayah selects on both pages in
tests/ops/test_pagekit_browser.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest

from tests.support.problems import assert_problem

PAGES = {"dashboard": "dinas", "verifikasi": "verifikator"}
KIT_CSS = "/static/kumkm/kumkm.css"
KIT_JS = "/static/kumkm/kumkm.js"
LEAFLET_CSS = "/static/leaflet/leaflet.css"
LEAFLET_JS = "/static/leaflet/leaflet.js"
PETA_CSS = "/static/kumkm/peta.css"


class Markup(HTMLParser):
    """The parts of a page the kit is about: its styles, its scripts, ids, inline code."""

    def __init__(self) -> None:
        super().__init__()
        self.stylesheets: list[str] = []
        self.preloads: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"])
        if "style" in a:
            self.inline.append(f"style attribute on <{tag}>")
        if any(name.startswith("on") for name in a):
            self.inline.append(f"event handler attribute on <{tag}>")
        if tag == "link" and a.get("rel") == "stylesheet":
            self.stylesheets.append(a["href"])
        if tag == "link" and a.get("rel") == "modulepreload":
            self.preloads.append(a["href"])
        if tag == "script":
            self.scripts.append(a)
        if tag in ("script", "style", "title", "h1"):
            self._in.append(tag)

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        if self._in and self._in[-1] in ("script", "style") and data.strip():
            self.inline.append(f"inline <{self._in[-1]}>")
        if self._in and self._in[-1] in ("title", "h1"):
            self.text.append(f"{self._in[-1]}:{data.strip()}")


async def _markup(client, page: str) -> Markup:
    r = await client.get(f"/{page}")
    assert r.status_code == 200, r.text[:300]
    assert "script-src 'self'; style-src 'self'" in r.headers["content-security-policy"]
    m = Markup()
    m.feed(r.text)
    return m


@pytest.mark.parametrize("page", PAGES)
async def test_a_page_is_the_kit_skeleton_with_the_kits_files_first(client, page):
    m = await _markup(client, page)
    assert m.inline == [], "the Content-Security-Policy would not run it"
    # the map's (Leaflet's own, then the kit's peta.css) between the kit's and the page's
    assert m.stylesheets == [KIT_CSS, LEAFLET_CSS, PETA_CSS, f"/{page}/static/{page}.css"], "the page's own rules come after the kit's"
    # Leaflet classic and deferred: it runs before the page's module, which finds `L`
    assert m.scripts == [{"defer": None, "src": LEAFLET_JS}, {"type": "module", "src": f"/{page}/static/{page}.js"}]
    # the key panel and the message line, once each
    for id_ in ("panel-kunci", "form-kunci", "kunci", "kunci-aktif", "identitas", "ganti-kunci", "pesan", "periode"):
        assert m.ids.count(id_) == 1, id_
    assert len(m.ids) == len(set(m.ids)), "an id stands twice"
    title = next(t for t in m.text if t.startswith("title:"))
    assert f"h1:{title.removeprefix('title:')}" in m.text
    r = await client.get(f"/{page}")
    assert f"Tempel kunci API {PAGES[page]} Anda." in r.text
    for url, kind in ((KIT_CSS, "text/css"), (LEAFLET_CSS, "text/css"), (PETA_CSS, "text/css"), (f"/{page}/static/{page}.css", "text/css")):
        a = await client.get(url)
        assert a.status_code == 200 and kind in a.headers["content-type"], url


def _exports(source: str) -> set[str]:
    return set(re.findall(r"^export (?:async )?(?:function|const|class) ([A-Za-z_$][\w$]*)", source, re.M))


async def _module_graph(client, entry: str) -> dict[str, list[tuple[set[str], str]]]:
    """Every module the page's entry loads, import by import: its URL -> (names, URL) it imports."""
    graph: dict[str, list[tuple[set[str], str]]] = {}
    todo = [entry]
    while todo:
        url = todo.pop()
        if url in graph:
            continue
        r = await client.get(url)
        assert r.status_code == 200 and "javascript" in r.headers["content-type"], url
        # only `import {names} from "url";` is read below: another form would go unchecked
        assert len(re.findall(r"^import\b", r.text, re.M)) == len(_IMPORT.findall(r.text)), url
        graph[url] = [
            ({n.strip().split(" as ")[0] for n in names.split(",") if n.strip()}, urljoin(url, src))
            for names, src in _IMPORT.findall(r.text)
        ]
        todo += [src for _, src in graph[url]]
    return graph


# `import {names} from "url";`, or `import "url";` for a page's own section that only listens
# to the page's events (the dashboard's kinerja.js and peta.js)
_IMPORT = re.compile(r"^import (?:\{([^}]*)\}\s*from )?\"([^\"]+)\";", re.M)


@pytest.mark.parametrize("page", PAGES)
async def test_what_a_page_script_imports_is_served_and_exported(client, page):
    entry = f"/{page}/static/{page}.js"
    graph = await _module_graph(client, entry)
    own, kit = f"/{page}/static/", "/static/kumkm/"
    assert KIT_JS in graph, "a page imports the kit"
    for url, imports in graph.items():
        for names, src in imports:
            assert src.startswith((kit, own)), f"{url} imports {src}: only the kit and the page's own modules"
            if url.startswith(kit):
                assert src.startswith(kit), f"the kit's {url} imports the page's {src}"
            exported = _exports((await client.get(src)).text)
            if not names:
                assert src.startswith(own), f"{url} imports {src} for its effects alone: only a page's own section may be"
                continue
            assert names <= exported, (url, src, sorted(names - exported))
    # every module is preloaded with the page, so the browser does not find them import by import
    m = await _markup(client, page)
    assert set(graph) - {entry} <= set(m.preloads), sorted(set(graph) - {entry} - set(m.preloads))


async def test_the_kit_serves_only_its_static_files(client):
    for url in ("/static/kumkm/../__init__.py", "/static/kumkm/../templates/base.html", "/static/kumkm/kumkm.py"):
        assert_problem(await client.get(url), "not-found")
