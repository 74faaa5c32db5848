"""Conformance scenarios (clients/CONFORMANCE.md) against a real herald-server."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Dict, List

import grpc
import pytest

from herald import (
    AbortedError,
    Admin,
    Consumer,
    ConsumedRecord,
    InvalidArgumentError,
    OutOfOrderSequenceError,
    Producer,
    ProducerFencedError,
    ResourceExhaustedError,
    StartPosition,
    TopicNotFoundError,
    TopicPartition,
    partition_for_key,
)
from herald._proto import broker_pb2, broker_pb2_grpc, records_pb2
from herald.aio import AsyncConsumer, AsyncProducer

from conftest import HeraldServer


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def read_n(consumer: Consumer, n: int, timeout_s: float = 20.0) -> List[ConsumedRecord]:
    """Polls until ``n`` records arrived; fails the test on timeout."""
    out: List[ConsumedRecord] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < n:
        assert time.monotonic() < deadline, f"got {len(out)} of {n} records"
        out.extend(consumer.poll(timeout_s=0.5))
    return out


def test_c02_round_trip_headers_keys(server: HeraldServer) -> None:
    topic = unique("rt")
    with Admin(server.target) as admin, Producer(server.target, linger_ms=2) as producer:
        admin.create_topic(topic, partitions=1)
        futures = [
            producer.send(
                topic,
                f"value-{i}".encode(),
                key=f"key-{i}",
                headers=[("h", b"1"), ("h", b"\x00\xff"), ("trace", f"t{i}")],
            )
            for i in range(200)
        ]
        producer.flush(10)
        metas = [f.result(timeout=10) for f in futures]
    assert [m.offset for m in metas] == list(range(200))
    with Consumer(server.target) as consumer:
        consumer.assign([TopicPartition(topic, 0)], start=StartPosition.earliest())
        records = read_n(consumer, 200)
    assert [r.offset for r in records] == list(range(200))
    for i, r in enumerate(records):
        assert r.key == f"key-{i}".encode()
        assert r.value == f"value-{i}".encode()
        assert r.headers == [("h", b"1"), ("h", b"\x00\xff"), ("trace", f"t{i}".encode())]
        assert r.timestamp_ms > 0  # append time when the producer set none


# The broker's C++ PartitionForKey on the Kafka vectors, with 16 partitions.
BROKER_PARTITIONS_16 = {"21": 12, "foobar": 14, "abc": 11}


def test_c03_same_key_same_partition(server: HeraldServer) -> None:
    topic = unique("keys")
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=16)
    with Producer(server.target) as producer:
        for key, expected in BROKER_PARTITIONS_16.items():
            assert partition_for_key(key.encode(), 16) == expected
            metas = [producer.send(topic, b"v", key=key).result(10) for _ in range(5)]
            assert {m.partition for m in metas} == {expected}
    # Let the broker choose (no partition in the request): it must agree.
    channel = grpc.insecure_channel(server.target)
    stub = broker_pb2_grpc.BrokerStub(channel)
    requests = [
        broker_pb2.ProduceRequest(
            request_id=i + 1,
            topic=topic,
            batch=records_pb2.RecordBatch(records=[records_pb2.Record(key=key.encode())]),
        )
        for i, key in enumerate(BROKER_PARTITIONS_16)
    ]
    responses = list(stub.Produce(iter(requests), timeout=10))
    channel.close()
    got = {r.request_id: r.partition for r in responses}
    for i, (key, expected) in enumerate(BROKER_PARTITIONS_16.items()):
        assert got[i + 1] == expected, key


def test_c04_commit_and_resume(server: HeraldServer) -> None:
    topic, group = unique("commit"), unique("g")
    tp = TopicPartition(topic, 0)
    with Admin(server.target) as admin, Producer(server.target) as producer:
        admin.create_topic(topic, partitions=1)
        for i in range(30):
            producer.send(topic, b"%d" % i)
    with Consumer(server.target, group=group) as consumer:
        consumer.assign([tp], start=StartPosition.earliest())
        first: List[ConsumedRecord] = []
        while len(first) < 12:
            first.extend(consumer.poll(timeout_s=5, max_records=12 - len(first)))
        assert consumer.position(tp) == 12
        consumer.commit()
        assert consumer.committed([tp]) == {tp: 12}
    with Consumer(server.target, group=group) as resumed:
        committed = resumed.committed([tp])[tp]
        resumed.assign({tp: StartPosition.offset(committed)})
        rest = read_n(resumed, 18)
    assert [r.offset for r in first + rest] == list(range(30))
    assert rest[0].value == b"12"


def produce_batches(target: str, topic: str, count: int, batch_size: int) -> None:
    """Writes ``count`` records in batches of ``batch_size`` (so a read from
    the middle of a batch must be trimmed by the client)."""
    with Producer(target, linger_ms=1000, batch_max_bytes=1 << 20) as producer:
        for start in range(0, count, batch_size):
            for i in range(start, min(count, start + batch_size)):
                producer.send(topic, b"%d" % i, partition=0)
            producer.flush(10)


def test_c05_seek_by_offset(server: HeraldServer) -> None:
    topic = unique("seek")
    tp = TopicPartition(topic, 0)
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=1)
    produce_batches(server.target, topic, 50, batch_size=10)
    with Consumer(server.target) as consumer:
        consumer.assign({tp: StartPosition.offset(15)})
        records = read_n(consumer, 35)
        assert [r.offset for r in records] == list(range(15, 50))
        consumer.seek(tp, StartPosition.offset(7))
        again = read_n(consumer, 43)
        assert [r.offset for r in again] == list(range(7, 50))
        assert consumer.poll(timeout_s=0.3) == []


def test_c06_seek_by_time(server: HeraldServer) -> None:
    topic = unique("time")
    tp = TopicPartition(topic, 0)
    base_ms = 1_700_000_000_000
    with Admin(server.target) as admin, Producer(server.target, linger_ms=1000) as producer:
        admin.create_topic(topic, partitions=1)
        for i in range(20):  # one batch, create times base + 1000*i
            producer.send(topic, b"%d" % i, partition=0, timestamp_ms=base_ms + 1000 * i)
        producer.flush(10)
    with Consumer(server.target) as consumer:
        consumer.assign({tp: StartPosition.timestamp(base_ms + 12_500)})
        records = read_n(consumer, 7)
        assert [r.offset for r in records] == list(range(13, 20))
        assert records[0].timestamp_ms == base_ms + 13_000
        consumer.seek(tp, StartPosition.timestamp(base_ms + 5_000))
        again = read_n(consumer, 15)
        assert [r.offset for r in again] == list(range(5, 20))


def test_c07_unknown_topic_not_found(server: HeraldServer) -> None:
    with Admin(server.target) as admin, Producer(server.target) as producer:
        with pytest.raises(TopicNotFoundError) as info:
            admin.describe_topic("no-such-topic")
        assert info.value.code == grpc.StatusCode.NOT_FOUND
        future = producer.send("no-such-topic", b"x")
        with pytest.raises(TopicNotFoundError) as info:
            future.result(timeout=10)
        assert info.value.code == grpc.StatusCode.NOT_FOUND


def test_c08_bad_name_invalid_argument(server: HeraldServer) -> None:
    with Admin(server.target) as admin:
        with pytest.raises(InvalidArgumentError) as info:
            admin.create_topic("bad/name")
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_c09_producer_reconnect_after_restart(server: HeraldServer) -> None:
    topic = unique("prestart")
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=1)
    with Producer(
        server.target, retry_backoff_ms=50, retry_backoff_max_ms=500, request_timeout_ms=3000
    ) as producer:
        before = [producer.send(topic, b"%d" % i) for i in range(10)]
        producer.flush(10)
        server.stop()
        during = [producer.send(topic, b"%d" % i) for i in range(10, 20)]
        server.start()
        after = [producer.send(topic, b"%d" % i) for i in range(20, 30)]
        producer.flush(30)
        offsets = [f.result(timeout=1).offset for f in before + during + after]
    assert offsets == sorted(offsets) and len(set(offsets)) == 30
    with Consumer(server.target) as consumer:
        consumer.assign([TopicPartition(topic, 0)], start=StartPosition.earliest())
        values = [r.value for r in read_n(consumer, 30)]
    assert values == [b"%d" % i for i in range(30)]


def test_c10_consumer_reconnect_after_restart(server: HeraldServer) -> None:
    topic = unique("crestart")
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=2)
    with Consumer(server.target, reconnect_backoff_ms=50) as consumer:
        consumer.subscribe([topic], start=StartPosition.earliest())
        with Producer(server.target) as producer:
            for i in range(20):
                producer.send(topic, b"%d" % i, key=b"k%d" % i)
        first = read_n(consumer, 20)
        server.restart()
        with Producer(server.target) as producer:
            for i in range(20, 40):
                producer.send(topic, b"%d" % i, key=b"k%d" % i)
        second = read_n(consumer, 20, timeout_s=30)
        assert consumer.poll(timeout_s=0.5) == []
    values = sorted(int(r.value) for r in first + second)
    assert values == list(range(40))  # exactly once
    for p in (0, 1):
        offsets = [r.offset for r in first + second if r.partition == p]
        assert offsets == list(range(len(offsets)))  # in order, no gap


def test_c11_admin_topics(server: HeraldServer) -> None:
    topic = unique("admin")
    with Admin(server.target) as admin:
        created = admin.create_topic(topic, partitions=2, config={"retention_ms": 3_600_000})
        assert len(created.partitions) == 2
        assert topic in [t.name for t in admin.list_topics()]
        assert admin.describe_topic(topic).config.retention_ms == 3_600_000
        altered = admin.alter_topic_config(topic, {"retention_bytes": 1 << 20})
        assert altered.retention_bytes == 1 << 20 and altered.retention_ms == 3_600_000
        assert len(admin.create_partitions(topic, 4).partitions) == 4
        offsets = admin.list_offsets(topic, StartPosition.latest())
        assert sorted(offsets) == [0, 1, 2, 3]
        assert all(o.high_watermark == 0 for o in offsets.values())
        assert admin.describe_cluster().brokers
        admin.delete_topic(topic)
        with pytest.raises(TopicNotFoundError):
            admin.describe_topic(topic)


def test_c12_group_subscribe(server: HeraldServer) -> None:
    topic, group = unique("grp"), unique("g")
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=2)
    with Producer(server.target) as producer:
        for i in range(10):
            producer.send(topic, b"%d" % i, key=b"%d" % i)
    assigned: List[List[TopicPartition]] = []
    with Consumer(server.target, group=group, on_assign=assigned.append) as consumer:
        consumer.subscribe([topic], start=StartPosition.earliest(), use_group=True)
        records = read_n(consumer, 10)  # produced before joining
        with Producer(server.target) as producer:
            for i in range(10, 20):
                producer.send(topic, b"%d" % i, key=b"%d" % i)
        records += read_n(consumer, 10)  # and after
        assert consumer.poll(timeout_s=0.3) == []
    assert assigned and set(assigned[-1]) == {TopicPartition(topic, 0), TopicPartition(topic, 1)}
    assert sorted(int(r.value) for r in records) == list(range(20))


def test_c13_async_round_trip(server: HeraldServer) -> None:
    topic = unique("async")
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=1)

    async def scenario() -> List[bytes]:
        async with AsyncProducer(server.target) as producer:
            pending = [producer.send_nowait(topic, b"%d" % i) for i in range(50)]
            metas = await asyncio.gather(*pending)
            assert [m.offset for m in metas] == list(range(50))
            assert (await producer.send(topic, b"50")).offset == 50
        values: List[bytes] = []
        async with AsyncConsumer(server.target) as consumer:
            await consumer.assign([TopicPartition(topic, 0)], start=StartPosition.earliest())
            async for record in consumer:
                values.append(record.value)
                if len(values) == 51:
                    break
        return values

    values = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert values == [b"%d" % i for i in range(51)]


def test_c14_bounded_buffer(server: HeraldServer) -> None:
    topic = unique("bound")
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=1)
    producer = Producer(server.target, buffer_max_bytes=64 * 1024, max_block_ms=200, linger_ms=0)
    try:
        producer.send(topic, b"warm-up").result(timeout=10)  # caches the metadata
        server.pause()  # acknowledgements stop: unresolved bytes pile up
        sent = 0
        with pytest.raises(ResourceExhaustedError) as info:
            for _ in range(1000):
                producer.send(topic, b"x" * 1024)
                sent += 1
        assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert 50 <= sent <= 64  # the 64 KiB buffer, minus per-record overhead
        server.resume()
        producer.flush(20)
    finally:
        server.resume()
        producer.close(5)


def produce_per_partition(target: str, topic: str, partitions: int, first: int, per: int) -> None:
    """Writes ``per`` records to each partition; values first, first+1, ..."""
    with Producer(target) as producer:
        value = first
        for p in range(partitions):
            for _ in range(per):
                producer.send(topic, b"%d" % value, partition=p)
                value += 1


def poll_until(consumers: List[Consumer], done, sink: Dict[int, List[ConsumedRecord]],
               timeout_s: float = 20.0) -> None:
    """Polls every consumer (collecting records per consumer index) until
    ``done()`` holds; fails the test on timeout."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "condition not reached"
        for i, consumer in enumerate(consumers):
            sink.setdefault(i, []).extend(consumer.poll(timeout_s=0.05))


