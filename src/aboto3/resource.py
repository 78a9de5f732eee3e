"""Async resources: boto3's own resources, with every member that may do I/O awaited.

``AIOResource`` wraps an ordinary boto3 resource (``boto3.resource("s3")``, or
one a boto3 resource returned). boto3 builds every resource class at run time
from its JSON models, and its members fall into a few kinds; the model tells
which kind each name is, and this layer makes each kind awaitable by running
boto3's own member through the engine of the ``AIOClient`` that wraps the
resource's client:

- identifiers: plain attributes, as in boto3 (``bucket.name``);
- loadable attributes and references: ``await table.item_count``; loaded by
  boto3's ``load`` on first use (an engine call), then read from its cache;
- actions, sub-resources, ``load``/``reload`` and methods boto3 injects:
  coroutine methods (``await table.put_item(...)``, ``await s3.Bucket("b")``);
- waiters: boto3's waiter, its polls through the engine (``AIOWaiter``);
- collections: ``async for`` over boto3's ``pages()``, one engine call per
  page, with ``all``/``filter``/``limit``/``page_size`` and awaited batch actions;
- ``Table.batch_writer``: boto3's ``BatchWriter`` as an async context manager;
- S3's transfer methods: boto3's, on the thread pool, async files accepted.

Resources that actions, references, sub-resources and collections return are
wrapped the same way and share the one ``AIOClient``.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Callable

from boto3.dynamodb.table import BatchWriter
from boto3.resources.base import ServiceResource
from boto3.resources.collection import CollectionManager, ResourceCollection
from boto3.resources.params import create_request_parameters
from botocore import xform_name

from ._engine import Engine, Executor
from .client import TRANSFER_METHODS, AIOClient, stream_wrapper, transfer_method
from .paginate import engine_results
from .waiter import AIOWaiter

__all__ = ["AIOBatchWriter", "AIOCollection", "AIOResource"]

# How a member of a resource class behaves; anything the table does not name
# is a method (an action, a sub-resource, load/reload, or one boto3 injects).
_IDENTIFIER, _ATTRIBUTE, _REFERENCE, _COLLECTION, _WAITER, _SYNC = range(6)
_END: Any = object()


class AIOResource:
    """An asyncio resource with the interface of the boto3 resource it wraps.

    ``await aboto3.AIOResource(boto3.resource("dynamodb")).Table("t")``, or
    from ``Session.resource`` / ``aboto3.resource``. Identifiers are plain
    attributes; everything that may call AWS is awaited: actions,
    sub-resources, loadable attributes (``await table.item_count``),
    references, ``load``/``reload``, waiters and batch actions. Collections
    are async iterables. ``meta`` is boto3's, except that ``meta.client``
    is the ``AIOClient``.

    :param boto3_resource: a resource from ``boto3.resource(...)`` (any
        ``boto3.resources.base.ServiceResource``).
    :param thread_pool_executor: as for ``AIOClient``.
    :param engine: as for ``AIOClient``: ``"threads"`` or ``"native"``.
    :param fast_signing, fast_parsing, fast_serializing: as for ``AIOClient``.
    """

    _resource: ServiceResource
    _client: AIOClient[Any]

    def __new__(
        cls,
        boto3_resource: ServiceResource,
        thread_pool_executor: Executor | None = None,
        *,
        engine: str = "threads",
        fast_signing: bool = True,
        fast_parsing: bool = True,
        fast_serializing: bool = True,
    ) -> AIOResource:
        if not isinstance(boto3_resource, ServiceResource):
            raise TypeError(
                "AIOResource needs a boto3 resource such as boto3.resource('s3') "
                f"(a boto3.resources.base.ServiceResource), not {type(boto3_resource).__name__}"
            )
        client = AIOClient(
            boto3_resource.meta.client,
            thread_pool_executor,
            engine=engine,
            fast_signing=fast_signing,
            fast_parsing=fast_parsing,
            fast_serializing=fast_serializing,
        )
        return _wrap_resource(boto3_resource, client)

    @property
    def resource(self) -> Any:
        """The wrapped boto3 resource, still usable synchronously."""
        return self._resource

    @property
    def meta(self) -> AIOResourceMeta:
        """boto3's ``ResourceMeta`` (service name, identifiers, data, model),
        with ``client`` the ``AIOClient``."""
        return AIOResourceMeta(self._resource.meta, self._client)

    async def close(self) -> None:
        """Close the ``AIOClient`` that this resource, and every resource made
        from it, calls through (``meta.client``)."""
        await self._client.close()

    async def __aenter__(self) -> AIOResource:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Any:
        # Reached only for names not found normally: boto3's members.
        if name.startswith("__") or name in ("_resource", "_client", "_kinds"):
            raise AttributeError(name)
        resource = self._resource
        kind = self._kinds.get(name)
        if kind in (_IDENTIFIER, _SYNC):
            return getattr(resource, name)
        if kind in (_ATTRIBUTE, _REFERENCE):
            return self._loaded(name)
        if kind == _COLLECTION:
            return AIOCollection(getattr(resource, name), self)
        member = getattr(resource, name)  # boto3's own AttributeError if unknown
        if not callable(member):
            return member
        method = self._async_member(name, member, kind)
        self.__dict__[name] = method  # built once per resource object
        return method

    def _async_member(self, name: str, member: Callable[..., Any], kind: int | None) -> Any:
        owner = type(self).__name__
        if name in TRANSFER_METHODS:
            return transfer_method(self._client._thread_engine, name, member, owner)
        if name == "batch_writer" and self._resource.meta.service_name == "dynamodb":
            return self._batch_writer
        if kind == _WAITER:
            return self._waiter(name)
        run = self._client.engine.run
        wrap: Callable[[Any], Any] = self._wrap
        # An action whose response holds a stream (S3 Object.get's Body) gets
        # it as the client's method would: an AIOStreamingBody.
        wrap_stream = self._stream_wrapper(name)
        if wrap_stream is not None:
            wrap_resources = wrap

            def wrap_streams(result: Any) -> Any:
                if isinstance(result, dict):
                    return wrap_stream(result)
                return wrap_resources(result)

            wrap = wrap_streams

        async def method(*args: Any, **kwargs: Any) -> Any:
            return wrap(await run(member, *args, **kwargs))

        method.__name__ = name
        method.__qualname__ = f"{owner}.{name}"
        method.__doc__ = member.__doc__
        return method

    def _stream_wrapper(self, name: str) -> Callable[[Any], Any] | None:
        meta = self._resource.meta
        for action in meta.resource_model.actions:
            if action.name == name and action.request is not None:
                operation = meta.client.meta.service_model.operation_model(action.request.operation)
                return stream_wrapper(operation, self._client.engine)
        return None

    async def _loaded(self, name: str) -> Any:
        resource = self._resource
        if resource.meta.data is None:
            # boto3's property loads first (or raises ResourceLoadException).
            return self._wrap(await self._client.engine.run(getattr, resource, name))
        return self._wrap(getattr(resource, name))

    def _waiter(self, name: str) -> Callable[..., Any]:
        # boto3's waiter action, with its polls and sleeps those of AIOWaiter,
        # so that no thread is held while it waits, whatever the engine.
        model = next(w for w in self._resource.meta.resource_model.waiters if w.name == name)
        client = self._client
        resource = self._resource

        async def wait(*args: Any, **kwargs: Any) -> None:
            params = await client.engine.run(create_request_parameters, resource, model)
            params.update(kwargs)
            waiter = AIOWaiter(client.client, xform_name(model.waiter_name), client.engine)
            await waiter.wait(**params)

        wait.__name__ = name
        wait.__doc__ = getattr(resource, name).__doc__
        return wait

    def _batch_writer(
        self,
        overwrite_by_pkeys: list[str] | None = None,
        flush_amount: int = 25,
        on_exit_loop_sleep: float = 0,
    ) -> AIOBatchWriter:
        """boto3's ``Table.batch_writer``, as an async context manager:
        ``async with table.batch_writer() as batch: await batch.put_item(Item=...)``.

        ``flush_amount`` and ``on_exit_loop_sleep`` (a pause between the
        flushes on exit) are aioboto3's.
        """
        writer = BatchWriter(
            self._resource.name,
            self._resource.meta.client,
            flush_amount=flush_amount,
            overwrite_by_pkeys=overwrite_by_pkeys,
        )
        return AIOBatchWriter(writer, self._client.engine, on_exit_loop_sleep)

    def _wrap(self, value: Any) -> Any:
        """An async resource for a boto3 resource that a member returned
        (or a list of them), sharing this one's client; other values as they are."""
        if isinstance(value, ServiceResource):
            return _wrap_resource(value, self._client)
        if isinstance(value, list) and any(isinstance(v, ServiceResource) for v in value):
            return [self._wrap(v) for v in value]
        return value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AIOResource) and self._resource == other._resource

    def __hash__(self) -> int:
        return hash(self._resource)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(dir(self._resource)))

    def __repr__(self) -> str:
        return repr(self._resource)


