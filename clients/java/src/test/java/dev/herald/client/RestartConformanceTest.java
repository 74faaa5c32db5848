package dev.herald.client;

import static org.junit.jupiter.api.Assertions.*;

import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Scenarios that restart the server (same port, same data dir) under a live client. */
class RestartConformanceTest {
  static HeraldServer server;

  @BeforeAll
  static void start() throws Exception {
    server = new HeraldServer();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  static void createTopic(String name) {
    try (HeraldAdmin admin = HeraldAdmin.create(server.target())) {
      admin.createTopic(name, 1);
    }
  }

  static HeraldProducer producer() {
    return HeraldProducer.builder(server.target())
        .retryBackoff(Duration.ofMillis(50), Duration.ofMillis(500)).build();
  }

  @Test
  void c09ProducerReconnectAfterRestart() throws Exception {
    createTopic("c09");
    try (HeraldProducer p = producer()) {
      List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        fs.add(p.send(ProducerRecord.of("c09", null, "before-" + i)));
      }
      p.flush();
      server.stop();
      for (int i = 0; i < 20; i++) { // queued while the server is down
        fs.add(p.send(ProducerRecord.of("c09", null, "down-" + i)));
      }
      server.start();
      for (int i = 0; i < 20; i++) {
        fs.add(p.send(ProducerRecord.of("c09", null, "after-" + i)));
      }
      p.flush();
      long prev = -1;
      for (CompletableFuture<RecordMetadata> f : fs) {
        long off = f.join().offset();
        assertTrue(off > prev, "offsets increase");
        prev = off;
      }
      assertEquals(59, prev);
    }
  }

  @Test
  void c10ConsumerReconnectAfterRestart() throws Exception {
    createTopic("c10");
    try (HeraldProducer p = producer();
        HeraldConsumer c = HeraldConsumer.builder(server.target())
            .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500)).build()) {
      c.assign(Map.of(new TopicPartition("c10", 0), StartPosition.earliest()));
      for (int i = 0; i < 20; i++) {
        p.send(ProducerRecord.of("c10", null, "v" + i));
      }
      p.flush();
      List<ConsumerRecord> got = new ArrayList<>(TestUtil.consume(c, 20, Duration.ofSeconds(10)));
      server.restart();
      for (int i = 20; i < 40; i++) {
        p.send(ProducerRecord.of("c10", null, "v" + i));
      }
      p.flush();
      got.addAll(TestUtil.consume(c, 20, Duration.ofSeconds(20)));
      assertTrue(c.poll(Duration.ofMillis(300)).isEmpty(), "no duplicates");
      for (int i = 0; i < 40; i++) {
        assertEquals(i, got.get(i).offset());
        assertEquals("v" + i, got.get(i).valueString());
      }
    }
  }

  @Test
  void c10GroupConsumerReconnectAfterRestart() throws Exception {
    createTopic("c10g");
    try (HeraldProducer p = producer();
        HeraldConsumer c = HeraldConsumer.builder(server.target()).group("g10")
            .autoOffsetReset(StartPosition.earliest()).autoCommit(false)
            .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(500)).build()) {
      c.subscribe(List.of("c10g"));
      for (int i = 0; i < 20; i++) {
        p.send(ProducerRecord.of("c10g", null, "v" + i));
      }
      p.flush();
      // Nothing committed: after the restart the group starts over at offset 0, and the
      // consumer's cursor drops what it already returned.
      List<ConsumerRecord> got = new ArrayList<>(TestUtil.consume(c, 20, Duration.ofSeconds(10)));
      server.restart();
      for (int i = 20; i < 40; i++) {
        p.send(ProducerRecord.of("c10g", null, "v" + i));
      }
      p.flush();
      got.addAll(TestUtil.consume(c, 20, Duration.ofSeconds(20)));
      assertTrue(c.poll(Duration.ofMillis(300)).isEmpty(), "no duplicates");
      for (int i = 0; i < 40; i++) {
        assertEquals(i, got.get(i).offset());
      }
    }
  }

  @Test
  void c16IdempotentProducerAcrossRestart() throws Exception {
    createTopic("c16");
    int n = 400;
    List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>();
    try (HeraldProducer p = producer()) {
      Thread restarter = new Thread(() -> {
        try {
          server.restart(); // kills the stream with batches in flight
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      for (int i = 0; i < n; i++) {
        fs.add(p.send(ProducerRecord.of("c16", null, "r" + i)));
        if (i == n / 4) {
          restarter.start();
        }
      }
      restarter.join();
      p.flush();
    }
    long retried = fs.stream().filter(f -> f.join().duplicate()).count();
    System.out.println("c16: records acknowledged as idempotent retries: " + retried);
    try (var ch = new Closer(Channels.open(server.target()))) {
      List<String> values = new ArrayList<>();
      TestUtil.fetchAll(ch.channel, "c16", 0).forEach(b -> b.getRecordsList()
          .forEach(r -> values.add(r.getValue().toStringUtf8())));
      Set<String> unique = new HashSet<>(values);
      assertEquals(n, unique.size(), "every record stored");
      assertEquals(n, values.size(), "no record stored twice");
    }
  }

  @Test
  void c16LostAckRetriedWithoutDuplicates() throws Exception {
    createTopic("c16b");
    try (HeraldProducer p = HeraldProducer.builder(server.target())
        .requestTimeout(Duration.ofMillis(300))
        .retryBackoff(Duration.ofMillis(50), Duration.ofMillis(200)).build()) {
      p.send(ProducerRecord.of("c16b", null, "warm-up")).join();
      server.pause(); // the batch below reaches the socket but is not answered
      CompletableFuture<RecordMetadata> f;
      try {
        f = p.send(ProducerRecord.of("c16b", null, "once"));
        Thread.sleep(1000); // > requestTimeout: the producer gives up on the stream and re-sends
      } finally {
        server.resume();
      }
      RecordMetadata md = f.join();
      System.out.println("c16b: duplicate=" + md.duplicate() + " offset=" + md.offset());
      assertEquals(1, md.offset());
    }
    try (var ch = new Closer(Channels.open(server.target()))) {
      long stored = TestUtil.fetchAll(ch.channel, "c16b", 0).stream()
          .mapToLong(b -> b.getRecordsCount()).sum();
      assertEquals(2, stored);
    }
  }

  private record Closer(ManagedChannel channel) implements AutoCloseable {
    @Override
    public void close() {
      Channels.close(channel);
    }
  }
}
