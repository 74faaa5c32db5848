package dev.herald.client;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A record to send. {@code partition} null lets the producer choose: Kafka murmur2 of the key, or
 * a sticky partition per topic for keyless records. {@code timestampMs} 0 means "append time".
 */
public record ProducerRecord(
    String topic, Integer partition, byte[] key, byte[] value, List<Header> headers,
    long timestampMs) {

  /** Normalises null headers to an empty list. */
  public ProducerRecord {
    headers = headers == null ? List.of() : List.copyOf(headers);
  }

  /** A keyed record with no headers. */
  public ProducerRecord(String topic, byte[] key, byte[] value) {
    this(topic, null, key, value, List.of(), 0);
  }

  /** A keyed record with UTF-8 key and value. */
  public static ProducerRecord of(String topic, String key, String value) {
    return new ProducerRecord(topic, key == null ? null : key.getBytes(StandardCharsets.UTF_8),
        value == null ? null : value.getBytes(StandardCharsets.UTF_8));
  }
}
