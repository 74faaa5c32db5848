import { Metadata, status, type ClientDuplexStream } from '@grpc/grpc-js';
import { type ProduceRequest, type ProduceResponse } from './gen/herald/v1/broker.js';
import { Acks, Record as PbRecord } from './gen/herald/v1/records.js';
import { connect, DEFAULT_RPC_TIMEOUT_MS, unary, type Clients, type ConnectionOptions } from './connection.js';
import { HeraldError, inBandError, toHeraldError } from './errors.js';
import { partitionForKey } from './murmur2.js';
import { toBuffer, tpKey, type ProducerRecord, type RecordMetadata } from './types.js';

export { Acks };

/** Producer settings; every field is optional. */
export interface ProducerOptions extends ConnectionOptions {
  /** Acknowledgement level (default ACKS_ALL). */
  acks?: Acks;
  /** How long a batch waits for more records before it is sent (default 5 ms; 0: send at once). */
  lingerMs?: number;
  /** A batch is sent once it reaches this many bytes (default 256 KiB). */
  maxBatchBytes?: number;
  /** Bytes of unresolved records the producer holds (default 32 MiB). */
  bufferMaxBytes?: number;
  /** How long `send` waits for buffer room before RESOURCE_EXHAUSTED (default 60 s). */
  maxBlockMs?: number;
  /**
   * Unacknowledged batches on the Produce stream (default 32). With idempotence on, at most
   * 5 of them are of one partition (the broker deduplicates retries of a partition's last 5 batches).
   */
  maxInFlight?: number;
  /** First reconnect backoff (default 100 ms), doubling up to `retryBackoffMaxMs` (default 2 s). */
  retryBackoffMs?: number;
  retryBackoffMaxMs?: number;
  /** A record not acknowledged this long after it was batched fails with DEADLINE_EXCEEDED (default 120 s). */
  deliveryTimeoutMs?: number;
  /** A stream whose oldest batch stays unanswered this long is replaced (default 30 s). */
  requestTimeoutMs?: number;
  /** Idempotent produce (InitProducer + sequences), default true; ignored with ACKS_NONE. */
  idempotent?: boolean;
  /** Stable id: a new producer with the same id fences older instances. */
  transactionalId?: string;
  /** How long a topic's partition count is cached (default 5 min). */
  metadataMaxAgeMs?: number;
}

type Resolved = Required<Omit<ProducerOptions, 'credentials' | 'channelOptions' | 'transactionalId'>>;

// Protobuf tag and length bytes per record: an upper bound, so the buffer
// accounting never undercounts.
const RECORD_OVERHEAD_BYTES = 16;

/**
 * The broker remembers the last 5 batches of each producer id and partition
 * (coordination/producer_state.h, kMaxRecordedBatches): only a retry of one of
 * those is recognised as a duplicate; an older one is refused with
 * FAILED_PRECONDITION although it may be in the log. So an idempotent producer
 * never has more than this many batches of one partition unacknowledged
 * (Kafka's limit too), whatever `maxInFlight` allows.
 */
export const MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION = 5;

interface Pending {
  resolve(m: RecordMetadata): void;
  reject(e: HeraldError): void;
}

interface Batch {
  topic: string;
  partition: number;
  records: PbRecord[];
  pending: Pending[];
  bytes: number;
  sealedAt: number;
  sentAt: number;
  requestId: number;
  // Idempotence: fixed at the first send so retries resend the same numbers.
  producerId: number;
  epoch: number;
  baseSequence: number; // -1: not yet numbered
  lingerTimer?: NodeJS.Timeout;
}

interface Stream {
  call: ClientDuplexStream<ProduceRequest, ProduceResponse>;
}

