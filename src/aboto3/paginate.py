"""Async paginators: each page is fetched by the engine, never on the loop.

While the caller works on one page the next one is already being fetched
(read-ahead of one page, on by default).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterator
from typing import Any, Callable, TypeVar

import jmespath

from . import _inflight
from ._engine import Engine

__all__ = ["AIOPageIterator", "AIOPaginator", "AIOResultKeyIterator", "engine_results"]

T = TypeVar("T")

_END: Any = object()
_NOT_ITERATED: Any = object()


def _next_page(page_iterator: Any, pages: Iterator[dict[str, Any]]) -> tuple[Any, Any]:
    # Runs in the engine. StopIteration cannot cross a Future, so the end of
    # the pages is reported with a sentinel. The resume token is read in the
    # same call: with read-ahead, botocore's own has moved on to the next page
    # while the caller still holds this one.
    page = next(pages, _END)
    return page, page_iterator.resume_token


def _is_last_page(fetched: tuple[Any, Any]) -> bool:
    return fetched[0] is _END


async def engine_results(
    run: Callable[..., Awaitable[T]],
    fn: Callable[..., T],
    *args: Any,
    is_last: Callable[[T], bool],
    read_ahead: bool = True,
) -> AsyncGenerator[T, None]:
    """``fn(*args)``'s results, one engine call each, until one ``is_last``
    (which is yielded too): how pages are fetched. With ``read_ahead`` the
    next call starts before a result is handed out, so it is fetched while
    the caller works on this one; closing the generator (a caller that
    leaves its loop early should ``aclose()`` it) cancels that call."""
    if not read_ahead:
        while True:
            result = await run(fn, *args)
            yield result
            if is_last(result):
                return
    ahead: asyncio.Future[T] | None = None
    try:
        ahead = _inflight.start(run(fn, *args))
        while True:
            result = await ahead
            ahead = None if is_last(result) else _inflight.start(run(fn, *args))
            yield result
            if ahead is None:
                return
    finally:
        _inflight.discard(ahead)


class AIOPaginator:
    """The async twin of ``botocore.paginate.Paginator``."""

    def __init__(self, paginator: Any, engine: Engine, *, read_ahead: bool = True) -> None:
        self._paginator = paginator
        self._engine = engine
        self._read_ahead = read_ahead

    @property
    def paginator(self) -> Any:
        """The wrapped botocore paginator."""
        return self._paginator

    @property
    def result_keys(self) -> Any:
        """The JMESPath expressions of the paginated results, as boto3's."""
        return self._paginator.result_keys

    def paginate(self, **kwargs: Any) -> AIOPageIterator:
        """Like boto3's ``paginate``, including ``PaginationConfig``
        (``MaxItems``, ``PageSize``, ``StartingToken``); iterate it with ``async for``.
        """
        return AIOPageIterator(
            self._paginator.paginate(**kwargs), self._engine, read_ahead=self._read_ahead
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._paginator, name)


