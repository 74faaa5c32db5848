package dev.herald.client;

import java.util.Collection;

/**
 * Told about group rebalances. Both methods run on the thread calling {@link
 * HeraldConsumer#poll}, so they may call {@link HeraldConsumer#commitSync} and need no locking
 * against the processing loop.
 */
public interface RebalanceListener {
  /**
   * Partitions newly assigned to this member (cooperative: partitions it keeps are not repeated).
   * Their records follow in later polls.
   */
  default void onAssigned(Collection<TopicPartition> partitions) {}

  /**
   * Partitions taken away. No more of their records are returned. With auto-commit the consumer
   * commits their positions right after this returns; with manual commit, commit here. The
   * consumer then confirms the revoke to the broker (RevokeDone), which hands them to another
   * member starting at the committed offset.
   */
  default void onRevoked(Collection<TopicPartition> partitions) {}
}
