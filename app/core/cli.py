"""What the operator commands share: how they say an argument is wrong, and their progress bars."""
from __future__ import annotations

import sys
from typing import IO, Any


class UsageError(Exception):
    """Bad arguments or an unreadable file: the CLI prints the message and exits 2."""


def progress(total: int | None, desc: str, stream: IO[str] | None = None) -> Any:
    """A progress bar with rate and ETA on a terminal; silent when output is redirected."""
    from tqdm import tqdm

    stream = stream or sys.stderr
    return tqdm(total=total, desc=desc, unit=" rec", unit_scale=True, file=stream,
                disable=not stream.isatty(), smoothing=0.1, mininterval=0.5)
