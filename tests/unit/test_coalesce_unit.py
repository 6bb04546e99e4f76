"""Group commit (app.infra.group_commit) without a database: who gets which answer, and the bounds."""

from __future__ import annotations

import asyncio

import pytest

from app.core.errors import POOL_BUSY, Problem
from app.infra.group_commit import Coalescer


def _recorder(delay: float = 0.01, fail_on=None, group_error=None):
    groups: list[list[int]] = []

    async def run(items: list[int]):
        groups.append(list(items))
        await asyncio.sleep(delay)
        if group_error is not None:
            raise group_error
        return [ValueError(f"item {i}") if i == fail_on else i * 10 for i in items]

    return run, groups


async def test_a_lone_write_runs_at_once_and_alone():
    run, groups = _recorder()
    c = Coalescer(run, max_items=64, max_running=4, max_queued=100, queue_timeout=5)
    assert await c.submit(7) == 70
    assert groups == [[7]]


async def test_writes_that_arrive_while_the_slots_are_busy_share_a_statement():
    run, groups = _recorder(delay=0.05)
    c = Coalescer(run, max_items=64, max_running=2, max_queued=100, queue_timeout=5)
    results = await asyncio.gather(*[c.submit(i) for i in range(20)])
    assert results == [i * 10 for i in range(20)]  # each caller its own answer, in order
    assert sorted(i for g in groups for i in g) == list(range(20))  # everything once
    assert groups[0] == [0] and groups[1] == [1]  # the first two found free slots
    assert groups[2] == list(range(2, 20))  # the rest went together
    assert c.groups == 3 and c.items == 20


async def test_a_group_never_exceeds_its_size():
    run, groups = _recorder(delay=0.02)
    c = Coalescer(run, max_items=5, max_running=1, max_queued=100, queue_timeout=5)
    await asyncio.gather(*[c.submit(i) for i in range(23)])
    assert max(len(g) for g in groups) == 5
    assert sorted(i for g in groups for i in g) == list(range(23))


async def test_an_items_own_error_reaches_that_caller_only():
    run, _ = _recorder(delay=0.02, fail_on=3)
    c = Coalescer(run, max_items=64, max_running=1, max_queued=100, queue_timeout=5)
    results = await asyncio.gather(*[c.submit(i) for i in range(6)], return_exceptions=True)
    assert isinstance(results[3], ValueError) and str(results[3]) == "item 3"
    assert [r for i, r in enumerate(results) if i != 3] == [0, 10, 20, 40, 50]


async def test_the_groups_own_error_reaches_every_caller_of_it():
    run, _ = _recorder(group_error=RuntimeError("database gone"))
    c = Coalescer(run, max_items=64, max_running=1, max_queued=100, queue_timeout=5)
    results = await asyncio.gather(*[c.submit(i) for i in range(4)], return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    # and the coalescer is fit for the next write
    c._run, _ = _recorder()
    assert await c.submit(1) == 10


async def test_a_full_queue_answers_503_with_retry_after_at_once():
    run, _ = _recorder(delay=0.2)
    c = Coalescer(run, max_items=1, max_running=1, max_queued=3, queue_timeout=5)
    tasks = [asyncio.create_task(c.submit(i)) for i in range(4)]  # 1 running, 3 queued
    await asyncio.sleep(0.01)
    with pytest.raises(Problem) as e:
        await c.submit(99)
    assert e.value.status == 503 and e.value.headers["Retry-After"]
    assert await asyncio.gather(*tasks) == [0, 10, 20, 30]


async def test_a_write_that_waits_too_long_in_the_queue_is_answered_503_and_never_runs():
    run, groups = _recorder(delay=0.3)
    c = Coalescer(run, max_items=1, max_running=1, max_queued=100, queue_timeout=0.1)
    first = asyncio.create_task(c.submit(1))
    await asyncio.sleep(0.01)
    with pytest.raises(Problem) as e:
        await c.submit(2)
    assert e.value.status == 503 and e.value.detail == POOL_BUSY
    with pytest.raises(Problem):  # its own statement outlasted the bound as well
        await first
    await asyncio.sleep(0.35)
    assert groups == [[1]]


async def test_a_write_whose_statement_outlasts_the_bound_is_answered_503_and_the_statement_runs_on():
    # a commit waiting for a synchronous standby that is gone: the caller is not held past the
    # bound and not acknowledged; the statement is never cut by one caller
    groups: list[list[int]] = []

    async def run(items: list[int]):
        groups.append(list(items))
        await asyncio.sleep(0.3 if 5 in items else 0.01)
        return [i * 10 for i in items]

    c = Coalescer(run, max_items=8, max_running=1, max_queued=100, queue_timeout=0.1)
    with pytest.raises(Problem) as e:
        await c.submit(5)
    assert e.value.status == 503 and e.value.headers["Retry-After"]
    await asyncio.sleep(0.25)  # the statement ends, and gives its slot back
    assert await c.submit(6) == 60
    assert groups == [[5], [6]]


async def test_a_caller_that_leaves_before_its_group_starts_is_left_out():
    run, groups = _recorder(delay=0.1)
    c = Coalescer(run, max_items=8, max_running=1, max_queued=100, queue_timeout=5)
    first = asyncio.create_task(c.submit(1))
    await asyncio.sleep(0.01)
    gone = asyncio.create_task(c.submit(2))
    stays = asyncio.create_task(c.submit(3))
    await asyncio.sleep(0.01)
    gone.cancel()
    assert await first == 10 and await stays == 30
    assert groups == [[1], [3]]


async def test_a_caller_that_leaves_mid_statement_does_not_cut_the_statement():
    run, groups = _recorder(delay=0.1)
    c = Coalescer(run, max_items=8, max_running=1, max_queued=100, queue_timeout=5)
    leaving = asyncio.create_task(c.submit(1))
    await asyncio.sleep(0.02)
    leaving.cancel()
    assert await c.submit(2) == 20  # the next group still runs: the slot was given back
    assert groups == [[1], [2]]
