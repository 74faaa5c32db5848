from . import records_pb2 as _records_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssignmentStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSIGNMENT_STRATEGY_UNSPECIFIED: _ClassVar[AssignmentStrategy]
    ASSIGNMENT_STRATEGY_STICKY: _ClassVar[AssignmentStrategy]
    ASSIGNMENT_STRATEGY_RANGE: _ClassVar[AssignmentStrategy]
    ASSIGNMENT_STRATEGY_ROUND_ROBIN: _ClassVar[AssignmentStrategy]
ASSIGNMENT_STRATEGY_UNSPECIFIED: AssignmentStrategy
ASSIGNMENT_STRATEGY_STICKY: AssignmentStrategy
ASSIGNMENT_STRATEGY_RANGE: AssignmentStrategy
ASSIGNMENT_STRATEGY_ROUND_ROBIN: AssignmentStrategy

class ProduceRequest(_message.Message):
    __slots__ = ("request_id", "topic", "partition", "batch", "acks", "producer_id", "producer_epoch", "base_sequence")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    ACKS_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    BASE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    topic: str
    partition: int
    batch: _records_pb2.RecordBatch
    acks: _records_pb2.Acks
    producer_id: int
    producer_epoch: int
    base_sequence: int
    def __init__(self, request_id: _Optional[int] = ..., topic: _Optional[str] = ..., partition: _Optional[int] = ..., batch: _Optional[_Union[_records_pb2.RecordBatch, _Mapping]] = ..., acks: _Optional[_Union[_records_pb2.Acks, str]] = ..., producer_id: _Optional[int] = ..., producer_epoch: _Optional[int] = ..., base_sequence: _Optional[int] = ...) -> None: ...

