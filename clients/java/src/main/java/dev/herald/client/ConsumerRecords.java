package dev.herald.client;

import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** The records returned by one {@link HeraldConsumer#poll}, in per-partition offset order. */
public final class ConsumerRecords implements Iterable<ConsumerRecord> {
  private static final ConsumerRecords EMPTY = new ConsumerRecords(List.of());
  private final List<ConsumerRecord> records;

  ConsumerRecords(List<ConsumerRecord> records) {
    this.records = List.copyOf(records);
  }

  static ConsumerRecords empty() {
    return EMPTY;
  }

  /** Number of records. */
  public int count() {
    return records.size();
  }

  /** True when the poll returned nothing. */
  public boolean isEmpty() {
    return records.isEmpty();
  }

  /** The records as an immutable list. */
  public List<ConsumerRecord> asList() {
    return records;
  }

  /** The records as a sequential stream. */
  public Stream<ConsumerRecord> stream() {
    return records.stream();
  }

  /** Partitions with records in this batch. */
  public Set<TopicPartition> partitions() {
    return records.stream().map(ConsumerRecord::topicPartition)
        .collect(Collectors.toCollection(LinkedHashSet::new));
  }

  /** The records of one partition. */
  public List<ConsumerRecord> records(TopicPartition tp) {
    return records.stream().filter(r -> r.topicPartition().equals(tp)).toList();
  }

  @Override
  public Iterator<ConsumerRecord> iterator() {
    return records.iterator();
  }
}
