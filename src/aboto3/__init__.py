"""aboto3: any boto3 client, as an asyncio client with the very same interface.

    aio = aboto3.AIOClient(boto3.client("ssm"))
    await aio.get_parameter(Name="/x")
"""

from ._engine import Engine, ThreadEngine, ThreadPool
from .client import AIOClient
from .paginate import AIOPageIterator, AIOPaginator

__version__ = "1.0.0.dev0"

__all__ = [
    "AIOClient",
    "AIOPageIterator",
    "AIOPaginator",
    "Engine",
    "ThreadEngine",
    "ThreadPool",
    "__version__",
]