class AIOResourceMeta:
    """boto3's ``ResourceMeta`` of a resource, with ``client`` its ``AIOClient``."""

    def __init__(self, meta: Any, client: AIOClient[Any]) -> None:
        self.__dict__["_meta"] = meta
        self.__dict__["client"] = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._meta, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._meta, name, value)  # data, as on boto3's

    def __repr__(self) -> str:
        return repr(self._meta)


def _member_kinds(resource: ServiceResource) -> dict[str, int]:
    """What each model-made member of the resource's class is (see _IDENTIFIER...)."""
    meta = resource.meta
    model = meta.resource_model
    kinds = dict.fromkeys(meta.identifiers, _IDENTIFIER)
    for identifier in model.identifiers:
        if identifier.member_name:  # an attribute that reads the identifier
            kinds[identifier.member_name] = _IDENTIFIER
    if model.shape:
        shape = meta.client.meta.service_model.shape_for(model.shape)
        for name in model.get_attributes(shape):
            kinds.setdefault(name, _ATTRIBUTE)
    kinds.update(dict.fromkeys((r.name for r in model.references), _REFERENCE))
    kinds.update(dict.fromkeys((c.name for c in model.collections), _COLLECTION))
    kinds.update(dict.fromkeys((w.name for w in model.waiters), _WAITER))
    kinds["get_available_subresources"] = _SYNC
    return kinds


