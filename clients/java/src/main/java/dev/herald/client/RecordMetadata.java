package dev.herald.client;

/**
 * Where an acknowledged record was stored. {@code offset} is -1 with {@code Acks.ACKS_NONE};
 * {@code timestampMs} is the record's create time, or the log append time when it had none.
 * {@code duplicate} is true when the broker recognised an idempotent retry of a batch it had
 * already written (the offsets are those of the original).
 */
public record RecordMetadata(
    String topic, int partition, long offset, long timestampMs, boolean duplicate) {}