def test_c15_group_split_and_rebalance(server: HeraldServer) -> None:
    topic, group = unique("split"), unique("g")
    all_tps = {TopicPartition(topic, p) for p in range(6)}
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=6)
    produce_per_partition(server.target, topic, 6, first=0, per=10)  # values 0..59
    revoked_a: List[List[TopicPartition]] = []
    a = Consumer(server.target, group=group, on_revoke=revoked_a.append)
    b = Consumer(server.target, group=group)
    try:
        a.subscribe([topic], start=StartPosition.earliest(), use_group=True)
        first = read_n(a, 60)
        assert a.assignment() == all_tps
        assert sorted(int(r.value) for r in first) == list(range(60))

        b.subscribe([topic], start=StartPosition.earliest(), use_group=True)
        got: Dict[int, List[ConsumedRecord]] = {}
        poll_until([a, b], lambda: len(a.assignment()) == 3 and len(b.assignment()) == 3, got)
        assert a.assignment() | b.assignment() == all_tps
        assert not a.assignment() & b.assignment()
        # Cooperative: A was told to give up exactly what B got, once, and
        # committed those partitions (all 10 records each were processed).
        assert [set(r) for r in revoked_a] == [b.assignment()]
        committed = a.committed(list(all_tps))
        assert all(committed[tp] == 10 for tp in b.assignment())

        produce_per_partition(server.target, topic, 6, first=60, per=10)  # 60..119
        poll_until([a, b], lambda: sum(len(v) for v in got.values()) >= 60, got)
        assert {TopicPartition(r.topic, r.partition) for r in got[0]} <= a.assignment()
        assert {TopicPartition(r.topic, r.partition) for r in got[1]} <= b.assignment()
        second = [int(r.value) for r in got[0] + got[1]]
        assert sorted(second) == list(range(60, 120))  # none twice, none old

        a.commit()
        b.close()  # commits its positions, then leaves: its partitions move back to A
        got = {}
        poll_until([a], lambda: a.assignment() == all_tps, got)
        produce_per_partition(server.target, topic, 6, first=120, per=10)  # 120..179
        poll_until([a], lambda: len(got.get(0, [])) >= 60, got)
        assert a.poll(timeout_s=0.3) == []
        assert sorted(int(r.value) for r in got[0]) == list(range(120, 180))
    finally:
        b.close()
        a.close()


