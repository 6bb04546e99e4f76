"""Walidata sync over HTTP: the change feed and the snapshot of records, and the same of the
entities of the Basis Data Tunggal, all streamed as NDJSON."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Literal, Union

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from app.core.errors import INVALID, describe, fault_problem
from app.core.pagination import bad_cursor
from app.core.settings import settings
from app.infra.replicas import FRESHNESS_HEADERS
from app.observability.logs import CUT_OFF
from app.record.reference import known_periode
from app.security.authn import require
from app.security.principal import Principal
from app.sync import service
from app.sync.cursor import CursorError, EntitasCursor, decode_any
from app.sync.schemas import ChangeLine, EndLine, Entitas, EntitasLine, SyncRecord

log = logging.getLogger("kumkm.sync")

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

# Who may pull the feed and the snapshot; each holds only what lies inside the key's wilayah.
CanPull = Annotated[Principal, Depends(require("sync.pull"))]

CURSOR_HEADER = "X-Sync-Cursor"
# A cursor carrying a snapshot lists the transactions in flight then (at most a few hundred
# with max_connections = 200); this bound keeps the URL within what HTTP servers accept.
MAX_CURSOR = 8_192


class NDJSONResponse(StreamingResponse):
    media_type = "application/x-ndjson"


class StreamStalled(Exception):
    pass


class _Stream(StreamingResponse):
    """A streamed body whose connection, stream slot and access-log entry are settled when the
    response ends, whether it completed, failed, the client went away, or the client stopped
    reading: a chunk the client has not taken within KUMKM_STREAM_STALL_SECONDS ends the
    stream and closes the HTTP connection (a generator that never ran, or one stuck behind a
    full socket, would otherwise keep its database connection for ever)."""

    def __init__(self, state: service.StreamState, body, *, media_type: str, headers: dict | None = None):
        super().__init__(body, media_type=media_type, headers=headers)
        self._state = state

    async def __call__(self, scope, receive, send):
        stall = settings.stream_stall_seconds

        async def send_or_give_up(message):
            try:
                await asyncio.wait_for(send(message), stall)
            except TimeoutError:
                raise StreamStalled() from None

        try:
            await super().__call__(scope, receive, send_or_give_up)
        except* StreamStalled:
            log.warning(
                "closed a sync stream (%s, key #%s) whose client took nothing for %.0f s after %d rows",
                self._state.endpoint,
                self._state.principal.id,
                stall,
                self._state.rows,
            )
            # The response is cut off mid-body: the server closes the connection. That is what
            # a stalled client gets, not a fault of this service (see app.observability.logs).
            CUT_OFF.set(True)
        except* Exception as group:
            # The database went away mid-stream (the headers are sent: no 503 can be given any
            # more). The client sees a stream without its end line, which says "cut short, ask
            # again from the last cursor"; the log says why, without a traceback.
            if fault_problem(group) is None:
                raise
            log.warning(
                "a sync stream (%s, key #%s) was cut short after %d rows: the database became unavailable (%s)",
                self._state.endpoint,
                self._state.principal.id,
                self._state.rows,
                describe(group.exceptions[0]),
            )
            CUT_OFF.set(True)
        finally:
            try:
                await self.body_iterator.aclose()
            except Exception:  # the generator's own clean-up failing must not hide the above
                log.debug("closing a sync body failed", exc_info=True)
            await service.finish_quietly(self._state)


async def _check_periode(periode: str | None) -> None:
    if periode is not None and periode not in await known_periode():
        message = f"periode {periode} bukan periode PL-KUMKM yang dikenal"
        raise INVALID(message, errors=[{"field": "periode", "message": message, "type": "value_error"}])


_NO_STORE = {"Cache-Control": "no-store"}


# `model` names the lines of the stream; app.main writes it as the NDJSON media type's x-itemSchema.
@router.get(
    "/changes",
    response_class=NDJSONResponse,
    responses={
        200: {
            "model": Union[ChangeLine, EndLine],  # noqa: UP007 (a value, read by FastAPI)
            "description": "NDJSON: one ChangeLine per change in (xid, id) order, then "
            "one EndLine with the cursor to resume from. A stream without "
            "its EndLine was cut short.",
        },
        403: {"description": "role may not sync"},
        422: {"description": "bad cursor, limit or periode"},
        429: {"description": "too many sync streams open, for this key or in all; see Retry-After"},
    },
)
async def changes(
    principal: CanPull,
    after: str | None = Query(
        None,
        max_length=MAX_CURSOR,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="a cursor this service gave (a change line, an end line or a snapshot); omit to start from the first change",
    ),
    limit: int = Query(1000, ge=1, le=service.MAX_LIMIT, description="at most this many changes"),
    periode: str | None = Query(None, pattern=r"^[0-9]{4}$", description="only changes of this periode"),
):
    """Every committed insert, correction and state change after `after`, exactly once.

    Only changes of transactions that have ended are served, so a transaction that commits
    late is never skipped: its changes appear in a later call. Walidata and admin keys get
    everything (personal data masked unless the walidata key has `pii`); a dinas key gets its
    own wilayah. Every call is written to the access log.

    Each change line says when the change was made in `pada`. Deprecated: the same time under
    its old name `changed_at` is still in every line for consumers written against it, until
    release 0.2.0, which removes it; read `pada` instead."""
    try:
        start = decode_any(after)
    except CursorError:
        raise bad_cursor("after", "kirim cursor sebuah baris perubahan, baris akhir atau snapshot apa adanya") from None
    await _check_periode(periode)
    state = await service.open_feed(principal, start, limit, periode, after)
    return _Stream(state, service.feed_body(state, limit), media_type=NDJSONResponse.media_type, headers=_NO_STORE)


@router.get(
    "/snapshot",
    response_class=NDJSONResponse,
    responses={
        200: {
            "model": Union[SyncRecord, EndLine],  # noqa: UP007 (a value, read by FastAPI)
            "description": "NDJSON: one SyncRecord per current record (in storage "
            "order, no particular key order), then one EndLine whose cursor "
            "is where the feed "
            "continues (also in the X-Sync-Cursor header). format=csv: one "
            "header row and one row per record, no end line; the cursor is "
            "in the X-Sync-Cursor header.",
            "headers": {
                CURSOR_HEADER: {"description": "the feed cursor this snapshot is consistent with", "schema": {"type": "string"}},
                **FRESHNESS_HEADERS,
            },
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        403: {"description": "role may not sync"},
        422: {"description": "bad periode or format"},
        429: {"description": "too many sync streams open, for this key or in all; see Retry-After"},
    },
)
async def snapshot(
    principal: CanPull,
    periode: str | None = Query(None, pattern=r"^[0-9]{4}$", description="one periode; omit for all"),
    fmt: Literal["ndjson", "csv"] = Query("ndjson", alias="format"),
):
    """Every current record in the caller's wilayah, read in one consistent snapshot. Follow
    the feed from the snapshot's cursor and nothing is lost or doubled."""
    await _check_periode(periode)
    state = await service.open_snapshot(principal, periode, fmt)
    assert state.cursor is not None  # a snapshot's cursor is known before its first row
    headers = {**_NO_STORE, CURSOR_HEADER: state.cursor.encode()}
    media = "text/csv; charset=utf-8" if fmt == "csv" else NDJSONResponse.media_type
    return _Stream(state, service.snapshot_body(state, fmt), media_type=media, headers=headers)


