"""Producer: batching, pipelined sends on one Produce stream, retries.

Threads: a *sender* thread seals batches (linger, size), writes them on the
stream within the in-flight window and owns connect/backoff; one *reader*
thread per stream connection reads ProduceResponses and resolves futures.
Application threads only append to open batches under the producer lock.
Futures are resolved outside the lock, so done-callbacks may call ``send``
(but must not call ``flush``/``close``, which wait for the sender).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import itertools
import queue
import random
import threading
import time
from typing import Deque, Dict, Iterator, List, Optional, Tuple

import grpc

from ._channel import DEFAULT_RPC_TIMEOUT_S, make_channel
from ._proto import admin_pb2, admin_pb2_grpc, broker_pb2, broker_pb2_grpc, records_pb2
from .errors import (
    AbortedError,
    ClosedError,
    DeadlineExceededError,
    HeraldError,
    InvalidArgumentError,
    OutOfOrderSequenceError,
    ProducerFencedError,
    ResourceExhaustedError,
    error_from_number,
    error_from_rpc,
)
from .partitioner import partition_for_key
from .types import Bytes, Headers, RecordMetadata, to_bytes

_ACKS = {
    "none": records_pb2.ACKS_NONE,
    "leader": records_pb2.ACKS_LEADER,
    "all": records_pb2.ACKS_ALL,
}
# Stream endings after which unacknowledged batches are re-sent on a new stream.
_RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
_RECORD_OVERHEAD_BYTES = 16  # protobuf tags/lengths per record, an upper bound
_STREAM_POLL_S = 0.2  # how often an idle request generator checks for shutdown
_TERMINATED_GRACE_MS = 1_000.0  # for the reader to drain a terminated call
# The broker remembers the last five batches of a producer per partition, so
# at most five may be unacknowledged per partition for retries to be deduped.
_MAX_IN_FLIGHT_PER_PARTITION = 5
_CODE_UNAVAILABLE = grpc.StatusCode.UNAVAILABLE.value[0]
_CODE_ABORTED = grpc.StatusCode.ABORTED.value[0]
_CODE_OUT_OF_RANGE = grpc.StatusCode.OUT_OF_RANGE.value[0]

Future = concurrent.futures.Future


def _now_ms() -> float:
    return time.monotonic() * 1000.0


@dataclasses.dataclass
class _Batch:
    topic: str
    partition: int
    created_ms: float
    records: List[records_pb2.Record] = dataclasses.field(default_factory=list)
    futures: List["Future[RecordMetadata]"] = dataclasses.field(default_factory=list)
    size_bytes: int = 0
    sealed_ms: float = 0.0
    sent_ms: float = 0.0
    request_id: int = 0
    # Idempotence: the sequence of the first record, kept across retries so
    # the broker recognises a re-sent batch; `sent_sequence` is what the last
    # write carried (they differ after a failed earlier batch renumbered it).
    base_sequence: Optional[int] = None
    sent_sequence: Optional[int] = None
    seq_order: int = 0  # when the sequence was assigned (orders retries)


class _Stream:
    """One Produce stream connection: a bounded-by-window request queue feeding
    gRPC's request iterator, and the call object the reader iterates."""

    def __init__(self) -> None:
        self.requests: "queue.Queue[Optional[broker_pb2.ProduceRequest]]" = queue.Queue()
        self.done = threading.Event()
        self.call: Optional[grpc.Call] = None
        self.terminated_ms = 0.0  # when the sender first saw call.done()

    def iterate(self) -> Iterator[broker_pb2.ProduceRequest]:
        # Polls with a timeout so the gRPC thread consuming this generator
        # exits once the stream has ended, instead of blocking forever.
        while not self.done.is_set():
            try:
                item = self.requests.get(timeout=_STREAM_POLL_S)
            except queue.Empty:
                continue
            if item is None:
                return
            yield item


def _resolve(future: "Future[RecordMetadata]", result: object, error: bool) -> None:
    if future.done():  # cancelled by the application
        return
    try:
        if error:
            future.set_exception(result)  # type: ignore[arg-type]
        else:
            future.set_result(result)  # type: ignore[arg-type]
    except concurrent.futures.InvalidStateError:
        pass