def test_c16_idempotent_retry(server: HeraldServer) -> None:
    topic = unique("idem")
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=1)
    channel = grpc.insecure_channel(server.target)
    try:
        stub = broker_pb2_grpc.BrokerStub(channel)
        init = stub.InitProducer(broker_pb2.InitProducerRequest(), timeout=10)
        batch = records_pb2.RecordBatch(records=[records_pb2.Record(value=b"%d" % i) for i in range(3)])

        def request(request_id: int, sequence: int) -> broker_pb2.ProduceRequest:
            return broker_pb2.ProduceRequest(
                request_id=request_id, topic=topic, partition=0, batch=batch,
                producer_id=init.producer_id, producer_epoch=init.producer_epoch,
                base_sequence=sequence,
            )

        # Each on its own stream, after the previous answer: a retry of a
        # batch still being written would get UNAVAILABLE instead.
        (original,) = stub.Produce(iter([request(1, 0)]), timeout=10)
        (retry,) = stub.Produce(iter([request(1, 0)]), timeout=10)  # its ack was "lost"
        (gap,) = stub.Produce(iter([request(2, 7)]), timeout=10)  # expected 3
        assert not original.HasField("error") and not original.duplicate
        assert retry.duplicate and not retry.HasField("error")
        assert (retry.base_offset, retry.partition) == (original.base_offset, original.partition)
        assert gap.error.code == grpc.StatusCode.OUT_OF_RANGE.value[0]
        fetched = stub.Fetch(broker_pb2.FetchRequest(topic=topic, partition=0, offset=0), timeout=10)
        assert fetched.high_watermark == 3  # stored once
    finally:
        channel.close()

    # The wrapper: idempotent by default; batches re-sent across a restart
    # (written, acknowledgement lost) must not be stored twice.
    with Producer(
        server.target, linger_ms=1, retry_backoff_ms=50, retry_backoff_max_ms=500,
        request_timeout_ms=3000,
    ) as producer:
        futures = [producer.send(topic, b"w%d" % i) for i in range(100)]
        server.restart()
        futures += [producer.send(topic, b"w%d" % i) for i in range(100, 200)]
        producer.flush(30)
        offsets = [f.result(timeout=1).offset for f in futures]
    assert offsets == sorted(offsets) and len(set(offsets)) == 200
    with Consumer(server.target) as consumer:
        consumer.assign({TopicPartition(topic, 0): StartPosition.offset(3)})
        values = [r.value for r in read_n(consumer, 200)]
        assert consumer.poll(timeout_s=0.3) == []
    assert values == [b"w%d" % i for i in range(200)]
    channel = grpc.insecure_channel(server.target)
    try:
        stub = broker_pb2_grpc.BrokerStub(channel)
        fetched = stub.Fetch(broker_pb2.FetchRequest(topic=topic, partition=0, offset=3), timeout=10)
        assert fetched.batches and all(b.producer_id != 0 for b in fetched.batches)
    finally:
        channel.close()


