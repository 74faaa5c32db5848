package dev.herald.client;

/** One partition of a topic. */
public record TopicPartition(String topic, int partition) {
  @Override
  public String toString() {
    return topic + "/" + partition;
  }

  dev.herald.v1.TopicPartition toProto() {
    return dev.herald.v1.TopicPartition.newBuilder().setTopic(topic).setPartition(partition).build();
  }

  static TopicPartition of(dev.herald.v1.TopicPartition tp) {
    return new TopicPartition(tp.getTopic(), tp.getPartition());
  }
}
