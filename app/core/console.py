"""What the operator commands share: how they say an argument is wrong, and their progress bars."""

from __future__ import annotations

import sys
from typing import IO, Any


class UsageError(Exception):
    """Bad arguments or an unreadable file: the CLI prints the message and exits 2."""


def table(header: list[str], rows: list[list[str]]) -> str:
    """Rows under a header row, each column as wide as its widest cell."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows])


def progress(total: int | None, desc: str, stream: IO[str] | None = None) -> Any:
    """A progress bar with rate and ETA on a terminal; silent when output is redirected."""
    from tqdm import tqdm

    stream = stream or sys.stderr
    return tqdm(
        total=total, desc=desc, unit=" rec", unit_scale=True, file=stream, disable=not stream.isatty(), smoothing=0.1, mininterval=0.5
    )
