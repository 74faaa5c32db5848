"""Admin: topics, offsets and cluster metadata (blocking unary calls with a deadline)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, TypeVar

import grpc

from ._channel import DEFAULT_RPC_TIMEOUT_S, make_channel
from ._proto import admin_pb2, admin_pb2_grpc, broker_pb2, broker_pb2_grpc, records_pb2
from .errors import error_from_number, error_from_rpc
from .types import CommittedOffset, PartitionOffsets, StartPosition, TopicInfo, TopicPartition

T = TypeVar("T")

TopicConfigLike = Optional[Mapping[str, Any]]


def topic_config(config: TopicConfigLike) -> admin_pb2.TopicConfig:
    """Builds a TopicConfig from a dict such as ``{"retention_ms": 86_400_000}``.

    Keys: retention_ms, retention_bytes, max_message_bytes, timestamp_type
    ("create_time" / "log_append_time" or the enum value).
    """
    out = admin_pb2.TopicConfig()
    for key, value in (config or {}).items():
        if key == "timestamp_type" and isinstance(value, str):
            value = records_pb2.TimestampType.Value("TIMESTAMP_TYPE_" + value.upper())
        if key not in ("retention_ms", "retention_bytes", "max_message_bytes", "timestamp_type"):
            raise ValueError(f"unknown topic config {key!r}")
        setattr(out, key, value)
    return out


class Admin:
    """Control-plane client. Thread-safe; every call has a deadline.

    >>> with Admin("localhost:7420") as admin:
    ...     admin.create_topic("orders", partitions=6)
    """

    def __init__(
        self,
        target: str,
        *,
        rpc_timeout_s: float = DEFAULT_RPC_TIMEOUT_S,
        channel: Optional[grpc.Channel] = None,
    ) -> None:
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else make_channel(target)
        self._admin = admin_pb2_grpc.AdminStub(self._channel)
        self._broker = broker_pb2_grpc.BrokerStub(self._channel)
        self._timeout_s = rpc_timeout_s

    def _call(self, method: Callable[..., T], request: Any) -> T:
        # wait_for_ready: a call made while the channel is (re)connecting, e.g.
        # right after a broker restart, waits for it within its deadline
        # instead of failing at once with UNAVAILABLE.
        try:
            return method(request, timeout=self._timeout_s, wait_for_ready=True)
        except grpc.RpcError as err:
            raise error_from_rpc(err) from None

    # Topics -----------------------------------------------------------------

    def create_topic(
        self,
        name: str,
        partitions: int = 0,
        replication_factor: int = 0,
        config: TopicConfigLike = None,
    ) -> admin_pb2.TopicDescription:
        """Creates a topic (0 = broker default) and returns its description."""
        request = admin_pb2.CreateTopicRequest(
            name=name,
            partitions=partitions,
            replication_factor=replication_factor,
            config=topic_config(config),
        )
        return self._call(self._admin.CreateTopic, request).topic

    def delete_topic(self, name: str) -> None:
        self._call(self._admin.DeleteTopic, admin_pb2.DeleteTopicRequest(name=name))

    def list_topics(self) -> List[TopicInfo]:
        response = self._call(self._admin.ListTopics, admin_pb2.ListTopicsRequest())
        return [TopicInfo(t.name, t.partitions, t.replication_factor) for t in response.topics]

    def describe_topic(self, name: str) -> admin_pb2.TopicDescription:
        request = admin_pb2.DescribeTopicRequest(name=name)
        return self._call(self._admin.DescribeTopic, request).topic

    def alter_topic_config(self, name: str, config: Mapping[str, Any]) -> admin_pb2.TopicConfig:
        """Changes only the given settings; returns the effective configuration."""
        request = admin_pb2.AlterTopicConfigRequest(name=name, config=topic_config(config))
        return self._call(self._admin.AlterTopicConfig, request).config

    def create_partitions(self, name: str, total_partitions: int) -> admin_pb2.TopicDescription:
        """Grows the topic to ``total_partitions`` (must exceed the current count)."""
        request = admin_pb2.CreatePartitionsRequest(name=name, total_partitions=total_partitions)
        return self._call(self._admin.CreatePartitions, request).topic

    # Cluster and groups -----------------------------------------------------

    def describe_cluster(self) -> admin_pb2.DescribeClusterResponse:
        return self._call(self._admin.DescribeCluster, admin_pb2.DescribeClusterRequest())

    def list_groups(self) -> List[admin_pb2.ListGroupsResponse.Group]:
        return list(self._call(self._admin.ListGroups, admin_pb2.ListGroupsRequest()).groups)

    def describe_group(self, group: str) -> admin_pb2.DescribeGroupResponse:
        return self._call(self._admin.DescribeGroup, admin_pb2.DescribeGroupRequest(group=group))

    def delete_group(self, group: str) -> None:
        self._call(self._admin.DeleteGroup, admin_pb2.DeleteGroupRequest(group=group))

    # Offsets ----------------------------------------------------------------

    def list_offsets(
        self,
        topic: str,
        position: StartPosition = StartPosition.latest(),
        partitions: Sequence[int] = (),
    ) -> Dict[int, PartitionOffsets]:
        """Offsets of ``position`` (earliest, latest or timestamp) per partition."""
        request = broker_pb2.ListOffsetsRequest(
            topic=topic, partitions=list(partitions), position=position.to_proto()
        )
        response = self._call(self._broker.ListOffsets, request)
        return {
            p.partition: PartitionOffsets(
                p.partition, p.offset, p.timestamp_ms, p.log_start_offset, p.high_watermark
            )
            for p in response.partitions
        }

    def commit_offsets(
        self,
        group: str,
        offsets: Mapping[TopicPartition, int],
        *,
        metadata: str = "",
        generation: int = 0,
        member_id: str = "",
    ) -> None:
        """Commits ``offsets`` (the next offset to read, Kafka convention).

        Raises the first partition's in-band error, if any.
        """
        request = broker_pb2.CommitOffsetsRequest(
            group=group,
            offsets=[
                broker_pb2.PartitionOffset(
                    topic=tp.topic, partition=tp.partition, offset=off, metadata=metadata
                )
                for tp, off in offsets.items()
            ],
            generation=generation,
            member_id=member_id,
        )
        response = self._call(self._broker.CommitOffsets, request)
        for result in response.results:
            if result.HasField("error") and result.error.code != 0:
                raise error_from_number(
                    result.error.code,
                    f"{result.topic}/{result.partition}: {result.error.message}",
                )

    def fetch_committed_offsets(
        self, group: str, partitions: Iterable[TopicPartition] = ()
    ) -> Dict[TopicPartition, CommittedOffset]:
        """Committed offsets of ``group`` (all partitions with one when empty)."""
        request = broker_pb2.FetchCommittedOffsetsRequest(
            group=group,
            partitions=[
                records_pb2.TopicPartition(topic=tp.topic, partition=tp.partition)
                for tp in partitions
            ],
        )
        response = self._call(self._broker.FetchCommittedOffsets, request)
        return {
            TopicPartition(c.topic, c.partition): CommittedOffset(
                c.topic, c.partition, c.offset, c.metadata
            )
            for c in response.offsets
        }

    def reset_group_offsets(
        self,
        group: str,
        topic: str,
        position: StartPosition,
        partitions: Sequence[int] = (),
        dry_run: bool = False,
    ) -> admin_pb2.ResetGroupOffsetsResponse:
        request = admin_pb2.ResetGroupOffsetsRequest(
            group=group,
            topic=topic,
            partitions=list(partitions),
            position=position.to_proto(),
            dry_run=dry_run,
        )
        return self._call(self._admin.ResetGroupOffsets, request)

    def close(self) -> None:
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> "Admin":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
