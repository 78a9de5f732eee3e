"""Peak RSS growth of this process over a block, for memory bounds in tests."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

__all__ = ["peak_rss_growth"]


def peak_rss_since_reset() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


@contextlib.contextmanager
def peak_rss_growth() -> Iterator[Callable[[], int]]:
    """Peak RSS growth of this process within the block (Linux: the peak is reset first)."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM to the current RSS
    base = peak_rss_since_reset()
    yield lambda: peak_rss_since_reset() - base