# boto3 makes a new class for every resource it creates, from one JSON
# definition per resource type (kept by its session's loader): the async
# class, and the table of member kinds it holds, are made once per definition.
# The definition is kept with its class, so its id cannot be reused meanwhile.
_CLASSES_KEPT = 256
_classes: collections.OrderedDict[int, tuple[Any, type[AIOResource]]] = collections.OrderedDict()


def _wrap_resource(resource: ServiceResource, client: AIOClient[Any]) -> AIOResource:
    definition = resource.meta.resource_model._definition
    found = _classes.get(id(definition))
    if found is None:
        cls = type(
            type(resource).__name__,
            (AIOResource,),
            {"_kinds": _member_kinds(resource), "__module__": __name__},
        )
        found = _classes[id(definition)] = (definition, cls)
        if len(_classes) > _CLASSES_KEPT:
            _classes.popitem(last=False)
    wrapped = object.__new__(found[1])
    wrapped.__dict__.update(_resource=resource, _client=client)
    return wrapped


class AIOCollection:
    """The async twin of a boto3 collection (``bucket.objects``,
    ``bucket.objects.filter(Prefix="a/")``...).

    ``async for item in collection`` iterates its items, fetching pages
    through the engine (the next page while the loop works on the current
    one); ``pages()`` gives them a page (a list) at a time. ``all``,
    ``filter``, ``limit`` and ``page_size`` return new collections, as in
    boto3; batch actions (``await bucket.objects.filter(...).delete()``)
    are awaited and return boto3's list of responses.
    """

    def __init__(self, collection: CollectionManager | ResourceCollection, owner: AIOResource):
        self._collection = collection
        self._owner = owner

    def all(self) -> AIOCollection:
        """Every item of the collection (boto3's ``all``)."""
        return AIOCollection(self._collection.all(), self._owner)

    def filter(self, **kwargs: Any) -> AIOCollection:
        """The items matching the operation's parameters (boto3's ``filter``)."""
        return AIOCollection(self._collection.filter(**kwargs), self._owner)

    def limit(self, count: int) -> AIOCollection:
        """At most ``count`` items (boto3's ``limit``)."""
        return AIOCollection(self._collection.limit(count), self._owner)

    def page_size(self, count: int) -> AIOCollection:
        """Items fetched ``count`` per request (boto3's ``page_size``)."""
        return AIOCollection(self._collection.page_size(count), self._owner)

    def iterator(self, **kwargs: Any) -> AIOCollection:
        """The collection with these parameters (boto3's ``iterator``)."""
        return AIOCollection(self._collection.iterator(**kwargs), self._owner)

    async def pages(self) -> AsyncIterator[list[Any]]:
        """The items a page at a time, as boto3's ``pages()``."""
        wrap = self._owner._wrap
        pages = self._collection.pages()
        run = self._owner._client.engine.run
        fetches = engine_results(run, next, pages, _END, is_last=_is_end)
        try:
            async for page in fetches:
                if page is _END:
                    return
                yield wrap(page)
        finally:
            await fetches.aclose()  # a loop left early: the page fetched ahead is not wanted

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for page in self.pages():
            for item in page:
                yield item

    def __getattr__(self, name: str) -> Any:
        # boto3's batch actions (delete, stop...), or its AttributeError.
        if name.startswith("__") or name in ("_collection", "_owner"):
            raise AttributeError(name)
        action = getattr(self._collection, name)
        run = self._owner._client.engine.run

        async def batch_action(*args: Any, **kwargs: Any) -> Any:
            return await run(action, *args, **kwargs)

        batch_action.__name__ = name
        batch_action.__doc__ = action.__doc__
        return batch_action

    def __repr__(self) -> str:
        return repr(self._collection)


