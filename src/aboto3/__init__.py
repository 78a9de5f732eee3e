"""aboto3: any boto3 client, as an asyncio client with the very same interface.

aio = aboto3.AIOClient(boto3.client("ssm"))
await aio.get_parameter(Name="/x")
"""

from ._engine import Engine, ThreadEngine, ThreadPool
from .body import AIOStreamingBody
from .client import AIOClient
from .eventstream import AIOEventStream
from .paginate import AIOPageIterator, AIOPaginator
from .waiter import AIOWaiter

__version__ = "1.0.0.dev0"

__all__ = [
    "AIOClient",
    "AIOEventStream",
    "AIOPageIterator",
    "AIOPaginator",
    "AIOStreamingBody",
    "AIOWaiter",
    "Engine",
    "ThreadEngine",
    "ThreadPool",
    "__version__",
]
