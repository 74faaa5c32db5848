import { Metadata } from '@grpc/grpc-js';
import {
  AdminClient,
  type DescribeClusterResponse,
  type DescribeGroupResponse,
  type ListGroupsResponse_Group,
  type ListTopicsResponse_Topic,
  type ResetGroupOffsetsResponse_Reset,
  type TopicConfig,
  type TopicDescription,
} from './gen/herald/v1/admin.js';
import { BrokerClient, type FetchCommittedOffsetsResponse_Committed, type ListOffsetsResponse_PartitionOffsets } from './gen/herald/v1/broker.js';
import { connect, DEFAULT_RPC_TIMEOUT_MS, unary, type Clients, type ConnectionOptions } from './connection.js';
import { HeraldError, inBandError } from './errors.js';
import { toPbPosition, type StartPosition, type TopicPartition } from './types.js';

export type { DescribeClusterResponse, DescribeGroupResponse, TopicConfig, TopicDescription };
export type { ListGroupsResponse_Group as GroupListing, ListTopicsResponse_Topic as TopicListing };
export type { ResetGroupOffsetsResponse_Reset as OffsetReset, ListOffsetsResponse_PartitionOffsets as PartitionOffsets };
export type { FetchCommittedOffsetsResponse_Committed as CommittedOffset };

/** Options of {@link Admin.createTopic}. */
export interface CreateTopicOptions {
  /** 0/unset: the broker default. */
  partitions?: number;
  replicationFactor?: number;
  config?: TopicConfig;
}

/** Target of {@link Admin.resetGroupOffsets}: a position, or a relative shift. */
export type ResetTarget = StartPosition | { shiftBy: number };

/**
 * The control plane: topics, groups and cluster metadata. Every call has a
 * deadline (`rpcTimeoutMs`, default 10 s) and rejects with a {@link HeraldError}.
 */
export class Admin {
  private readonly clients: Clients;
  private readonly ownsClients: boolean;
  private readonly timeoutMs: number;
  private readonly md = new Metadata();

  /** Connects to `target` ("host:port"). */
  constructor(target: string, opts: ConnectionOptions = {}, clients?: Clients) {
    this.clients = clients ?? connect(target, opts);
    this.ownsClients = clients === undefined;
    this.timeoutMs = opts.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  }

  private call<Req, Res>(client: 'admin' | 'broker', method: string, req: Req): Promise<Res> {
    const c = this.clients[client] as unknown as Record<string, never>;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return unary<Req, Res>(c, c[method] as any, req, this.timeoutMs, this.md);
  }

  /** Creates a topic; INVALID_ARGUMENT for a bad name, ALREADY_EXISTS if present. */
  async createTopic(name: string, opts: CreateTopicOptions = {}): Promise<TopicDescription> {
    const res = await this.call<unknown, { topic?: TopicDescription }>('admin', 'createTopic', {
      name, partitions: opts.partitions ?? 0, replicationFactor: opts.replicationFactor ?? 0, config: opts.config,
    });
    return res.topic!;
  }

  /** Deletes a topic and its data. */
  async deleteTopic(name: string): Promise<void> {
    await this.call('admin', 'deleteTopic', { name });
  }

  /** Lists every topic with its partition count. */
  async listTopics(): Promise<ListTopicsResponse_Topic[]> {
    return (await this.call<unknown, { topics: ListTopicsResponse_Topic[] }>('admin', 'listTopics', {})).topics;
  }

  /** Describes a topic: effective config and per-partition offsets; NOT_FOUND if missing. */
  async describeTopic(name: string): Promise<TopicDescription> {
    return (await this.call<unknown, { topic?: TopicDescription }>('admin', 'describeTopic', { name })).topic!;
  }

  /** Changes only the config fields set in `config`; returns the effective config. */
  async alterTopicConfig(name: string, config: TopicConfig): Promise<TopicConfig> {
    return (await this.call<unknown, { config?: TopicConfig }>('admin', 'alterTopicConfig', { name, config })).config!;
  }

