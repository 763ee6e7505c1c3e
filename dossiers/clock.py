"""Business time (thời gian nghiệp vụ): real time, or an accelerated simulation clock for demos.

Pure arithmetic on a wall-clock reading given by the caller, so the core stays free of I/O: the
simulator and the stream share the same origin and speed and therefore agree on "now".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BusinessClock:
    """now = origin + (wall - wall_origin) x speed; speed 1 with origin == wall_origin is real time."""

    origin: float = 0.0
    wall_origin: float = 0.0
    speed: float = 1.0

    def now(self, wall: float) -> float:
        return self.origin + (wall - self.wall_origin) * self.speed

    def wall_at(self, business: float) -> float:
        """The wall-clock instant at which business time reaches `business` (for sleeping until it)."""
        return self.wall_origin + (business - self.origin) / self.speed

    @property
    def is_real_time(self) -> bool:
        return self.speed == 1.0 and self.origin == self.wall_origin
