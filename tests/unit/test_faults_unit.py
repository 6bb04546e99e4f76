"""Unit tests without a database: what each kind of database failure is answered with, and
libpq's multi-host DATABASE_URL as SQLAlchemy and asyncpg take it."""

from __future__ import annotations

import asyncpg.exceptions as pg
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.errors import Fault, database_problem, fault_kind, fault_problem
from app.infra.db import normalize_url


@pytest.mark.parametrize(
    "exc, kind, status, retry",
    [
        (ConnectionRefusedError(111, "Connection refused"), Fault.UNAVAILABLE, 503, "2"),
        (FileNotFoundError(2, "No such file or directory"), Fault.UNAVAILABLE, 503, "2"),  # unix socket gone
        (pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), Fault.UNAVAILABLE, 503, "2"),
        (pg.AdminShutdownError("terminating connection due to administrator command"), Fault.UNAVAILABLE, 503, "2"),
        (pg.CrashShutdownError("terminating connection because of crash of another server process"), Fault.UNAVAILABLE, 503, "2"),
        (pg.CannotConnectNowError("the database system is in recovery mode"), Fault.UNAVAILABLE, 503, "2"),
        (pg.InvalidCatalogNameError('database "kumkm" does not exist'), Fault.UNAVAILABLE, 503, "2"),
        (pg.TargetServerAttributeNotMatched("None of the hosts match"), Fault.UNAVAILABLE, 503, "2"),
        (pg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"), Fault.READ_ONLY, 503, "2"),
        (pg.TooManyConnectionsError("sorry, too many clients already"), Fault.BUSY, 503, "2"),
        (PoolTimeout("QueuePool limit of size 40 overflow 0 reached"), Fault.BUSY, 503, "2"),
        (pg.DiskFullError('could not extend file "base/16384/16385": No space left on device'), Fault.DISK_FULL, 507, "60"),
    ],
)
def test_each_database_fault_is_a_503_or_507_with_retry_after(exc, kind, status, retry):
    assert fault_kind(exc) == kind
    p = database_problem(exc)
    assert (p.status, p.headers["Retry-After"]) == (status, retry)
    assert p.code == ("insufficient-storage" if status == 507 else "database-unavailable")


def test_errors_of_the_statement_are_not_faults():
    assert fault_kind(pg.UniqueViolationError("duplicate key")) is None
    assert database_problem(pg.UniqueViolationError("duplicate key")) is None
    assert database_problem(pg.NumericValueOutOfRangeError("integer out of range")).status == 422


def test_a_full_disk_wins_over_the_connection_it_took_down():
    """The WAL could not be written: the server panics, and the error about the lost
    connection carries the one about the disk."""
    lost = pg.ConnectionDoesNotExistError("connection was closed")
    lost.__cause__ = pg.DiskFullError('could not write to file "pg_wal/xlogtemp.1": No space left on device')
    assert fault_kind(lost) == Fault.DISK_FULL
    assert database_problem(lost).status == 507


def test_a_fault_inside_an_exception_group_or_behind_a_cleanup_error_is_found():
    group = ExceptionGroup("parallel read", [ValueError("unrelated"), ConnectionResetError(104, "reset")])
    assert fault_problem(group).status == 503
    try:
        try:
            raise pg.ConnectionDoesNotExistError("closed")
        except pg.ConnectionDoesNotExistError:
            raise RuntimeError("rollback on a dead connection")  # noqa: B904 (as a cleanup would)
    except RuntimeError as cleanup:
        assert fault_problem(cleanup).status == 503
    assert fault_problem(RuntimeError("a bug")) is None


@pytest.mark.parametrize(
    "given, expected, hosts, ports",
    [
        (
            "postgresql://kumkm@db1:5432,db2:5433/kumkm?target_session_attrs=read-write",
            "postgresql+asyncpg://kumkm@/kumkm?host=db1:5432&host=db2:5433&target_session_attrs=read-write",
            ["db1", "db2"],
            [5432, 5433],
        ),
        (
            "postgres://u:p%40ss@db1,db2/kumkm",  # libpq's default port where none is given
            "postgresql+asyncpg://u:p%40ss@/kumkm?host=db1:5432&host=db2:5432",
            ["db1", "db2"],
            [5432, 5432],
        ),
        ("postgresql://u@db1:6432/kumkm", "postgresql+asyncpg://u@db1:6432/kumkm", "db1", 6432),
    ],
)
def test_multi_host_urls_reach_asyncpg_as_host_lists(given, expected, hosts, ports):
    url = normalize_url(given)
    assert url == expected
    _, kwargs = create_async_engine(url).dialect.create_connect_args(create_async_engine(url).url)
    assert (kwargs["host"], kwargs["port"]) == (hosts, ports)
    if "target_session_attrs" in given:
        assert kwargs["target_session_attrs"] == "read-write"


def _connect_timed_out() -> BaseException:
    """What asyncpg raises when a host does not answer within the connect timeout: a
    TimeoutError whose cause is the cancelled connect."""
    import asyncio

    try:
        try:
            raise asyncio.CancelledError()
        except asyncio.CancelledError as cancelled:
            raise TimeoutError() from cancelled
    except TimeoutError as exc:
        return exc


def test_a_host_that_does_not_answer_is_a_503_not_a_500():
    """A hung host (a frozen node of a failover pair) times out the connect; the client is told
    to come back, as for a refused one (it was answered 500 before)."""
    from sqlalchemy.exc import DBAPIError

    exc = _connect_timed_out()
    assert fault_kind(exc) == Fault.UNAVAILABLE
    wrapped = DBAPIError("connect", None, exc)
    wrapped.__cause__ = exc
    for e in (exc, wrapped):
        p = database_problem(e)
        assert p is not None and p.status == 503 and p.headers["Retry-After"] == "2"