  /** Grows a topic to `totalPartitions` (must exceed the current count). */
  async createPartitions(name: string, totalPartitions: number): Promise<TopicDescription> {
    return (await this.call<unknown, { topic?: TopicDescription }>('admin', 'createPartitions', { name, totalPartitions })).topic!;
  }

  /**
   * Offsets of a topic's partitions at `position` (earliest, latest or a
   * timestamp), with log start and high watermark. `partitions` empty: all.
   */
  async listOffsets(topic: string, position: StartPosition = 'latest', partitions: number[] = []): Promise<ListOffsetsResponse_PartitionOffsets[]> {
    const res = await this.call<unknown, { partitions: ListOffsetsResponse_PartitionOffsets[] }>('broker', 'listOffsets', {
      topic, partitions, position: toPbPosition(position),
    });
    return res.partitions;
  }

  /** Cluster id, controller, brokers and server version. */
  describeCluster(): Promise<DescribeClusterResponse> {
    return this.call('admin', 'describeCluster', {});
  }

  /** Lists consumer groups with state and member count. */
  async listGroups(): Promise<ListGroupsResponse_Group[]> {
    return (await this.call<unknown, { groups: ListGroupsResponse_Group[] }>('admin', 'listGroups', {})).groups;
  }

  /** Members, assignment and per-partition lag of a group. */
  describeGroup(group: string): Promise<DescribeGroupResponse> {
    return this.call('admin', 'describeGroup', { group });
  }

  /** Deletes a group and its committed offsets (refused while it has members). */
  async deleteGroup(group: string): Promise<void> {
    await this.call('admin', 'deleteGroup', { group });
  }

  /** Moves a member-less group's committed offsets (or computes them with `dryRun`). */
  async resetGroupOffsets(group: string, topic: string, to: ResetTarget,
    opts: { partitions?: number[]; dryRun?: boolean } = {}): Promise<ResetGroupOffsetsResponse_Reset[]> {
    const target = typeof to === 'object' && 'shiftBy' in to ? { shiftBy: to.shiftBy } : { position: toPbPosition(to) };
    const res = await this.call<unknown, { offsets: ResetGroupOffsetsResponse_Reset[] }>('admin', 'resetGroupOffsets', {
      group, topic, partitions: opts.partitions ?? [], dryRun: opts.dryRun ?? false, ...target,
    });
    return res.offsets;
  }

  /**
   * Commits offsets for a group outside a group stream (standalone commits,
   * or with `generation`/`memberId` as a member). Rejects with the first
   * partition's in-band error (e.g. ABORTED for a stale generation).
   */
  async commitOffsets(group: string, offsets: (TopicPartition & { offset: number; metadata?: string })[],
    member: { generation: number; memberId: string } = { generation: 0, memberId: '' }): Promise<void> {
    const res = await this.call<unknown, { results: { topic: string; partition: number; error?: { code: number; message: string } }[] }>(
      'broker', 'commitOffsets', {
        group, generation: member.generation, memberId: member.memberId,
        offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, metadata: o.metadata ?? '' })),
      });
    for (const r of res.results) {
      const err = inBandError(r.error);
      if (err) throw new HeraldError(err.code, `commit ${r.topic}/${r.partition}: ${err.message}`);
    }
  }

  /** A group's committed offsets (offset -1: none). `partitions` empty: all committed. */
  async fetchCommittedOffsets(group: string, partitions: TopicPartition[] = []): Promise<FetchCommittedOffsetsResponse_Committed[]> {
    const res = await this.call<unknown, { offsets: FetchCommittedOffsetsResponse_Committed[] }>('broker', 'fetchCommittedOffsets', { group, partitions });
    return res.offsets;
  }

  /** Closes the connection (if this Admin opened it). */
  close(): void {
    if (this.ownsClients) this.clients.close();
  }
}

// Re-exported for users who want the raw generated clients.
export { AdminClient, BrokerClient };
