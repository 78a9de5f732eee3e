"""Async waiters: botocore's own ``Waiter`` logic, polling through the engine.

The waiter runs in an engine greenlet on the event-loop thread. Each poll is
one engine call that the greenlet suspends on, and the delay between polls is
an ``asyncio.sleep``: nothing holds a thread while a waiter waits, and the
acceptors, delays and ``WaiterError`` messages are botocore's, for whichever
botocore is installed.
"""

from __future__ import annotations

from typing import Any, Callable

import botocore.waiter
from botocore import xform_name
from botocore.client import BaseClient

from ._engine import Engine
from ._suspend import intercept_sleep, run_in_greenlet, suspend

__all__ = ["AIOWaiter"]


class AIOWaiter:
    """The async twin of ``botocore.waiter.Waiter``: ``await waiter.wait(**kwargs)``.

    ``name`` and ``config`` are those of the boto3 waiter, and ``wait`` takes
    the same parameters, ``WaiterConfig={"Delay": ..., "MaxAttempts": ...}``
    included, and raises the same ``botocore.exceptions.WaiterError``.
    """

    def __init__(self, client: BaseClient, waiter_name: str, engine: Engine) -> None:
        sync_waiter = client.get_waiter(waiter_name)  # boto3's ValueError if unknown
        operation = getattr(client, xform_name(sync_waiter.config.operation))
        run = engine.run

        def poll(**kwargs: Any) -> Any:
            return suspend(run(operation, **kwargs))

        # Waiter.wait sleeps with time.sleep: make that an asyncio.sleep inside
        # engine greenlets (it still blocks everywhere else).
        intercept_sleep()
        # Same documented class, name and config as boto3's waiter; only the
        # operation differs. NormalizedOperationMethod turns a ClientError into
        # the error response the acceptors match, as in boto3.
        self._waiter = type(sync_waiter)(
            sync_waiter.name,
            sync_waiter.config,
            botocore.waiter.NormalizedOperationMethod(poll),
        )
        self._wait: Callable[..., None] = self._waiter.wait

    @property
    def name(self) -> str:
        """The waiter's name in the service model, e.g. ``"BucketExists"``."""
        return str(self._waiter.name)

    @property
    def config(self) -> Any:
        """The waiter's ``botocore.waiter.SingleWaiterConfig`` (delay, max_attempts, acceptors)."""
        return self._waiter.config

    @property
    def waiter(self) -> Any:
        """The ``botocore.waiter.Waiter`` that does the work."""
        return self._waiter

    async def wait(self, **kwargs: Any) -> None:
        """Poll until the waiter's success state, as boto3's ``wait`` does.

        Raises ``WaiterError`` on a failure state, an unexpected error or when
        ``MaxAttempts`` polls did not succeed.
        """
        await run_in_greenlet(self._wait, **kwargs)

    def __repr__(self) -> str:
        return f"<aboto3.AIOWaiter {self.name}>"