/**
 * Sends records to Herald topics.
 *
 * Records are grouped per partition into batches (sent after `lingerMs` or at
 * `maxBatchBytes`) and written on one bidirectional Produce stream, at most
 * `maxInFlight` unacknowledged batches at a time, each with a client-chosen
 * request id. Partitioning: `record.partition`, else Kafka's murmur2 of the
 * key (identical to every Herald client and the broker), else a sticky
 * partition per topic that moves when its batch is sent.
 *
 * Delivery: idempotent by default. The producer calls InitProducer once and
 * numbers each partition's batches (base_sequence); when the stream breaks
 * (UNAVAILABLE, a server restart) unacknowledged batches are re-sent in order
 * with the same sequences after a backoff, and the broker drops the copies it
 * already wrote, so each record is stored once. At most
 * {@link MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION} batches of a partition are
 * unacknowledged at a time, the broker's deduplication window. When a numbered
 * batch fails for good the producer takes a new producer id (so later batches
 * have no sequence gap) once nothing is in flight; batches already sent under
 * the old id but not acknowledged then fail with ABORTED "outcome unknown"
 * instead of being re-sent under the new one, where they could be written twice.
 */
export class Producer {
  private readonly opts: Resolved;
  private readonly transactionalId: string;
  private readonly clients: Clients;
  private readonly ownsClients: boolean;
  private readonly md = new Metadata();

  private readonly open = new Map<string, Batch>();
  private ready: Batch[] = [];
  private readonly inFlight = new Map<number, Batch>();
  private buffered = 0;
  private readonly roomWaiters: { size: number; wake(): void }[] = [];
  private readonly metadata = new Map<string, { partitions: number; fetched: number }>();
  private readonly metadataLoads = new Map<string, Promise<number>>();
  private readonly sticky = new Map<string, number>();
  private readonly sequences = new Map<string, number>();
  private producerId = -1;
  private epoch = -1;
  private initializing = false;
  private nextRequestId = 0;
  private stream: Stream | undefined;
  private reconnectAt = 0;
  private backoff: number;
  private wakeTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private closed = false;
  /** send() calls not yet queued in a batch (metadata lookup or waiting for room). */
  private entering = 0;
  private readonly unsettled = new Set<Promise<unknown>>();

  /** Connects to `target` ("host:port"); the stream opens on the first send. */
  constructor(target: string, opts: ProducerOptions = {}, clients?: Clients) {
    this.clients = clients ?? connect(target, opts);
    this.ownsClients = clients === undefined;
    const acks = opts.acks ?? Acks.ACKS_ALL;
    this.opts = {
      acks: acks === Acks.ACKS_UNSPECIFIED ? Acks.ACKS_ALL : acks,
      lingerMs: opts.lingerMs ?? 5,
      maxBatchBytes: opts.maxBatchBytes ?? 256 << 10,
      bufferMaxBytes: opts.bufferMaxBytes ?? 32 << 20,
      maxBlockMs: opts.maxBlockMs ?? 60_000,
      maxInFlight: opts.maxInFlight ?? 32,
      retryBackoffMs: opts.retryBackoffMs ?? 100,
      retryBackoffMaxMs: opts.retryBackoffMaxMs ?? 2_000,
      deliveryTimeoutMs: opts.deliveryTimeoutMs ?? 120_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
      idempotent: (opts.idempotent ?? true) && acks !== Acks.ACKS_NONE,
      metadataMaxAgeMs: opts.metadataMaxAgeMs ?? 300_000,
      rpcTimeoutMs: opts.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
    };
    this.transactionalId = opts.transactionalId ?? '';
    this.backoff = this.opts.retryBackoffMs;
  }

  /** The producer id from InitProducer (-1 before the first send or when not idempotent). */
  get id(): { producerId: number; epoch: number } {
    return { producerId: this.producerId, epoch: this.epoch };
  }

  /**
   * Queues one record and resolves with where it was written. Rejects with a
   * {@link HeraldError}: RESOURCE_EXHAUSTED when the buffer stayed full for
   * `maxBlockMs`, NOT_FOUND for a missing topic, CANCELLED after `close()`,
   * or the broker's in-band error for the batch.
   */
  async send(record: ProducerRecord): Promise<RecordMetadata> {
    if (this.closing) throw new HeraldError(status.CANCELLED, 'producer is closed');
    this.entering++;
    try {
      return await this.enqueue(record);
    } finally {
      this.entering--;
    }
  }

