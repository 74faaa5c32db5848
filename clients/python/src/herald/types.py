"""Plain value types of the Herald client API."""

from __future__ import annotations

import dataclasses
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

from ._proto import records_pb2

Bytes = Union[bytes, bytearray, memoryview, str]
Headers = Sequence[Tuple[str, Bytes]]


def to_bytes(value: Optional[Bytes]) -> bytes:
    """Keys, values and header values accept str (UTF-8) or any bytes-like."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


class TopicPartition(NamedTuple):
    topic: str
    partition: int


@dataclasses.dataclass(frozen=True)
class StartPosition:
    """Where to start reading a partition.

    Use the constructors: ``StartPosition.earliest()``, ``.latest()``,
    ``.offset(n)``, ``.timestamp(ms)``, ``.committed()`` (groups).
    """

    kind: str  # "earliest" | "latest" | "committed" | "offset" | "timestamp"
    value: int = 0

    @staticmethod
    def earliest() -> "StartPosition":
        return StartPosition("earliest")

    @staticmethod
    def latest() -> "StartPosition":
        return StartPosition("latest")

    @staticmethod
    def committed() -> "StartPosition":
        return StartPosition("committed")

    @staticmethod
    def offset(offset: int) -> "StartPosition":
        return StartPosition("offset", offset)

    @staticmethod
    def timestamp(timestamp_ms: int) -> "StartPosition":
        return StartPosition("timestamp", timestamp_ms)

    def to_proto(self) -> records_pb2.StartPosition:
        named = {
            "earliest": records_pb2.StartPosition.NAMED_EARLIEST,
            "latest": records_pb2.StartPosition.NAMED_LATEST,
            "committed": records_pb2.StartPosition.NAMED_COMMITTED,
        }
        if self.kind in named:
            return records_pb2.StartPosition(named=named[self.kind])
        if self.kind == "offset":
            return records_pb2.StartPosition(offset=self.value)
        if self.kind == "timestamp":
            return records_pb2.StartPosition(timestamp_ms=self.value)
        raise ValueError(f"unknown start position kind {self.kind!r}")


@dataclasses.dataclass(frozen=True)
class RecordMetadata:
    """Where a produced record was stored. ``offset`` is -1 for acks=NONE."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int


@dataclasses.dataclass(frozen=True)
class ConsumedRecord:
    """One record as read by a consumer.

    ``key`` is ``b""`` for keyless records. ``timestamp_ms`` follows the
    broker's rule: the batch's append time for LOG_APPEND_TIME topics and for
    records produced without a timestamp, else the producer's create time.
    """

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: List[Tuple[str, bytes]]
    timestamp_ms: int
    timestamp_type: int  # records_pb2.TimestampType


class TopicInfo(NamedTuple):
    name: str
    partitions: int
    replication_factor: int


class CommittedOffset(NamedTuple):
    topic: str
    partition: int
    offset: int  # -1: nothing committed
    metadata: str


class PartitionOffsets(NamedTuple):
    partition: int
    offset: int
    timestamp_ms: int
    log_start_offset: int
    high_watermark: int
