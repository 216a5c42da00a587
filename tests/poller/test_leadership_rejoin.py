"""Leadership against a real broker: no rebalance of its own making after the first assignment, and a rejoin that
kafka-python 3.0.12 leaves unfinished (the round completed while no poll() awaited it) is noticed and the group
consumer rebuilt — while a standby's empty assignments never are."""
from __future__ import annotations

import threading
import time

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer
from kafka.admin import NewPartitions

from events.cursors import CursorStore
from events.publisher import Publisher
from poller.leadership import REJOIN_WATCHDOG_SESSIONS, Leadership
from poller.poller import CURSOR_TOPIC
from tests.support.world import eventually

SESSION_S = 2.0  # KAFKA_CONSUMER_SESSION_TIMEOUT_MS in tests
OTHER_POLL_MS = 1000


def cursor_topic(world) -> str:
    """Created the way the poller creates it (CursorStore.load), just before the leadership joins."""
    settings = world.settings()
    publisher = Publisher(settings)
    try:
        CursorStore(settings, CURSOR_TOPIC, publisher).load()
    finally:
        publisher.close()
    return settings.topic(CURSOR_TOPIC)


def keep_calling(leadership: Leadership, seconds: float, gap: float = 0.5) -> list[tuple[bool, int]]:
    """What Poller.run does between cycles: held() every `gap` seconds; returns (held, term) of each call."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append((leadership.held(), leadership.term))
        time.sleep(gap)
    return seen


class Recorder(ConsumerRebalanceListener):
    def __init__(self) -> None:
        self.assigned = 0

    def on_partitions_revoked(self, revoked) -> None:
        pass

    def on_partitions_assigned(self, assigned) -> None:
        self.assigned += 1


def test_a_lone_copy_keeps_the_leadership_it_was_first_given(world):
    cursor_topic(world)
    leadership = Leadership(world.settings(), CURSOR_TOPIC)
    try:
        eventually(leadership.held, 20, message="the leadership")
        # kafka-python's coordinator snapshot taken before subscribe() used to make a rebalance ~0.5 s after the
        # first assignment (the next metadata refresh): "released" in the middle of the first poll cycle.
        seen = keep_calling(leadership, 4.0)
        assert seen and all(seen_held and term == 1 for seen_held, term in seen), seen
        assert leadership.rebuilds == 0
    finally:
        leadership.close()


def test_a_rejoin_left_unfinished_by_kafka_python_is_rebuilt_and_the_copy_is_assigned_again(world):
    settings = world.settings()
    topic = cursor_topic(world)
    leadership = Leadership(settings, CURSOR_TOPIC)
    other = KafkaConsumer(bootstrap_servers=world.bootstrap, group_id=settings.topic("cartbridge.poller"),
                          enable_auto_commit=False, session_timeout_ms=2000, heartbeat_interval_ms=600)
    recorder = Recorder()
    polling, done = threading.Event(), threading.Event()

    def poll_other() -> None:  # another copy, whose polls the test turns on and off (its heartbeats go on)
        while not done.is_set():
            if polling.is_set():
                # Long enough for a join round to finish inside one poll: this plain consumer has no watchdog,
                # and when it leads the group, a metadata-started round outlasting its poll would be forgotten
                # by kafka-python just as the leader's is (the bug under test), leaving it a stale assignment.
                other.poll(timeout_ms=OTHER_POLL_MS)
            else:
                time.sleep(0.05)

    thread = threading.Thread(target=poll_other, daemon=True)
    try:
        eventually(leadership.held, 20, message="the leadership")
        other.subscribe([topic], listener=recorder)
        polling.set()
        thread.start()
        eventually(lambda: (leadership.held(), leadership.term >= 2 and recorder.assigned)[1], 30,
                   message="both copies in the group")
        term = leadership.term

        # The other copy is busy (no polls); a partition is added, the leader's metadata sees it and it rejoins;
        # the broker holds that JoinGroup until the busy copy rejoins, longer than held() waits for it.
        polling.clear()
        time.sleep(OTHER_POLL_MS / 1000 + 0.3)  # its poll under way has returned
        admin = KafkaAdminClient(bootstrap_servers=world.bootstrap)
        try:
            admin.create_partitions({topic: NewPartitions(total_count=2)})
        finally:
            admin.close()
        eventually(lambda: leadership.held() is False and leadership.awaiting_assignment, 30,
                   message="the leader's revoke for the new partition")
        revoked_at = time.monotonic()

        # The busy copy polls again and the round completes — while the leader is between two held() calls.
        # kafka-python 3.0.12 then forgets it: the finished round cleared the metadata trigger, so no later poll()
        # applies the assignment, heartbeats stay off and the broker drops the member.
        assigned = recorder.assigned
        polling.set()
        eventually(lambda: recorder.assigned > assigned, 30, message="the busy copy's new assignment")

        eventually(lambda: leadership.held() is not None and leadership.term > term, 30, interval=0.5,
                   message="an assignment for the copy whose rejoin was left unfinished")
        assert leadership.rebuilds == 1
        assert time.monotonic() - revoked_at >= REJOIN_WATCHDOG_SESSIONS * SESSION_S - 1

        def whole_and_disjoint() -> bool:
            leadership.held()
            mine, theirs = {tp.partition for tp in leadership._consumer.assignment()}, \
                {tp.partition for tp in other.assignment()}
            return not (mine & theirs) and mine | theirs == {0, 1} and not leadership.awaiting_assignment
        eventually(whole_and_disjoint, 30, interval=0.5, message="both partitions, each to one copy")
    finally:
        done.set()
        if thread.is_alive():
            thread.join(timeout=5)
        other.close(autocommit=False)
        leadership.close()


def test_a_standby_with_empty_assignments_is_never_rebuilt(world):
    cursor_topic(world)
    copies = [Leadership(world.settings(), CURSOR_TOPIC) for _ in range(2)]
    seen: dict[int, list[tuple[bool, int]]] = {}
    threads = [threading.Thread(target=lambda n=n: seen.__setitem__(n, keep_calling(copies[n], 4 * SESSION_S + 4)))
               for n in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert [copy.rebuilds for copy in copies] == [0, 0]
        assert not any(copy.awaiting_assignment for copy in copies)
        last = [seen[n][-1][0] for n in range(2)]
        assert sorted(last) == [False, True], seen  # one leads, the standby does not
    finally:
        for copy in copies:
            copy.close()
