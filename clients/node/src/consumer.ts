import { Metadata, status, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  AssignmentStrategy,
  SubscribeStart,
  type SubscribeRequest,
  type SubscribeResponse,
} from './gen/herald/v1/broker.js';
import { RecordBatch, StartPosition_Named, type ConsumedBatch } from './gen/herald/v1/records.js';
import { Admin } from './admin.js';
import { connect, DEFAULT_RPC_TIMEOUT_MS, type Clients, type ConnectionOptions } from './connection.js';
import { HeraldError, inBandError, toHeraldError } from './errors.js';
import { toPbPosition, tpKey, type ConsumedRecord, type StartPosition, type TopicPartition } from './types.js';

export { AssignmentStrategy };

/** Consumer settings; every field is optional. */
export interface ConsumerOptions extends ConnectionOptions {
  /** Group to join with {@link Consumer.subscribe}, or to commit to for explicit partitions. */
  group?: string;
  /** Static membership id: reconnecting within the session timeout keeps the assignment. */
  instanceId?: string;
  clientId?: string;
  strategy?: AssignmentStrategy;
  sessionTimeoutMs?: number;
  /** Called with newly assigned partitions (groups). May be async. */
  onAssign?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Called with revoked partitions before they are committed and released. May be async. */
  onRevoke?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Commit processed positions every `autoCommitIntervalMs` and on revoke/close (default true with a group). */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  /** Bound of the local buffer, also the credit granted to the broker (default 10000 records / 16 MiB). */
  maxBufferedRecords?: number;
  maxBufferedBytes?: number;
  /** Reconnect backoff (default 100 ms doubling to 2 s) and attempts before giving up (default 100). */
  reconnectBackoffMs?: number;
  reconnectBackoffMaxMs?: number;
  maxReconnectAttempts?: number;
  /** Heartbeat while otherwise silent (default 3000 ms). */
  heartbeatIntervalMs?: number;
}

/** What {@link Consumer.subscribe} reads. */
export interface SubscribeOptions {
  /** Topics to read (every partition of each). */
  topics: string[];
  /** Where to start without a committed offset (default 'earliest' for groups, 'latest' otherwise). */
  start?: 'earliest' | 'latest';
}

/** One explicit partition for {@link Consumer.assign}. */
export interface PartitionAssignment extends TopicPartition {
  /** Default 'latest'. */
  position?: StartPosition;
}

// Credit is charged per batch as its encoded size plus the stored header: an
// upper bound of the broker's measure, so the client never believes the
// broker holds more credit than it does (which would stall the stream).
const BATCH_OVERHEAD_BYTES = 64;

interface PartState {
  tp: TopicPartition;
  start: StartPosition;
  /** Next offset to buffer; -1 unknown (take what comes); -2 seeking (drop until SeekResult). */
  fetch: number;
  /** Next offset the application has not processed yet; -1 unknown. */
  position: number;
  /** Started at a timestamp: until the first record is known, records before it are skipped. */
  minTimestampMs?: number;
}

interface Chunk {
  key: string;
  records: ConsumedRecord[];
  next: number;
  creditRecords: number;
  creditBytes: number;
}

interface Stream {
  call: ClientDuplexStream<SubscribeRequest, SubscribeResponse>;
  gotData: boolean;
}

/**
 * Reads records with a credit-based Subscribe stream: the broker sends only
 * what the bounded local buffer can hold (plus at most one batch), and credit
 * is granted back as the application consumes.
 *
 * Use {@link Consumer.subscribe} to join a group (cooperative rebalancing:
 * `onAssign`/`onRevoke`, commit on revoke, then RevokeDone) or read whole
 * topics, or {@link Consumer.assign} for explicit partitions from a position.
 * Read with `for await (const rec of consumer)`. A record counts as processed
 * when the loop asks for the next one; commits cover processed records only
 * (at-least-once). Explicit partitions resume at their cursors after a
 * reconnect (no gap, no duplicate); groups resume at the committed offsets.
 */
export class Consumer implements AsyncIterable<ConsumedRecord> {
  private readonly opts: ConsumerOptions & Required<Pick<ConsumerOptions,
    'autoCommitIntervalMs' | 'maxBufferedRecords' | 'maxBufferedBytes' | 'reconnectBackoffMs' |
    'reconnectBackoffMaxMs' | 'maxReconnectAttempts' | 'heartbeatIntervalMs' | 'rpcTimeoutMs'>>;
  private readonly clients: Clients;
  private readonly ownsClients: boolean;
  private readonly md = new Metadata();
  /** Admin on the same connection. */
  readonly admin: Admin;

