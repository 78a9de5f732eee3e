"""aboto3: any boto3 client, as an asyncio client with the very same interface.

aio = aboto3.AIOClient(boto3.client("ssm"))     # or: aio = await aboto3.client("ssm")
await aio.get_parameter(Name="/x")
"""

from ._engine import CoreMissingWarning, Engine, ThreadEngine, ThreadPool, engines
from .body import AIOStreamingBody
from .client import AIOClient
from .eventstream import AIOEventStream
from .paginate import AIOPageIterator, AIOPaginator
from .session import Session, client
from .waiter import AIOWaiter

__version__ = "1.0.0.dev0"

__all__ = [
    "AIOClient",
    "AIOEventStream",
    "AIOPageIterator",
    "AIOPaginator",
    "AIOStreamingBody",
    "AIOWaiter",
    "CoreMissingWarning",
    "Engine",
    "Session",
    "ThreadEngine",
    "ThreadPool",
    "__version__",
    "client",
    "engines",
]
