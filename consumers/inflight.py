"""Many events in flight per consumer process, in order per key: which may run next, and what may be committed.

The engine (consumers/engine.py) reads records on its loop thread and hands them here as `Work`; its worker threads
run them. This module decides, on the loop thread only (no locks here):
- **Order per key**: a key's work runs one at a time, in the order it was added (offset order). A key is the Kafka
  key within a partition number — a parked record on `<topic>.retry` shares its key and partition number with the
  event it came from, so the two never run at once.
- **Slots**: at most `concurrency` pieces of work run at once, and at most a connection's cap of one connection's
  events (work whose connection is not known beforehand is capped by `concurrency` alone).
- **Commits**: a partition's commit point is its lowest offset not done — read but queued or running, or set back
  to be read again after a retry — never past it. Done offsets above it are remembered, so a record read again
  (after a set-back seek, or a rebalance that gave the partition back) is not handed out twice.

Work on `<topic>.retry` (parked records) is ordered here like any other, but its offsets are the parking lot's
(consumers/parking.py): added with `tracked=False`.
"""
from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Optional

from kafka.structs import TopicPartition

QUEUED, RUNNING, UNREAD = "queued", "running", "unread"


@dataclass(eq=False)
class Work:
    """One record to handle: `task` runs on a worker thread and returns what the loop thread applies."""

    tp: TopicPartition
    offset: int
    key: Hashable
    connection_id: int | None
    task: Callable[[], Any]
    tracked: bool = True  # False: a parked record, whose offsets the parking lot keeps
    added_at: float = field(default_factory=time.monotonic)
    also_keys: tuple = ()  # work for several keys at once (a batch's write-ahead): they all wait for it
    then: Optional[Callable[["Work", Any], None]] = None  # the loop thread's follow-up with the task's result

    @property
    def keys(self) -> tuple:
        return (self.key, *self.also_keys)


class _PartitionBook:
    """One partition's offsets: read and not done (by state), done above the lowest of those, read up to."""

    def __init__(self) -> None:
        self.pending: dict[int, str] = {}
        self.done: set[int] = set()
        self.read_to: int | None = None

    def commit_offset(self) -> int | None:
        return min(self.pending) if self.pending else self.read_to

    def mark_done(self, offset: int) -> None:
        self.pending.pop(offset, None)
        floor = self.commit_offset()
        self.done = {o for o in self.done if floor is None or o >= floor}
        if floor is not None and offset >= floor:
            self.done.add(offset)


