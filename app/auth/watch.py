"""Key changes reach every process at once: each service process keeps one connection that
LISTENs on `kumkm_keys` (notified by a trigger on api_keys when a key is revoked, rotated or
changed, see migration 0005) and empties its key cache on every notification.

The cache is trusted only while this listener is connected. When the connection is lost, the
cache is emptied and every request looks its key up in the database until the listener is
back (with back-off), so a revocation can never be missed, only be slower to check."""
from __future__ import annotations

import asyncio
import logging

from app import db
from app.auth import service

log = logging.getLogger("kumkm.auth")

CHANNEL = "kumkm_keys"


class KeyWatch:
    def __init__(self):
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="kumkm-key-watch")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        _untrust()

    async def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            lost = asyncio.Event()
            conn = None
            try:
                conn = await _connect()
                conn.add_termination_listener(lambda _c: lost.set())
                await conn.add_listener(CHANNEL, _on_change)
                # Trust the cache only from a clean slate taken after LISTEN is in place: a
                # change committed before it was heard is not in any entry kept from now on.
                service._cache.clear()
                service.cache_trusted = True
                delay = 0.5
                await _wait_any(lost, self._stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("key-change listener not connected (%s: %s); checking every key in the "
                            "database until it is, retrying in %.1f s", type(exc).__name__, exc, delay)
            finally:
                _untrust()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            if self._stop.is_set():
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def _on_change(*_args) -> None:
    service._cache.clear()


def _untrust() -> None:
    service.cache_trusted = False
    service._cache.clear()


async def _wait_any(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _connect():
    """A connection of its own, outside the pools, with the same address and options."""
    import asyncpg

    engine = db.get_engine()
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs = {k: v for k, v in kwargs.items() if k not in ("prepared_statement_cache_size",
                                                           "prepared_statement_name_func", "async_fallback")}
    kwargs["server_settings"] = {"application_name": "kumkm-keywatch"}
    return await asyncpg.connect(*args, **kwargs)
