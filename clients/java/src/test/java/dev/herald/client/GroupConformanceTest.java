package dev.herald.client;

import static org.junit.jupiter.api.Assertions.*;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Consumer-group scenarios, with the broker's group timers shortened. */
class GroupConformanceTest {
  static HeraldServer server;
  static ManagedChannel channel;
  static HeraldAdmin admin;

  @BeforeAll
  static void start() throws Exception {
    server = new HeraldServer("--group_tick_interval_ms=20", "--group_revoke_timeout_ms=10000",
        "--group_min_session_timeout_ms=500");
    channel = Channels.open(server.target());
    admin = HeraldAdmin.create(channel, Duration.ofSeconds(10));
  }

  @AfterAll
  static void stop() throws Exception {
    Channels.close(channel);
    server.close();
  }

  /** Records every callback, in order. */
  static final class Recorder implements RebalanceListener {
    final List<TopicPartition> assigned = Collections.synchronizedList(new ArrayList<>());
    final List<TopicPartition> revoked = Collections.synchronizedList(new ArrayList<>());

    @Override
    public void onAssigned(Collection<TopicPartition> partitions) {
      assigned.addAll(partitions);
    }

    @Override
    public void onRevoked(Collection<TopicPartition> partitions) {
      revoked.addAll(partitions);
    }
  }

  static void produce(String topic, int partitions, int perPartition, String tag) {
    try (HeraldProducer p = HeraldProducer.builder(channel).build()) {
      for (int part = 0; part < partitions; part++) {
        for (int i = 0; i < perPartition; i++) {
          p.send(new ProducerRecord(topic, part, null, (tag + "-" + part + "-" + i).getBytes(),
              null, 0));
        }
      }
      p.flush();
    }
  }

  static HeraldConsumer member(String group, RebalanceListener l) {
    return HeraldConsumer.builder(channel).group(group).rebalanceListener(l)
        .autoOffsetReset(StartPosition.earliest()).build();
  }

  @Test
  void c12GroupSubscribe() {
    admin.createTopic("c12", 3);
    produce("c12", 3, 2, "before");
    Recorder rec = new Recorder();
    try (HeraldConsumer c = member("g12", rec)) {
      c.subscribe(List.of("c12"));
      List<ConsumerRecord> got = new ArrayList<>(TestUtil.consume(c, 6, Duration.ofSeconds(15)));
      assertEquals(Set.of(new TopicPartition("c12", 0), new TopicPartition("c12", 1),
          new TopicPartition("c12", 2)), new HashSet<>(rec.assigned));
      produce("c12", 3, 2, "after");
      got.addAll(TestUtil.consume(c, 6, Duration.ofSeconds(15)));
      Set<String> values = got.stream().map(ConsumerRecord::valueString).collect(Collectors.toSet());
      assertEquals(12, values.size());
      assertTrue(values.contains("after-2-1") && values.contains("before-0-0"));
    }
  }

  static String id(ConsumerRecord r) {
    return r.topicPartition() + "@" + r.offset();
  }

  @Test
  void c15GroupSplitAndRebalance() {
    admin.createTopic("c15", 6);
    produce("c15", 6, 5, "a");
    Recorder ra = new Recorder();
    Recorder rb = new Recorder();
    List<ConsumerRecord> byA = new ArrayList<>();
    List<ConsumerRecord> byB = new ArrayList<>();
    HeraldConsumer a = member("g15", ra);
    HeraldConsumer b = member("g15", rb);
    try (a) {
      a.subscribe(List.of("c15"));
      TestUtil.pollUntil(() -> byA.size() == 30, Duration.ofSeconds(15), byA, a);
      assertEquals(6, a.assignment().size());
      try (b) {
        b.subscribe(List.of("c15"));
        TestUtil.pollUntil(() -> a.assignment().size() == 3 && b.assignment().size() == 3,
            Duration.ofSeconds(20), new ArrayList<>(), a, b);
        Set<TopicPartition> sa = a.assignment();
        Set<TopicPartition> sb = b.assignment();
        assertTrue(Collections.disjoint(sa, sb));
        Set<TopicPartition> union = new HashSet<>(sa);
        union.addAll(sb);
        assertEquals(6, union.size());
        // Cooperative: exactly the moved partitions were revoked from the first member.
        assertEquals(sb, new HashSet<>(ra.revoked));
        assertEquals(sb, new HashSet<>(rb.assigned));
        // Revoked partitions were committed on revoke: 5 records each.
        Map<TopicPartition, Long> committed = a.committed(sb);
        sb.forEach(tp -> assertEquals(5L, committed.get(tp), tp.toString()));

        produce("c15", 6, 5, "b");
        List<ConsumerRecord> after = new ArrayList<>();
        TestUtil.pollUntil(() -> after.size() == 30, Duration.ofSeconds(15), after, a, b);
        byA.addAll(after);
      }
      // b closed: its partitions come back to a, from the committed offsets.
      produce("c15", 6, 5, "c");
      List<ConsumerRecord> back = new ArrayList<>();
      TestUtil.pollUntil(() -> back.size() >= 30 && a.assignment().size() == 6,
          Duration.ofSeconds(20), back, a);
      byA.addAll(back);
      List<String> ids = byA.stream().map(GroupConformanceTest::id).toList();
      assertEquals(90, new HashSet<>(ids).size(), "every record processed");
      assertEquals(90, ids.size(), "no record processed twice: " + ids);
    }
  }

  @Test
  void c17StaleCommitAborted() {
    admin.createTopic("c17", 2);
    Recorder ra = new Recorder();
    Recorder rb = new Recorder();
    try (HeraldConsumer a = member("g17", ra); HeraldConsumer b = member("g17", rb)) {
      a.subscribe(List.of("c17"));
      TestUtil.pollUntil(() -> a.assignment().size() == 2, Duration.ofSeconds(15),
          new ArrayList<>(), a);
      long oldGen = a.generation();
      b.subscribe(List.of("c17"));
      TestUtil.pollUntil(() -> a.assignment().size() == 1 && b.assignment().size() == 1
          && a.generation() > oldGen, Duration.ofSeconds(20), new ArrayList<>(), a, b);
      TopicPartition mine = a.assignment().iterator().next();
      TopicPartition theirs = b.assignment().iterator().next();
      HeraldException stale = assertThrows(HeraldException.class,
          () -> admin.commitOffsets("g17", Map.of(mine, 0L), oldGen, a.memberId()));
      assertEquals(Status.Code.ABORTED, stale.code());
      HeraldException notOwned = assertThrows(HeraldException.class,
          () -> a.commitSync(Map.of(theirs, 0L)));
      assertEquals(Status.Code.ABORTED, notOwned.code());
      a.commitSync(Map.of(mine, 0L)); // the current generation, own partition: accepted
    }
  }
}
