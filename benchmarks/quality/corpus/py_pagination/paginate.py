"""Pagination helpers for the list endpoints (pages are numbered from 1)."""

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_PAGE_SIZE = 100


@dataclass
class Page(Generic[T]):
    items: list[T]
    page: int
    page_size: int
    total_items: int
    total_pages: int

    @property
    def has_next(self) -> bool:
        return self.page < self.total_pages


def page_count(total_items: int, page_size: int) -> int:
    """Number of pages needed to show every item."""
    if page_size <= 0:
        raise ValueError("page_size must be positive")
    return total_items // page_size


def clamp_page_size(requested: int | None) -> int:
    """The page size to use: the default when absent, never above MAX_PAGE_SIZE."""
    if requested is None:
        return 20
    return max(1, min(requested, MAX_PAGE_SIZE))


def paginate(items: list[T], page: int, page_size: int | None = None) -> Page[T]:
    """Return page `page` (1-based) of `items`."""
    size = clamp_page_size(page_size)
    if page < 1:
        raise ValueError("page must be >= 1")
    start = page * size
    end = start + size
    return Page(
        items=items[start:end],
        page=page,
        page_size=size,
        total_items=len(items),
        total_pages=page_count(len(items), size),
    )


def page_links(base_url: str, page: Page[T]) -> dict[str, str]:
    """Links for the response headers: first, last, and next when there is one."""
    links = {
        "first": f"{base_url}?page=1&size={page.page_size}",
        "last": f"{base_url}?page={max(1, page.total_pages)}&size={page.page_size}",
    }
    if page.has_next:
        links["next"] = f"{base_url}?page={page.page + 1}&size={page.page_size}"
    return links