class ProduceResponse(_message.Message):
    __slots__ = ("request_id", "partition", "base_offset", "log_append_time_ms", "record_count", "error", "duplicate")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    BASE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LOG_APPEND_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    partition: int
    base_offset: int
    log_append_time_ms: int
    record_count: int
    error: _records_pb2.Error
    duplicate: bool
    def __init__(self, request_id: _Optional[int] = ..., partition: _Optional[int] = ..., base_offset: _Optional[int] = ..., log_append_time_ms: _Optional[int] = ..., record_count: _Optional[int] = ..., error: _Optional[_Union[_records_pb2.Error, _Mapping]] = ..., duplicate: bool = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("start", "credit", "commit", "revoke_done", "seek", "heartbeat")
    START_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    REVOKE_DONE_FIELD_NUMBER: _ClassVar[int]
    SEEK_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    start: SubscribeStart
    credit: Credit
    commit: CommitRequest
    revoke_done: RevokeDone
    seek: Seek
    heartbeat: Heartbeat
    def __init__(self, start: _Optional[_Union[SubscribeStart, _Mapping]] = ..., credit: _Optional[_Union[Credit, _Mapping]] = ..., commit: _Optional[_Union[CommitRequest, _Mapping]] = ..., revoke_done: _Optional[_Union[RevokeDone, _Mapping]] = ..., seek: _Optional[_Union[Seek, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class SubscribeStart(_message.Message):
    __slots__ = ("partitions", "topics", "start", "credit", "max_response_bytes", "group", "instance_id", "client_id", "strategy", "session_timeout_ms", "reset", "topic_pattern")
    class PartitionStart(_message.Message):
        __slots__ = ("topic", "partition", "position")
        TOPIC_FIELD_NUMBER: _ClassVar[int]
        PARTITION_FIELD_NUMBER: _ClassVar[int]
        POSITION_FIELD_NUMBER: _ClassVar[int]
        topic: str
        partition: int
        position: _records_pb2.StartPosition
        def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., position: _Optional[_Union[_records_pb2.StartPosition, _Mapping]] = ...) -> None: ...
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    MAX_RESPONSE_BYTES_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SESSION_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    TOPIC_PATTERN_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedCompositeFieldContainer[SubscribeStart.PartitionStart]
    topics: _containers.RepeatedScalarFieldContainer[str]
    start: _records_pb2.StartPosition
    credit: Credit
    max_response_bytes: int
    group: str
    instance_id: str
    client_id: str
    strategy: AssignmentStrategy
    session_timeout_ms: int
    reset: _records_pb2.StartPosition.Named
    topic_pattern: str
    def __init__(self, partitions: _Optional[_Iterable[_Union[SubscribeStart.PartitionStart, _Mapping]]] = ..., topics: _Optional[_Iterable[str]] = ..., start: _Optional[_Union[_records_pb2.StartPosition, _Mapping]] = ..., credit: _Optional[_Union[Credit, _Mapping]] = ..., max_response_bytes: _Optional[int] = ..., group: _Optional[str] = ..., instance_id: _Optional[str] = ..., client_id: _Optional[str] = ..., strategy: _Optional[_Union[AssignmentStrategy, str]] = ..., session_timeout_ms: _Optional[int] = ..., reset: _Optional[_Union[_records_pb2.StartPosition.Named, str]] = ..., topic_pattern: _Optional[str] = ...) -> None: ...

class Credit(_message.Message):
    __slots__ = ("records", "bytes")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    records: int
    bytes: int
    def __init__(self, records: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ("request_id", "offsets")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    offsets: _containers.RepeatedCompositeFieldContainer[PartitionOffset]
    def __init__(self, request_id: _Optional[int] = ..., offsets: _Optional[_Iterable[_Union[PartitionOffset, _Mapping]]] = ...) -> None: ...

class RevokeDone(_message.Message):
    __slots__ = ("generation", "partitions")
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    generation: int
    partitions: _containers.RepeatedCompositeFieldContainer[_records_pb2.TopicPartition]
    def __init__(self, generation: _Optional[int] = ..., partitions: _Optional[_Iterable[_Union[_records_pb2.TopicPartition, _Mapping]]] = ...) -> None: ...

class Seek(_message.Message):
    __slots__ = ("topic", "partition", "position")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    position: _records_pb2.StartPosition
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., position: _Optional[_Union[_records_pb2.StartPosition, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("batches", "assignment", "revoke", "commit_result", "seek_result")
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    REVOKE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_RESULT_FIELD_NUMBER: _ClassVar[int]
    SEEK_RESULT_FIELD_NUMBER: _ClassVar[int]
    batches: RecordBatches
    assignment: Assignment
    revoke: Revoke
    commit_result: CommitResult
    seek_result: SeekResult
    def __init__(self, batches: _Optional[_Union[RecordBatches, _Mapping]] = ..., assignment: _Optional[_Union[Assignment, _Mapping]] = ..., revoke: _Optional[_Union[Revoke, _Mapping]] = ..., commit_result: _Optional[_Union[CommitResult, _Mapping]] = ..., seek_result: _Optional[_Union[SeekResult, _Mapping]] = ...) -> None: ...

class RecordBatches(_message.Message):
    __slots__ = ("batches",)
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    batches: _containers.RepeatedCompositeFieldContainer[_records_pb2.ConsumedBatch]
    def __init__(self, batches: _Optional[_Iterable[_Union[_records_pb2.ConsumedBatch, _Mapping]]] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("generation", "member_id", "partitions")
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    generation: int
    member_id: str
    partitions: _containers.RepeatedCompositeFieldContainer[_records_pb2.TopicPartition]
    def __init__(self, generation: _Optional[int] = ..., member_id: _Optional[str] = ..., partitions: _Optional[_Iterable[_Union[_records_pb2.TopicPartition, _Mapping]]] = ...) -> None: ...

class Revoke(_message.Message):
    __slots__ = ("generation", "partitions", "deadline_ms")
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    generation: int
    partitions: _containers.RepeatedCompositeFieldContainer[_records_pb2.TopicPartition]
    deadline_ms: int
    def __init__(self, generation: _Optional[int] = ..., partitions: _Optional[_Iterable[_Union[_records_pb2.TopicPartition, _Mapping]]] = ..., deadline_ms: _Optional[int] = ...) -> None: ...

class CommitResult(_message.Message):
    __slots__ = ("request_id", "results")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    results: _containers.RepeatedCompositeFieldContainer[PartitionResult]
    def __init__(self, request_id: _Optional[int] = ..., results: _Optional[_Iterable[_Union[PartitionResult, _Mapping]]] = ...) -> None: ...

class SeekResult(_message.Message):
    __slots__ = ("topic", "partition", "offset", "error")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    offset: int
    error: _records_pb2.Error
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., error: _Optional[_Union[_records_pb2.Error, _Mapping]] = ...) -> None: ...

class PartitionOffset(_message.Message):
    __slots__ = ("topic", "partition", "offset", "metadata")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    offset: int
    metadata: str
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., metadata: _Optional[str] = ...) -> None: ...

class PartitionResult(_message.Message):
    __slots__ = ("topic", "partition", "error")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    error: _records_pb2.Error
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., error: _Optional[_Union[_records_pb2.Error, _Mapping]] = ...) -> None: ...

class FetchRequest(_message.Message):
    __slots__ = ("topic", "partition", "offset", "max_bytes", "max_wait_ms")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    offset: int
    max_bytes: int
    max_wait_ms: int
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., max_bytes: _Optional[int] = ..., max_wait_ms: _Optional[int] = ...) -> None: ...

class FetchResponse(_message.Message):
    __slots__ = ("batches", "log_start_offset", "high_watermark")
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    LOG_START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    HIGH_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    batches: _containers.RepeatedCompositeFieldContainer[_records_pb2.ConsumedBatch]
    log_start_offset: int
    high_watermark: int
    def __init__(self, batches: _Optional[_Iterable[_Union[_records_pb2.ConsumedBatch, _Mapping]]] = ..., log_start_offset: _Optional[int] = ..., high_watermark: _Optional[int] = ...) -> None: ...

class ListOffsetsRequest(_message.Message):
    __slots__ = ("topic", "partitions", "position")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partitions: _containers.RepeatedScalarFieldContainer[int]
    position: _records_pb2.StartPosition
    def __init__(self, topic: _Optional[str] = ..., partitions: _Optional[_Iterable[int]] = ..., position: _Optional[_Union[_records_pb2.StartPosition, _Mapping]] = ...) -> None: ...

class ListOffsetsResponse(_message.Message):
    __slots__ = ("partitions",)
    class PartitionOffsets(_message.Message):
        __slots__ = ("partition", "offset", "timestamp_ms", "log_start_offset", "high_watermark")
        PARTITION_FIELD_NUMBER: _ClassVar[int]
        OFFSET_FIELD_NUMBER: _ClassVar[int]
        TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
        LOG_START_OFFSET_FIELD_NUMBER: _ClassVar[int]
        HIGH_WATERMARK_FIELD_NUMBER: _ClassVar[int]
        partition: int
        offset: int
        timestamp_ms: int
        log_start_offset: int
        high_watermark: int
        def __init__(self, partition: _Optional[int] = ..., offset: _Optional[int] = ..., timestamp_ms: _Optional[int] = ..., log_start_offset: _Optional[int] = ..., high_watermark: _Optional[int] = ...) -> None: ...
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedCompositeFieldContainer[ListOffsetsResponse.PartitionOffsets]
    def __init__(self, partitions: _Optional[_Iterable[_Union[ListOffsetsResponse.PartitionOffsets, _Mapping]]] = ...) -> None: ...

class CommitOffsetsRequest(_message.Message):
    __slots__ = ("group", "offsets", "generation", "member_id")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    group: str
    offsets: _containers.RepeatedCompositeFieldContainer[PartitionOffset]
    generation: int
    member_id: str
    def __init__(self, group: _Optional[str] = ..., offsets: _Optional[_Iterable[_Union[PartitionOffset, _Mapping]]] = ..., generation: _Optional[int] = ..., member_id: _Optional[str] = ...) -> None: ...

class CommitOffsetsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PartitionResult]
    def __init__(self, results: _Optional[_Iterable[_Union[PartitionResult, _Mapping]]] = ...) -> None: ...

class FetchCommittedOffsetsRequest(_message.Message):
    __slots__ = ("group", "partitions")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    group: str
    partitions: _containers.RepeatedCompositeFieldContainer[_records_pb2.TopicPartition]
    def __init__(self, group: _Optional[str] = ..., partitions: _Optional[_Iterable[_Union[_records_pb2.TopicPartition, _Mapping]]] = ...) -> None: ...

class FetchCommittedOffsetsResponse(_message.Message):
    __slots__ = ("offsets",)
    class Committed(_message.Message):
        __slots__ = ("topic", "partition", "offset", "metadata")
        TOPIC_FIELD_NUMBER: _ClassVar[int]
        PARTITION_FIELD_NUMBER: _ClassVar[int]
        OFFSET_FIELD_NUMBER: _ClassVar[int]
        METADATA_FIELD_NUMBER: _ClassVar[int]
        topic: str
        partition: int
        offset: int
        metadata: str
        def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., metadata: _Optional[str] = ...) -> None: ...
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    offsets: _containers.RepeatedCompositeFieldContainer[FetchCommittedOffsetsResponse.Committed]
    def __init__(self, offsets: _Optional[_Iterable[_Union[FetchCommittedOffsetsResponse.Committed, _Mapping]]] = ...) -> None: ...

class InitProducerRequest(_message.Message):
    __slots__ = ("transactional_id",)
    TRANSACTIONAL_ID_FIELD_NUMBER: _ClassVar[int]
    transactional_id: str
    def __init__(self, transactional_id: _Optional[str] = ...) -> None: ...

class InitProducerResponse(_message.Message):
    __slots__ = ("producer_id", "producer_epoch")
    PRODUCER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    producer_id: int
    producer_epoch: int
    def __init__(self, producer_id: _Optional[int] = ..., producer_epoch: _Optional[int] = ...) -> None: ...
