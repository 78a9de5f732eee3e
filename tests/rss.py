"""Peak RSS growth of this process over a block, for memory bounds in tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

__all__ = ["UNDER_ASAN", "peak_rss_growth"]

# Under .ci/sanitize: AddressSanitizer's allocator, not glibc's, decides RSS. Its
# quarantine holds up to 256 MiB of freed memory back from reuse, so RSS grows
# with what a process frees, not with what it keeps.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


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
