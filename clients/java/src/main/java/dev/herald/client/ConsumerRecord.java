package dev.herald.client;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** A record read from a partition, with its offset and effective timestamp. */
public record ConsumerRecord(
    String topic, int partition, long offset, long timestampMs, byte[] key, byte[] value,
    List<Header> headers) {

  /** The partition the record was read from. */
  public TopicPartition topicPartition() {
    return new TopicPartition(topic, partition);
  }

  /** The key decoded as UTF-8 (null when there is none). */
  public String keyString() {
    return key == null ? null : new String(key, StandardCharsets.UTF_8);
  }

  /** The value decoded as UTF-8 (null when there is none). */
  public String valueString() {
    return value == null ? null : new String(value, StandardCharsets.UTF_8);
  }
}