  private async enqueue(record: ProducerRecord): Promise<RecordMetadata> {
    const rec: PbRecord = {
      key: toBuffer(record.key),
      value: toBuffer(record.value),
      headers: (record.headers ?? []).map((h) => ({ key: h.key, value: toBuffer(h.value) })),
      timestampMs: record.timestampMs ?? 0,
    };
    const size = PbRecord.encode(rec).finish().length + RECORD_OVERHEAD_BYTES;
    if (size > this.opts.bufferMaxBytes) {
      throw new HeraldError(status.INVALID_ARGUMENT, `record of ${size} bytes exceeds bufferMaxBytes`);
    }
    let partition = record.partition;
    if (partition === undefined) {
      const count = await this.partitionCount(record.topic);
      partition = rec.key.length > 0 ? partitionForKey(rec.key, count) : this.stickyPartition(record.topic, count);
    }
    await this.waitForRoom(size); // reserves `size` bytes of the buffer
    if (this.closed) {
      this.buffered -= size;
      throw new HeraldError(status.CANCELLED, 'producer is closed');
    }
    const promise = new Promise<RecordMetadata>((resolve, reject) => {
      const key = tpKey(record.topic, partition);
      let b = this.open.get(key);
      if (b && b.bytes + size > this.opts.maxBatchBytes) {
        this.seal(key);
        b = undefined;
      }
      if (!b) {
        b = {
          topic: record.topic, partition: partition!, records: [], pending: [], bytes: 0, sealedAt: 0, sentAt: 0,
          requestId: 0, producerId: -1, epoch: -1, baseSequence: -1,
        };
        this.open.set(key, b);
        if (this.opts.lingerMs > 0) {
          const batch = b;
          batch.lingerTimer = setTimeout(() => { if (this.open.get(key) === batch) this.seal(key); }, this.opts.lingerMs);
        }
      }
      b.records.push(rec);
      b.pending.push({ resolve, reject });
      b.bytes += size;
      if (b.bytes >= this.opts.maxBatchBytes || this.opts.lingerMs <= 0) this.seal(key);
    });
    this.unsettled.add(promise);
    const untrack = () => this.unsettled.delete(promise);
    promise.then(untrack, untrack);
    this.entering--; // queued: flush() now sees it in `unsettled`
    try {
      return await promise;
    } finally {
      this.entering++;
    }
  }

  /** Sends every queued record now and waits until all records queued before the call are resolved. */
  async flush(): Promise<void> {
    do {
      for (const key of [...this.open.keys()]) this.seal(key);
      await Promise.allSettled([...this.unsettled]);
      // Sends that were still looking up metadata or waiting for room when flush began.
      if (this.entering > 0) await new Promise((r) => setTimeout(r, 1));
    } while (this.entering > 0 || this.open.size > 0);
  }

