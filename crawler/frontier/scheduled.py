"""The URL keys a crawl has scheduled, each held as its 64-bit hash.

A crawl remembers every key it scheduled, 100,000 and more: as strings they cost ~150 bytes
each, as hashes 32. Two keys sharing a hash would make the second look scheduled and leave
it out; with 64-bit hashes the odds are n²/2⁶⁵ (about 3 in 10⁸ for a million keys). Python's
``hash`` of a string is salted per process, which is fine: the set lives in one process.
"""

from __future__ import annotations

from collections.abc import Iterable


class ScheduledKeys:
    __slots__ = ("_hashes",)

    def __init__(self) -> None:
        self._hashes: set[int] = set()

    def __contains__(self, key: str) -> bool:
        return hash(key) in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def add(self, key: str) -> None:
        self._hashes.add(hash(key))

    def update(self, keys: Iterable[str]) -> None:
        self._hashes.update(map(hash, keys))
