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