class AIOPageIterator:
    """The async twin of ``botocore.paginate.PageIterator``.

    ``async for page in it`` fetches one page per engine call; iterating again
    starts again from the first page, as botocore does. With ``read_ahead``
    (the default) the next page is fetched while the loop body runs; leaving
    the loop early cancels that fetch. ``resume_token`` is always that of the
    pages the loop has seen, as in boto3.
    """

    def __init__(self, page_iterator: Any, engine: Engine, *, read_ahead: bool = True) -> None:
        self._page_iterator = page_iterator
        self._engine = engine
        self._read_ahead = read_ahead
        self._resume_token: Any = _NOT_ITERATED  # as of the last page handed out

    @property
    def read_ahead(self) -> bool:
        """Whether the next page is fetched while the caller handles the current one."""
        return self._read_ahead

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._pages()

    async def _pages(self) -> AsyncIterator[dict[str, Any]]:
        page_iterator = self._page_iterator
        fetches = engine_results(
            self._engine.run,
            _next_page,
            page_iterator,
            iter(page_iterator),
            is_last=_is_last_page,
            read_ahead=self._read_ahead,
        )
        try:
            async for page, self._resume_token in fetches:
                if page is _END:
                    return
                yield page
        finally:
            await fetches.aclose()  # now, not when it is collected: the fetch ahead ends

    async def search(self, expression: str) -> AsyncIterator[Any]:
        """Apply a JMESPath expression to each page, as botocore's ``search`` does:
        list results are yielded item by item, anything else as it is.
        """
        compiled = jmespath.compile(expression)
        async for page in self:
            results = compiled.search(page)
            if isinstance(results, list):
                for element in results:
                    yield element
            else:
                yield results

    async def build_full_result(self) -> dict[str, Any]:
        """All pages aggregated into one response, as botocore builds it."""
        result: dict[str, Any] = await self._engine.run(self._page_iterator.build_full_result)
        return result

    def result_key_iters(self) -> list[AIOResultKeyIterator]:
        """One async iterator per result key, over that key's items across the
        pages, as boto3's ``result_key_iters``; together they fetch each page once.
        """
        result_keys = self.result_keys
        pages = _SharedPages(self, len(result_keys))
        return [AIOResultKeyIterator(pages, i, key) for i, key in enumerate(result_keys)]

    @property
    def result_keys(self) -> Any:
        """The JMESPath expressions of the paginated results, as boto3's."""
        return self._page_iterator.result_keys

    @property
    def resume_token(self) -> Any:
        """Token to pass as ``StartingToken`` to resume where iteration stopped."""
        if self._resume_token is _NOT_ITERATED:
            return self._page_iterator.resume_token
        return self._resume_token

    @resume_token.setter
    def resume_token(self, value: Any) -> None:
        self._page_iterator.resume_token = value
        self._resume_token = _NOT_ITERATED

    @property
    def non_aggregate_part(self) -> Any:
        """The response's keys that are not paginated, from the first page."""
        return self._page_iterator.non_aggregate_part


class _SharedPages:
    """One pass over the pages, shared by several readers that each see every
    page (``itertools.tee`` for async iterators): a page is fetched once, by
    whichever reader needs it first, and kept until every reader has had it."""

    def __init__(self, pages: AIOPageIterator, readers: int) -> None:
        self._source = pages.__aiter__()
        self._queues: list[collections.deque[Any]] = [collections.deque() for _ in range(readers)]
        self._fetching: asyncio.Future[None] | None = None

    async def next_page(self, reader: int) -> Any:
        """The reader's next page, or ``_END``."""
        queue = self._queues[reader]
        while not queue:
            if self._fetching is not None:
                await asyncio.shield(self._fetching)  # another reader is fetching
                continue
            self._fetching = asyncio.get_running_loop().create_future()
            # If this fetch is cancelled the pages cannot be resumed; the other
            # readers must not mistake that for their end.
            page: Any = _Failed(RuntimeError("aboto3: a reader fetching the pages was cancelled"))
            try:
                page = await self._source.__anext__()
            except StopAsyncIteration:
                page = _END
            except Exception as error:  # every reader gets the error, none an early end
                page = _Failed(error)
            finally:
                for each in self._queues:
                    each.append(page)
                self._fetching.set_result(None)
                self._fetching = None
        page = queue.popleft()
        if isinstance(page, _Failed):
            queue.appendleft(page)  # a failed pass stays failed
            raise page.error
        return page


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class AIOResultKeyIterator:
    """The async twin of ``botocore.paginate.ResultKeyIterator``: the items of
    one result key (``result_key``, a JMESPath expression) over every page."""

    def __init__(self, pages: _SharedPages, reader: int, result_key: Any) -> None:
        self._pages = pages
        self._reader = reader
        self.result_key = result_key

    async def __aiter__(self) -> AsyncIterator[Any]:
        while True:
            page = await self._pages.next_page(self._reader)
            if page is _END:
                return
            for item in self.result_key.search(page) or []:
                yield item
