"""aboto3: any boto3 client, as an asyncio client with the very same interface.

aio = aboto3.AIOClient(boto3.client("ssm"))     # or: aio = await aboto3.client("ssm")
await aio.get_parameter(Name="/x")
async with aboto3.Session().resource("dynamodb") as dynamodb:
    table = await dynamodb.Table("t")
"""

from ._engine import CoreMissingWarning, Engine, ThreadEngine, ThreadPool, engines
from .body import AIOStreamingBody
from .client import AIOClient
from .eventstream import AIOEventStream
from .paginate import AIOPageIterator, AIOPaginator
from .resource import AIOBatchWriter, AIOCollection, AIOResource
from .session import Creating, Session, client, resource
from .waiter import AIOWaiter

__version__ = "1.0.0.dev0"

__all__ = [
    "AIOBatchWriter",
    "AIOClient",
    "AIOCollection",
    "AIOEventStream",
    "AIOPageIterator",
    "AIOPaginator",
    "AIOResource",
    "AIOStreamingBody",
    "AIOWaiter",
    "CoreMissingWarning",
    "Creating",
    "Engine",
    "Session",
    "ThreadEngine",
    "ThreadPool",
    "__version__",
    "client",
    "engines",
    "resource",
]
