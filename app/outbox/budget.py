"""The send-rate budget: never exceed TWILIO_MAX_MPS (Twilio queues the excess, then drops it)."""

import threading
import time


class LocalSendBudget:
    """A token bucket shared by the threads of one process.

    `acquire()` blocks until a send is allowed. Capacity is one second of sends, so a
    burst never exceeds the configured rate by more than that.
    """

    def __init__(self, per_second: float, *, clock=time.monotonic, sleep=time.sleep):
        self.rate = float(per_second)
        self.capacity = max(1.0, self.rate)
        self._tokens = 1.0
        self._clock, self._sleep = clock, sleep
        self._last = clock()
        self._lock = threading.Lock()

    def available(self) -> bool:
        """Always: the bucket lives in this process (see RedisSendBudget for the shared one)."""
        return True

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1 - 1e-9:  # tolerate float rounding of elapsed × rate
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                wait = (1 - self._tokens) / self.rate
            self._sleep(wait)
