"""How busy this process is with requests: the time-average of the requests in flight, for work
that yields to them (the registry's background linker, app.registry.linker).

The HTTP middleware (app.observability.middleware.Observe) calls enter() and leave() around
every request; a reader takes a mark() and later asks for the average number of requests in
flight since it. The average, not a snapshot: a client polling in a loop has a request in flight
at some instants and none at others, a saturating one always. Long-lived streams (the walidata
feed and snapshot, under /api/v1/sync/) are left out: one would count as busy for as long as
its client reads, and the linker would never run at full speed again."""

from __future__ import annotations

import time

STREAMS = "/api/v1/sync/"


class Load:
    __slots__ = ("in_flight", "_area", "_at")

    def __init__(self) -> None:
        self.in_flight = 0
        self._area = 0.0  # integral of in_flight over time, seconds
        self._at = time.monotonic()

    def _settle(self, now: float) -> None:
        self._area += self.in_flight * (now - self._at)
        self._at = now

    def enter(self) -> None:
        self._settle(time.monotonic())
        self.in_flight += 1

    def leave(self) -> None:
        self._settle(time.monotonic())
        self.in_flight -= 1

    def mark(self) -> tuple[float, float]:
        now = time.monotonic()
        self._settle(now)
        return now, self._area

    def average_since(self, mark: tuple[float, float]) -> float:
        """Requests in flight on average since `mark` (0 when no time passed)."""
        now, area = self.mark()
        span = now - mark[0]
        return (area - mark[1]) / span if span > 0 else float(self.in_flight)


load = Load()


def counts(path: str) -> bool:
    """Whether a request to `path` counts towards the load (not a stream)."""
    return not path.startswith(STREAMS)
