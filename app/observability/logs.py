"""JSON logs, one object per line, each with the request id. Nothing personal goes in: the
access line names the route template (never the filled-in path or the query string), the
status, the duration and the key's id — never the key, a NIK or a name."""
from __future__ import annotations

import atexit
import contextvars
import datetime as dt
import logging
import logging.handlers
import queue
import re
import sys
import threading

import orjson

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


class _Queued(logging.handlers.QueueHandler):
    """Hands each line to the writer thread: a request pays for building its record, never for
    formatting it or writing it to stderr (which blocks when the reader falls behind). The
    queue is bounded: past it lines are dropped and counted, and the count is written once the
    writer catches up, so a flood of log lines can neither grow the process nor stall a
    request."""

    def __init__(self, q: queue.SimpleQueue):
        super().__init__(q)
        self.lines = q
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # What must be fixed now (the arguments and the exception may change or be gone when
        # the writer gets to it); the rest stays structured for the JSON formatter.
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if record.exc_info:
            record.exc_text = _PLAIN.formatException(record.exc_info)
            record.exc_info = None
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        if self.lines.qsize() >= QUEUE_MAX:
            self.dropped += 1
            return
        if self.dropped:
            note = logging.LogRecord("kumkm.logs", logging.WARNING, __file__, 0,
                                     "%d log lines dropped: the log writer fell behind", (self.dropped,), None)
            self.lines.put_nowait(self.prepare(note))
            self.dropped = 0
        self.lines.put_nowait(record)


class _Flushed:
    """Put in the queue by flush(): the writer sets it once every line before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


class _Writer(logging.handlers.QueueListener):
    def handle(self, record: logging.LogRecord) -> None:
        if isinstance(record, _Flushed):
            record.done.set()
            return
        super().handle(record)


_PLAIN = logging.Formatter()
# What every LogRecord has; anything else on a record came as `extra=` and goes into the line.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "request_id"}


class JsonLines(logging.Formatter):
    """One JSON object a line: time (RFC 3339 UTC with microseconds, as every instant the
    service writes), level, logger, message, request_id, the `extra=` fields, and exc_info
    when there is one. orjson and one dict: a third of python-json-logger's cost a line,
    which at level info is paid once per request."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                "request_id": getattr(record, "request_id", None)}
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = record.stack_info
        return orjson.dumps(line, default=str).decode()
QUEUE_MAX = 100_000
_listener: _Writer | None = None
_queue: queue.SimpleQueue | None = None


def configure(level: str = "INFO", stream=None) -> None:
    """JSON lines on stderr (or `stream`), written by a thread of their own; idempotent (the
    last call wins: `kumkm serve` configures before its app does the same)."""
    global _listener, _queue
    stop()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    # No line names its source file, thread or process: don't look them up for every record
    # (the logging HOWTO's optimisation; the caller's frame walk is the dearest part of a record).
    logging._srcfile = None     # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    _queue = queue.SimpleQueue()
    queued = _Queued(_queue)
    # the request id is the request's, read where the line is made
    queued.addFilter(_RequestIdFilter())
    _listener = _Writer(_queue, handler, respect_handler_level=False)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [queued]
    root.setLevel(level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def flush() -> None:
    """Wait until every line made so far is written."""
    if _queue is not None and _listener is not None:
        marker = _Flushed()
        _queue.put_nowait(marker)   # type: ignore[arg-type]
        marker.done.wait(30)


def stop() -> None:
    """Write what is queued and stop the writer; at exit, so no line made is lost."""
    global _listener
    if _listener is not None:
        listener, _listener = _listener, None
        listener.stop()


atexit.register(stop)
