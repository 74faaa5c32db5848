"""Unit tests that need no server: partitioner, batch decoding, errors."""

import grpc
import pytest

from herald import InvalidArgumentError, NotFoundError, TopicNotFoundError, murmur2, partition_for_key
from herald._proto import records_pb2
from herald.consumer import decode_batch
from herald.errors import error_from_number

# Kafka's own vectors (clients/.../UtilsTest.java) and common/murmur2_test.cc.
KAFKA_VECTORS = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
    "1": -1993445489,
    "12345": -1188365604,
}


@pytest.mark.parametrize("key,expected", sorted(KAFKA_VECTORS.items()))
def test_c01_murmur2_vectors(key: str, expected: int) -> None:
    assert murmur2(key.encode()) == expected


def test_c01_partition_is_positive_hash_modulo_count() -> None:
    assert partition_for_key(b"21", 16) == 1173551340 % 16 == 12
    assert partition_for_key(b"foobar", 16) == 14
    assert partition_for_key(b"abc", 16) == 11
    for n in range(1, 40):
        assert 0 <= partition_for_key(b"some-key", n) < n


def test_decode_skips_records_before_requested_offset() -> None:
    batch = records_pb2.ConsumedBatch(
        topic="t",
        partition=0,
        base_offset=10,
        append_time_ms=5000,
        records=[records_pb2.Record(value=b"%d" % i, timestamp_ms=i) for i in range(5)],
    )
    records = decode_batch(batch, 12)
    assert [r.offset for r in records] == [12, 13, 14]
    assert [r.value for r in records] == [b"2", b"3", b"4"]


def test_decode_uses_append_time_for_unset_timestamps_and_log_append_topics() -> None:
    batch = records_pb2.ConsumedBatch(
        base_offset=0,
        append_time_ms=5000,
        records=[records_pb2.Record(timestamp_ms=0), records_pb2.Record(timestamp_ms=7)],
    )
    assert [r.timestamp_ms for r in decode_batch(batch, None)] == [5000, 7]
    batch.timestamp_type = records_pb2.TIMESTAMP_TYPE_LOG_APPEND_TIME
    assert [r.timestamp_ms for r in decode_batch(batch, None)] == [5000, 5000]


def test_in_band_errors_map_to_typed_exceptions() -> None:
    err = error_from_number(5, "no such topic")
    assert isinstance(err, TopicNotFoundError) and isinstance(err, NotFoundError)
    assert err.code == grpc.StatusCode.NOT_FOUND
    err = error_from_number(3, "bad")
    assert isinstance(err, InvalidArgumentError)
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "INVALID_ARGUMENT" in str(err)


# Idempotent producer internals, driven without a server: the sender thread
# never connects (reconnect far in the future) and writes go to a bare _Stream.


def _idle_producer():  # type: ignore[no-untyped-def]
    from herald import Producer

    producer = Producer("127.0.0.1:1", linger_ms=60_000)
    with producer._lock:  # noqa: SLF001
        producer._reconnect_at_ms = float("inf")  # noqa: SLF001 - never connect
    return producer


def _ready_batch(topic: str, partition: int, n: int = 1):  # type: ignore[no-untyped-def]
    import concurrent.futures

    from herald.producer import _Batch, _now_ms

    batch = _Batch(topic=topic, partition=partition, created_ms=_now_ms(), sealed_ms=_now_ms())
    for i in range(n):
        batch.records.append(records_pb2.Record(value=b"v%d" % i))
        batch.futures.append(concurrent.futures.Future())
    return batch


def test_idempotent_producer_keeps_at_most_5_batches_of_a_partition_in_flight() -> None:
    from herald.producer import _MAX_IN_FLIGHT_PER_PARTITION, _Stream

    assert _MAX_IN_FLIGHT_PER_PARTITION == 5
    producer = _idle_producer()
    try:
        stream = _Stream()
        p0 = [_ready_batch("t", 0) for _ in range(8)]
        p1 = _ready_batch("t", 1)
        with producer._lock:  # noqa: SLF001
            producer._producer_id = 7  # noqa: SLF001
            producer._stream = stream  # noqa: SLF001
            producer._ready.extend(p0 + [p1])  # noqa: SLF001
            producer._write_ready_locked([])  # noqa: SLF001
            in_flight = list(producer._in_flight.values())  # noqa: SLF001
            ready = list(producer._ready)  # noqa: SLF001
        # Five of partition 0 and the one of partition 1 went; the other three
        # of partition 0 wait, in their original order.
        assert in_flight == p0[:5] + [p1]
        assert ready == p0[5:]
        sent = [stream.requests.get_nowait() for _ in range(6)]
        assert [(r.partition, r.base_sequence) for r in sent] == [(0, i) for i in range(5)] + [(1, 0)]
        # One ack frees one slot, and the next batch goes with the next sequence.
        with producer._lock:  # noqa: SLF001
            producer._in_flight.pop(p0[0].request_id)  # noqa: SLF001
            producer._write_ready_locked([])  # noqa: SLF001
            assert list(producer._ready) == p0[6:]  # noqa: SLF001
        assert stream.requests.get_nowait().base_sequence == 5
    finally:
        with producer._lock:  # noqa: SLF001
            producer._stream = None  # noqa: SLF001
        producer.close(timeout_s=0.1)


def test_new_identity_fails_batches_sent_under_the_old_one_as_outcome_unknown() -> None:
    from herald import AbortedError

    producer = _idle_producer()

    class FakeBroker:
        def InitProducer(self, request, timeout=None):  # type: ignore[no-untyped-def]  # noqa: N802
            from herald._proto import broker_pb2

            return broker_pb2.InitProducerResponse(producer_id=8, producer_epoch=0)

    try:
        sent = _ready_batch("t", 0, n=2)
        sent.base_sequence = sent.sent_sequence = 3  # written before, ack lost
        fresh = _ready_batch("t", 0)
        with producer._lock:  # noqa: SLF001
            producer._broker = FakeBroker()  # noqa: SLF001
            producer._producer_id = 7  # noqa: SLF001
            producer._next_sequence[("t", 0)] = 5  # noqa: SLF001
            producer._reset_sequences = True  # noqa: SLF001 - an in-doubt batch expired
            producer._ready.extend([sent, fresh])  # noqa: SLF001
        assert producer._init_producer()  # noqa: SLF001
        for future in sent.futures:
            err = future.exception(timeout=1)
            assert isinstance(err, AbortedError)
            assert err.code == grpc.StatusCode.ABORTED
            assert err.message.startswith("outcome unknown: ")
            assert "may have been written" in err.message
        with producer._lock:  # noqa: SLF001
            assert list(producer._ready) == [fresh]  # noqa: SLF001
            assert fresh.base_sequence is None and not fresh.futures[0].done()
            assert producer._producer_id == 8  # noqa: SLF001
            assert producer._next_sequence == {}  # noqa: SLF001
            producer._ready.clear()  # noqa: SLF001
            producer._buffered_bytes = 0  # noqa: SLF001
    finally:
        producer.close(timeout_s=0.1)
