"""Consumer: credit-based Subscribe stream with resume, seek and commits.

Threads: one *reader* thread runs Subscribe streams (connect, read,
reconnect with backoff). Application threads call ``poll`` (or iterate),
which takes records from a bounded buffer and grants the stream credit for
what was consumed, so the broker never sends more than the buffer holds
(plus at most one batch).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import queue
import random
import threading
import time
from typing import (
    Callable,
    Deque,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

import grpc

from ._channel import DEFAULT_RPC_TIMEOUT_S, make_channel
from ._proto import broker_pb2, broker_pb2_grpc, records_pb2
from .admin import Admin
from .errors import ClosedError, HeraldError, error_for_code, error_from_number
from .types import ConsumedRecord, StartPosition, TopicPartition

# Stream endings that resume the subscription. CANCELLED is what a broker
# shutting down gracefully answers; streams this client cancels itself (close,
# re-subscribe) never reach this check.
_RECONNECT_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)
# Credit bytes are charged per batch as its encoded size plus the stored
# batch header: an upper bound of the broker's own measure, so the client
# never believes the broker holds more credit than it does (a stall).
_BATCH_OVERHEAD_BYTES = 64
_STREAM_POLL_S = 0.2
_TERMINATED_GRACE_S = 1.0  # for a reader to see the end of a terminated call
_LOG_APPEND = records_pb2.TIMESTAMP_TYPE_LOG_APPEND_TIME
_log = logging.getLogger("herald.consumer")

PartitionsCallback = Callable[[List[TopicPartition]], None]


@dataclasses.dataclass
class _Partition:
    start: StartPosition  # used when nothing was read yet (or after a seek)
    fetch_offset: Optional[int] = None  # next offset to put in the buffer
    position: Optional[int] = None  # next offset to hand to the application
    seeking: bool = False


@dataclasses.dataclass
class _Chunk:
    tp: TopicPartition
    records: List[ConsumedRecord]
    credit_records: int
    credit_bytes: int
    index: int = 0


class _Stream:
    def __init__(self, heartbeat_s: Optional[float] = None) -> None:
        self.requests: "queue.Queue[Optional[broker_pb2.SubscribeRequest]]" = queue.Queue()
        self.done = threading.Event()
        self.call: Optional[grpc.Call] = None
        self.delivered = False  # resets the reconnect attempt count
        self.heartbeat_s = heartbeat_s  # group streams: keep the member alive

    def iterate(self) -> Iterator[broker_pb2.SubscribeRequest]:
        last = time.monotonic()
        while not self.done.is_set():
            try:
                item = self.requests.get(timeout=_STREAM_POLL_S)
            except queue.Empty:
                # An idle group member (full buffer, nothing to commit) must
                # still send something within its session timeout.
                if self.heartbeat_s is not None and time.monotonic() - last >= self.heartbeat_s:
                    last = time.monotonic()
                    yield broker_pb2.SubscribeRequest(heartbeat=broker_pb2.Heartbeat())
                continue
            if item is None:
                return
            last = time.monotonic()
            yield item


def decode_batch(
    batch: records_pb2.ConsumedBatch, from_offset: Optional[int]
) -> List[ConsumedRecord]:
    """Records of a delivered batch at or after ``from_offset`` (batches are
    served whole and may begin earlier), with the broker's timestamp rule."""
    out: List[ConsumedRecord] = []
    log_append = batch.timestamp_type == _LOG_APPEND
    for i, record in enumerate(batch.records):
        offset = batch.base_offset + i
        if from_offset is not None and offset < from_offset:
            continue
        timestamp_ms = record.timestamp_ms
        if log_append or timestamp_ms == 0:
            timestamp_ms = batch.append_time_ms
        out.append(
            ConsumedRecord(
                topic=batch.topic,
                partition=batch.partition,
                offset=offset,
                key=record.key,
                value=record.value,
                headers=[(h.key, h.value) for h in record.headers],
                timestamp_ms=timestamp_ms,
                timestamp_type=batch.timestamp_type,
            )
        )
    return out


