"""The sandbox's two clocks.

Wall time (token and code expiry, grace, record dates) is real UTC time plus an
offset that the admin API can advance. Limit time (the rolling minute and day
windows) runs `time_scale` times faster than real time and is shifted by the same
offset, so `--time-scale 60` makes a rate-limit minute last one real second.
"""

from __future__ import annotations

import time


class SandboxClock:
    def __init__(self, time_scale: float = 1.0) -> None:
        self.time_scale = time_scale
        self.offset = 0.0
        self._mono0 = time.monotonic()

    def now(self) -> float:
        """Sandbox wall time, seconds since the epoch."""
        return time.time() + self.offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def limit_now(self) -> float:
        """Seconds on the (scaled) clock of the rate-limit windows."""
        return (time.monotonic() - self._mono0) * self.time_scale + self.offset

    def to_client_seconds(self, sandbox_seconds: float) -> float:
        """A duration on the limit clock, in the client's real seconds."""
        return sandbox_seconds / self.time_scale

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def reset(self) -> None:
        self.offset = 0.0
