"""What waits to be written, bounded: past the bound the oldest go, and are counted."""

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Bounded(Generic[T]):
    """A FIFO of at most ``bound`` items; ``received`` = taken + ``dropped`` + what is held, always."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._items: deque[T] = deque()
        self.received = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def extend(self, items: list[T]) -> None:
        """Queue items; past the bound drop the oldest."""
        self._items.extend(items)
        self.received += len(items)
        excess = len(self._items) - self.bound
        if excess > 0:
            for _ in range(excess):
                self._items.popleft()
            self.dropped += excess

    def take(self, limit: int) -> list[T]:
        """Up to ``limit`` items, oldest first."""
        return [self._items.popleft() for _ in range(min(limit, len(self._items)))]

    def put_back(self, batch: list[T]) -> None:
        """Items taken and not written: first in line again (the bound is applied at the next extend)."""
        self._items.extendleft(reversed(batch))