# ---- The entities of the Basis Data Tunggal (docs/sync.md, "Entities"): the same rules as the
# record feed and snapshot above, over kumkm_peristiwa and kumkm.


@router.get(
    "/entitas/feed",
    response_class=NDJSONResponse,
    responses={
        200: {
            "model": Union[EntitasLine, EndLine],  # noqa: UP007 (a value, read by FastAPI)
            "description": "NDJSON: one EntitasLine per event of an entity in (xid, id) order, "
            "then one EndLine with the cursor to resume from. A stream without "
            "its EndLine was cut short.",
        },
        403: {"description": "role may not sync"},
        422: {"description": "bad cursor or limit"},
        429: {"description": "too many sync streams open, for this key or in all; see Retry-After"},
    },
)
async def entitas_feed(
    principal: CanPull,
    after: str | None = Query(
        None,
        max_length=MAX_CURSOR,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="a cursor of this feed (an event line, an end line or the entity snapshot); omit to start from the first event",
    ),
    limit: int = Query(1000, ge=1, le=service.MAX_LIMIT, description="at most this many events"),
):
    """Every committed event of an entity (created, a record linked or unlinked, merged, split,
    not the same) after `after`, exactly once, with the entity's current state.

    The same rule as the record feed: only events of transactions that have ended are served,
    in (transaction, write) order, so one that commits late is delivered later, never skipped.
    Walidata and admin keys get every entity; a dinas key the entities whose current
    kabupaten/kota lies in its wilayah. Every call is written to the access log."""
    try:
        start = EntitasCursor.decode(after)
    except CursorError:
        raise bad_cursor("after", "kirim cursor sebuah baris peristiwa, baris akhir atau snapshot entitas apa adanya") from None
    state = await service.open_feed(principal, start, limit, None, after, service.ENTITAS)
    return _Stream(state, service.feed_body(state, limit), media_type=NDJSONResponse.media_type, headers=_NO_STORE)


@router.get(
    "/entitas/snapshot",
    response_class=NDJSONResponse,
    responses={
        200: {
            "model": Union[Entitas, EndLine],  # noqa: UP007 (a value, read by FastAPI)
            "description": "NDJSON: one Entitas per entity, live or merged (in storage order), "
            "then one EndLine whose cursor is where the entity feed continues "
            "(also in the X-Sync-Cursor header).",
            "headers": {
                CURSOR_HEADER: {"description": "the entity feed cursor this snapshot is consistent with", "schema": {"type": "string"}},
                **FRESHNESS_HEADERS,
            },
        },
        403: {"description": "role may not sync"},
        429: {"description": "too many sync streams open, for this key or in all; see Retry-After"},
    },
)
async def entitas_snapshot(principal: CanPull):
    """Every entity in the caller's wilayah (by its current kabupaten/kota), live and merged,
    with its linked records, read in one consistent snapshot. Follow the entity feed from the
    snapshot's cursor and nothing is lost or doubled."""
    state = await service.open_snapshot(principal, None, "ndjson", service.ENTITAS)
    assert state.cursor is not None  # a snapshot's cursor is known before its first row
    headers = {**_NO_STORE, CURSOR_HEADER: state.cursor.encode()}
    return _Stream(state, service.snapshot_body(state, "ndjson"), media_type=NDJSONResponse.media_type, headers=headers)
