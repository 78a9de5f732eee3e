"""Async paginators: each page is fetched by the engine, never on the loop.

While the caller works on one page the next one is already being fetched
(read-ahead of one page, on by default).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jmespath

from . import _inflight
from ._engine import Engine

__all__ = ["AIOPageIterator", "AIOPaginator"]

_END: Any = object()
_NOT_ITERATED: Any = object()


def _next_page(page_iterator: Any, pages: Iterator[dict[str, Any]]) -> tuple[Any, Any]:
    # Runs in the engine. StopIteration cannot cross a Future, so the end of
    # the pages is reported with a sentinel. The resume token is read in the
    # same call: with read-ahead, botocore's own has moved on to the next page
    # while the caller still holds this one.
    page = next(pages, _END)
    return page, page_iterator.resume_token


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
        pages = iter(page_iterator)
        run = self._engine.run
        if not self._read_ahead:
            while True:
                page, self._resume_token = await run(_next_page, page_iterator, pages)
                if page is _END:
                    return
                yield page
        ahead: asyncio.Future[tuple[Any, Any]] | None = None
        try:
            ahead = _inflight.start(run(_next_page, page_iterator, pages))
            while True:
                page, token = await ahead
                self._resume_token = token
                if page is _END:
                    return
                ahead = _inflight.start(run(_next_page, page_iterator, pages))
                yield page
        finally:
            # A break, an exception in the loop body or a cancelled task: the
            # page being fetched is not wanted any more.
            _inflight.discard(ahead)

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

    @property
    def result_keys(self) -> Any:
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
        return self._page_iterator.non_aggregate_part