class InFlight:
    def __init__(self, concurrency: int, cap_of: Callable[[int], int]) -> None:
        self.concurrency = concurrency
        self._cap_of = cap_of  # a connection's cap on work in flight
        self._books: dict[TopicPartition, _PartitionBook] = {}
        self._queues: dict[Hashable, deque[Work]] = {}  # per key, in order; the head runs first
        self._busy: set[Hashable] = set()  # keys with work running
        self._by_connection: Counter = Counter()  # running work per connection
        self.running: set[Work] = set()

    # -- reading -----------------------------------------------------------------------------------------------
    def read(self, tp: TopicPartition, offset: int) -> bool:
        """A record was read; False if it is running or done already (read again after a seek): skip it."""
        book = self._books.get(tp)
        if book is None:
            return True
        floor = book.commit_offset()  # everything below it is done
        if floor is not None and offset < floor:
            return False
        return not (offset in book.done or book.pending.get(offset) in (QUEUED, RUNNING))

    def add(self, work: Work) -> None:
        """Queue work behind its key(s) (its offset counts as not done until `finished`)."""
        if work.tracked:
            book = self._books.setdefault(work.tp, _PartitionBook())
            book.pending[work.offset] = QUEUED
            book.read_to = max(book.read_to or 0, work.offset + 1)
        for key in work.keys:
            self._queues.setdefault(key, deque()).append(work)

    def idle(self, key: Hashable) -> bool:
        """Nothing of this key is queued or running."""
        return key not in self._busy and key not in self._queues

    # -- running -----------------------------------------------------------------------------------------------
    def next_to_run(self) -> list[Work]:
        """Work that may start now, marked running: the head of each idle key, while slots last."""
        started: list[Work] = []
        for key, queue in list(self._queues.items()):
            if len(self.running) >= self.concurrency:
                break
            if not queue or not self._may_start(queue[0]):
                continue
            work = queue[0]
            for its_key in work.keys:
                self._queues[its_key].popleft()
                if not self._queues[its_key]:
                    del self._queues[its_key]
            self._start(work)
            started.append(work)
        return started

    def _may_start(self, work: Work) -> bool:
        """Every key of the work is idle and has it first in line, and its connection has room."""
        for key in work.keys:
            queue = self._queues.get(key)
            if key in self._busy or not queue or queue[0] is not work:
                return False
        return self._has_room(work.connection_id)

    def _has_room(self, connection_id: int | None) -> bool:
        return connection_id is None or self._by_connection[connection_id] < self._cap_of(connection_id)

    def _start(self, work: Work) -> None:
        self._busy.update(work.keys)
        self.running.add(work)
        if work.connection_id is not None:
            self._by_connection[work.connection_id] += 1
        book = self._books.get(work.tp)
        if work.tracked and book is not None and work.offset in book.pending:
            book.pending[work.offset] = RUNNING

    def finished(self, work: Work, done: bool = True) -> None:
        """Its task returned. `done`: the offset may be committed past; else `set_back` decides (a retry)."""
        self.running.discard(work)
        self._busy.difference_update(work.keys)
        if work.connection_id is not None:
            self._by_connection[work.connection_id] -= 1
            if self._by_connection[work.connection_id] <= 0:
                del self._by_connection[work.connection_id]
        book = self._books.get(work.tp)
        if not work.tracked or book is None or work.offset not in book.pending:
            return  # a parked record, or its partition was revoked meanwhile: nothing to commit here
        if done:
            book.mark_done(work.offset)
        else:
            book.pending[work.offset] = UNREAD

    def set_back(self, tp: TopicPartition) -> int | None:
        """A record of `tp` must be read again later (a shared failure pauses its partition): the partition's
        queued work is dropped, to be read again too. Returns the offset to seek to: its lowest one not running
        and not done. Running work of `tp` finishes meanwhile; done offsets past the seek are not handed out again."""
        book = self._books.get(tp)
        if book is None:
            return None
        self._drop_queued({tp})
        for offset, state in book.pending.items():
            if state == QUEUED:
                book.pending[offset] = UNREAD
        unread = [o for o, state in book.pending.items() if state == UNREAD]
        return min(unread) if unread else None

    # -- commits and rebalances ----------------------------------------------------------------------------------
    def commit_offset(self, tp: TopicPartition) -> int | None:
        book = self._books.get(tp)
        return book.commit_offset() if book is not None else None

    def partitions(self) -> list[TopicPartition]:
        return list(self._books)

    def forget(self, tps: set[TopicPartition]) -> None:
        """Revoked or lost: queued work is dropped and nothing of these partitions is committed any more. Work
        still running keeps its key busy until it returns (a partition given back must not run a key twice)."""
        for tp in tps:
            self._books.pop(tp, None)
        self._drop_queued(tps)

    def _drop_queued(self, tps: set[TopicPartition]) -> None:
        for key, queue in list(self._queues.items()):
            kept = deque(w for w in queue if w.tp not in tps)
            if kept:
                self._queues[key] = kept
            else:
                del self._queues[key]

    # -- for ops ---------------------------------------------------------------------------------------------
    def queued(self) -> int:
        return len({id(work) for queue in self._queues.values() for work in queue})

    def deepest_key_queue(self) -> int:
        """The most work waiting behind one key (a hot order or SKU)."""
        return max((len(queue) for queue in self._queues.values()), default=0)