  /** Flushes, then closes the stream and (if owned) the connection. Records sent after close are rejected. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true; // new sends are rejected; those already started are delivered
    await this.flush();
    this.closed = true;
    clearTimeout(this.wakeTimer);
    for (const w of this.roomWaiters.splice(0)) w.wake();
    const s = this.stream;
    this.stream = undefined;
    if (s) {
      s.call.end();
      s.call.cancel();
    }
    if (this.ownsClients) this.clients.close();
  }

  private async partitionCount(topic: string): Promise<number> {
    const m = this.metadata.get(topic);
    if (m && Date.now() - m.fetched < this.opts.metadataMaxAgeMs) return m.partitions;
    let load = this.metadataLoads.get(topic);
    if (!load) {
      // waitForReady: a send during a broker restart waits (up to the deadline) instead of failing at once.
      load = unary<{ name: string }, { topic?: { partitions: unknown[] } }>(this.clients.admin,
        this.clients.admin.describeTopic as never, { name: topic }, this.opts.rpcTimeoutMs, this.md, true)
        .then((res) => {
          const n = res.topic?.partitions.length ?? 0;
          this.metadata.set(topic, { partitions: n, fetched: Date.now() });
          return n;
        })
        .finally(() => this.metadataLoads.delete(topic));
      this.metadataLoads.set(topic, load);
    }
    return load;
  }

  private stickyPartition(topic: string, count: number): number {
    let s = this.sticky.get(topic);
    if (s === undefined || s >= count) {
      s = Math.floor(Math.random() * count);
      this.sticky.set(topic, s);
    }
    return s;
  }

  /** Reserves `size` bytes, waiting up to maxBlockMs; check and reservation are one step, so sends cannot overrun. */
  private waitForRoom(size: number): Promise<void> {
    if (this.buffered + size <= this.opts.bufferMaxBytes && this.roomWaiters.length === 0) {
      this.buffered += size;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        size,
        wake: () => {
          clearTimeout(timer);
          this.buffered += size;
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const i = this.roomWaiters.indexOf(waiter);
        if (i >= 0) this.roomWaiters.splice(i, 1);
        reject(new HeraldError(status.RESOURCE_EXHAUSTED,
          `producer buffer full (${this.buffered} of ${this.opts.bufferMaxBytes} bytes) for ${this.opts.maxBlockMs} ms`));
        this.wakeRoomWaiters();
      }, this.opts.maxBlockMs);
      this.roomWaiters.push(waiter);
    });
  }

  // Wakes waiters in FIFO order while their records fit, so a large record is not starved.
  private wakeRoomWaiters(): void {
    while (this.roomWaiters.length > 0 && (this.closed || this.buffered + this.roomWaiters[0]!.size <= this.opts.bufferMaxBytes)) {
      this.roomWaiters.shift()!.wake();
    }
  }

  private release(b: Batch): void {
    this.buffered -= b.bytes;
    this.wakeRoomWaiters();
  }

  private seal(key: string): void {
    const b = this.open.get(key);
    if (!b) return;
    this.open.delete(key);
    clearTimeout(b.lingerTimer);
    b.sealedAt = Date.now();
    this.ready.push(b);
    const n = this.metadata.get(b.topic)?.partitions ?? 0;
    const s = this.sticky.get(b.topic);
    if (s === b.partition && n > 1) {
      // Kafka's sticky partitioner: keyless records fill a batch, then move on.
      this.sticky.set(b.topic, (s + 1 + Math.floor(Math.random() * (n - 1))) % n);
    }
    this.pump();
  }

  /** Moves the state machine: expire, connect, write within the window, arm the next wake-up. */
  private pump(): void {
    if (this.closed) return;
    const now = Date.now();
    while (this.ready.length > 0 && now - this.ready[0]!.sealedAt > this.opts.deliveryTimeoutMs) {
      const b = this.ready.shift()!;
      this.fail(b, new HeraldError(status.DEADLINE_EXCEEDED,
        `batch for ${b.topic}/${b.partition} not acknowledged within ${this.opts.deliveryTimeoutMs} ms`));
    }
    const oldest = this.oldestInFlight();
    if (this.stream && oldest && now - oldest.sentAt > this.opts.requestTimeoutMs) {
      this.onStreamEnd(this.stream, new HeraldError(status.UNAVAILABLE, 'produce stream stalled'));
      return;
    }
    const needsIdentity = this.opts.idempotent && this.producerId < 0;
    if (needsIdentity) {
      // A new identity waits until every batch sent under the old one has an answer
      // (or came back with a broken stream), so none is in flight while it changes.
      if (this.ready.length > 0 && this.inFlight.size === 0) this.takeNewIdentity();
    } else if (!this.stream && this.ready.length > 0 && now >= this.reconnectAt) {
      this.openStream();
    }
    if (this.stream && !needsIdentity) this.writeReady();
    this.armWake(now);
  }

  private armWake(now: number): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    let at = Infinity;
    if (!this.stream && this.ready.length > 0) at = Math.min(at, this.reconnectAt);
    if (this.ready.length > 0) at = Math.min(at, this.ready[0]!.sealedAt + this.opts.deliveryTimeoutMs + 1);
    const oldest = this.oldestInFlight();
    if (oldest) at = Math.min(at, oldest.sentAt + this.opts.requestTimeoutMs + 1);
    if (at !== Infinity) {
      this.wakeTimer = setTimeout(() => this.pump(), Math.max(1, at - now));
      // Nothing pending keeps the process alive except unresolved send() promises' own work.
      if (this.inFlight.size === 0 && this.ready.length === 0) this.wakeTimer.unref();
    }
  }

  private oldestInFlight(): Batch | undefined {
    let oldest: Batch | undefined;
    for (const b of this.inFlight.values()) if (!oldest || b.requestId < oldest.requestId) oldest = b;
    return oldest;
  }

  /**
   * Before a new producer id (the first one, or after a numbered batch failed for good): a
   * batch already sent under the old id (it has a sequence) but never acknowledged may be in
   * the log. Re-sending it with a new id and sequence could write it twice, so it fails with
   * ABORTED "outcome unknown" instead. Batches never sent get sequences under the new id.
   */
  private takeNewIdentity(): void {
    if (this.initializing) return;
    this.failUnknownOutcome();
    if (this.ready.length > 0) this.initProducer();
  }

  private failUnknownOutcome(): void {
    const kept: Batch[] = [];
    for (const b of this.ready) {
      if (b.baseSequence < 0) {
        kept.push(b);
        continue;
      }
      this.fail(b, new HeraldError(status.ABORTED, `outcome unknown: batch for ${b.topic}/${b.partition} ` +
        'was sent but not acknowledged before the producer had to take a new identity; it may have been written'));
    }
    this.ready = kept;
  }

  private initProducer(): void {
    if (this.initializing) return;
    this.initializing = true;
    unary<{ transactionalId: string }, { producerId: number; producerEpoch: number }>(this.clients.broker,
      this.clients.broker.initProducer as never, { transactionalId: this.transactionalId }, this.opts.rpcTimeoutMs,
      this.md, true)
      .then((res) => {
        this.failUnknownOutcome(); // nothing is in flight meanwhile, so normally a no-op
        this.producerId = res.producerId;
        this.epoch = res.producerEpoch;
        this.sequences.clear();
      }, (err: unknown) => {
        const e = toHeraldError(err);
        if (e.code !== status.UNAVAILABLE && e.code !== status.DEADLINE_EXCEEDED) {
          // Not retryable (e.g. unimplemented): fail what waits rather than spin.
          for (const b of this.ready.splice(0)) this.fail(b, e);
        }
        this.scheduleReconnect();
      })
      .finally(() => {
        this.initializing = false;
        this.pump();
      });
  }

  private openStream(): void {
    const call = this.clients.broker.produce(this.md);
    const s: Stream = { call };
    this.stream = s;
    call.on('data', (resp: ProduceResponse) => this.onResponse(s, resp));
    call.on('error', (err) => this.onStreamEnd(s, toHeraldError(err)));
    call.on('end', () => this.onStreamEnd(s, new HeraldError(status.UNAVAILABLE, 'produce stream ended')));
  }

  /**
   * Writes ready batches in order while the window allows. With idempotence a partition that
   * has MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION batches unacknowledged is skipped, and so is
   * every later batch of it: batches of one partition always go out in order, while other
   * partitions' batches may pass it.
   */
  private writeReady(): void {
    const s = this.stream!;
    const perPartition = new Map<string, number>();
    if (this.opts.idempotent) {
      for (const b of this.inFlight.values()) {
        const key = tpKey(b.topic, b.partition);
        perPartition.set(key, (perPartition.get(key) ?? 0) + 1);
      }
    }
    const held: Batch[] = [];
    const blocked = new Set<string>();
    while (this.ready.length > 0 && this.inFlight.size < this.opts.maxInFlight) {
      const b = this.ready.shift()!;
      if (this.opts.idempotent) {
        const key = tpKey(b.topic, b.partition);
        const n = perPartition.get(key) ?? 0;
        if (blocked.has(key) || n >= MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION) {
          blocked.add(key);
          held.push(b);
          continue;
        }
        perPartition.set(key, n + 1);
      }
      b.requestId = ++this.nextRequestId;
      b.sentAt = Date.now();
      if (this.opts.idempotent && b.baseSequence < 0) {
        // Numbered at the first send: retries keep the numbers, so the broker can drop copies.
        const key = tpKey(b.topic, b.partition);
        const seq = this.sequences.get(key) ?? 0;
        b.producerId = this.producerId;
        b.epoch = this.epoch;
        b.baseSequence = seq;
        this.sequences.set(key, (seq + b.records.length) % 0x80000000);
      }
      const req: ProduceRequest = {
        requestId: b.requestId, topic: b.topic, partition: b.partition, batch: { records: b.records },
        acks: this.opts.acks, producerId: b.baseSequence >= 0 ? b.producerId : 0,
        producerEpoch: b.baseSequence >= 0 ? b.epoch : 0, baseSequence: Math.max(0, b.baseSequence),
      };
      s.call.write(req);
      if (this.opts.acks === Acks.ACKS_NONE) {
        this.release(b); // nobody answers: resolve on write
        b.records.forEach((r, i) => b.pending[i]!.resolve({
          topic: b.topic, partition: b.partition, offset: -1, timestampMs: r.timestampMs, duplicate: false,
        }));
        continue;
      }
      this.inFlight.set(b.requestId, b);
    }
    if (held.length > 0) this.ready = [...held, ...this.ready]; // still in their original order
  }

  private onResponse(s: Stream, resp: ProduceResponse): void {
    if (s !== this.stream) return;
    const b = this.inFlight.get(resp.requestId);
    if (!b) return;
    this.inFlight.delete(resp.requestId);
    this.backoff = this.opts.retryBackoffMs; // the stream works
    const err = inBandError(resp.error);
    if (err?.code === status.UNAVAILABLE) {
      this.ready.unshift(b); // e.g. a retry of a batch still being written: send again
    } else if (err?.code === status.OUT_OF_RANGE && b.producerId !== this.producerId) {
      // Sequenced under a producer id since replaced (after a failed batch): renumber.
      b.baseSequence = -1;
      this.ready.unshift(b);
    } else if (err) {
      if (err.code === status.NOT_FOUND || err.code === status.INVALID_ARGUMENT) this.metadata.delete(b.topic);
      this.fail(b, err);
    } else {
      this.release(b);
      b.records.forEach((r, i) => b.pending[i]!.resolve({
        topic: b.topic, partition: resp.partition, offset: resp.baseOffset + i,
        timestampMs: r.timestampMs || resp.logAppendTimeMs, duplicate: resp.duplicate,
      }));
    }
    this.pump();
  }

  private fail(b: Batch, err: HeraldError): void {
    this.release(b);
    for (const p of b.pending) p.reject(err);
    if (this.opts.idempotent && b.baseSequence >= 0) {
      // A numbered batch failed for good, so this partition's later sequences would have a
      // gap: start over with a new producer id (as Kafka bumps the epoch), once nothing of
      // the old one is in flight (see pump and takeNewIdentity).
      this.producerId = -1;
    }
  }

  private scheduleReconnect(): void {
    const jitter = 0.8 + 0.4 * Math.random();
    this.reconnectAt = Date.now() + this.backoff * jitter;
    this.backoff = Math.min(this.backoff * 2, this.opts.retryBackoffMaxMs);
  }

  private onStreamEnd(s: Stream, err: HeraldError): void {
    if (s !== this.stream) return; // already replaced or closed
    this.stream = undefined;
    s.call.removeAllListeners('data');
    s.call.on('error', () => {}); // a late error must not be unhandled
    s.call.cancel();
    const unacked = [...this.inFlight.values()].sort((a, b) => a.requestId - b.requestId);
    this.inFlight.clear();
    const retryable = [status.UNAVAILABLE, status.CANCELLED, status.ABORTED, status.RESOURCE_EXHAUSTED,
      status.DEADLINE_EXCEEDED].includes(err.code);
    if (retryable) {
      this.ready = [...unacked, ...this.ready]; // re-sent in order, ahead of newer batches
    } else {
      for (const b of unacked) this.fail(b, err);
    }
    this.scheduleReconnect();
    this.pump();
  }
}
