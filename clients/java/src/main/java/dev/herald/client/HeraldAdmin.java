package dev.herald.client;

import dev.herald.v1.AdminGrpc;
import dev.herald.v1.AlterTopicConfigRequest;
import dev.herald.v1.BrokerGrpc;
import dev.herald.v1.CommitOffsetsRequest;
import dev.herald.v1.CreatePartitionsRequest;
import dev.herald.v1.CreateTopicRequest;
import dev.herald.v1.DeleteGroupRequest;
import dev.herald.v1.DeleteTopicRequest;
import dev.herald.v1.DescribeClusterRequest;
import dev.herald.v1.DescribeClusterResponse;
import dev.herald.v1.DescribeGroupRequest;
import dev.herald.v1.DescribeGroupResponse;
import dev.herald.v1.DescribeTopicRequest;
import dev.herald.v1.FetchCommittedOffsetsRequest;
import dev.herald.v1.ListGroupsRequest;
import dev.herald.v1.ListGroupsResponse;
import dev.herald.v1.ListOffsetsRequest;
import dev.herald.v1.ListOffsetsResponse;
import dev.herald.v1.ListTopicsRequest;
import dev.herald.v1.ListTopicsResponse;
import dev.herald.v1.PartitionOffset;
import dev.herald.v1.PartitionResult;
import dev.herald.v1.ResetGroupOffsetsRequest;
import dev.herald.v1.ResetGroupOffsetsResponse;
import dev.herald.v1.TopicConfig;
import dev.herald.v1.TopicDescription;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Topic, offset, group and cluster administration. Every call is a unary RPC bounded by the
 * admin's RPC timeout (10 s by default) and throws {@link HeraldException} on failure. Thread
 * safe.
 *
 * <pre>{@code
 * try (HeraldAdmin admin = HeraldAdmin.create("127.0.0.1:7070")) {
 *   admin.createTopic("orders", 6);
 * }
 * }</pre>
 */
public final class HeraldAdmin implements AutoCloseable {
  /** Default deadline of each unary call. */
  public static final Duration DEFAULT_RPC_TIMEOUT = Duration.ofSeconds(10);

  private final ManagedChannel channel;
  private final boolean ownsChannel;
  private final Duration rpcTimeout;
  private final AdminGrpc.AdminBlockingStub admin;
  private final BrokerGrpc.BrokerBlockingStub broker;

  private HeraldAdmin(ManagedChannel channel, boolean ownsChannel, Duration rpcTimeout) {
    this.channel = channel;
    this.ownsChannel = ownsChannel;
    this.rpcTimeout = rpcTimeout;
    this.admin = AdminGrpc.newBlockingStub(channel);
    this.broker = BrokerGrpc.newBlockingStub(channel);
  }

  /** Connects to {@code target} (host:port); {@link #close()} closes the connection. */
  public static HeraldAdmin create(String target) {
    return new HeraldAdmin(Channels.open(target), true, DEFAULT_RPC_TIMEOUT);
  }

  /** Uses an existing channel, which {@link #close()} leaves open. */
  public static HeraldAdmin create(ManagedChannel channel, Duration rpcTimeout) {
    return new HeraldAdmin(channel, false, rpcTimeout);
  }

