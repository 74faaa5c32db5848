import { StartPosition_Named, type StartPosition as PbStartPosition } from './gen/herald/v1/records.js';

/** Bytes accepted wherever the client takes a key, value or header value. */
export type Bytes = Uint8Array | string;

/** One record header; keys need not be unique. */
export interface Header {
  key: string;
  value: Bytes;
}

/** A record to produce. */
export interface ProducerRecord {
  topic: string;
  key?: Bytes;
  value?: Bytes;
  headers?: Header[];
  /** Explicit partition; otherwise murmur2 of the key, or a sticky partition for keyless records. */
  partition?: number;
  /** Create time in ms since the epoch; 0/unset lets the broker stamp append time. */
  timestampMs?: number;
}

/** Where a produced record was written. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks NONE. */
  offset: number;
  timestampMs: number;
  /** The broker recognised an idempotent retry and returned the original offsets. */
  duplicate: boolean;
}

/** A record as delivered to a consumer. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer;
  value: Buffer;
  headers: { key: string; value: Buffer }[];
  timestampMs: number;
}

/** A topic partition. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/**
 * A position to read from: `'earliest'`, `'latest'`, `'committed'`, `{ offset }` or `{ timestampMs }`.
 */
export type StartPosition = 'earliest' | 'latest' | 'committed' | { offset: number } | { timestampMs: number };

export function toPbPosition(p: StartPosition): PbStartPosition {
  if (p === 'earliest') return { named: StartPosition_Named.NAMED_EARLIEST };
  if (p === 'latest') return { named: StartPosition_Named.NAMED_LATEST };
  if (p === 'committed') return { named: StartPosition_Named.NAMED_COMMITTED };
  if ('offset' in p) return { offset: p.offset };
  return { timestampMs: p.timestampMs };
}

export function toBuffer(b: Bytes | undefined): Buffer {
  if (b === undefined) return Buffer.alloc(0);
  if (typeof b === 'string') return Buffer.from(b, 'utf8');
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
