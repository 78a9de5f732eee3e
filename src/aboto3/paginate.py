"""Async paginators: each page is fetched by the engine, never on the loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import jmespath

from ._engine import Engine

__all__ = ["AIOPageIterator", "AIOPaginator"]

_END = object()


def _next_page(pages: Iterator[dict[str, Any]]) -> Any:
    # Runs in the engine. StopIteration cannot cross a Future, so the end of
    # the pages is reported with a sentinel.
    return next(pages, _END)


class AIOPaginator:
    """The async twin of ``botocore.paginate.Paginator``."""

    def __init__(self, paginator: Any, engine: Engine) -> None:
        self._paginator = paginator
        self._engine = engine

    @property
    def paginator(self) -> Any:
        """The wrapped botocore paginator."""
        return self._paginator

    def paginate(self, **kwargs: Any) -> AIOPageIterator:
        """Like boto3's ``paginate``, including ``PaginationConfig``
        (``MaxItems``, ``PageSize``, ``StartingToken``); iterate it with ``async for``.
        """
        return AIOPageIterator(self._paginator.paginate(**kwargs), self._engine)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._paginator, name)


class AIOPageIterator:
    """The async twin of ``botocore.paginate.PageIterator``.

    ``async for page in it`` fetches one page per engine call; iterating again
    starts again from the first page, as botocore does.
    """

    def __init__(self, page_iterator: Any, engine: Engine) -> None:
        self._page_iterator = page_iterator
        self._engine = engine

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._pages()

    async def _pages(self) -> AsyncIterator[dict[str, Any]]:
        pages = iter(self._page_iterator)
        run = self._engine.run
        while True:
            page = await run(_next_page, pages)
            if page is _END:
                return
            yield page

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
        return self._page_iterator.resume_token

    @resume_token.setter
    def resume_token(self, value: Any) -> None:
        self._page_iterator.resume_token = value

    @property
    def non_aggregate_part(self) -> Any:
        return self._page_iterator.non_aggregate_part
