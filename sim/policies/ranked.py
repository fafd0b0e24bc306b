"""An order-statistics list: queued jobs kept in order, each job's place in the queue cheap to ask for.

A queue of 100,000 waiting jobs must take a job in, give the first one out, withdraw any one (an abort) and say
how many jobs are ahead of any one (IQM's ``position``), each in O(log n). ``RankedList`` keeps unique, totally
ordered keys (a job's key ends with its job id) in sorted *blocks* of at most ``2 x load`` keys, as
``sortedcontainers`` does:

- finding a key is a bisection over the blocks' last keys, then one inside the block: O(log n);
- adding or removing a key moves at most one block's entries (a ``memmove`` of at most ``2 x load``
  pointers, a bounded constant); a key beyond every other (a FIFO queue's arrivals) is appended;
- the rank of a key (the keys before it) adds the lengths of the blocks before its own, read from a Fenwick
  tree over block lengths: O(log n). The tree is built on the first rank query only and kept up to date from
  then on, so a run in which nobody asks for positions never pays for it.

Blocks split when they reach ``2 x load`` keys and merge with a neighbour when a withdrawal leaves one below
``load / 4`` (taking the first key never merges: a FIFO queue's head block just empties and goes).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar


class Comparable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=Comparable)


class RankedList(Generic[K]):
    """Unique keys in ascending order with O(log n) add, remove, first, pop_first and rank."""

    __slots__ = ("_blocks", "_len", "_load", "_maxes", "_tree")

    def __init__(self, load: int = 256) -> None:
        if load < 4:
            raise ValueError(f"load must be at least 4, got {load}")
        self._load = load
        self._blocks: list[list[K]] = []
        self._maxes: list[K] = []
        """The last (greatest) key of each block."""
        self._len = 0
        self._tree: list[int] | None = None
        """Fenwick tree over the block lengths (1-based); None until a rank is asked for, or after the blocks
        were split or merged."""

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[K]:
        for block in self._blocks:
            yield from block

    def __contains__(self, key: K) -> bool:
        i = bisect_left(self._maxes, key)
        if i == len(self._maxes):
            return False
        block = self._blocks[i]
        j = bisect_left(block, key)
        return j < len(block) and not (key < block[j])

    def first(self) -> K:
        """The least key (IndexError when empty)."""
        return self._blocks[0][0]

    def add(self, key: K) -> None:
        """Insert ``key`` (which must not be present)."""
        maxes = self._maxes
        if maxes and maxes[-1] < key:  # beyond every key (a FIFO queue's arrivals): append to the last block
            block = self._blocks[-1]
            block.append(key)
            maxes[-1] = key
            self._len += 1
            if len(block) >= 2 * self._load:
                self._split(len(maxes) - 1)
            elif self._tree is not None:
                self._tree_add(len(maxes) - 1, 1)
            return
        if not maxes:
            self._blocks.append([key])
            maxes.append(key)
            self._len = 1
            self._tree = None
            return
        i = bisect_left(maxes, key)
        block = self._blocks[i]
        insort(block, key)
        self._len += 1
        if len(block) >= 2 * self._load:
            self._split(i)
        elif self._tree is not None:
            self._tree_add(i, 1)

    def pop_first(self) -> K:
        """Remove and return the least key (IndexError when empty)."""
        block = self._blocks[0]
        key = block.pop(0)
        self._len -= 1
        if not block:
            del self._blocks[0]
            del self._maxes[0]
            self._tree = None
        elif self._tree is not None:
            self._tree_add(0, -1)
        return key

    def remove(self, key: K) -> None:
        """Remove ``key`` (KeyError if it is not present)."""
        maxes = self._maxes
        i = bisect_left(maxes, key)
        if i == len(maxes):
            raise KeyError(key)
        block = self._blocks[i]
        j = bisect_left(block, key)
        if j == len(block) or key < block[j]:
            raise KeyError(key)
        del block[j]
        self._len -= 1
        if not block:
            del self._blocks[i]
            del maxes[i]
            self._tree = None
            return
        if j == len(block):
            maxes[i] = block[-1]
        if len(block) < self._load // 4 and len(self._blocks) > 1:
            self._merge(i)
        elif self._tree is not None:
            self._tree_add(i, -1)

    def rank(self, key: K) -> int:
        """How many keys are less than ``key`` (whether or not ``key`` is present)."""
        maxes = self._maxes
        i = bisect_left(maxes, key)
        if i == len(maxes):
            return self._len
        return self._prefix(i) + bisect_left(self._blocks[i], key)

    def before(self, key: K) -> K | None:
        """The greatest key less than ``key`` (None if there is none)."""
        maxes = self._maxes
        i = bisect_left(maxes, key)
        if i == len(maxes):
            return self._blocks[-1][-1] if maxes else None
        block = self._blocks[i]
        j = bisect_left(block, key)
        if j:
            return block[j - 1]
        return self._blocks[i - 1][-1] if i else None

    def at(self, index: int) -> K:
        """The key with ``index`` keys before it (IndexError outside 0 .. len - 1)."""
        if not 0 <= index < self._len:
            raise IndexError(index)
        for block in self._blocks:
            if index < len(block):
                return block[index]
            index -= len(block)
        raise AssertionError("unreachable: the block lengths add up to the length")  # pragma: no cover

    # --- blocks ------------------------------------------------------------------------------------------------

    def _split(self, i: int) -> None:
        block = self._blocks[i]
        half = len(block) // 2
        self._blocks.insert(i + 1, block[half:])
        del block[half:]
        self._maxes.insert(i, block[-1])
        self._tree = None

    def _merge(self, i: int) -> None:
        """Join the short block ``i`` to a neighbour (the next one, or the previous one for the last block)."""
        j = i if i + 1 < len(self._blocks) else i - 1
        self._blocks[j].extend(self._blocks[j + 1])
        self._maxes[j] = self._maxes[j + 1]
        del self._blocks[j + 1]
        del self._maxes[j + 1]
        self._tree = None
        if len(self._blocks[j]) >= 2 * self._load:
            self._split(j)

    # --- Fenwick tree over block lengths -----------------------------------------------------------------------

    def _build_tree(self) -> list[int]:
        tree = [0] + [len(block) for block in self._blocks]
        size = len(tree)
        for index in range(1, size):
            parent = index + (index & -index)
            if parent < size:
                tree[parent] += tree[index]
        self._tree = tree
        return tree

    def _tree_add(self, block: int, delta: int) -> None:
        tree = self._tree
        assert tree is not None
        index, size = block + 1, len(tree)
        while index < size:
            tree[index] += delta
            index += index & -index

    def _prefix(self, blocks: int) -> int:
        """Keys in the first ``blocks`` blocks."""
        tree = self._tree if self._tree is not None else self._build_tree()
        total, index = 0, blocks
        while index > 0:
            total += tree[index]
            index -= index & -index
        return total
