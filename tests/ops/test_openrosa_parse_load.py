"""OpenRosa under hostile load (issue 26): while clients send hostile instances over and over
to `kumkm serve`, the XML is parsed off the event loop, so /healthz keeps answering at once.
A served process of its own, not the in-process live service: the clock must not share the
test's interpreter with the service it measures."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx

from tests.support.factories import umkm
from tests.support.openrosa_helpers import instance, multipart, xml_doc
from tests.support.serve_helpers import PRIORITY, Served, ahead_of_other_work, environment


def _hostile(size: int) -> dict[str, bytes]:
    """Instances of about `size` bytes: nested, flat, one tag of attributes, character references."""
    return {
        "nested": xml_doc("<a>" * (size // 3)),
        "wide": xml_doc("<a/>" * (size // 4)),
        "attributes": xml_doc("", "".join(f" a{i}='1'" for i in range(size // 11))),
        "references": xml_doc("<nama_usaha>" + "&#65;" * (size // 5) + "</nama_usaha>"),
    }


# The uploading clients, threads of a process of their own, so that the clock timing /healthz in
# the test's process never waits for the uploaders' interpreter. Plain http.client: the
# process starts quickly and spends little CPU on sending beside the service it measures.
_UPLOADERS = """
import http.client, sys, threading, time
port, path, ctype, *clients = sys.argv[1:]
bodies = [[open(p, "rb").read() for p in paths.split(",")] for paths in clients]
got = []
# each client goes through its list at least once and keeps going for 2 s: on a fast machine the
# list alone is over before /healthz has been asked often enough to say anything
until = time.monotonic() + 2.0
def upload(mine):
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
    while True:
        for body in mine:
            conn.request("POST", path, body, {"Content-Type": ctype})
            answer = conn.getresponse()
            answer.read()
            got.append(answer.status)
        if time.monotonic() >= until:
            break
    conn.close()
threads = [threading.Thread(target=upload, args=(mine,)) for mine in bodies]
print("start", flush=True)
for t in threads:
    t.start()
for t in threads:
    t.join()
print(" ".join(map(str, got)), flush=True)
"""


def test_healthz_answers_while_hostile_submissions_are_parsed(database_url, keys, tmp_path):
    """4 clients at once, each sending hostile instances over and over to `kumkm serve`: 7 MB
    ones as the review sent, and ones just under the instance limit, which are parsed. Every
    /healthz asked meanwhile answers within 50 ms (95 in 100; every one within 250 ms), and every hostile submission is refused
    (4xx, or 503 when the parses in flight are at their bound)."""
    key = asyncio.run(keys.make("enumerator", "16.07", name="enum-hostile"))
    clients = []
    for (name, huge), parsed in zip(_hostile(7_000_000).items(), _hostile(250_000).values(), strict=True):
        ctype, body = multipart(huge)
        (tmp_path / f"{name}-7mb").write_bytes(body)
        ctype, body = multipart(parsed)
        (tmp_path / f"{name}-250kb").write_bytes(body)
        # a client: its kind of hostile instance, 7 MB once then just under the limit 3 times, twice
        clients.append(",".join(([str(tmp_path / f"{name}-7mb")] + [str(tmp_path / f"{name}-250kb")] * 3) * 2))
    served = Served(environment(database_url=database_url), log=tmp_path / "serve.log", ahead=True).wait_ready()
    try:
        waits: list[float] = []
        # the service and this clock ahead of the rest of the machine, the uploaders not: a
        # loaded machine (other suites) held /healthz for up to 100 ms with no fault of the service
        with ahead_of_other_work() as ahead, httpx.Client(base_url=served.url, timeout=60) as c:
            # a well-made submission first: the process converts the form and starts its parse
            # thread once, on its first OpenRosa request, and that is not what is measured here
            ok_type, ok_body = multipart(instance(umkm()))
            assert c.post(f"/openrosa/{key}/submission", content=ok_body, headers={"content-type": ok_type}).status_code == 201
            c.get("/healthz")  # the connection is open before the uploads start
            uploaders = subprocess.Popen(
                [
                    *(["nice", "-n", str(-PRIORITY)] if ahead else []),
                    sys.executable,
                    "-c",
                    _UPLOADERS,
                    str(served.port),
                    f"/openrosa/{key}/submission",
                    ctype,
                    *clients,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert uploaders.stdout.readline().strip() == "start"
            while uploaders.poll() is None:
                t = time.perf_counter()
                assert c.get("/healthz").status_code == 200
                waits.append(time.perf_counter() - t)
                time.sleep(0.005)
        statuses = [int(s) for s in uploaders.communicate()[0].split()]
    finally:
        served.stop()
    assert uploaders.returncode == 0
    assert len(statuses) >= 4 * 8 and len(statuses) % 8 == 0 and all(400 <= s < 500 or s == 503 for s in statuses), statuses
    assert len(waits) >= 10, waits
    # Parsing on the event loop would hold /healthz for the length of a parse, again and again
    # (dozens of parses): the 95th percentile catches that. One sample of a loaded machine's
    # hiccup (62 ms seen, with no parse on the loop) is not the service's fault: the slowest
    # is bounded more loosely.
    waits.sort()
    p95 = waits[int(len(waits) * 0.95)]
    assert p95 < 0.050, f"/healthz p95 {p95 * 1000:.1f} ms of {len(waits)}"
    assert waits[-1] < 0.250, f"slowest /healthz {waits[-1] * 1000:.1f} ms of {len(waits)}"
