"""Group commit for single writes: concurrent single-item calls run as one set-based call.

A single-record POST costs PostgreSQL about 300 µs of CPU for its one-row statement and commit
on an idle connection, and more under concurrency; the same statement carrying 8 records
costs about 95 µs a record, 32 records about 62 µs (`./dev bench statement-cost --batch N`).
So while a few group statements are in flight, single writes that arrive wait in a queue
and the next free slot takes them all as one statement. Under light load nothing waits: a
slot is free and the write goes alone, as it did before; under a peak the groups grow by
themselves, which is when the saving matters.

What each caller keeps: its own outcome (the group's function answers item by item, in
order), its own error (the function decides which errors are the whole group's, e.g. the
database gone, and which belong to one item), and its acknowledgment only after the group's
statement committed. A caller that goes away (client disconnected) before its group started
is left out; once started, the group runs to the end whatever its callers do, so no statement
is cut half way by one client.

Bounds: a group holds at most `max_items`; at most `max_running` groups run at once (each
holds one pooled connection, so single writes never take more than that many from the
pool); the queue holds at most `max_queued` callers, past which a caller is answered 503 at
once; a caller waits for its answer at most `queue_timeout` seconds in all, then 503 with
Retry-After: still queued, like a request that found no pooled connection in time (its write
never runs); already in its group's statement, because that commit is not confirmed in time
(a synchronous standby gone: app.infra.db bounds the statement itself too). Such a write may
be stored or not; it is never acknowledged, and the client's retry is idempotent. Counting
the queue and the statement in one bound keeps every single write within it, where two
bounds one after the other would let it wait twice as long.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from app.core.errors import POOL_BUSY, unavailable
from app.core.settings import settings

UNCONFIRMED = (
    "basis data sedang sibuk: penyimpanan belum dikonfirmasi dalam batas waktu; kirim ulang "
    "permintaan yang sama sebentar lagi (aman: yang sudah tersimpan tidak tersimpan dua kali)"
)

T = TypeVar("T")
R = TypeVar("R")


class _Waiter(Generic[T, R]):
    __slots__ = ("item", "future", "started")

    def __init__(self, item: T, future: asyncio.Future[R]) -> None:
        self.item = item
        self.future = future
        self.started = False


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Coalescer(Generic[T, R]):
    """`await submit(item)` runs `run([item, ...])` with whatever else is waiting. `run` answers
    one result per item, in order; a result that is an exception is raised to that caller
    alone; an exception raised by `run` itself reaches every caller of the group."""

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[list[R | BaseException]]],
        *,
        max_items: int,
        max_running: int,
        max_queued: int,
        queue_timeout: float,
    ) -> None:
        self._run = run
        self.max_items = max(1, max_items)
        self.max_running = max(1, max_running)
        self.max_queued = max_queued
        self.queue_timeout = queue_timeout
        self._queue: deque[_Waiter[T, R]] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # figures for /metrics and the bench: groups run and items carried
        self.groups = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        if len(self._queue) >= self.max_queued:
            raise unavailable("terlalu banyak penulisan menunggu basis data; coba lagi sebentar lagi")
        waiter: _Waiter[T, R] = _Waiter(item, asyncio.get_running_loop().create_future())
        self._queue.append(waiter)
        if self._running < self.max_running:
            self._start()
        try:
            # shield: a caller that is cancelled must not cancel the future its group sets
            return await asyncio.wait_for(asyncio.shield(waiter.future), self.queue_timeout)
        except TimeoutError:
            if not waiter.started:
                self._queue.remove(waiter)
                raise unavailable(POOL_BUSY) from None
            # In a statement that has not answered in time: the group runs on for its other
            # callers (never cut by one of them); this one is not acknowledged.
            waiter.future.add_done_callback(_consume)
            raise unavailable(UNCONFIRMED) from None
        except asyncio.CancelledError:
            if not waiter.started:
                self._queue.remove(waiter)
            else:
                # nobody will read the answer: take it, so an error is not logged as unretrieved
                waiter.future.add_done_callback(_consume)
            raise

    def _start(self) -> None:
        group: list[_Waiter[T, R]] = []
        while self._queue and len(group) < self.max_items:
            waiter = self._queue.popleft()
            waiter.started = True
            group.append(waiter)
        if not group:
            return
        self._running += 1
        task = asyncio.get_running_loop().create_task(self._go(group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _go(self, group: list[_Waiter[T, R]]) -> None:
        try:
            self.groups += 1
            self.items += len(group)
            try:
                results = await self._run([w.item for w in group])
            except Exception as exc:  # the group's own failure: every caller hears it
                for w in group:
                    if not w.future.done():
                        w.future.set_exception(exc)
                return
            except BaseException:  # cancelled (the service stopping): callers get a 503, not a hang
                for w in group:
                    if not w.future.done():
                        w.future.set_exception(unavailable("layanan sedang berhenti; coba lagi sebentar lagi"))
                raise
            for w, result in zip(group, results, strict=True):
                if w.future.done():
                    continue
                if isinstance(result, BaseException):
                    w.future.set_exception(result)
                else:
                    w.future.set_result(result)
        finally:
            self._running -= 1
            while self._queue and self._running < self.max_running:
                self._start()


class PerLoop(Generic[T, R]):
    """One Coalescer of `run` per event loop, bounded by the single writes' group-commit
    settings (KUMKM_INGEST_GROUPS, _GROUP_MAX, _QUEUE_MAX; the pool timeout): a group in flight
    belongs to the loop that started it (tests and the CLI run more than one loop in a process;
    a loop that ended must not leave its slots taken). Read at first use in a loop, so settings
    a test puts in place before it apply."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R | BaseException]]]) -> None:
        self._run = run
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Coalescer[T, R]] = weakref.WeakKeyDictionary()

    def coalescers(self) -> list[Coalescer[T, R]]:
        """Every loop's (a test looks at their queues)."""
        return list(self._by_loop.values())

    def get(self) -> Coalescer[T, R]:
        loop = asyncio.get_running_loop()
        coalescer = self._by_loop.get(loop)
        if coalescer is None:
            coalescer = self._by_loop[loop] = Coalescer(
                self._run,
                max_items=settings.ingest_group_max,
                max_running=settings.ingest_groups,
                max_queued=settings.ingest_queue_max,
                queue_timeout=settings.pool_timeout,
            )
        return coalescer