class Consumer:
    """Reads records from explicit partitions or whole topics.

    >>> consumer = Consumer("localhost:7420", group="billing")
    >>> consumer.subscribe(["orders"], start=StartPosition.earliest())
    >>> for record in consumer:            # or consumer.poll(timeout_s=1.0)
    ...     handle(record)
    ...     consumer.commit()

    The application sees every record once per assignment, in offset order,
    without gaps, across reconnects (each partition resumes at its cursor).
    ``group`` names the committing group; ``subscribe(..., use_group=True)``
    joins it as a member: the broker assigns the partitions (cooperative
    rebalancing). ``on_assign(partitions)`` gets the complete set the member
    now owns after every Assignment; ``on_revoke(partitions)`` gets only the
    partitions moving away, before they are released, so the application
    can finish and commit them. Both run on the consumer's stream thread
    (no records are delivered meanwhile; ``commit`` may be called). With ``commit_on_revoke`` (default) the
    consumer then commits the positions of the revoked partitions itself,
    and of every owned partition on ``close()``, so the next owner resumes
    where this one stopped. Delivery is at-least-once: records handed out
    by ``poll`` but not committed are delivered again to the next owner.
    """

    def __init__(
        self,
        target: str,
        *,
        group: Optional[str] = None,
        instance_id: str = "",
        client_id: str = "herald-python",
        on_assign: Optional[PartitionsCallback] = None,
        on_revoke: Optional[PartitionsCallback] = None,
        commit_on_revoke: bool = True,
        session_timeout_ms: int = 0,
        heartbeat_interval_ms: float = 3_000.0,
        max_buffered_records: int = 10_000,
        max_buffered_bytes: int = 16 * 1024 * 1024,
        reconnect_backoff_ms: float = 100.0,
        reconnect_backoff_max_ms: float = 2_000.0,
        max_reconnect_attempts: int = 100,
        rpc_timeout_s: float = DEFAULT_RPC_TIMEOUT_S,
        channel: Optional[grpc.Channel] = None,
    ) -> None:
        self._group = group
        self._instance_id = instance_id
        self._client_id = client_id
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self._commit_on_revoke = commit_on_revoke
        self._session_timeout_ms = session_timeout_ms
        self._heartbeat_s = heartbeat_interval_ms / 1000.0
        self._max_records = max_buffered_records
        self._max_bytes = max_buffered_bytes
        self._backoff_min_ms = reconnect_backoff_ms
        self._backoff_max_ms = reconnect_backoff_max_ms
        self._max_attempts = max_reconnect_attempts
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else make_channel(target)
        self._broker = broker_pb2_grpc.BrokerStub(self._channel)
        self._admin = Admin(target, rpc_timeout_s=rpc_timeout_s, channel=self._channel)

        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._parts: Dict[TopicPartition, _Partition] = {}
        self._group_topics: List[str] = []
        self._group_reset = StartPosition.latest()
        self._generation = 0
        self._member_id = ""
        self._buffer: Deque[_Chunk] = collections.deque()
        self._buffered_records = 0
        self._buffered_bytes = 0
        self._credit_records = 0  # returned by the app, not yet granted
        self._credit_bytes = 0
        self._stream: Optional[_Stream] = None
        self._restart = False  # the subscription changed: reconnect at once
        self._errors: List[HeraldError] = []  # raised by the next poll
        self._fatal: Optional[HeraldError] = None
        self._closed = False
        self._reader: Optional[threading.Thread] = None

    # Subscription -------------------------------------------------------------

    def assign(
        self,
        partitions: Union[Mapping[TopicPartition, StartPosition], Iterable[TopicPartition]],
        start: StartPosition = StartPosition.latest(),
    ) -> None:
        """Reads exactly these partitions (replacing any previous set), each
        from its own position or ``start``."""
        if not isinstance(partitions, Mapping):
            partitions = {TopicPartition(*tp): start for tp in partitions}
        parts = {TopicPartition(*tp): self._resolve(tp, pos) for tp, pos in partitions.items()}

        def update() -> None:
            self._parts = parts
            self._group_topics = []
            self._drop_buffered_locked(lambda tp: True)

        self._restart_stream(update)

    def subscribe(
        self,
        topics: Sequence[str],
        start: StartPosition = StartPosition.latest(),
        *,
        use_group: bool = False,
    ) -> None:
        """Reads every partition of ``topics``. With ``use_group`` the
        consumer's ``group`` assigns the partitions (``start`` is the reset
        position for partitions without a committed offset)."""
        if not use_group:
            assignment: Dict[TopicPartition, StartPosition] = {}
            for topic in topics:
                count = len(self._admin.describe_topic(topic).partitions)
                for p in range(count):
                    assignment[TopicPartition(topic, p)] = start
            self.assign(assignment)
            return
        if not self._group:
            raise ValueError("use_group=True needs Consumer(group=...)")

        def update() -> None:
            self._parts = {}
            self._group_topics = list(topics)
            self._group_reset = start
            self._drop_buffered_locked(lambda tp: True)

        self._restart_stream(update)

    def seek(self, tp: TopicPartition, position: StartPosition) -> None:
        """Moves an assigned partition; records buffered for it are dropped and
        the next record ``poll`` returns for it is the one at ``position``.

        Implemented as a reconnect with every partition at its cursor rather
        than the in-stream Seek request: the broker may deliver batches from
        the new position before its SeekResult, so batches in flight from the
        old position could not be told apart from the new ones.
        """
        tp = TopicPartition(*tp)
        resolved = self._resolve(tp, position)

        def update() -> None:
            if tp not in self._parts:
                raise ValueError(f"{tp} is not assigned")
            self._drop_buffered_locked(lambda t: t == tp)
            self._parts[tp] = resolved

        self._restart_stream(update)

    def assignment(self) -> Set[TopicPartition]:
        with self._lock:
            return set(self._parts)

    def group_member(self) -> Tuple[int, str]:
        """(generation, member id) of the current group membership ((0, "")
        before the first Assignment)."""
        with self._lock:
            return self._generation, self._member_id

    def position(self, tp: TopicPartition) -> Optional[int]:
        """The next offset ``poll`` returns for ``tp`` (None before the first record)."""
        with self._lock:
            state = self._parts.get(TopicPartition(*tp))
            return None if state is None else state.position

    # Reading ------------------------------------------------------------------

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> List[ConsumedRecord]:
        """Up to ``max_records`` records, waiting up to ``timeout_s`` for the
        first. Raises the subscription's error (typed HeraldError) if it ended."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._buffer:
                self._raise_pending_locked()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)
            out = self._take_locked(max_records)
            self._grant_credit_locked()
            return out

    def __iter__(self) -> Iterator[ConsumedRecord]:
        """Yields records until close() (or until the subscription fails)."""
        while True:
            with self._lock:
                if self._closed:
                    return
            yield from self.poll(timeout_s=0.5)

    # Offsets --------------------------------------------------------------------

    def commit(
        self, offsets: Optional[Mapping[TopicPartition, int]] = None, metadata: str = ""
    ) -> None:
        """Commits ``offsets`` (default: the current positions) for ``group``
        with the CommitOffsets RPC. As a group member the commit carries the
        generation and member id: a partition no longer owned (revoked
        concurrently) or a stale generation raises AbortedError."""
        if not self._group:
            raise ValueError("commit needs Consumer(group=...)")
        with self._lock:
            if offsets is None:
                offsets = {
                    tp: st.position for tp, st in self._parts.items() if st.position is not None
                }
            generation, member_id = self._generation, self._member_id
        if not offsets:
            return
        self._admin.commit_offsets(
            self._group, offsets, metadata=metadata, generation=generation, member_id=member_id
        )

    def committed(self, partitions: Iterable[TopicPartition] = ()) -> Dict[TopicPartition, int]:
        """Committed offsets of ``group`` (-1: none), all partitions when empty."""
        if not self._group:
            raise ValueError("committed needs Consumer(group=...)")
        found = self._admin.fetch_committed_offsets(self._group, partitions)
        return {tp: c.offset for tp, c in found.items()}

    def close(self) -> None:
        """Ends the subscription and releases the channel. Idempotent. A group
        member first commits its positions (``commit_on_revoke``); closing the
        stream then leaves the group at once."""
        with self._cond:
            if self._closed:
                return
            owned = list(self._parts) if self._member_id else []
        if owned and self._commit_on_revoke:
            self._commit_quietly(owned)
        with self._cond:
            if self._closed:
                return
            self._closed = True
            stream = self._stream
            self._cond.notify_all()
        if stream is not None:
            self._end_stream(stream)
        if self._reader is not None:
            self._reader.join(timeout=5.0)
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> "Consumer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Helpers (application side) ---------------------------------------------------

    def _resolve(self, tp: TopicPartition, position: StartPosition) -> _Partition:
        # A timestamp becomes an exact offset first: batches are delivered
        # whole, so only a known offset lets the client skip earlier records.
        if position.kind == "timestamp":
            offsets = self._admin.list_offsets(tp[0], position, partitions=[tp[1]])
            position = StartPosition.offset(offsets[tp[1]].offset)
        if position.kind == "offset":
            return _Partition(position, fetch_offset=position.value, position=position.value)
        return _Partition(position)

    def _raise_pending_locked(self) -> None:
        if self._errors:
            raise self._errors.pop(0)
        if self._fatal is not None:
            raise self._fatal
        if self._closed:
            raise ClosedError("consumer is closed")

    def _take_locked(self, max_records: int) -> List[ConsumedRecord]:
        out: List[ConsumedRecord] = []
        while self._buffer and len(out) < max_records:
            chunk = self._buffer[0]
            n = min(max_records - len(out), len(chunk.records) - chunk.index)
            out.extend(chunk.records[chunk.index : chunk.index + n])
            chunk.index += n
            state = self._parts.get(chunk.tp)
            if state is not None:
                state.position = out[-1].offset + 1
            if chunk.index == len(chunk.records):
                self._buffer.popleft()
                self._release_locked(chunk)
        return out

    def _release_locked(self, chunk: _Chunk) -> None:
        self._buffered_records -= chunk.credit_records
        self._buffered_bytes -= chunk.credit_bytes
        self._credit_records += chunk.credit_records
        self._credit_bytes += chunk.credit_bytes

    def _drop_buffered_locked(self, match: Callable[[TopicPartition], bool]) -> None:
        kept: Deque[_Chunk] = collections.deque()
        for chunk in self._buffer:
            if match(chunk.tp):
                self._release_locked(chunk)
            else:
                kept.append(chunk)
        self._buffer = kept
        self._grant_credit_locked()

    def _grant_credit_locked(self) -> None:
        # Grant in chunks of a quarter of the buffer (or when it ran dry) so
        # a fast consumer does not send one Credit message per record.
        if self._credit_records == 0 and self._credit_bytes == 0:
            return
        enough = (
            self._credit_records * 4 >= self._max_records
            or self._credit_bytes * 4 >= self._max_bytes
            or not self._buffer
        )
        if self._stream is None or not enough:
            return
        credit = broker_pb2.Credit(records=self._credit_records, bytes=self._credit_bytes)
        self._stream.requests.put(broker_pb2.SubscribeRequest(credit=credit))
        self._credit_records = self._credit_bytes = 0

    def _restart_locked(self) -> Optional[_Stream]:
        """Makes the reader (re)connect with the current subscription. The
        running stream is detached first, so nothing it still delivers can
        mix with the new positions; the caller ends it after unlocking."""
        if self._closed:
            raise ClosedError("consumer is closed")
        self._fatal = None
        self._restart = True
        stream, self._stream = self._stream, None
        if self._reader is None:
            self._reader = threading.Thread(
                target=self._reader_loop, name="herald-consumer", daemon=True
            )
            self._reader.start()
        self._cond.notify_all()
        return stream

    def _restart_stream(self, update: Callable[[], None]) -> None:
        with self._cond:
            update()
            stream = self._restart_locked()
        if stream is not None:
            self._end_stream(stream)

    @staticmethod
    def _end_stream(stream: _Stream) -> None:
        stream.done.set()
        if stream.call is not None:
            stream.call.cancel()

    # Reader thread ----------------------------------------------------------------

    def _reader_loop(self) -> None:
        attempts = 0
        backoff_ms = self._backoff_min_ms
        while True:
            with self._cond:
                while not self._closed and not self._restart and self._fatal is not None:
                    self._cond.wait()
                if self._closed:
                    return
                self._restart = False
                stream = _Stream(self._heartbeat_s if self._group_topics else None)
                stream.requests.put(self._start_request_locked())
                self._stream = stream
            code, details = self._run_stream(stream)
            with self._cond:
                if self._stream is stream:
                    self._stream = None
                if self._closed:
                    return
                if self._restart:
                    continue  # assign/subscribe changed the set: reconnect now
                attempts = 0 if stream.delivered else attempts + 1
                if stream.delivered:
                    backoff_ms = self._backoff_min_ms
                if code not in _RECONNECT_CODES or attempts > self._max_attempts:
                    self._fatal = error_for_code(code, details)
                    self._cond.notify_all()
                    continue
                self._cond.wait(backoff_ms * random.uniform(0.8, 1.2) / 1000.0)
                backoff_ms = min(self._backoff_max_ms, backoff_ms * 2)

    def _run_stream(self, stream: _Stream) -> Tuple[grpc.StatusCode, str]:
        """Runs one Subscribe call until it ends; returns its status.

        The responses are read on a helper thread while this one watches the
        call: with grpcio, a call that terminated while the broker restarted
        can leave its iterator blocked forever although ``call.done()`` is
        true (the producer guards against the same). Such a reader is
        abandoned; anything it might still deliver is ignored because the
        stream is no longer current."""
        ended = threading.Event()
        result: List[Tuple[grpc.StatusCode, str]] = []

        def read() -> None:
            try:
                for response in stream.call:  # type: ignore[union-attr]
                    self._on_response(stream, response)
                # The broker ended the stream cleanly (e.g. shutting down): resume.
                result.append((grpc.StatusCode.UNAVAILABLE, "subscription ended by the broker"))
            except grpc.RpcError as err:
                result.append((err.code() or grpc.StatusCode.UNKNOWN, err.details() or ""))
            finally:
                ended.set()

        try:
            stream.call = self._broker.Subscribe(stream.iterate())
            if stream.done.is_set():  # cancelled while connecting
                stream.call.cancel()
            threading.Thread(target=read, name="herald-consumer-stream", daemon=True).start()
            terminated_at: Optional[float] = None
            while not ended.wait(_STREAM_POLL_S):
                if not stream.call.done():
                    continue
                now = time.monotonic()
                if terminated_at is None:
                    terminated_at = now
                elif now - terminated_at > _TERMINATED_GRACE_S:
                    code = stream.call.code() or grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
                    return code, stream.call.details() or "stream terminated"  # type: ignore[attr-defined]
            return result[0]
        except grpc.RpcError as err:  # not expected: errors surface while reading
            return err.code() or grpc.StatusCode.UNKNOWN, err.details() or ""
        finally:
            stream.done.set()

    def _start_request_locked(self) -> broker_pb2.SubscribeRequest:
        credit = broker_pb2.Credit(
            records=max(1, self._max_records - self._buffered_records),
            bytes=max(1, self._max_bytes - self._buffered_bytes),
        )
        self._credit_records = self._credit_bytes = 0  # a new stream starts afresh
        start = broker_pb2.SubscribeStart(credit=credit)
        if self._group_topics:
            start.group = self._group or ""
            start.topics.extend(self._group_topics)
            start.instance_id = self._instance_id
            start.client_id = self._client_id
            start.reset = self._group_reset.to_proto().named
            start.session_timeout_ms = self._session_timeout_ms
            self._generation, self._member_id = 0, ""  # a new stream is a new member
            return broker_pb2.SubscribeRequest(start=start)
        for tp, state in self._parts.items():
            # Resume at the cursor; a partition not read yet restarts at its
            # original position, a pending seek at the seek target.
            state.seeking = False
            position = state.start
            if state.fetch_offset is not None:
                position = StartPosition.offset(state.fetch_offset)
            start.partitions.add(
                topic=tp.topic, partition=tp.partition, position=position.to_proto()
            )
        return broker_pb2.SubscribeRequest(start=start)

    def _on_response(self, stream: _Stream, response: broker_pb2.SubscribeResponse) -> None:
        kind = response.WhichOneof("event")
        committed: Dict[TopicPartition, int] = {}
        if kind == "assignment":
            committed = self._committed_for_new(response.assignment)  # network: unlocked
        revoked: List[TopicPartition] = []
        assigned: List[TopicPartition] = []
        with self._cond:
            if stream is not self._stream:
                return
            if kind == "batches":
                for batch in response.batches.batches:
                    self._on_batch_locked(batch)
                stream.delivered = True
            elif kind == "seek_result":
                self._on_seek_result_locked(response.seek_result)
            elif kind == "assignment":
                assigned = self._on_assignment_locked(response.assignment, committed)
            elif kind == "revoke":
                revoked = [TopicPartition(p.topic, p.partition) for p in response.revoke.partitions]
                self._drop_buffered_locked(lambda tp: tp in revoked)
            self._cond.notify_all()
        # Group callbacks run on the reader thread without the lock held.
        if kind == "assignment" and self._on_assign is not None:
            self._on_assign(assigned)
        if kind == "revoke":
            self._finish_revoke(stream, response.revoke, revoked)

    def _on_batch_locked(self, batch: records_pb2.ConsumedBatch) -> None:
        tp = TopicPartition(batch.topic, batch.partition)
        credit_records = len(batch.records)
        credit_bytes = batch.ByteSize() + _BATCH_OVERHEAD_BYTES
        self._buffered_records += credit_records
        self._buffered_bytes += credit_bytes
        state = self._parts.get(tp)
        records: List[ConsumedRecord] = []
        if state is not None and not state.seeking:
            records = decode_batch(batch, state.fetch_offset)
        chunk = _Chunk(tp, records, credit_records, credit_bytes)
        if not records:  # all skipped (replay, seek in progress): credit back now
            self._release_locked(chunk)
            self._grant_credit_locked()
            return
        state.fetch_offset = records[-1].offset + 1  # type: ignore[union-attr]
        self._buffer.append(chunk)

    def _on_seek_result_locked(self, result: broker_pb2.SeekResult) -> None:
        tp = TopicPartition(result.topic, result.partition)
        state = self._parts.get(tp)
        if state is None:
            return
        state.seeking = False
        if result.HasField("error") and result.error.code != 0:
            self._errors.append(error_from_number(result.error.code, result.error.message))
            return
        state.start = StartPosition.offset(result.offset)
        state.fetch_offset = state.position = result.offset

    def _committed_for_new(self, assignment: broker_pb2.Assignment) -> Dict[TopicPartition, int]:
        """Committed offsets of newly assigned partitions. The broker starts
        them there, but batches are served whole and may begin earlier: the
        client must know the offset to trim. Runs on the reader thread before
        any batch of the new partitions is handled."""
        with self._lock:
            new = [
                TopicPartition(p.topic, p.partition)
                for p in assignment.partitions
                if TopicPartition(p.topic, p.partition) not in self._parts
            ]
        if not new or not self._group:
            return {}
        try:
            found = self._admin.fetch_committed_offsets(self._group, new)
        except HeraldError as err:  # at-least-once: untrimmed records are re-delivered
            _log.warning("fetching committed offsets for %s failed: %s", new, err)
            return {}
        return {tp: c.offset for tp, c in found.items() if c.offset >= 0}

    def _on_assignment_locked(
        self, assignment: broker_pb2.Assignment, committed: Mapping[TopicPartition, int]
    ) -> List[TopicPartition]:
        self._generation = assignment.generation
        self._member_id = assignment.member_id
        owned = [TopicPartition(p.topic, p.partition) for p in assignment.partitions]
        parts: Dict[TopicPartition, _Partition] = {}
        for tp in owned:
            state = self._parts.get(tp)
            if state is None:
                offset = committed.get(tp)
                if offset is not None:
                    state = _Partition(StartPosition.offset(offset), offset, offset)
                else:
                    state = _Partition(StartPosition.committed())
            parts[tp] = state
        self._parts = parts
        self._drop_buffered_locked(lambda tp: tp not in self._parts)
        return owned

    def _finish_revoke(
        self, stream: _Stream, revoke: broker_pb2.Revoke, revoked: List[TopicPartition]
    ) -> None:
        if self._on_revoke is not None:
            self._on_revoke(revoked)  # the app finishes and commits here
        if self._commit_on_revoke:
            self._commit_quietly(revoked)  # still the owner until RevokeDone
        with self._lock:
            for tp in revoked:
                self._parts.pop(tp, None)
        stream.requests.put(
            broker_pb2.SubscribeRequest(
                revoke_done=broker_pb2.RevokeDone(
                    generation=revoke.generation, partitions=list(revoke.partitions)
                )
            )
        )

    def _commit_quietly(self, partitions: Iterable[TopicPartition]) -> None:
        """Commits the positions of ``partitions`` (revoke, close). A failure
        only means the next owner re-reads the uncommitted tail, so it is
        logged rather than raised on the reader thread."""
        with self._lock:
            offsets = {
                tp: self._parts[tp].position
                for tp in partitions
                if tp in self._parts and self._parts[tp].position is not None
            }
        if not offsets:
            return
        try:
            self.commit(offsets)  # type: ignore[arg-type]
        except HeraldError as err:
            _log.warning("commit of %s failed: %s", offsets, err)
