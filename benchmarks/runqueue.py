"""How long a thread has waited for a CPU: what a loop-lag sampler takes off.

A loop that is late only because the machine gave its thread no CPU is not
stalled by the code under test; the time the thread spent runnable but waiting
(its run-queue wait, ``/proc/thread-self/schedstat``) tells the two apart.
Shared by the benchmark's loop-lag ticker and the tests' ``LoopLag``.
"""

from __future__ import annotations

import os

__all__ = ["RunQueueClock"]


class RunQueueClock:
    """Seconds the thread that made it has waited for a CPU so far (0 where unknown).

    Make it on the thread to watch: ``/proc/thread-self`` names the opener.
    """

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._fd = None

    def __call__(self) -> float:
        if self._fd is None:
            return 0.0
        return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
