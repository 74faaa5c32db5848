package dev.herald.client;

/**
 * Kafka's murmur2 hash ({@code Utils.murmur2} of the Kafka Java client), the function the broker
 * uses to place keyed records. Identical to {@code clients/go/murmur2.go}.
 */
public final class Murmur2 {
  private Murmur2() {}

  /** Returns the 32-bit murmur2 hash of {@code data}. */
  public static int hash(byte[] data) {
    final int seed = 0x9747b28c;
    final int m = 0x5bd1e995;
    final int r = 24;
    int length = data.length;
    int h = seed ^ length;
    int i = 0;
    for (; i + 4 <= length; i += 4) {
      int k = (data[i] & 0xff) | (data[i + 1] & 0xff) << 8 | (data[i + 2] & 0xff) << 16
          | (data[i + 3] & 0xff) << 24;
      k *= m;
      k ^= k >>> r;
      k *= m;
      h *= m;
      h ^= k;
    }
    switch (length % 4) {
      case 3:
        h ^= (data[i + 2] & 0xff) << 16;
        // fall through
      case 2:
        h ^= (data[i + 1] & 0xff) << 8;
        // fall through
      case 1:
        h ^= data[i] & 0xff;
        h *= m;
        break;
      default:
        break;
    }
    h ^= h >>> 13;
    h *= m;
    h ^= h >>> 15;
    return h;
  }

  /** The partition Kafka (and Herald) assigns to {@code key}: {@code (h & 0x7fffffff) % n}. */
  public static int partitionForKey(byte[] key, int partitions) {
    if (partitions <= 0) {
      return 0;
    }
    return (hash(key) & 0x7fffffff) % partitions;
  }
}
