"""JSON logs, one object per line, each with the request id. Nothing personal goes in: the
access line names the route template (never the filled-in path or the query string), the
status, the duration and the key's id — never the key, a NIK or a name."""
from __future__ import annotations

import contextvars
import logging
import re
import sys

from pythonjsonlogger.json import JsonFormatter

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Set by a response that this service cut off on purpose (a sync stream whose client stopped
# reading): uvicorn then reports "ASGI callable returned without completing response" as an
# error, which here is no fault. The flag lives in the request's task, where uvicorn logs.
CUT_OFF: contextvars.ContextVar[bool] = contextvars.ContextVar("cut_off", default=False)


class _CutOffFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (CUT_OFF.get() and record.getMessage().startswith("ASGI callable returned without"))


def quiet_deliberate_cut_offs() -> None:
    """Install once per process (app start-up); idempotent."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _CutOffFilter) for f in logger.filters):
        logger.addFilter(_CutOffFilter())


# Paths that carry a secret: the OpenRosa routes have the enumerator's key in the URL.
SECRET_PATH = re.compile(r"^(/openrosa/)[^/?#]+")


def redact_path(path: str) -> str:
    return SECRET_PATH.sub(r"\1{key}", path)


class _SecretPathFilter(logging.Filter):
    """uvicorn's access line is (client, method, path with query, HTTP version, status): the
    path goes out with the key replaced by `{key}`."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def redact_secret_paths() -> None:
    """Install once per process (app start-up); idempotent. `kumkm serve` turns uvicorn's
    access log off (the service writes its own, by route template), but `uvicorn app.main:app`
    run by hand has it on."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _SecretPathFilter) for f in logger.filters):
        logger.addFilter(_SecretPathFilter())


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure(level: str = "INFO", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                                       rename_fields={"asctime": "time", "levelname": "level",
                                                      "name": "logger"}))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
