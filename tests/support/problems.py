"""One check for a refusal: the status, the problem+json media type and the catalog's code
(app/core/errors.py), which is what a client branches on: a bare 403 cannot tell a role that
may not (`role-forbidden`) from a wilayah outside the key (`outside-scope`)."""

from __future__ import annotations

from typing import Any

from app.core.errors import CATALOG, MEDIA_TYPE, TYPE_PREFIX


def assert_problem(response, code: str, status: int | None = None) -> dict[str, Any]:
    """`response` is the problem `code` (its status the catalog's unless `status` is given, for
    a code the catalog does not hold); returns the body for further checks."""
    if status is None:
        assert code in CATALOG, f"{code} is not in the catalog: give its status"
        status = CATALOG[code].status
    asked = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, (asked, response.status_code, response.text)
    media = response.headers.get("content-type", "").split(";")[0]
    assert media == MEDIA_TYPE, (asked, media, response.text)
    body = response.json()
    assert (body.get("code"), body.get("status"), body.get("type")) == (code, status, TYPE_PREFIX + code), (asked, body)
    return body
