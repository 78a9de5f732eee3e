"""The safety net that every C++ stand-in for a piece of botocore has (the
SigV4 signer, the response parsers, the JSON body writer, the model loader):
an environment switch that turns it off, a comparison with botocore's own
piece made once per process, and one warning when that comparison sets the
stand-in aside, botocore's piece being used instead."""

from __future__ import annotations

import logging
import os
from typing import Callable

logger = logging.getLogger("aboto3")


class SafetyNet:
    """``compare()`` returns "" when the stand-in agrees with botocore's piece,
    else why it does not; an exception it raises is a disagreement too."""

    def __init__(
        self, env_switch: str, compare: Callable[[], str], *, trying: str, fallback: str
    ) -> None:
        self.env_switch = env_switch  # set to 0 (or false/no/off) to keep botocore's piece
        self._compare = compare
        self._trying = trying  # what compare() does, for its failure: "signing a test request"
        self._fallback = fallback  # what the process does instead: "signs with botocore's signer"
        self.verdict: str | None = None  # compare()'s answer, once asked
        self.warned = False

    def enabled_by_environment(self) -> bool:
        value = os.environ.get(self.env_switch, "1").strip().lower()
        return value not in ("0", "false", "no", "off")

    def check(self) -> str:
        """Why the stand-in must not be used in this process ("" if it may be)."""
        if self.verdict is None:
            try:
                self.verdict = self._compare()
            except Exception as error:
                self.verdict = f"{self._trying} failed: {error!r}"
        return self.verdict

    def warn_once(self, reason: str) -> None:
        if not self.warned:
            self.warned = True
            logger.warning("aboto3 %s in this process: %s", self._fallback, reason)
