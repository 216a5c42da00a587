"""The per-connection circuit (consumers/circuits.py) and the parking lot's commit point (consumers/parking.py),
with a clock passed in: no sleeping, no broker."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import requests
from kafka.structs import TopicPartition

from consumers.circuits import OPEN_AFTER_FAILURES, Backoff, Circuits, ConnectionWaiting, health_report
from consumers.deferral import Deferred
from consumers.parking import ParkingLot
from outbound.errors import Permanent, Retryable


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def circuits(clock):
    return Circuits("tracking", Backoff(initial=1.0, maximum=300.0), clock)


def fail(circuits: Circuits, error: Exception, connection_id: int = 7) -> ConnectionWaiting:
    with pytest.raises(ConnectionWaiting) as raised:
        with circuits.calling(connection_id):
            raise error
    return raised.value


def timeout() -> Retryable:
    try:
        raise requests.ReadTimeout("read timed out")
    except requests.ReadTimeout as cause:
        try:
            raise Retryable("GET https://cart/orders/1: ReadTimeout") from cause
        except Retryable as error:
            return error


def test_answers_of_503_open_the_circuit_after_a_few_and_then_calls_are_refused_without_calling(circuits, clock):
    for _ in range(OPEN_AFTER_FAILURES - 1):
        waiting = fail(circuits, Retryable("answered 503", status=503))
        assert waiting.due_at <= clock.now + 2.2  # a blip: this event alone waits a moment (1 s, then 2 s)
        assert circuits.get(7).blocked_until(clock.now) is None
    waiting = fail(circuits, Retryable("answered 503", status=503))
    assert circuits.get(7).blocked_until(clock.now) == waiting.due_at > clock.now
    called = []
    with pytest.raises(ConnectionWaiting):
        with circuits.calling(7):
            called.append(1)
    assert called == []
    with circuits.calling(8):  # another connection is not concerned
        called.append(8)
    assert called == [8]


def test_a_timeout_opens_at_once_and_the_error_is_tagged_with_its_connection(circuits, clock):
    error = timeout()
    waiting = fail(circuits, error)
    assert error.connection_id == 7 and waiting.connection_id == 7
    assert circuits.get(7).blocked_until(clock.now) is not None
    assert "ReadTimeout" in waiting.reason and waiting.failing_since == clock.now


def test_retry_after_is_honoured_and_clamped_to_the_maximum(circuits, clock):
    assert fail(circuits, Retryable("429", status=429, retry_after=20)).due_at == clock.now + 20
    clock.now += 21
    assert fail(circuits, Retryable("429", status=429, retry_after=10_000)).due_at == clock.now + 300


def test_one_probe_after_the_back_off_failure_doubles_it_success_closes(circuits, clock):
    first = fail(circuits, timeout())
    clock.now = first.due_at  # back-off over: the next call is the probe
    second = fail(circuits, timeout())
    assert second.due_at - clock.now > (first.due_at - first.failing_since) * 1.5
    assert second.failing_since == first.failing_since
    clock.now = second.due_at
    with circuits.calling(7):
        assert circuits.get(7).probing
    assert circuits.get(7).healthy and circuits.get(7).blocked_until(clock.now) is None


def test_a_cart_that_answers_4xx_is_up(circuits, clock):
    fail(circuits, Retryable("503", status=503))
    with pytest.raises(Permanent):
        with circuits.calling(7):
            raise Permanent("422", status=422)
    assert circuits.get(7).healthy


def test_the_back_off_never_exceeds_the_maximum(clock):
    circuits = Circuits("inventory", Backoff(initial=1.0, maximum=5.0), clock)
    for _ in range(12):
        waiting = fail(circuits, timeout())
        assert waiting.due_at - clock.now <= 5.0
        clock.now = waiting.due_at


def test_health_shows_failing_connections_with_their_waiting_events(circuits, clock):
    fail(circuits, timeout())
    with circuits.calling(8):
        pass
    [broken, fine] = health_report(circuits, {7: 3, None: 1}, {7: clock.now - 60})
    assert (broken.connection_id, broken.failing, broken.waiting, broken.failing_since) == (7, True, 3, clock.now)
    assert (fine.connection_id, fine.failing, fine.waiting) == (8, False, 0)


def _held(offset: int, connection_id: int | None = 7) -> tuple[SimpleNamespace, Deferred]:
    deferred = Deferred(event={}, due_at=0.0, first_deferred_at=0.0, looks=0, reason="", source={},
                        connection_id=connection_id)
    return SimpleNamespace(offset=offset), deferred


def test_a_retry_partition_is_committed_up_to_its_oldest_held_record_and_never_past_it():
    lot, tp = ParkingLot(), TopicPartition("t.retry", 0)
    for offset, due in ((10, 500.0), (11, 1.0), (12, 1.0)):
        lot.hold(tp, *_held(offset), due_at=due)
    assert [h.offset for _, h in lot.due(2.0)] == [11, 12]
    lot.resolve(tp, 11)
    lot.resolve(tp, 12)
    assert lot.commit_offset(tp) == 10  # 10 still waits: a restart reads it again
    assert lot.seen(tp, 11) and lot.seen(tp, 10) and not lot.seen(tp, 13)
    lot.resolve(tp, 10)
    assert lot.commit_offset(tp) == 13 and not lot.seen(tp, 11)
    assert lot.waiting_by_connection() == {}


def test_ops_merge_every_copys_record_and_forget_a_copy_that_stopped_refreshing():
    from ops.cluster import merge_health
    now = 10_000.0
    record = {"flow": "tracking", "connection_id": 202, "failing": True, "last_error": "answered 503",
              "next_try": now + 30, "waiting": 4, "failing_since": now - 600}
    records = [
        {**record, "copy": "a", "at": now - 400, "waiting": 9},  # a's older record: its newer one below wins
        {**record, "copy": "a", "at": now - 10},
        {**record, "copy": "b", "at": now - 5, "waiting": 3, "failing_since": now - 900, "next_try": now + 10},
        {**record, "copy": "killed", "at": now - 1000, "waiting": 50},  # no longer refreshed: not counted
        {**record, "copy": "a", "at": now - 3, "connection_id": 101, "failing": False, "waiting": 0},
    ]
    [healthy, failing] = merge_health(records, now, fresh_seconds=120)
    assert (healthy.connection_id, healthy.failing, healthy.waiting) == (101, False, 0)
    assert (failing.connection_id, failing.failing, failing.waiting) == (202, True, 7)
    assert failing.failing_since == now - 900 and failing.next_try == now + 10
    assert failing.last_error == "answered 503"


def test_after_a_timeout_the_next_probe_waits_at_least_a_few_read_timeouts(clock):
    circuits = Circuits("tracking", Backoff(initial=1.0, maximum=300.0, after_no_answer=30.0), clock)
    assert fail(circuits, timeout()).due_at - clock.now >= 30.0
    clock.now += 31
    probe = fail(circuits, Retryable("503", status=503))  # the probe fails with an answer: open again, no floor
    assert probe.due_at - clock.now < 30.0 and circuits.get(7).blocked_until(clock.now) == probe.due_at


def test_the_last_error_shown_to_ops_carries_no_credential_of_a_url(circuits):
    waiting = fail(circuits, Retryable("GET https://key:secret@shop.example/wp-json/wc/v3/orders/1?consumer_key=ck_1"
                                       "&consumer_secret=cs_2: ConnectionError"))
    assert waiting.reason == "GET https://shop.example/wp-json/wc/v3/orders/1: ConnectionError"
    assert "secret" not in circuits.get(7).last_error and "cs_2" not in circuits.get(7).last_error



class SlowCalls:
    """Threads calling one connection's cart through its circuit, each held inside its call until released."""

    def __init__(self, circuits: Circuits, connection_id: int = 7) -> None:
        import threading
        self._circuits, self._connection_id = circuits, connection_id
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.inside = 0
        self.threads: list = []

    def start(self, how_many: int) -> None:
        import threading
        for _ in range(how_many):
            self.threads.append(threading.Thread(target=self._call, daemon=True))
            self.threads[-1].start()

    def _call(self) -> None:
        with self._circuits.calling(self._connection_id):
            with self._lock:
                self.inside += 1
            self.release.wait(10)
            with self._lock:
                self.inside -= 1

    def settle(self) -> int:
        """How many are inside once the threads have had time to enter (they wait on the circuit otherwise)."""
        import time as real_time
        real_time.sleep(0.3)
        return self.inside

    def finish(self) -> None:
        self.release.set()
        for thread in self.threads:
            thread.join(timeout=10)


def test_one_call_at_a_time_until_the_cart_has_answered_then_up_to_its_cap(clock):
    circuits = Circuits("tracking", Backoff(initial=1.0, maximum=300.0), clock, cap_of=lambda cid: 3)
    first = SlowCalls(circuits)
    first.start(4)
    assert first.settle() == 1  # a cart hanging from the start costs one timeout, not one per worker
    first.finish()  # it answered: the others went on, and the circuit knows the cart is up
    after = SlowCalls(circuits)
    after.start(5)
    assert after.settle() == 3  # the connection's cap
    after.finish()
