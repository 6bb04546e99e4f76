"""JSON logs, one object per line, each with the request id. Nothing personal goes in: the
access line names the route template (never the filled-in path or the query string), the
status, the duration and the key's id — never the key, a NIK or a name."""

from __future__ import annotations

import atexit
import collections
import contextvars
import datetime as dt
import logging
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


class _Background(logging.Handler):
    """Hands each record to the writer thread: a request pays for building its record, never
    for formatting it or writing it to stderr (which blocks when the reader falls behind).
    The writer wakes every WRITE_EVERY seconds and writes what came meanwhile in one write, so
    a busy service does not switch threads once a line. The backlog is bounded: past it lines
    are dropped and counted, and the count is written once the writer catches up, so a flood
    of log lines can neither grow the process nor stall a request."""

    def __init__(self, stream, formatter: logging.Formatter) -> None:
        super().__init__()
        self.stream = stream
        self.setFormatter(formatter)
        # deque.append and popleft are atomic: no lock on the request's side
        self.lines: collections.deque[logging.LogRecord | threading.Event] = collections.deque()
        self.dropped = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="kumkm-log-writer", daemon=True)
        self._thread.start()

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        # the base class takes the handler's lock around emit; the deque needs none
        if self.filter(record):
            self.emit(record)
            return True
        return False

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) >= QUEUE_MAX:
            self.dropped += 1
            return
        # What must be fixed now (the arguments and the exception may change or be gone when
        # the writer gets to it); the rest stays structured for the formatter.
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if record.exc_info:
            record.exc_text = _PLAIN.formatException(record.exc_info)
            record.exc_info = None
        self.lines.append(record)
        if self._stopping and not self._thread.is_alive():
            self._write_all()  # a line made after the writer stopped (late at exit) is written here

    def flush(self) -> None:
        """Wait until every record handed over so far is written."""
        if not self._thread.is_alive():
            return
        written = threading.Event()
        self.lines.append(written)
        self._wake.set()
        written.wait(30)

    def close(self) -> None:
        """Write what is left, then stop the writer."""
        self._stopping = True
        self._wake.set()
        self._thread.join(30)
        super().close()

    def _run(self) -> None:
        while True:
            self._wake.wait(WRITE_EVERY)
            self._wake.clear()
            self._write_all()
            if self._stopping:
                self._write_all()
                return

    def _write_all(self) -> None:
        out: list[str] = []
        done: list[threading.Event] = []
        lines = self.lines
        while lines:
            item = lines.popleft()
            if isinstance(item, threading.Event):
                done.append(item)
                continue
            try:
                out.append(self.format(item))
            except Exception:
                self.handleError(item)
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            note = logging.LogRecord(
                "kumkm.logs", logging.WARNING, __file__, 0, "%d log lines dropped: the log writer fell behind", (dropped,), None
            )
            out.append(self.format(note))
        if out:
            try:
                self.stream.write("\n".join(out) + "\n")
                self.stream.flush()
            except Exception:
                pass  # stderr gone (a closed pipe): nothing to report it on
        for event in done:
            event.set()


_PLAIN = logging.Formatter()
# What every LogRecord has; anything else on a record came as `extra=` and goes into the line.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "request_id"}


class JsonLines(logging.Formatter):
    """One JSON object a line: time (RFC 3339 UTC with microseconds, as every instant the
    service writes), level, logger, message, request_id, the `extra=` fields, and exc_info
    when there is one. orjson and one dict: a third of python-json-logger's cost a line,
    which at level info is paid once per request."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
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
WRITE_EVERY = 0.05
_writer: _Background | None = None


def configure(level: str = "INFO", stream=None) -> None:
    """JSON lines on stderr (or `stream`), written by a thread of their own; idempotent (the
    last call wins: `kumkm serve` configures before its app does the same)."""
    global _writer
    stop()
    # No line names its source file, thread or process: don't look them up for every record
    # (the logging HOWTO's optimisation; the caller's frame walk is the dearest part of a record).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    _writer = _Background(stream or sys.stderr, JsonLines())
    # the request id is the request's, read where the line is made
    _writer.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [_writer]
    root.setLevel(level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def flush() -> None:
    """Wait until every line made so far is written."""
    if _writer is not None:
        _writer.flush()


def stop() -> None:
    """Write what is left and stop the writer; at exit, so no line made is lost."""
    global _writer
    if _writer is not None:
        writer, _writer = _writer, None
        writer.close()


atexit.register(stop)