def _is_end(page: Any) -> bool:
    return page is _END


class AIOBatchWriter:
    """boto3's DynamoDB ``BatchWriter``, awaited: items are buffered, sent 25
    at a time (``flush_amount``) with ``BatchWriteItem``, unprocessed items
    resent with the next batch, and whatever is left sent when the
    ``async with`` block ends, even when it ends with an exception (as
    boto3's does).

    The writer's steps run through the engine one at a time, so writes from
    several tasks at once buffer and flush as they would one after another.
    """

    def __init__(self, writer: BatchWriter, engine: Engine, on_exit_loop_sleep: float = 0) -> None:
        self._writer = writer
        self._run = engine.run
        self._exit_sleep = on_exit_loop_sleep
        self._lock: asyncio.Lock | None = None

    async def put_item(self, Item: dict[str, Any]) -> None:
        """Buffer a put of ``Item``; sends a batch when the buffer is full."""
        await self._one_at_a_time(self._writer.put_item, Item)

    async def delete_item(self, Key: dict[str, Any]) -> None:
        """Buffer a delete of ``Key``; sends a batch when the buffer is full."""
        await self._one_at_a_time(self._writer.delete_item, Key)

    async def _one_at_a_time(self, step: Callable[..., Any], *args: Any) -> Any:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return await self._run(step, *args)

    async def __aenter__(self) -> AIOBatchWriter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        writer = self._writer
        if not self._exit_sleep:
            await self._one_at_a_time(writer.__exit__, None, None, None)  # flushes it all
            return
        while writer._items_buffer:
            await self._one_at_a_time(writer._flush)
            await asyncio.sleep(self._exit_sleep)
