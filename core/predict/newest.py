"""Analyse the newest frame on a thread of its own, so that showing a stream never waits for analysing it.

A camera delivers a frame every 33 ms; detection plus a model may take longer on a busy CPU. Waiting for
the analysis on the stream's thread halves the frame rate the user sees. Here the stream hands each frame
over (`submit`, which never blocks) and goes on; the worker takes the newest one when it is free and drops
the ones it had no time for. The stream draws the latest answer on every frame it shows.
"""
from __future__ import annotations

import threading
import time
from typing import Callable


class NewestFrameWorker:
    """Runs `analyse(frame)` on a daemon thread, always on the newest submitted frame.

    The thread starts on the first `submit` and ends after `idle_s` seconds without a frame (a stopped
    stream leaves nothing running); the next `submit` starts it again."""

    def __init__(self, analyse: Callable[[object], None], idle_s: float = 5.0, name: str = "fel-analyse"):
        self._analyse = analyse
        self._idle_s = idle_s
        self._name = name
        self._cond = threading.Condition()
        self._pending = None
        self._thread: threading.Thread | None = None
        self.dropped = 0    # frames replaced by a newer one before the worker could take them
        self.busy = False   # an analysis is running now

    def submit(self, frame) -> None:
        """Hand over a frame (replacing one not yet taken); never waits for an analysis."""
        with self._cond:
            if self._pending is not None:
                self.dropped += 1
            self._pending = frame
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def _take(self):
        """The newest frame, or None after `idle_s` without one (the thread then ends)."""
        with self._cond:
            if self._pending is None:
                self._cond.wait(self._idle_s)
            frame, self._pending = self._pending, None
            if frame is None:
                self._thread = None  # submit() starts a new one
            else:
                self.busy = True
            return frame

    def _loop(self) -> None:
        while True:
            frame = self._take()
            if frame is None:
                return
            try:
                self._analyse(frame)
            finally:
                self.busy = False

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Until no frame is pending or being analysed (tests, and a recording's last frame)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if self._pending is None and not self.busy:
                    return True
            time.sleep(0.005)
        return False
