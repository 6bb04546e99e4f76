"""`kumkm sync pull`: the walidata's nightly job, ready to run as is.

State file (JSON): the cursor to resume from and how many bytes of DIR/changes.ndjson hold
the changes before that cursor. Every page goes: append the page to the data file, fsync,
then replace the state file atomically (write aside, fsync, rename, fsync the directory).
The data is always on disk before the cursor that covers it. A crash between the two leaves
bytes past the recorded length: the next run cuts them off and pulls them again, so the data
file holds every change exactly once, in feed order."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import httpx
import orjson

CHANGES_FILE = "changes.ndjson"
SNAPSHOT_FILE = "snapshot.ndjson"


class PullError(Exception):
    pass


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_state(path: Path) -> dict:
    if not path.exists():
        return {"cursor": None, "offset": 0}
    try:
        state = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise PullError(f"{path}: the state file is not valid JSON ({exc})") from None
    if not isinstance(state, dict) or not isinstance(state.get("offset", 0), int):
        raise PullError(f"{path}: not a state file written by kumkm sync pull")
    return state


def save_state(path: Path, state: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(state, option=orjson.OPT_INDENT_2) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


# A busy service (429: its sync streams are all taken) or a database away for a moment (503)
# says when to come back; the nightly job waits that long, this many times, then gives up.
BUSY_RETRIES = 5
MAX_WAIT = 120.0


def _retry_after(r: httpx.Response, attempt: int) -> float:
    try:
        wait = float(r.headers.get("retry-after", ""))
    except ValueError:
        wait = 2.0**attempt
    return min(max(wait, 0.5), MAX_WAIT)


def _stream_to(client: httpx.Client, path: str, params: dict, f) -> dict:
    """Write the stream's lines to `f`; return its end line. No end line: PullError."""
    attempt = 0
    while True:
        with client.stream("GET", path, params=params) as r:
            if r.status_code in (429, 503) and attempt < BUSY_RETRIES:
                r.read()
                time.sleep(_retry_after(r, attempt))
                attempt += 1
                continue
            return _read_stream(r, path, f)


def _read_stream(r: httpx.Response, path: str, f) -> dict:
    if r.status_code != 200:
        r.read()
        raise PullError(f"GET {path}: HTTP {r.status_code}: {r.text[:500]}")
    end = None
    for line in r.iter_lines():
        if not line:
            continue
        if line.startswith('{"end"'):
            end = orjson.loads(line)
            break
        f.write(line.encode() + b"\n")
    if end is None:
        raise PullError(f"GET {path}: the stream ended without its end line (cut short)")
    return end


# The entity feed of the Basis Data Tunggal (`--entitas`), beside the record feed: its own
# files, and its own cursor and length in the same state file, under "entitas".
ENTITAS_FILE = "entitas.ndjson"
ENTITAS_SNAPSHOT_FILE = "entitas-snapshot.ndjson"


def _snapshot_to(client: httpx.Client, path: str, target: Path) -> dict:
    """The snapshot written aside, fsynced and renamed over `target`; its end line."""
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "wb") as f:
        end = _stream_to(client, path, {}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    _fsync_dir(target.parent)
    return end


def _follow(
    client: httpx.Client, path: str, data: Path, state: dict, save, limit: int, max_pages: int | None, log, what: str
) -> tuple[dict, int, int]:
    """Pages of one feed appended to `data` from `state` (cursor, offset), each stored by
    `save(state)` once its data is on disk: (the last state, pages, lines)."""
    # Bytes past the recorded length belong to a page whose cursor was never stored.
    if data.exists() and data.stat().st_size > state["offset"]:
        os.truncate(data, state["offset"])
    pages = lines = 0
    while max_pages is None or pages < max_pages:
        params = {"limit": limit}
        if state.get("cursor"):
            params["after"] = state["cursor"]
        with open(data, "ab") as f:
            try:
                end = _stream_to(client, path, params, f)
                f.flush()
                os.fsync(f.fileno())
                offset = f.tell()
            except BaseException:
                f.flush()
                f.truncate(state["offset"])
                raise
        state = {**state, "cursor": end["cursor"], "offset": offset, "pulled_at": dt.datetime.now(dt.UTC).isoformat()}
        save(state)
        pages += 1
        lines += end["count"]
        if log:
            log(f"page {pages}: {end['count']} {what}")
        if not end.get("more"):
            break
    return state, pages, lines


def pull(
    *,
    url: str,
    key: str,
    state_path: Path,
    out_dir: Path,
    limit: int = 10_000,
    snapshot: bool = False,
    max_pages: int | None = None,
    timeout: float = 300.0,
    log=None,
    entitas: bool = False,
) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state = load_state(state_path)
    data = out_dir / CHANGES_FILE
    headers = {"Authorization": f"Bearer {key}"}
    summary: dict = {"pages": 0, "changes": 0, "snapshot_records": None}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=httpx.Timeout(timeout, connect=30.0)) as client:
        if state.get("cursor") is None and snapshot:
            end = _snapshot_to(client, "/api/v1/sync/snapshot", out_dir / SNAPSHOT_FILE)
            state = {**state, "cursor": end["cursor"], "offset": 0, "snapshot_records": end["count"]}
            if data.exists():
                os.truncate(data, 0)
            save_state(state_path, state)
            summary["snapshot_records"] = end["count"]

        def save_records(sub: dict) -> None:
            nonlocal state
            state = {**state, **sub}
            save_state(state_path, state)

        records = {k: state[k] for k in ("cursor", "offset") if k in state}
        _, summary["pages"], summary["changes"] = _follow(
            client, "/api/v1/sync/changes", data, records, save_records, limit, max_pages, log, "changes"
        )

        if entitas:
            # the same steps for the entities, their position kept under "entitas"
            edata = out_dir / ENTITAS_FILE
            sub = state.get("entitas") or {"cursor": None, "offset": 0}
            if sub.get("cursor") is None and snapshot:
                end = _snapshot_to(client, "/api/v1/sync/entitas/snapshot", out_dir / ENTITAS_SNAPSHOT_FILE)
                sub = {"cursor": end["cursor"], "offset": 0, "snapshot_entities": end["count"]}
                if edata.exists():
                    os.truncate(edata, 0)
                save_records({"entitas": sub})
                summary["snapshot_entities"] = end["count"]

            def save_entitas(sub: dict) -> None:
                save_records({"entitas": sub})

            sub, summary["entitas_pages"], summary["entitas_events"] = _follow(
                client, "/api/v1/sync/entitas/feed", edata, sub, save_entitas, limit, max_pages, log, "entity events"
            )
            summary["entitas_cursor"] = sub.get("cursor")
            summary["entitas_file"] = str(edata)
    summary["cursor"] = state.get("cursor")
    summary["file"] = str(data)
    return summary