def test_c17_stale_commit_aborted(server: HeraldServer) -> None:
    topic, group = unique("stale"), unique("g")
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=2)
        a = Consumer(server.target, group=group)
        b = Consumer(server.target, group=group)
        try:
            a.subscribe([topic], start=StartPosition.earliest(), use_group=True)
            poll_until([a], lambda: len(a.assignment()) == 2, {})
            old_generation, member_a = a.group_member()
            b.subscribe([topic], start=StartPosition.earliest(), use_group=True)
            poll_until([a, b], lambda: len(a.assignment()) == 1 and len(b.assignment()) == 1, {})
            assert a.group_member()[0] > old_generation
            (owned_by_a,) = a.assignment()
            with pytest.raises(AbortedError) as info:
                admin.commit_offsets(
                    group, {owned_by_a: 0}, generation=old_generation, member_id=member_a
                )
            assert info.value.code == grpc.StatusCode.ABORTED
            (owned_by_b,) = b.assignment()
            with pytest.raises(AbortedError) as info:
                a.commit({owned_by_b: 0})  # current generation, partition not owned
            assert info.value.code == grpc.StatusCode.ABORTED
            a.commit({owned_by_a: 0})  # the owner's own commit is accepted
        finally:
            b.close()
            a.close()


def test_c16_transactional_fencing(server: HeraldServer) -> None:
    topic = unique("fence")
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=1)
    old = Producer(server.target, transactional_id="tx-" + topic)
    try:
        old.send(topic, b"a").result(timeout=10)
        with Producer(server.target, transactional_id="tx-" + topic) as newer:
            newer.send(topic, b"b").result(timeout=10)
            with pytest.raises(ProducerFencedError) as info:
                old.send(topic, b"c").result(timeout=10)
            assert info.value.code == grpc.StatusCode.ABORTED
            with pytest.raises(ProducerFencedError):
                old.send(topic, b"d")  # every later send fails at once
            newer.send(topic, b"e").result(timeout=10)
    finally:
        old.close(5)


def test_c16_rejected_batch_keeps_sequence(server: HeraldServer) -> None:
    """A batch the broker refuses (too large, not written) must not leave a
    sequence gap that fails the pipelined batches behind it."""
    topic = unique("toolarge")
    with Admin(server.target) as admin:
        admin.create_topic(topic, partitions=1, config={"max_message_bytes": 2048})
    with Producer(server.target, linger_ms=0) as producer:
        producer.send(topic, b"warm-up").result(timeout=10)  # metadata + producer id
        # Pipelined behind the refused batch: sent with sequences the broker
        # now sees as a gap, renumbered and re-sent by the producer.
        big = producer.send(topic, b"x" * 4096)
        after = [producer.send(topic, b"s%d" % i) for i in range(10)]
        producer.flush(20)
        with pytest.raises(InvalidArgumentError):
            big.result(timeout=1)
        offsets = [f.result(timeout=1).offset for f in after]
    assert offsets == list(range(1, 11))