  private AdminGrpc.AdminBlockingStub a() {
    return admin.withDeadlineAfter(rpcTimeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  private BrokerGrpc.BrokerBlockingStub b() {
    return broker.withDeadlineAfter(rpcTimeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  private static <T> T call(Supplier<T> rpc) {
    try {
      return rpc.get();
    } catch (StatusRuntimeException e) {
      throw HeraldException.from(e);
    }
  }

  /** Creates a topic with broker-default replication and config. */
  public TopicDescription createTopic(String name, int partitions) {
    return createTopic(name, partitions, 0, null);
  }

  /** Creates a topic; {@code config} may be null (broker defaults). */
  public TopicDescription createTopic(
      String name, int partitions, int replicationFactor, TopicConfig config) {
    var req = CreateTopicRequest.newBuilder().setName(name).setPartitions(partitions)
        .setReplicationFactor(replicationFactor);
    if (config != null) {
      req.setConfig(config);
    }
    return call(() -> a().createTopic(req.build()).getTopic());
  }

  /** Deletes a topic and its data. */
  public void deleteTopic(String name) {
    call(() -> a().deleteTopic(DeleteTopicRequest.newBuilder().setName(name).build()));
  }

  /** Lists every topic. */
  public List<ListTopicsResponse.Topic> listTopics() {
    return call(() -> a().listTopics(ListTopicsRequest.getDefaultInstance()).getTopicsList());
  }

  /** Describes a topic (partitions, offsets, effective config); NOT_FOUND if missing. */
  public TopicDescription describeTopic(String name) {
    return call(() -> a().describeTopic(
        DescribeTopicRequest.newBuilder().setName(name).build()).getTopic());
  }

  /** Changes only the config fields set in {@code config}; returns the effective config. */
  public TopicConfig alterTopicConfig(String name, TopicConfig config) {
    return call(() -> a().alterTopicConfig(AlterTopicConfigRequest.newBuilder().setName(name)
        .setConfig(config).build()).getConfig());
  }

  /** Grows a topic to {@code totalPartitions} (must exceed the current count). */
  public TopicDescription createPartitions(String name, int totalPartitions) {
    return call(() -> a().createPartitions(CreatePartitionsRequest.newBuilder().setName(name)
        .setTotalPartitions(totalPartitions).build()).getTopic());
  }

  /** Cluster id, brokers and version. */
  public DescribeClusterResponse describeCluster() {
    return call(() -> a().describeCluster(DescribeClusterRequest.getDefaultInstance()));
  }

  /**
   * Offsets of a topic's partitions (all when {@code partitions} is empty) at a position: the
   * earliest, latest, or first offset at/after a timestamp. Keyed by partition.
   */
  public Map<Integer, ListOffsetsResponse.PartitionOffsets> listOffsets(
      String topic, StartPosition position, Integer... partitions) {
    var req = ListOffsetsRequest.newBuilder().setTopic(topic).setPosition(position.toProto())
        .addAllPartitions(List.of(partitions)).build();
    Map<Integer, ListOffsetsResponse.PartitionOffsets> out = new HashMap<>();
    for (var p : call(() -> b().listOffsets(req)).getPartitionsList()) {
      out.put(p.getPartition(), p);
    }
    return out;
  }

  /** Lists consumer groups. */
  public List<ListGroupsResponse.Group> listGroups() {
    return call(() -> a().listGroups(ListGroupsRequest.getDefaultInstance()).getGroupsList());
  }

  /** Describes a group: state, generation, members and per-partition lag. */
  public DescribeGroupResponse describeGroup(String group) {
    return call(() -> a().describeGroup(DescribeGroupRequest.newBuilder().setGroup(group).build()));
  }

  /** Deletes a group and its committed offsets (refused while it has members). */
  public void deleteGroup(String group) {
    call(() -> a().deleteGroup(DeleteGroupRequest.newBuilder().setGroup(group).build()));
  }

  /**
   * Moves a group's committed offsets on {@code topic} (all partitions when {@code partitions}
   * is empty) to {@code position}; only while the group has no members.
   */
  public List<ResetGroupOffsetsResponse.Reset> resetGroupOffsets(
      String group, String topic, StartPosition position, boolean dryRun, Integer... partitions) {
    var req = ResetGroupOffsetsRequest.newBuilder().setGroup(group).setTopic(topic)
        .setPosition(position.toProto()).setDryRun(dryRun).addAllPartitions(List.of(partitions));
    return call(() -> a().resetGroupOffsets(req.build()).getOffsetsList());
  }

  /** Shifts a group's committed offsets by {@code shiftBy} records (clamped to the log). */
  public List<ResetGroupOffsetsResponse.Reset> shiftGroupOffsets(
      String group, String topic, long shiftBy, boolean dryRun, Integer... partitions) {
    var req = ResetGroupOffsetsRequest.newBuilder().setGroup(group).setTopic(topic)
        .setShiftBy(shiftBy).setDryRun(dryRun).addAllPartitions(List.of(partitions));
    return call(() -> a().resetGroupOffsets(req.build()).getOffsetsList());
  }

  /**
   * Commits offsets (the next offset to read) for a group. Members pass their generation and
   * member id; standalone commits pass 0 and "". A stale generation or a partition the member does
   * not own fails with ABORTED; per-partition in-band errors are thrown as well.
   */
  public void commitOffsets(
      String group, Map<TopicPartition, Long> offsets, long generation, String memberId) {
    var req = CommitOffsetsRequest.newBuilder().setGroup(group).setGeneration(generation)
        .setMemberId(memberId == null ? "" : memberId);
    offsets.forEach((tp, off) -> req.addOffsets(PartitionOffset.newBuilder()
        .setTopic(tp.topic()).setPartition(tp.partition()).setOffset(off)));
    for (PartitionResult r : call(() -> b().commitOffsets(req.build())).getResultsList()) {
      if (r.hasError() && r.getError().getCode() != 0) {
        throw HeraldException.fromInBand(r.getError());
      }
    }
  }

  /**
   * A group's committed offsets for {@code partitions} (all committed ones when empty); -1 where
   * nothing is committed.
   */
  public Map<TopicPartition, Long> fetchCommittedOffsets(
      String group, Collection<TopicPartition> partitions) {
    var req = FetchCommittedOffsetsRequest.newBuilder().setGroup(group);
    partitions.forEach(tp -> req.addPartitions(tp.toProto()));
    Map<TopicPartition, Long> out = new HashMap<>();
    for (var c : call(() -> b().fetchCommittedOffsets(req.build())).getOffsetsList()) {
      out.put(new TopicPartition(c.getTopic(), c.getPartition()), c.getOffset());
    }
    return out;
  }

  /** Closes the connection if this admin opened it. */
  @Override
  public void close() {
    if (ownsChannel) {
      Channels.close(channel);
    }
  }
}
