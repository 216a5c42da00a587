"""consumers/inflight.py alone: order per key, slots, per-connection caps, and the commit point."""
from kafka.structs import TopicPartition

from consumers.inflight import InFlight, Work

TP = TopicPartition("t", 0)
OTHER = TopicPartition("t", 1)


def work(offset, key, connection_id=None, tp=TP, tracked=True):
    return Work(tp, offset, (tp.partition, key), connection_id, lambda: None, tracked=tracked)


def offsets(started):
    return [w.offset for w in started]


def test_one_key_runs_one_at_a_time_in_offset_order():
    book = InFlight(concurrency=8, cap_of=lambda cid: 8)
    first, second, other = work(0, b"a"), work(1, b"a"), work(2, b"b")
    for w in (first, second, other):
        book.add(w)
    assert offsets(book.next_to_run()) == [0, 2]  # b"a"'s second waits for its first
    assert book.next_to_run() == []
    book.finished(first)
    assert offsets(book.next_to_run()) == [1]


def test_slots_and_the_connection_cap_bound_what_runs():
    book = InFlight(concurrency=3, cap_of=lambda cid: 2)
    for offset in range(6):
        book.add(work(offset, f"k{offset}".encode(), connection_id=7 if offset < 4 else None))
    started = book.next_to_run()
    assert offsets(started) == [0, 1, 4]  # connection 7 capped at 2; 3 slots in all
    book.finished(started[0])
    assert offsets(book.next_to_run()) == [2]


def test_the_commit_point_stays_below_the_lowest_event_not_done():
    book = InFlight(concurrency=8, cap_of=lambda cid: 8)
    slow, fast1, fast2 = work(10, b"a"), work(11, b"b"), work(12, b"c")
    for w in (slow, fast1, fast2):
        book.add(w)
    book.next_to_run()
    book.finished(fast1)
    book.finished(fast2)
    assert book.commit_offset(TP) == 10
    book.finished(slow)
    assert book.commit_offset(TP) == 13


def test_a_set_back_reads_again_from_the_lowest_event_not_running_nor_done():
    book = InFlight(concurrency=2, cap_of=lambda cid: 8)
    for offset, key in ((0, b"a"), (1, b"b"), (2, b"c"), (3, b"d")):
        book.add(work(offset, key))
    running = book.next_to_run()  # 0 and 1
    book.finished(running[1], done=False)  # offset 1 failed for everyone (Infoplus): read it again later
    assert book.set_back(TP) == 1  # 2 and 3 were queued: dropped, read again too
    assert book.queued() == 0
    assert book.commit_offset(TP) == 0  # offset 0 is still running
    book.finished(running[0])
    assert book.commit_offset(TP) == 1
    assert book.read(TP, 0) is False  # done: not handed out again
    assert book.read(TP, 1) and book.read(TP, 2)


def test_a_record_read_again_while_it_runs_is_not_handed_out_twice():
    book = InFlight(concurrency=2, cap_of=lambda cid: 8)
    book.add(work(5, b"a"))
    [running] = book.next_to_run()
    assert book.read(TP, 5) is False
    book.finished(running)
    assert book.read(TP, 5) is False  # done
    assert book.read(TP, 6) is True


def test_forgetting_a_revoked_partition_drops_its_queue_and_its_commits_but_keeps_running_keys_busy():
    book = InFlight(concurrency=1, cap_of=lambda cid: 8)
    running, queued, elsewhere = work(0, b"a"), work(1, b"b"), work(0, b"z", tp=OTHER)
    for w in (running, queued, elsewhere):
        book.add(w)
    assert book.next_to_run() == [running]
    book.forget({TP})
    assert book.commit_offset(TP) is None
    assert book.queued() == 1  # OTHER's only
    book.concurrency = 2
    again = work(2, b"a")  # the partition came back, its key's old event still running
    book.add(again)
    assert book.next_to_run() == [elsewhere]  # not `again`: its key is busy
    book.finished(running)  # a forgotten offset: nothing to commit for it
    assert book.commit_offset(TP) == 2
    assert book.next_to_run() == [again]


def test_parked_work_is_ordered_by_key_but_not_committed_here():
    book = InFlight(concurrency=4, cap_of=lambda cid: 8)
    main, parked = work(3, b"a"), work(9, b"a", tp=TopicPartition("t.retry", 0), tracked=False)
    book.add(main)
    book.add(parked)  # same key, same partition number: after the main event
    assert offsets(book.next_to_run()) == [3]
    book.finished(main)
    assert offsets(book.next_to_run()) == [9]
    assert book.commit_offset(TopicPartition("t.retry", 0)) is None


def test_work_for_several_keys_runs_before_their_events_and_holds_them_all():
    book = InFlight(concurrency=8, cap_of=lambda cid: 8)
    ahead = Work(TP, 0, (0, b"a"), None, lambda: None, tracked=False, also_keys=((0, b"b"),))
    book.add(ahead)
    first_a, first_b, other = work(0, b"a"), work(1, b"b"), work(2, b"c")
    for w in (first_a, first_b, other):
        book.add(w)
    assert book.next_to_run() == [ahead, other]  # a's and b's events wait for the work ahead
    book.finished(ahead)
    assert offsets(book.next_to_run()) == [0, 1]
    assert book.queued() == 0