  private readonly parts = new Map<string, PartState>();
  private groupStart: { topics: string[]; reset: StartPosition_Named } | undefined;
  private generationValue = 0;
  private memberIdValue = '';
  private buffer: Chunk[] = [];
  private returnRecords = 0;
  private returnBytes = 0;
  private stream: Stream | undefined;
  private failures = 0;
  private backoff: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastSent = 0;
  private fatal: HeraldError | undefined;
  private closed = false;
  private inProgress: ConsumedRecord | undefined;
  private waiter: (() => void) | undefined;
  private nextCommitId = 0;
  private readonly commits = new Map<number, { resolve(): void; reject(e: HeraldError): void }>();
  private readonly seeks = new Map<string, { resolve(offset: number): void; reject(e: HeraldError): void }[]>();
  private eventChain: Promise<void> = Promise.resolve();

  /** Connects to `target` ("host:port"); nothing is read before subscribe() or assign(). */
  constructor(target: string, opts: ConsumerOptions = {}, clients?: Clients) {
    this.clients = clients ?? connect(target, opts);
    this.ownsClients = clients === undefined;
    this.opts = {
      ...opts,
      autoCommitIntervalMs: opts.autoCommitIntervalMs ?? 5_000,
      maxBufferedRecords: opts.maxBufferedRecords ?? 10_000,
      maxBufferedBytes: opts.maxBufferedBytes ?? 16 << 20,
      reconnectBackoffMs: opts.reconnectBackoffMs ?? 100,
      reconnectBackoffMaxMs: opts.reconnectBackoffMaxMs ?? 2_000,
      maxReconnectAttempts: opts.maxReconnectAttempts ?? 100,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? Math.min(3_000, (opts.sessionTimeoutMs || 45_000) / 3),
      rpcTimeoutMs: opts.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
    };
    this.backoff = this.opts.reconnectBackoffMs;
    this.admin = new Admin(target, opts, this.clients);
  }

  /** The group generation of the current assignment (0 outside groups). */
  get generation(): number { return this.generationValue; }
  /** This member's id in the group ('' outside groups). */
  get memberId(): string { return this.memberIdValue; }

  /** The partitions this consumer currently reads. */
  assignment(): TopicPartition[] {
    return [...this.parts.values()].map((p) => ({ ...p.tp }));
  }

  /** The next offset to process per partition (-1 unknown). */
  positions(): (TopicPartition & { offset: number })[] {
    return [...this.parts.values()].map((p) => ({ ...p.tp, offset: p.position }));
  }

  /**
   * Joins `opts.group` for `topics` (the coordinator assigns partitions), or
   * without a group reads every partition of each topic from `start`.
   */
  async subscribe(sub: SubscribeOptions): Promise<void> {
    this.checkNotStarted();
    if (this.opts.group) {
      const reset = (sub.start ?? 'earliest') === 'earliest' ? StartPosition_Named.NAMED_EARLIEST : StartPosition_Named.NAMED_LATEST;
      this.groupStart = { topics: [...sub.topics], reset };
    } else {
      // Resolved to explicit partitions so each resumes at its own cursor after a reconnect.
      for (const topic of sub.topics) {
        const desc = await this.admin.describeTopic(topic);
        for (const p of desc.partitions) this.addPart({ topic, partition: p.partition }, sub.start ?? 'latest');
      }
    }
    this.startStream();
  }

  /** Reads explicit partitions, each from its position (default 'latest'). */
  assign(partitions: PartitionAssignment[]): void {
    this.checkNotStarted();
    for (const p of partitions) this.addPart({ topic: p.topic, partition: p.partition }, p.position ?? 'latest');
    this.startStream();
  }

  /**
   * Moves a partition to `position`; records before the target are never
   * delivered. Resolves with the offset reading resumes at.
   */
  seek(tp: TopicPartition, position: StartPosition): Promise<number> {
    const part = this.parts.get(tpKey(tp.topic, tp.partition));
    if (!part) return Promise.reject(new HeraldError(status.FAILED_PRECONDITION, `${tp.topic}/${tp.partition} is not assigned`));
    this.purge(part.tp);
    part.fetch = -2;
    part.position = -1; // a reconnect before the SeekResult restarts at the target
    part.start = position;
    return new Promise((resolve, reject) => {
      const key = tpKey(tp.topic, tp.partition);
      const list = this.seeks.get(key) ?? [];
      list.push({ resolve, reject });
      this.seeks.set(key, list);
      this.write({ seek: { topic: tp.topic, partition: tp.partition, position: toPbPosition(position) } });
    });
  }

