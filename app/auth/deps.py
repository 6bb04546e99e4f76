from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.service import Principal, authenticate
from app.problems import Problem

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer <key>`")

_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="kumkm"'}


async def require_key(request: Request,
                      creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    return await _principal(request, creds)


async def _principal(request: Request, creds: HTTPAuthorizationCredentials | None) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise Problem(401, "Unauthorized", "an API key is required: Authorization: Bearer <key>",
                      headers=_UNAUTHORIZED)
    principal = await authenticate(creds.credentials)
    if principal is None:
        raise Problem(401, "Unauthorized", "the API key is unknown, revoked or expired",
                      headers=_UNAUTHORIZED)
    request.scope.setdefault("state", {})["principal_id"] = principal.id  # for the access log line
    return principal


async def principal_in_role(request: Request, roles: tuple[str, ...]) -> Principal:
    """What require_role(*roles) resolves, for a route served without FastAPI's dependency
    machinery (the single-record ingest route, see app/submissions/router.py): the same
    header parsing as HTTPBearer(auto_error=False), the same 401 and 403 answers."""
    return _in_role(await _principal(request, await _bearer(request)), roles)


def _in_role(principal: Principal, roles: tuple[str, ...]) -> Principal:
    if principal.role not in roles:
        raise Problem(403, "Forbidden",
                      f"role {principal.role!r} may not do this; allowed: {', '.join(roles)}")
    return principal


def require_role(*roles: str):
    # One dependency level rather than two (role check over require_key): FastAPI's resolution
    # of each level is a visible share of a single POST's CPU.
    async def dep(request: Request,
                  creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        return _in_role(await _principal(request, creds), roles)

    return dep


def require_scope(principal: Principal, kode: str) -> None:
    if not principal.covers(kode):
        raise Problem(403, "Forbidden",
                      f"wilayah {kode} is outside this key's scope ({principal.kode_wilayah})")
