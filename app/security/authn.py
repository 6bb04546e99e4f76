"""Who is calling: the API key in `Authorization: Bearer`, looked up by its SHA-256 hash (so no
secret is ever compared byte by byte: timing can at most reveal something about a hash, which
does not help anyone guess a key), and the FastAPI dependencies every router uses.

Lookups are cached in each process for speed. Each service process keeps one connection that
LISTENs on `kumkm_keys` (notified by a trigger on api_keys when a key is revoked, rotated or
changed, migration 0005) and empties its cache on every notification, so a revocation takes
effect at once in every worker. The cache is trusted only while this listener is connected:
when the connection is lost, every request looks its key up in the database until the
listener is back (with back-off), so a revocation is never missed, only slower to check."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text

from app.core.errors import UNAUTHORIZED, Problem, problem_response
from app.core.settings import settings
from app.infra import db
from app.security.policy import authorize, roles
from app.security.principal import ROLES, STAFF_ROLES, Principal

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("kumkm.auth")

# Lookups are cached for speed while this process listens for key changes (below),
# which empties the cache the moment a key is revoked, rotated or changed in any process. The
# age limit only bounds memory of keys no longer used.
CACHE_SECONDS = 60.0
TOUCH_SECONDS = 60.0


_BY_HASH = text(
    """
    SELECT id, identity_id, name, role, kode_wilayah, pii, expires_at, revoked_at,
           mitra_tujuan, mitra_kuota_harian, mitra_per_detik
    FROM api_keys WHERE key_hash = :h
    """
)
_TOUCH = text("UPDATE api_keys SET last_used_at = now() WHERE id = ANY(:ids)")


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


# hash -> (cached at, principal or None, the key's expiry)
_cache: dict[bytes, tuple[float, Principal | None, dt.datetime | None]] = {}
_touched: dict[int, float] = {}
# True while this process's listener on the key-change channel is connected: only then may a
# cached lookup be trusted (a revocation could otherwise go unheard).
cache_trusted = False


async def authenticate(key: str) -> Principal | None:
    h = hash_key(key)
    now = time.monotonic()
    hit = _cache.get(h) if cache_trusted else None
    if hit is not None and now - hit[0] < CACHE_SECONDS and (hit[2] is None or hit[2] > dt.datetime.now(dt.UTC)):
        principal = hit[1]
    else:
        async with db.connect() as conn:
            row = (await conn.execute(_BY_HASH, {"h": h})).first()
        principal = None
        expires = None
        if row is not None and row.revoked_at is None and (row.expires_at is None or row.expires_at > dt.datetime.now(dt.UTC)):
            principal = Principal(
                row.id,
                row.name,
                row.role,
                row.kode_wilayah,
                row.pii,
                row.identity_id,
                tuple(row.mitra_tujuan or ()),
                row.mitra_kuota_harian,
                row.mitra_per_detik,
            )
            expires = row.expires_at
        if len(_cache) > 100_000:
            _cache.clear()
        _cache[h] = (now, principal, expires)
    if principal is not None and principal.id is not None and now - _touched.get(principal.id, -1e9) > TOUCH_SECONDS:
        _touched[principal.id] = now
        asyncio.get_running_loop().create_task(_touch(principal.id))
    return principal


async def _touch(key_id: int) -> None:
    try:
        async with db.transaction() as conn:
            await conn.execute(_TOUCH, {"ids": [key_id]})
    except Exception:  # last-used time is informative; never fail a request over it
        pass


def clear_cache() -> None:
    _cache.clear()
    _touched.clear()


# ------------------------------------------------------------------ dependencies

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer <key>`")

_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="kumkm"'}
# Where KeyFirst leaves the principal it found, in the request's state, for the route's own
# dependency to take instead of looking the key up again.
_CHECKED = "kumkm_principal"


async def require_key(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    """Any key of the registry's own people (every role but mitra): routes every such key may
    call, their wilayah checked inside. A partner's key is refused here with the 403 of the
    policy (`record.read` is not the partner's)."""
    principal = await _principal(request, creds)
    if principal.role not in STAFF_ROLES:
        authorize(principal, "record.read")
    return principal


async def require_any_role(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    """Any valid key, a partner's too: only GET /api/v1/me, which tells a key what it is."""
    return await _principal(request, creds)


async def _principal(request: Request, creds: HTTPAuthorizationCredentials | None) -> Principal:
    checked = request.scope.get("state", {}).get(_CHECKED)
    if isinstance(checked, Principal):  # KeyFirst looked it up before the body was read
        return checked
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise UNAUTHORIZED("Authorization wajib berisi kunci API: Authorization: Bearer <kunci>", headers=_UNAUTHORIZED)
    principal = await authenticate(creds.credentials)
    if principal is None:
        raise UNAUTHORIZED("Authorization: kunci API tidak dikenal, sudah dicabut atau kedaluwarsa", headers=_UNAUTHORIZED)
    request.scope.setdefault("state", {})["principal_id"] = principal.id  # for the access log line
    return principal


async def principal_for(request: Request, action: str) -> Principal:
    """What require(action) resolves, for a route served without FastAPI's dependency
    machinery (the single-record ingest route, see app/submissions/router.py): the same
    header parsing as HTTPBearer(auto_error=False), the same 401 and 403 answers."""
    checked = request.scope.get("state", {}).get(_CHECKED)
    if isinstance(checked, Principal):  # KeyFirst has it: no second parse of the header
        authorize(checked, action)
        return checked
    principal = await _principal(request, await _bearer(request))
    authorize(principal, action)
    return principal


@functools.cache
def require(action: str) -> Callable[..., Awaitable[Principal]]:
    """The dependency of a route that takes `action`: the calling key, whose role the policy
    allows it (app.security.policy.authorize; the wilayah is the service's to check, once it
    knows it). One callable per action, so a route's dependencies are the same object FastAPI
    caches once per request. Each domain names it as a type, e.g.
    `CanDecide = Annotated[Principal, Depends(require("record.decide"))]`."""

    # One dependency level rather than two (role check over require_key): FastAPI's resolution
    # of each level is a visible share of a single POST's CPU.
    async def dep(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        principal = await _principal(request, creds)
        authorize(principal, action)
        return principal

    dep.roles = roles(action)  # type: ignore[attr-defined]  # read by KeyFirst
    dep.action = action  # type: ignore[attr-defined]  # and the action, which it authorizes with
    return dep


require_key.roles = STAFF_ROLES  # type: ignore[attr-defined]  # read by KeyFirst
require_key.action = "record.read"  # type: ignore[attr-defined]  # the action its refusal names
require_any_role.roles = ROLES  # type: ignore[attr-defined]  # any key: KeyFirst checks only that it is one

# Any valid key of the registry's own people (every role but mitra): routes every such key may
# call (their wilayah checked inside).
AnyKey = Annotated[Principal, Depends(require_key)]
# Any valid key at all, a partner's too: GET /api/v1/me.
AnyRole = Annotated[Principal, Depends(require_any_role)]


# ------------------------------------------------------------------ the key before the body

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


_FOUND_MAX = 4096
_FOUND_PATH_MAX = 512


class KeyFirst:
    """FastAPI reads a route's body before it resolves the route's dependencies, so a write
    without a key, or with a key whose role may not write there, would still have its whole
    body received and held (8 MB each) before the 401 or 403. Here, below the app, a write to
    the API has its key and role checked from the headers alone, by the roles the route's own
    dependency names (require(action) / require_key), and is refused before one byte of its body
    is read; the principal found is handed on, so the route does not look the key up twice."""

    def __init__(self, app: Any, routes: Callable[[], list[Any]], prefix: str = "/api/"):
        self.app = app
        self.prefix = prefix
        self._routes = routes
        self._guarded: list[tuple[Any, tuple[str, ...], str]] | None = None
        # (root path, method, path) -> the guarded route's roles and action: the walk over every
        # write route's pattern was a visible share of a look-up's CPU. Only paths a write route
        # has, and only short ones, at most _FOUND_MAX of them (about 2 MiB at worst): a client
        # sending endless distinct or 60 KiB paths churns it, or pays the walk as before, and
        # never grows the process.
        self._found: OrderedDict[tuple[str, str, str], tuple[tuple[str, ...], str]] = OrderedDict()

    def _writes(self) -> list[tuple[Any, tuple[str, ...], str]]:
        if self._guarded is None:
            from fastapi.routing import APIRoute, iter_route_contexts

            guarded = []
            # each route as the app serves it, inside its included router (prefix and all)
            for route in iter_route_contexts(self._routes()):
                api = route.original_route
                if isinstance(api, APIRoute) and (api.methods or set()) & _WRITES:
                    found = _roles_of(api.dependant)
                    if found is None:
                        raise RuntimeError(f"{route.path}: a write route with no key dependency")
                    guarded.append((route, *found))
            self._guarded = guarded
        return self._guarded

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        from starlette.routing import Match

        key = (scope.get("root_path", ""), scope["method"], scope["path"])
        found = self._found.get(key)
        if found is not None:
            self._found.move_to_end(key)
        else:
            found = next(((allowed, action) for route, allowed, action in self._writes() if route.matches(scope)[0] is Match.FULL), None)
            if found is not None and len(key[0]) + len(key[2]) <= _FOUND_PATH_MAX:
                self._found[key] = found
                if len(self._found) > _FOUND_MAX:
                    self._found.popitem(last=False)
        if found is None:
            await self.app(scope, receive, send)  # 404/405 as the router says
            return
        allowed, action = found
        request = Request(scope)
        try:
            principal = await _principal(request, await _bearer(request))
            if principal.role not in allowed:
                authorize(principal, action)  # the same 403 the route's own dependency answers
        except Problem as refused:
            await problem_response(refused)(scope, receive, send)
            return
        except Exception:
            # The key could not be looked up (the database is away): the route looks again
            # and its error handlers answer as for any request (503 with Retry-After).
            await self.app(scope, receive, send)
            return
        scope["state"][_CHECKED] = principal
        await self.app(scope, receive, send)


def _roles_of(dependant: Any) -> tuple[tuple[str, ...], str] | None:
    """The roles a route's own key dependency allows (its `.roles`: require(action) or
    require_key), and the action they are the policy's roles of ("" for any key)."""
    for sub in dependant.dependencies:
        allowed = getattr(sub.call, "roles", None)
        if allowed is not None:
            return allowed, getattr(sub.call, "action", "")
        found = _roles_of(sub)
        if found is not None:
            return found
    return None


# ------------------------------------------------------------------ key-change listener

CHANNEL = "kumkm_keys"


# Reconnecting: 0.5 s, doubling up to this; a database back from a crash or a failover is
# listened to again within seconds.
WATCH_MAX_DELAY = 5.0


class KeyWatch:
    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._moved = asyncio.Event()
        self._forget: Callable[[], None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name="kumkm-key-watch")
        # When a pool finds its server gone or read-only (a failover), this connection may
        # still be open to the old server, which no longer hears the new primary's changes:
        # reconnect with them, to the primary of the multi-host URL. (It listens on the direct
        # URL, which may differ from the pool's behind a pooler: any drop is reason enough.)

        def moved(_url_key: str) -> None:
            loop.call_soon_threadsafe(self._moved.set)

        self._forget = db.on_drop(moved)

    async def stop(self) -> None:
        self._stop.set()
        if self._forget is not None:
            self._forget()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        _trust(False)

    async def _run(self) -> None:
        delay = 0.5
        failures = 0
        while not self._stop.is_set():
            lost = asyncio.Event()
            conn = None
            try:
                self._moved.clear()
                conn = await _connect()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, _on_change)
                # Trust the cache only from a clean slate taken after LISTEN is in place (_trust
                # empties it): a change committed before it was heard is in no entry kept now.
                _trust(True)
                if failures:
                    log.warning("key-change listener connected again after %d tries", failures + 1)
                delay = 0.5
                failures = 0
                await _wait_any(lost, self._stop, self._moved)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                # one line when it goes, not one a retry: the database's own outage is logged
                # by app.infra.health
                (log.warning if failures == 1 else log.debug)(
                    "key-change listener not connected (%s: %s); checking every key in the database until it is, retrying in %.1f s",
                    type(exc).__name__,
                    exc,
                    delay,
                )
            finally:
                _trust(False)
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            if self._stop.is_set():
                return
            if failures:
                await asyncio.sleep(delay)
                delay = min(delay * 2, WATCH_MAX_DELAY)
            else:
                await asyncio.sleep(0.1)  # lost or moved just now: reconnect at once


def _on_change(*_args: object) -> None:
    _cache.clear()


def _trust(trusted: bool) -> None:
    global cache_trusted
    cache_trusted = trusted
    _cache.clear()


async def _wait_any(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _connect() -> asyncpg.Connection:
    """A connection of its own, outside the pools, to the server itself: a LISTEN must stay on
    one server connection, which a pooler in transaction mode does not keep (the streams'
    engine points there, db.direct_url)."""
    engine = db.get_stream_engine()
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs = {
        k: v for k, v in kwargs.items() if k not in ("prepared_statement_cache_size", "prepared_statement_name_func", "async_fallback")
    }
    kwargs["server_settings"] = {"application_name": "kumkm-keywatch"}
    kwargs["timeout"] = settings.connect_timeout
    return await db.connect_each_host(*args, **kwargs)