  /**
   * Commits processed positions (or the given offsets: the next offset to
   * read) for the group: on the group stream as a member, else standalone
   * with CommitOffsets. Rejects with the first partition's error (ABORTED:
   * stale generation or not owned).
   */
  async commit(offsets?: (TopicPartition & { offset: number })[]): Promise<void> {
    const group = this.opts.group;
    if (!group) throw new HeraldError(status.FAILED_PRECONDITION, 'commit needs a group (ConsumerOptions.group)');
    const list = offsets ?? this.positions().filter((p) => p.offset >= 0);
    if (list.length === 0) return;
    if (!this.groupStart) {
      await this.admin.commitOffsets(group, list);
      return;
    }
    if (!this.stream) throw new HeraldError(status.UNAVAILABLE, 'not connected');
    const requestId = ++this.nextCommitId;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.commits.delete(requestId);
        reject(new HeraldError(status.DEADLINE_EXCEEDED, 'commit not answered'));
      }, this.opts.rpcTimeoutMs);
      this.commits.set(requestId, {
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.write({ commit: { requestId, offsets: list.map((o) => ({ ...o, metadata: '' })) } });
    });
  }

  /** Async iteration over records; ends when the consumer is closed, throws a fatal HeraldError. */
  [Symbol.asyncIterator](): AsyncIterator<ConsumedRecord> {
    return { next: () => this.next(), return: async () => ({ done: true, value: undefined }) };
  }

  /** The next record (waiting for one), or done after close(). */
  async next(): Promise<IteratorResult<ConsumedRecord>> {
    this.markProcessed();
    for (;;) {
      if (this.fatal) throw this.fatal;
      if (this.closed) return { done: true, value: undefined };
      const rec = this.take();
      if (rec) {
        this.inProgress = rec;
        return { done: false, value: rec };
      }
      await new Promise<void>((resolve) => { this.waiter = resolve; });
    }
  }

  /**
   * Leaves the group (committing processed positions first when auto-commit
   * is on), ends the stream and closes the connection if owned.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.markProcessed();
    if (this.groupStart && this.autoCommit() && this.stream && this.memberIdValue) {
      await this.commit().catch(() => {}); // best effort: the next owner re-reads the uncommitted tail
    }
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.commitTimer);
    clearInterval(this.heartbeatTimer);
    const s = this.stream;
    this.stream = undefined;
    if (s) {
      s.call.end();
      s.call.cancel();
    }
    this.wake();
    if (this.ownsClients) this.clients.close();
  }

  // ---- internals ----

  private autoCommit(): boolean {
    return this.opts.autoCommit ?? this.opts.group !== undefined;
  }

  private checkNotStarted(): void {
    if (this.groupStart || this.parts.size > 0) throw new HeraldError(status.FAILED_PRECONDITION, 'already subscribed');
    if (this.closed) throw new HeraldError(status.CANCELLED, 'consumer is closed');
  }

  /** Where buffering resumes for a start position: batches are served whole and may begin earlier. */
  private setCursor(p: PartState, pos: StartPosition): void {
    p.fetch = typeof pos === 'object' && 'offset' in pos ? pos.offset : -1;
    p.minTimestampMs = typeof pos === 'object' && 'timestampMs' in pos ? pos.timestampMs : undefined;
  }

  private addPart(tp: TopicPartition, start: StartPosition): PartState {
    const p: PartState = { tp, start, fetch: -1, position: -1 };
    this.parts.set(tpKey(tp.topic, tp.partition), p);
    return p;
  }

  private markProcessed(): void {
    const r = this.inProgress;
    this.inProgress = undefined;
    if (!r) return;
    const part = this.parts.get(tpKey(r.topic, r.partition));
    if (part && r.offset + 1 > part.position) part.position = r.offset + 1;
  }

  private take(): ConsumedRecord | undefined {
    while (this.buffer.length > 0) {
      const c = this.buffer[0]!;
      if (c.next < c.records.length) return c.records[c.next++];
      this.buffer.shift();
      this.giveBack(c.creditRecords, c.creditBytes);
    }
    return undefined;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Returns credit to the broker in halves of the window, so credit messages stay rare. */
  private giveBack(records: number, bytes: number): void {
    this.returnRecords += records;
    this.returnBytes += bytes;
    const empty = this.buffer.length === 0;
    if (this.returnRecords >= this.opts.maxBufferedRecords / 2 || this.returnBytes >= this.opts.maxBufferedBytes / 2 ||
      (empty && (this.returnRecords > 0 || this.returnBytes > 0))) {
      if (this.stream) this.write({ credit: { records: this.returnRecords, bytes: this.returnBytes } });
      this.returnRecords = 0;
      this.returnBytes = 0;
    }
  }

  /** Drops buffered records of a partition (revoked or sought), returning their credit. */
  private purge(tp: TopicPartition): void {
    const key = tpKey(tp.topic, tp.partition);
    const keep: Chunk[] = [];
    for (const c of this.buffer) {
      if (c.key === key) this.giveBack(c.creditRecords, c.creditBytes);
      else keep.push(c);
    }
    this.buffer = keep;
  }

  private write(req: SubscribeRequest): void {
    if (!this.stream) return;
    this.lastSent = Date.now();
    this.stream.call.write(req);
  }

  private startStream(): void {
    if (this.closed) return;
    const call = this.clients.broker.subscribe(this.md);
    const s: Stream = { call, gotData: false };
    this.stream = s;
    this.buffer = []; // the new stream starts at the cursors, with fresh credit
    this.returnRecords = 0;
    this.returnBytes = 0;
    const credit = { records: this.opts.maxBufferedRecords, bytes: this.opts.maxBufferedBytes };
    let start: SubscribeStart;
    if (this.groupStart) {
      this.parts.clear(); // the coordinator assigns afresh; partitions start at committed offsets
      start = SubscribeStart.fromPartial({
        topics: this.groupStart.topics, group: this.opts.group, instanceId: this.opts.instanceId ?? '',
        clientId: this.opts.clientId ?? 'herald-node', strategy: this.opts.strategy ?? AssignmentStrategy.ASSIGNMENT_STRATEGY_UNSPECIFIED,
        sessionTimeoutMs: this.opts.sessionTimeoutMs ?? 0, reset: this.groupStart.reset, credit,
      });
    } else {
      start = SubscribeStart.fromPartial({
        partitions: [...this.parts.values()].map((p) => {
          // Resume at the first unprocessed record; buffered-but-unread records are fetched again.
          const pos: StartPosition = p.position >= 0 ? { offset: p.position } : p.start;
          if (p.position >= 0) p.start = pos;
          this.setCursor(p, pos);
          return { topic: p.tp.topic, partition: p.tp.partition, position: toPbPosition(pos) };
        }),
        credit, clientId: this.opts.clientId ?? 'herald-node', group: this.opts.group ?? '',
      });
      // Standalone readers name no group on the stream: group is for commits only.
      start.group = '';
    }
    call.on('data', (resp: SubscribeResponse) => {
      s.gotData = true;
      if (resp.commitResult) {
        // Not queued behind events: onRevoke waits for its own commit's result.
        void this.onEvent(s, resp);
        return;
      }
      // Events are handled one at a time, in order, even when a callback is async.
      this.eventChain = this.eventChain.then(() => this.onEvent(s, resp)).catch((e) => this.setFatal(toHeraldError(e)));
    });
    call.on('error', (err) => { this.eventChain = this.eventChain.then(() => this.onStreamEnd(s, toHeraldError(err))); });
    call.on('end', () => {
      this.eventChain = this.eventChain.then(() => this.onStreamEnd(s, new HeraldError(status.UNAVAILABLE, 'subscribe stream ended')));
    });
    this.write({ start });
    if (!this.heartbeatTimer && this.groupStart) {
      this.heartbeatTimer = setInterval(() => {
        if (Date.now() - this.lastSent >= this.opts.heartbeatIntervalMs) this.write({ heartbeat: {} });
      }, this.opts.heartbeatIntervalMs / 2);
    }
    if (!this.commitTimer && this.autoCommit() && this.opts.group) {
      this.commitTimer = setInterval(() => {
        this.commit().catch(() => {}); // retried at the next interval
      }, this.opts.autoCommitIntervalMs);
    }
  }

  private async onEvent(s: Stream, resp: SubscribeResponse): Promise<void> {
    if (s !== this.stream) return;
    if (resp.batches) {
      this.failures = 0;
      this.backoff = this.opts.reconnectBackoffMs;
      for (const b of resp.batches.batches) this.onBatch(b);
      this.wake();
    } else if (resp.assignment) {
      const a = resp.assignment;
      this.generationValue = a.generation;
      this.memberIdValue = a.memberId;
      const now = new Set(a.partitions.map((p) => tpKey(p.topic, p.partition)));
      for (const [key, p] of this.parts) {
        if (!now.has(key)) { this.parts.delete(key); this.purge(p.tp); } // lost without a revoke
      }
      const added: TopicPartition[] = [];
      for (const tp of a.partitions) {
        if (!this.parts.has(tpKey(tp.topic, tp.partition))) {
          this.addPart({ topic: tp.topic, partition: tp.partition }, 'committed');
          added.push({ topic: tp.topic, partition: tp.partition });
        }
      }
      if (this.opts.onAssign) await this.opts.onAssign(added);
    } else if (resp.revoke) {
      await this.onRevoke(s, resp.revoke.generation, resp.revoke.partitions);
    } else if (resp.commitResult) {
      const c = this.commits.get(resp.commitResult.requestId);
      if (!c) return;
      this.commits.delete(resp.commitResult.requestId);
      const bad = resp.commitResult.results.find((r) => inBandError(r.error));
      if (bad) c.reject(new HeraldError(bad.error!.code, `commit ${bad.topic}/${bad.partition}: ${bad.error!.message}`));
      else c.resolve();
    } else if (resp.seekResult) {
      const r = resp.seekResult;
      const key = tpKey(r.topic, r.partition);
      const waiter = this.seeks.get(key)?.shift();
      const part = this.parts.get(key);
      const err = inBandError(r.error);
      if (part && !err) {
        part.fetch = r.offset;
        part.position = r.offset;
        part.start = { offset: r.offset };
      }
      if (err) waiter?.reject(err);
      else waiter?.resolve(r.offset);
    }
  }

  private onBatch(b: ConsumedBatch): void {
    const creditBytes = RecordBatch.encode({ records: b.records }).finish().length + BATCH_OVERHEAD_BYTES;
    const key = tpKey(b.topic, b.partition);
    const part = this.parts.get(key);
    const records: ConsumedRecord[] = [];
    if (part && part.fetch !== -2) {
      b.records.forEach((r, i) => {
        const offset = b.baseOffset + i;
        if (part.fetch >= 0 && offset < part.fetch) return; // batches are served whole: trim
        const timestampMs = r.timestampMs !== 0 && b.timestampType !== 2 ? r.timestampMs : b.appendTimeMs;
        if (part.fetch < 0 && part.minTimestampMs !== undefined && timestampMs < part.minTimestampMs) return;
        records.push({ topic: b.topic, partition: b.partition, offset, key: r.key, value: r.value, headers: r.headers, timestampMs });
      });
      if (records.length > 0) {
        part.fetch = records[records.length - 1]!.offset + 1;
        if (part.position < 0) part.position = records[0]!.offset;
      }
    }
    if (records.length === 0) {
      this.giveBack(b.records.length, creditBytes); // nothing to hold: credit goes straight back
      return;
    }
    this.buffer.push({ key, records, next: 0, creditRecords: b.records.length, creditBytes });
  }

  private async onRevoke(s: Stream, generation: number, partitions: TopicPartition[]): Promise<void> {
    for (const tp of partitions) this.purge(tp);
    if (this.opts.onRevoke) await this.opts.onRevoke(partitions.map((p) => ({ topic: p.topic, partition: p.partition })));
    const keys = new Set(partitions.map((p) => tpKey(p.topic, p.partition)));
    const offsets = [...this.parts.values()].filter((p) => keys.has(tpKey(p.tp.topic, p.tp.partition)) && p.position >= 0)
      .map((p) => ({ ...p.tp, offset: p.position }));
    if (this.autoCommit() && offsets.length > 0) {
      await this.commit(offsets).catch(() => {}); // the next owner re-reads the uncommitted tail
    }
    for (const k of keys) this.parts.delete(k);
    if (s === this.stream) this.write({ revokeDone: { generation, partitions } });
  }

  private setFatal(e: HeraldError): void {
    if (this.fatal || this.closed) return;
    this.fatal = e;
    for (const c of this.commits.values()) c.reject(e);
    this.commits.clear();
    this.wake();
  }

  private onStreamEnd(s: Stream, err: HeraldError): void {
    if (s !== this.stream || this.closed) return;
    this.stream = undefined;
    s.call.removeAllListeners('data');
    s.call.on('error', () => {});
    s.call.cancel();
    for (const c of this.commits.values()) c.reject(err);
    this.commits.clear();
    for (const list of this.seeks.values()) for (const w of list) w.reject(err);
    this.seeks.clear();
    const retry = [status.UNAVAILABLE, status.CANCELLED, status.DEADLINE_EXCEEDED].includes(err.code);
    if (!retry || ++this.failures > this.opts.maxReconnectAttempts) {
      this.setFatal(err);
      return;
    }
    const delay = this.backoff * (0.8 + 0.4 * Math.random());
    this.backoff = Math.min(this.backoff * 2, this.opts.reconnectBackoffMaxMs);
    this.reconnectTimer = setTimeout(() => this.startStream(), delay);
  }
}
