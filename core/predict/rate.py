"""Events per second that can be true: what the Webcam page shows as frames/s and labels/s (#42: 36.2 frames/s
in the panel, 41.6 on the video, from a 30 frames/s camera).

Frames reach the server in bursts when the machine or the network is busy: thirty frames handled in 0.7 s are
not 43 frames/s from the camera. Each event keeps the clock's time and, where it has one, its own (a frame's
timestamp, set by the camera): the rate is counted over the longer of the two spans, so it never exceeds the
rate the frames were made at, nor the rate they were handled at. It is counted over the last WINDOW_S and
published once every EVERY_S, so the video's overlay and the page's panel, which read it at different
moments, show the same figure.
"""
from __future__ import annotations

from collections import deque

WINDOW_S = 3.0
EVERY_S = 1.0


class Rate:
    """`add(now, own)` per event (`now`: the clock, seconds; `own`: the event's own time, or None);
    `value`: events per second, as last published."""

    def __init__(self, window_s: float = WINDOW_S, every_s: float = EVERY_S):
        self.window_s, self.every_s = float(window_s), float(every_s)
        self.value = 0.0
        self._events: deque = deque()
        self._published: float | None = None

    def add(self, now: float, own: float | None = None) -> float:
        events = self._events
        events.append((now, own))
        while len(events) > 2 and now - events[0][0] > self.window_s:
            events.popleft()
        if len(events) >= 2 and (self._published is None or now - self._published >= self.every_s):
            self.value, self._published = self.measure(), now
        return self.value

    def measure(self) -> float:
        """Events per second over the events kept, now (0 until there are two)."""
        events = self._events
        if len(events) < 2:
            return 0.0
        span = events[-1][0] - events[0][0]
        first, last = events[0][1], events[-1][1]
        if first is not None and last is not None and all(o is not None for _, o in events) and last > first:
            span = max(span, last - first)
        return (len(events) - 1) / max(span, 1e-6)

    def clear(self) -> None:
        self._events.clear()
        self.value, self._published = 0.0, None
