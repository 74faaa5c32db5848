/**
 * Kafka's murmur2 (Utils.murmur2 in the Java client): the function the broker
 * uses to place keyed records. Returns a signed 32-bit int like Java's.
 */
export function murmur2(data: Uint8Array): number {
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const length = data.length;
  let h = (seed ^ length) >>> 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0;
    k = Math.imul(k, m) >>> 0;
    k = (k ^ (k >>> 24)) >>> 0;
    k = Math.imul(k, m) >>> 0;
    h = Math.imul(h, m) >>> 0;
    h = (h ^ k) >>> 0;
  }
  switch (length % 4) {
    case 3:
      h = (h ^ (data[whole + 2]! << 16)) >>> 0;
    // falls through
    case 2:
      h = (h ^ (data[whole + 1]! << 8)) >>> 0;
    // falls through
    case 1:
      h = (h ^ data[whole]!) >>> 0;
      h = Math.imul(h, m) >>> 0;
  }
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, m) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  return h | 0;
}

/** The partition Kafka (and Herald) assigns to `key`: (murmur2(key) & 0x7fffffff) % partitions. */
export function partitionForKey(key: Uint8Array | string, partitions: number): number {
  if (partitions <= 0) return 0;
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  return (murmur2(bytes) & 0x7fffffff) % partitions;
}