class Producer:
    """Sends records to Herald topics.

    >>> producer = Producer("localhost:7420", linger_ms=5)
    >>> future = producer.send("orders", b'{"total": 12}', key="customer-7")
    >>> producer.flush()
    >>> future.result().offset

    Partitioning: explicit ``partition`` > Kafka murmur2 of the key > a sticky
    random partition per topic (moved when its batch is sealed). A batch
    written but unacknowledged when the stream breaks is re-sent after
    reconnecting. The producer is idempotent by default: it calls
    InitProducer before its first stream and numbers each partition's
    batches (``base_sequence``), so a re-sent batch the broker already wrote
    is answered with its original offsets instead of being written twice.
    ``transactional_id`` makes the producer id stable across restarts (a new
    instance fences the old one: its sends fail with ProducerFencedError);
    ``enable_idempotence=False`` gives plain at-least-once delivery.

    Memory is bounded: unresolved records use at most ``buffer_max_bytes``
    (``send`` blocks up to ``max_block_ms``, then raises
    ResourceExhaustedError); at most ``max_in_flight_batches`` batches and
    ``max_in_flight_bytes`` bytes are unacknowledged on the stream.
    """

    def __init__(
        self,
        target: str,
        *,
        acks: str = "all",
        linger_ms: float = 5.0,
        batch_max_bytes: int = 256 * 1024,
        buffer_max_bytes: int = 32 * 1024 * 1024,
        max_block_ms: float = 60_000.0,
        max_in_flight_batches: int = 32,
        max_in_flight_bytes: int = 8 * 1024 * 1024,
        retry_backoff_ms: float = 100.0,
        retry_backoff_max_ms: float = 2_000.0,
        delivery_timeout_ms: float = 120_000.0,
        request_timeout_ms: float = 30_000.0,
        metadata_max_age_ms: float = 300_000.0,
        enable_idempotence: Optional[bool] = None,
        transactional_id: str = "",
        rpc_timeout_s: float = DEFAULT_RPC_TIMEOUT_S,
        channel: Optional[grpc.Channel] = None,
    ) -> None:
        if acks not in _ACKS:
            raise ValueError(f"acks must be one of {sorted(_ACKS)}, got {acks!r}")
        if enable_idempotence is None:
            enable_idempotence = acks != "none"  # unacknowledged batches are never retried
        elif enable_idempotence and acks == "none":
            raise ValueError("enable_idempotence needs acks='leader' or 'all'")
        self._acks = _ACKS[acks]
        self._idempotent = enable_idempotence
        self._transactional_id = transactional_id
        self._producer_id: Optional[int] = None
        self._producer_epoch = 0
        self._next_sequence: Dict[Tuple[str, int], int] = {}
        self._seq_orders = itertools.count(1)
        self._reset_sequences = False  # an in-doubt batch expired: new producer id
        self._fatal: Optional[HeraldError] = None  # fenced: every send fails
        self._linger_ms = linger_ms
        self._batch_max_bytes = batch_max_bytes
        self._buffer_max_bytes = buffer_max_bytes
        self._max_block_ms = max_block_ms
        self._max_in_flight_batches = max(1, max_in_flight_batches)
        self._max_in_flight_bytes = max_in_flight_bytes
        self._backoff_min_ms = retry_backoff_ms
        self._backoff_max_ms = retry_backoff_max_ms
        self._delivery_timeout_ms = delivery_timeout_ms
        self._request_timeout_ms = request_timeout_ms
        self._metadata_max_age_ms = metadata_max_age_ms
        self._rpc_timeout_s = rpc_timeout_s
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else make_channel(target)
        self._broker = broker_pb2_grpc.BrokerStub(self._channel)
        self._admin = admin_pb2_grpc.AdminStub(self._channel)

        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # any state change
        self._open: Dict[Tuple[str, int], _Batch] = {}
        self._ready: Deque[_Batch] = collections.deque()
        self._in_flight: Dict[int, _Batch] = {}
        self._in_flight_bytes = 0
        self._buffered_bytes = 0
        self._metadata: Dict[str, Tuple[int, float]] = {}
        self._sticky: Dict[str, int] = {}
        self._request_ids = itertools.count(1)
        self._stream: Optional[_Stream] = None
        self._reconnect_at_ms = 0.0
        self._backoff_ms = retry_backoff_ms
        self._closing = False
        self._stopped = False
        self._sender = threading.Thread(target=self._sender_loop, name="herald-producer", daemon=True)
        self._sender.start()

    # Public API -----------------------------------------------------------

    def send(
        self,
        topic: str,
        value: Optional[Bytes] = None,
        *,
        key: Optional[Bytes] = None,
        headers: Optional[Headers] = None,
        partition: Optional[int] = None,
        timestamp_ms: int = 0,
    ) -> "Future[RecordMetadata]":
        """Queues one record; the future resolves when the broker acknowledges it.

        Errors from the broker (unknown topic, invalid name, ...) arrive as the
        future's exception, a HeraldError subclass. Raises ResourceExhaustedError
        when the buffer stays full for ``max_block_ms`` and ClosedError after close().
        """
        return self._send(topic, value, key, headers, partition, timestamp_ms, self._max_block_ms)

    def flush(self, timeout_s: Optional[float] = None) -> None:
        """Sends every queued record now and waits until all records sent
        before this call are resolved. Raises DeadlineExceededError on timeout."""
        with self._lock:
            for batch_key in list(self._open):
                self._seal_locked(batch_key)
            pending = [f for b in self._all_batches_locked() for f in b.futures]
            self._cond.notify_all()
        _, not_done = concurrent.futures.wait(pending, timeout=timeout_s)
        if not_done:
            raise DeadlineExceededError(f"flush timed out with {len(not_done)} records pending")

    def close(self, timeout_s: float = 30.0) -> None:
        """Flushes, then stops the threads; records still pending after
        ``timeout_s`` fail with ClosedError. Idempotent."""
        try:
            self.flush(timeout_s)
        except HeraldError:
            pass
        with self._lock:
            self._closing = True
            self._cond.notify_all()
        self._sender.join(timeout=max(1.0, timeout_s))
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> "Producer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def partitions_for(self, topic: str) -> int:
        """The topic's partition count (cached for ``metadata_max_age_ms``)."""
        with self._lock:
            cached = self._metadata.get(topic)
            if cached and _now_ms() - cached[1] < self._metadata_max_age_ms:
                return cached[0]
        try:
            response = self._admin.DescribeTopic(
                admin_pb2.DescribeTopicRequest(name=topic),
                timeout=self._rpc_timeout_s,
                wait_for_ready=True,  # ride out a reconnect within the deadline
            )
        except grpc.RpcError as err:
            raise error_from_rpc(err) from None
        count = len(response.topic.partitions)
        with self._lock:
            self._metadata[topic] = (count, _now_ms())
        return count

    # Send path (application threads) -------------------------------------

    def _send(
        self,
        topic: str,
        value: Optional[Bytes],
        key: Optional[Bytes],
        headers: Optional[Headers],
        partition: Optional[int],
        timestamp_ms: int,
        max_block_ms: float,
    ) -> "Future[RecordMetadata]":
        future: "Future[RecordMetadata]" = Future()
        record = records_pb2.Record(
            key=to_bytes(key),
            value=to_bytes(value),
            headers=[records_pb2.Header(key=k, value=to_bytes(v)) for k, v in headers or ()],
            timestamp_ms=timestamp_ms,
        )
        size = record.ByteSize() + _RECORD_OVERHEAD_BYTES
        if size > self._buffer_max_bytes:
            raise InvalidArgumentError(f"record of {size} bytes exceeds buffer_max_bytes")
        try:
            count = self.partitions_for(topic)
        except HeraldError as err:
            future.set_exception(err)
            return future
        with self._cond:
            self._wait_for_room_locked(size, max_block_ms)
            p = self._choose_partition_locked(topic, record.key, partition, count)
            batch = self._open.get((topic, p))
            if batch is not None and batch.size_bytes + size > self._batch_max_bytes:
                self._seal_locked((topic, p))
                batch = None
            if batch is None:
                batch = _Batch(topic, p, _now_ms())
                self._open[(topic, p)] = batch
            batch.records.append(record)
            batch.futures.append(future)
            batch.size_bytes += size
            self._buffered_bytes += size
            if batch.size_bytes >= self._batch_max_bytes or self._linger_ms <= 0:
                self._seal_locked((topic, p))
            self._cond.notify_all()
        return future

    def _wait_for_room_locked(self, size: int, max_block_ms: float) -> None:
        deadline = time.monotonic() + max_block_ms / 1000.0
        while True:
            if self._closing:
                raise ClosedError("producer is closed")
            if self._fatal is not None:
                raise self._fatal
            if self._buffered_bytes + size <= self._buffer_max_bytes:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ResourceExhaustedError(
                    f"producer buffer full ({self._buffered_bytes} of "
                    f"{self._buffer_max_bytes} bytes)"
                )
            self._cond.wait(remaining)

    def _choose_partition_locked(
        self, topic: str, key: bytes, partition: Optional[int], count: int
    ) -> int:
        if partition is not None:
            return partition  # validated by the broker (INVALID_ARGUMENT)
        if key:
            return partition_for_key(key, count)
        sticky = self._sticky.get(topic)
        if sticky is None or sticky >= count:
            sticky = random.randrange(count)
            self._sticky[topic] = sticky
        return sticky

    def _seal_locked(self, batch_key: Tuple[str, int]) -> None:
        batch = self._open.pop(batch_key)
        batch.sealed_ms = _now_ms()
        self._ready.append(batch)
        topic, partition = batch_key
        count = self._metadata.get(topic, (1, 0.0))[0]
        if self._sticky.get(topic) == partition and count > 1:
            # Kafka's sticky partitioner: keyless records fill one batch, then move on.
            self._sticky[topic] = (partition + random.randrange(1, count)) % count

    def _all_batches_locked(self) -> List[_Batch]:
        return list(self._open.values()) + list(self._ready) + list(self._in_flight.values())

    # Sender thread ----------------------------------------------------------

    def _sender_loop(self) -> None:
        while True:
            completions: List[Tuple[Future, object, bool]] = []
            connect = False
            stalled: Optional[_Stream] = None
            with self._cond:
                if self._closing and (self._stopped or not self._has_work_locked()):
                    break
                now = _now_ms()
                self._seal_expired_locked(now)
                self._expire_locked(now, completions)
                if self._stream is None and self._ready and now >= self._reconnect_at_ms:
                    connect = True
                elif self._stream is not None:
                    if self._reset_sequences:
                        # Re-init on a fresh stream once the batches in flight
                        # are answered (what is acked then need not fail as
                        # "outcome unknown"), or the stream is abandoned.
                        if self._in_flight:
                            stalled = self._stalled_stream_locked(now)
                        else:
                            stalled = self._stream
                    else:
                        self._write_ready_locked(completions)
                        stalled = self._stalled_stream_locked(now)
                if not connect and not completions and stalled is None:
                    self._cond.wait(self._wait_s_locked(now))
            self._complete(completions)
            if stalled is not None:
                if stalled.call is not None:
                    stalled.call.cancel()
                self._on_stream_end(stalled, grpc.StatusCode.UNAVAILABLE, "stream stalled")
            if connect:
                self._connect()
        self._shutdown()

    def _has_work_locked(self) -> bool:
        return bool(self._open or self._ready or self._in_flight)

    def _wait_s_locked(self, now: float) -> float:
        deadline = now + 1_000.0
        for batch in self._open.values():
            deadline = min(deadline, batch.created_ms + self._linger_ms)
        for batch in self._in_flight.values():  # oldest first: the stall check
            deadline = min(deadline, batch.sent_ms + self._request_timeout_ms + 1)
            break
        if self._stream is None and self._ready:
            deadline = min(deadline, self._reconnect_at_ms)
        return max(0.001, (deadline - now) / 1000.0)

    def _seal_expired_locked(self, now: float) -> None:
        for batch_key, batch in list(self._open.items()):
            if now - batch.created_ms >= self._linger_ms:
                self._seal_locked(batch_key)

    def _expire_locked(self, now: float, out: List[Tuple[Future, object, bool]]) -> None:
        while self._ready and now - self._ready[0].sealed_ms > self._delivery_timeout_ms:
            batch = self._ready.popleft()
            if batch.sent_sequence is not None:
                # It may have been written (its ack lost): later sequences can
                # no longer be trusted, so start over with a new producer id.
                self._reset_sequences = True
            err = DeadlineExceededError(
                f"batch for {batch.topic}/{batch.partition} not acknowledged within "
                f"delivery_timeout_ms={self._delivery_timeout_ms:.0f}"
            )
            self._fail_locked(batch, err, out)

    def _stalled_stream_locked(self, now: float) -> Optional[_Stream]:
        """The current stream if it must be abandoned: its oldest batch stayed
        unanswered for request_timeout_ms (e.g. a connection accepted by a
        broker that was going away), or its call terminated but the reader
        never saw the end (observed with grpcio when a broker restarts)."""
        stream = self._stream
        if stream is None or stream.call is None:
            return None
        if stream.call.done():
            if stream.terminated_ms == 0.0:
                stream.terminated_ms = now
            elif now - stream.terminated_ms > _TERMINATED_GRACE_MS:
                return stream
        if self._in_flight:
            oldest = next(iter(self._in_flight.values()))
            if now - oldest.sent_ms > self._request_timeout_ms:
                return stream
        return None

    def _window_open_locked(self, batch: _Batch) -> bool:
        if len(self._in_flight) >= self._max_in_flight_batches:
            return False
        # A single oversize batch may go alone so it cannot stall forever.
        return (
            not self._in_flight
            or self._in_flight_bytes + batch.size_bytes <= self._max_in_flight_bytes
        )

    def _write_ready_locked(self, out: List[Tuple[Future, object, bool]]) -> None:
        stream = self._stream
        assert stream is not None
        per_partition: Dict[Tuple[str, int], int] = {}
        if self._idempotent:
            for b in self._in_flight.values():
                k = (b.topic, b.partition)
                per_partition[k] = per_partition.get(k, 0) + 1
        blocked: Deque[_Batch] = collections.deque()  # kept in order for later
        while self._ready and self._window_open_locked(self._ready[0]):
            batch = self._ready.popleft()
            batch_key = (batch.topic, batch.partition)
            if self._idempotent:
                if per_partition.get(batch_key, 0) >= _MAX_IN_FLIGHT_PER_PARTITION:
                    blocked.append(batch)  # later batches of it block too: order kept
                    continue
                per_partition[batch_key] = per_partition.get(batch_key, 0) + 1
                if batch.base_sequence is None:
                    batch.base_sequence = self._next_sequence.get(batch_key, 0)
                    batch.seq_order = next(self._seq_orders)
                    self._next_sequence[batch_key] = batch.base_sequence + len(batch.records)
                batch.sent_sequence = batch.base_sequence
            batch.request_id = next(self._request_ids)
            batch.sent_ms = _now_ms()
            request = broker_pb2.ProduceRequest(
                request_id=batch.request_id,
                topic=batch.topic,
                partition=batch.partition,
                batch=records_pb2.RecordBatch(records=batch.records),
                acks=self._acks,
            )
            if self._idempotent:
                request.producer_id = self._producer_id or 0
                request.producer_epoch = self._producer_epoch
                request.base_sequence = batch.base_sequence or 0
            stream.requests.put(request)
            if self._acks == records_pb2.ACKS_NONE:
                # Nobody waits for an answer: resolve on write, as Kafka does.
                self._buffered_bytes -= batch.size_bytes
                for record, future in zip(batch.records, batch.futures):
                    meta = RecordMetadata(batch.topic, batch.partition, -1, record.timestamp_ms)
                    out.append((future, meta, False))
                continue
            self._in_flight[batch.request_id] = batch
            self._in_flight_bytes += batch.size_bytes
        self._ready.extendleft(reversed(blocked))

    def _init_producer(self) -> bool:
        """Gets a producer id (InitProducer) before the first stream, and again
        after an in-doubt batch expired (sequences then restart at 0). Returns
        False when the connect must wait (backoff set) or batches failed."""
        completions: List[Tuple[Future, object, bool]] = []
        with self._cond:
            if self._reset_sequences:
                self._reset_sequences = False
                self._producer_id = None
                self._next_sequence.clear()
                self._fail_unknown_outcome_locked(completions)
                for batch in self._ready:
                    batch.base_sequence = batch.sent_sequence = None
            ready = not self._idempotent or self._producer_id is not None
        self._complete(completions)
        if ready:
            return True
        try:
            response = self._broker.InitProducer(
                broker_pb2.InitProducerRequest(transactional_id=self._transactional_id),
                timeout=self._rpc_timeout_s,
            )
        except grpc.RpcError as err:
            code = err.code() or grpc.StatusCode.UNKNOWN
            with self._cond:
                if code not in _RETRYABLE and code != grpc.StatusCode.DEADLINE_EXCEEDED:
                    # e.g. UNIMPLEMENTED: no idempotence on this broker. Fail
                    # what is queued rather than retrying forever.
                    error = error_from_rpc(err)
                    while self._ready:
                        self._fail_locked(self._ready.popleft(), error, completions)
                self._schedule_reconnect_locked()
            self._complete(completions)
            return False
        with self._cond:
            self._producer_id = response.producer_id
            self._producer_epoch = response.producer_epoch
        return True

    def _fail_unknown_outcome_locked(self, out: List[Tuple[Future, object, bool]]) -> None:
        """Before a new producer identity: a batch already sent under the old
        one (it has a sequence) but never acknowledged may be in the log.
        Re-sending it with a new identity's sequence could write it twice, so
        it fails (ABORTED, "outcome unknown"); batches never sent are kept and
        get sequences of the new identity."""
        kept: Deque[_Batch] = collections.deque()
        for batch in self._ready:
            if batch.sent_sequence is None:
                kept.append(batch)
                continue
            err = AbortedError(
                f"outcome unknown: batch for {batch.topic}/{batch.partition} was sent but not "
                "acknowledged before the producer had to take a new identity; it may have "
                "been written"
            )
            self._fail_locked(batch, err, out)
        self._ready = kept

    def _schedule_reconnect_locked(self) -> None:
        self._reconnect_at_ms = _now_ms() + self._backoff_ms * random.uniform(0.8, 1.2)
        self._backoff_ms = min(self._backoff_max_ms, self._backoff_ms * 2)
        self._cond.notify_all()

    def _connect(self) -> None:
        if not self._init_producer():
            return
        stream = _Stream()
        with self._cond:
            if self._stopped:
                return
            self._stream = stream  # batches may queue before the call exists
            self._cond.notify_all()
        try:
            stream.call = self._broker.Produce(stream.iterate())
        except grpc.RpcError as err:  # not expected: errors surface while reading
            self._on_stream_end(stream, err.code(), err.details() or "")
            return
        except ValueError as err:  # the channel was closed under us (close timed out)
            self._on_stream_end(stream, grpc.StatusCode.CANCELLED, str(err))
            return
        threading.Thread(
            target=self._reader_loop, args=(stream,), name="herald-producer-reader", daemon=True
        ).start()

    def _complete(self, completions: List[Tuple[Future, object, bool]]) -> None:
        for future, result, error in completions:
            _resolve(future, result, error)

    def _shutdown(self) -> None:
        completions: List[Tuple[Future, object, bool]] = []
        with self._cond:
            self._stopped = True
            stream, self._stream = self._stream, None
            for batch in self._all_batches_locked():
                self._fail_locked(batch, ClosedError("producer closed before delivery"), completions)
            self._open.clear()
            self._ready.clear()
            self._in_flight.clear()
            self._in_flight_bytes = 0
            self._cond.notify_all()
        if stream is not None:
            stream.requests.put(None)  # half-close: the broker then ends the stream
            stream.done.set()
            if stream.call is not None:
                stream.call.cancel()
        self._complete(completions)

    # Reader threads -----------------------------------------------------------

    def _reader_loop(self, stream: _Stream) -> None:
        code, details = grpc.StatusCode.OK, "stream ended"
        try:
            for response in stream.call:  # type: ignore[union-attr]
                self._on_response(stream, response)
        except grpc.RpcError as err:
            code, details = err.code(), err.details() or ""
        self._on_stream_end(stream, code, details)

    def _on_response(self, stream: _Stream, response: broker_pb2.ProduceResponse) -> None:
        completions: List[Tuple[Future, object, bool]] = []
        with self._cond:
            batch = self._in_flight.pop(response.request_id, None)
            if batch is None or stream is not self._stream:
                return
            self._in_flight_bytes -= batch.size_bytes
            self._backoff_ms = self._backoff_min_ms  # the stream works
            error = response.error if response.HasField("error") else None
            code = error.code if error is not None else 0
            if code == _CODE_UNAVAILABLE or (
                code == _CODE_OUT_OF_RANGE and self._sequence_pending_locked(batch)
            ):
                # Retried in order on this stream; for OUT_OF_RANGE an earlier
                # batch of the partition is being retried (or this one was
                # renumbered), so the gap closes once that one is written.
                self._requeue_locked([batch])
            elif code != 0:
                if code in (
                    grpc.StatusCode.NOT_FOUND.value[0],
                    grpc.StatusCode.INVALID_ARGUMENT.value[0],
                ):
                    self._metadata.pop(batch.topic, None)  # describe again next send
                err = self._batch_error_locked(batch, code, error.message)  # type: ignore[union-attr]
                self._fail_locked(batch, err, completions)
                self._renumber_after_locked(batch)
                if isinstance(err, ProducerFencedError):
                    self._fail_all_locked(err, completions)
            else:
                self._succeed_locked(batch, response, completions)  # also duplicate=true
            self._cond.notify_all()
        self._complete(completions)

    def _succeed_locked(
        self,
        batch: _Batch,
        response: broker_pb2.ProduceResponse,
        out: List[Tuple[Future, object, bool]],
    ) -> None:
        self._buffered_bytes -= batch.size_bytes
        for i, (record, future) in enumerate(zip(batch.records, batch.futures)):
            timestamp_ms = record.timestamp_ms or response.log_append_time_ms
            meta = RecordMetadata(
                batch.topic, response.partition, response.base_offset + i, timestamp_ms
            )
            out.append((future, meta, False))

    # Idempotence helpers -------------------------------------------------------

    def _requeue_locked(self, batches: List[_Batch]) -> None:
        """Puts batches back ahead of new ones: sequenced batches in the order
        their sequences were assigned (the broker accepts each partition's
        batches only in sequence order), then unsequenced ones."""
        for batch in batches:
            batch.request_id = 0
        retries = [b for b in self._ready if b.base_sequence is not None] + batches
        fresh = [b for b in self._ready if b.base_sequence is None]
        retries.sort(key=lambda b: b.seq_order)
        self._ready = collections.deque(retries + fresh)

    def _unresolved_locked(self, batch: _Batch) -> List[_Batch]:
        return [
            b
            for b in list(self._ready) + list(self._in_flight.values())
            if b is not batch and (b.topic, b.partition) == (batch.topic, batch.partition)
        ]

    def _sequence_pending_locked(self, batch: _Batch) -> bool:
        if not self._idempotent or batch.base_sequence is None:
            return False
        if batch.sent_sequence != batch.base_sequence:
            return True
        return any(
            b.base_sequence is not None and b.base_sequence < batch.base_sequence
            for b in self._unresolved_locked(batch)
        )

    def _renumber_after_locked(self, failed: _Batch) -> None:
        """A batch that was not written leaves a hole in its partition's
        sequence: shift the later batches down (those already on the wire are
        rejected as out of order and re-sent with their new numbers)."""
        if not self._idempotent or failed.base_sequence is None:
            return
        n = len(failed.records)
        for b in self._unresolved_locked(failed):
            if b.base_sequence is not None and b.base_sequence > failed.base_sequence:
                b.base_sequence -= n
        key = (failed.topic, failed.partition)
        self._next_sequence[key] = self._next_sequence.get(key, n) - n

    def _batch_error_locked(self, batch: _Batch, code: int, message: str) -> HeraldError:
        where = f"{batch.topic}/{batch.partition}: {message}"
        if self._idempotent and code == _CODE_ABORTED:
            self._fatal = ProducerFencedError(
                f"producer {self._producer_id} epoch {self._producer_epoch} fenced ({where})"
            )
            return self._fatal
        if self._idempotent and code == _CODE_OUT_OF_RANGE:
            return OutOfOrderSequenceError(where)
        return error_from_number(code, message)

    def _fail_all_locked(self, err: HeraldError, out: List[Tuple[Future, object, bool]]) -> None:
        for batch in list(self._open.values()) + list(self._ready):
            self._fail_locked(batch, err, out)
        self._open.clear()
        self._ready.clear()

    def _fail_locked(
        self, batch: _Batch, err: HeraldError, out: List[Tuple[Future, object, bool]]
    ) -> None:
        self._buffered_bytes -= batch.size_bytes
        out.extend((future, err, True) for future in batch.futures)

    def _on_stream_end(self, stream: _Stream, code: grpc.StatusCode, details: str) -> None:
        stream.done.set()
        completions: List[Tuple[Future, object, bool]] = []
        with self._cond:
            if stream is not self._stream:
                return  # a stream we already gave up (close, or replaced)
            self._stream = None
            unacked = sorted(self._in_flight.values(), key=lambda b: b.request_id)
            self._in_flight.clear()
            self._in_flight_bytes = 0
            if code in _RETRYABLE or code == grpc.StatusCode.OK:
                # Re-send in the original order ahead of newer batches (with
                # the same sequences: the broker dedupes those it wrote).
                self._requeue_locked(unacked)
            else:
                for batch in unacked:
                    self._fail_locked(batch, error_from_number(code.value[0], details), completions)
            self._schedule_reconnect_locked()
        self._complete(completions)
