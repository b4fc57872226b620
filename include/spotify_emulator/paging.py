"""Offset paging objects with absolute ``href``/``next``/``previous`` links, as Spotify sends them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

T = TypeVar("T")


def with_query(url: str, **params: Any) -> str:
    """``url`` with ``params`` set (replacing any of the same name), other parameters kept."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key not in params]
    query += [(key, str(value)) for key, value in params.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query, safe=",:")))


def paging(items: list[Any], *, href: str, offset: int, limit: int, total: int) -> dict[str, Any]:
    """A PagingObject; ``href`` is the request URL (offset and limit are set on it)."""
    following = offset + limit
    return {
        "href": with_query(href, offset=offset, limit=limit),
        "items": items,
        "limit": limit,
        "next": with_query(href, offset=following, limit=limit) if following < total else None,
        "offset": offset,
        "previous": (
            with_query(href, offset=max(0, offset - limit), limit=limit) if offset > 0 else None
        ),
        "total": total,
    }


def page_of(
    entries: Sequence[T], render: Callable[[T], Any], *, href: str, offset: int, limit: int
) -> dict[str, Any]:
    """The PagingObject of ``entries[offset : offset + limit]``, each rendered by ``render``."""
    items = [render(entry) for entry in entries[offset : offset + limit]]
    return paging(items, href=href, offset=offset, limit=limit, total=len(entries))
