"""JSON logs, one object per line, each with the request id. Nothing personal goes in: the
access line names the route template (never the filled-in path or the query string), the
status, the duration and the key's id — never the key, a NIK or a name."""
from __future__ import annotations

import contextvars
import logging
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
