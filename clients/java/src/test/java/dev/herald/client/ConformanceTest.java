package dev.herald.client;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import dev.herald.v1.BrokerGrpc;
import dev.herald.v1.InitProducerRequest;
import dev.herald.v1.InitProducerResponse;
import dev.herald.v1.ProduceRequest;
import dev.herald.v1.ProduceResponse;
import dev.herald.v1.Record;
import dev.herald.v1.RecordBatch;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Conformance scenarios of one server that is never restarted. */
class ConformanceTest {
  static HeraldServer server;
  static HeraldAdmin admin;
  static ManagedChannel channel;

  @BeforeAll
  static void start() throws Exception {
    server = new HeraldServer();
    channel = Channels.open(server.target());
    admin = HeraldAdmin.create(channel, Duration.ofSeconds(10));
  }

  @AfterAll
  static void stop() throws Exception {
    Channels.close(channel);
    server.close();
  }

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void c02RoundTripHeadersKeys() {
    admin.createTopic("c02", 1);
    List<ProducerRecord> sent = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      sent.add(new ProducerRecord("c02", null, b("key-" + i), new byte[] {0, (byte) i, -1},
          List.of(Header.of("h", "a" + i), Header.of("h", "b" + i), new Header("bin", new byte[] {9})),
          0));
    }
    List<RecordMetadata> acks;
    try (HeraldProducer p = HeraldProducer.builder(channel).linger(Duration.ofMillis(20)).build()) {
      List<CompletableFuture<RecordMetadata>> fs = sent.stream().map(p::send).toList();
      p.flush();
      acks = fs.stream().map(CompletableFuture::join).toList();
    }
    for (int i = 0; i < acks.size(); i++) {
      assertEquals(acks.get(0).offset() + i, acks.get(i).offset());
    }
    try (HeraldConsumer c = HeraldConsumer.builder(channel).build()) {
      c.assign(Map.of(new TopicPartition("c02", 0), StartPosition.earliest()));
      List<ConsumerRecord> got = TestUtil.consume(c, 5, Duration.ofSeconds(10));
      for (int i = 0; i < 5; i++) {
        ConsumerRecord r = got.get(i);
        assertArrayEquals(sent.get(i).key(), r.key());
        assertArrayEquals(sent.get(i).value(), r.value());
        assertEquals(sent.get(i).headers(), r.headers());
        assertEquals(acks.get(i).offset(), r.offset());
      }
    }
  }

  @Test
  void c03SameKeySamePartition() throws Exception {
    admin.createTopic("c03", 16);
    Map<String, Integer> want = Map.of("21", 12, "foobar", 14, "abc", 11);
    try (HeraldProducer p = HeraldProducer.builder(channel).build()) {
      for (var e : want.entrySet()) {
        for (int i = 0; i < 3; i++) {
          RecordMetadata md = p.send(ProducerRecord.of("c03", e.getKey(), "v" + i)).join();
          assertEquals(e.getValue(), md.partition(), e.getKey());
        }
      }
    }
    // The broker picks (no partition in the request): same answer.
    long id = 1;
    for (var e : want.entrySet()) {
      ProduceRequest req = ProduceRequest.newBuilder().setRequestId(id++).setTopic("c03")
          .setBatch(RecordBatch.newBuilder().addRecords(Record.newBuilder()
              .setKey(ByteString.copyFrom(b(e.getKey()))))).build();
      ProduceResponse resp = TestUtil.rawProduce(channel, req).get(0);
      assertFalse(resp.hasError(), resp.toString());
      assertEquals(e.getValue(), resp.getPartition(), e.getKey());
    }
  }

  @Test
  void c04CommitAndResume() {
    admin.createTopic("c04", 1);
    TopicPartition tp = new TopicPartition("c04", 0);
    try (HeraldProducer p = HeraldProducer.builder(channel).build()) {
      for (int i = 0; i < 10; i++) {
        p.send(ProducerRecord.of("c04", null, "v" + i));
      }
      p.flush();
    }
    try (HeraldConsumer c = HeraldConsumer.builder(channel).group("g04").autoCommit(false)
        .maxPollRecords(4).build()) {
      c.assign(Map.of(tp, StartPosition.earliest()));
      List<ConsumerRecord> first = TestUtil.consume(c, 4, Duration.ofSeconds(10));
      assertEquals(4, first.size());
      assertEquals(4, c.position(tp));
      c.commitSync();
      assertEquals(4L, c.committed(List.of(tp)).get(tp));
    }
    try (HeraldConsumer c = HeraldConsumer.builder(channel).group("g04").autoCommit(false).build()) {
      long committed = c.committed(List.of(tp)).get(tp);
      c.assign(Map.of(tp, StartPosition.offset(committed)));
      List<ConsumerRecord> rest = TestUtil.consume(c, 6, Duration.ofSeconds(10));
      assertEquals(List.of(4L, 5L, 6L, 7L, 8L, 9L), rest.stream().map(ConsumerRecord::offset).toList());
      assertTrue(c.poll(Duration.ofMillis(200)).isEmpty(), "no duplicate or extra record");
    }
  }

  /** Ten records in one batch, so starting mid-batch needs trimming. */
  static void produceOneBatch(String topic, long firstTimestamp) {
    try (HeraldProducer p = HeraldProducer.builder(channel).linger(Duration.ofMillis(100)).build()) {
      for (int i = 0; i < 10; i++) {
        p.send(new ProducerRecord(topic, 0, null, b("v" + i), null,
            firstTimestamp == 0 ? 0 : firstTimestamp + i * 1000L));
      }
      p.flush();
    }
  }

  @Test
  void c05SeekByOffset() {
    admin.createTopic("c05", 1);
    produceOneBatch("c05", 0);
    TopicPartition tp = new TopicPartition("c05", 0);
    try (HeraldConsumer c = HeraldConsumer.builder(channel).maxPollRecords(2).build()) {
      c.assign(Map.of(tp, StartPosition.offset(3)));
      List<ConsumerRecord> got = TestUtil.consume(c, 2, Duration.ofSeconds(10));
      assertEquals(3, got.get(0).offset());
      assertEquals("v3", got.get(0).valueString());
      c.seek(tp, StartPosition.offset(7));
      got = TestUtil.consume(c, 3, Duration.ofSeconds(10));
      assertEquals(List.of(7L, 8L, 9L), got.stream().map(ConsumerRecord::offset).toList());
      c.seek(tp, StartPosition.offset(1)); // backwards
      got = TestUtil.consume(c, 9, Duration.ofSeconds(10));
      assertEquals(1, got.get(0).offset());
      assertEquals(9, got.get(8).offset());
    }
  }

  @Test
  void c06SeekByTime() {
    admin.createTopic("c06", 1);
    long t0 = 1_700_000_000_000L;
    produceOneBatch("c06", t0);
    TopicPartition tp = new TopicPartition("c06", 0);
    try (HeraldConsumer c = HeraldConsumer.builder(channel).maxPollRecords(1).build()) {
      c.assign(Map.of(tp, StartPosition.timestamp(t0 + 4500)));
      ConsumerRecord r = TestUtil.consume(c, 1, Duration.ofSeconds(10)).get(0);
      assertEquals(5, r.offset());
      assertEquals(t0 + 5000, r.timestampMs());
      c.seek(tp, StartPosition.timestamp(t0 + 8000));
      List<ConsumerRecord> got = TestUtil.consume(c, 2, Duration.ofSeconds(10));
      assertEquals(List.of(8L, 9L), got.stream().map(ConsumerRecord::offset).toList());
    }
  }

  @Test
  void c07UnknownTopicNotFound() {
    try (HeraldProducer p = HeraldProducer.builder(channel).build()) {
      CompletableFuture<RecordMetadata> f = p.send(ProducerRecord.of("no-such-topic", "k", "v"));
      HeraldException e = HeraldException.from(assertThrows(Exception.class, f::join));
      assertEquals(Status.Code.NOT_FOUND, e.code());
      // Explicit partition: the broker itself reports NOT_FOUND in-band.
      f = p.send(new ProducerRecord("no-such-topic", 0, null, new byte[] {1}, null, 0));
      e = HeraldException.from(assertThrows(Exception.class, f::join));
      assertEquals(Status.Code.NOT_FOUND, e.code());
    }
    HeraldException e = assertThrows(HeraldException.class, () -> admin.describeTopic("no-such-topic"));
    assertEquals(Status.Code.NOT_FOUND, e.code());
  }

  @Test
  void c08BadNameInvalidArgument() {
    HeraldException e = assertThrows(HeraldException.class, () -> admin.createTopic("bad/name", 1));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
  }

  @Test
  void c11AdminTopics() {
    var created = admin.createTopic("c11", 2);
    assertEquals(2, created.getPartitionsCount());
    assertTrue(admin.listTopics().stream().anyMatch(t -> t.getName().equals("c11")));
    var cfg = admin.alterTopicConfig("c11",
        dev.herald.v1.TopicConfig.newBuilder().setRetentionMs(3_600_000).build());
    assertEquals(3_600_000, cfg.getRetentionMs());
    assertEquals(3_600_000, admin.describeTopic("c11").getConfig().getRetentionMs());
    assertEquals(4, admin.createPartitions("c11", 4).getPartitionsCount());
    try (HeraldProducer p = HeraldProducer.builder(channel).build()) {
      p.send(new ProducerRecord("c11", 3, null, b("x"), null, 0)).join();
    }
    var latest = admin.listOffsets("c11", StartPosition.latest());
    assertEquals(4, latest.size());
    assertEquals(1, latest.get(3).getOffset());
    assertEquals(0, admin.listOffsets("c11", StartPosition.earliest(), 3).get(3).getOffset());
    var cluster = admin.describeCluster();
    assertFalse(cluster.getBrokersList().isEmpty());
    admin.deleteTopic("c11");
    assertEquals(Status.Code.NOT_FOUND,
        assertThrows(HeraldException.class, () -> admin.describeTopic("c11")).code());
  }

  @Test
  void c13AsyncRoundTrip() {
    admin.createTopic("c13", 1);
    try (HeraldProducer p = HeraldProducer.builder(channel).build()) {
      // Compose: each send starts when the previous one is acknowledged.
      CompletableFuture<RecordMetadata> chain = p.send(ProducerRecord.of("c13", null, "a"))
          .thenCompose(md -> p.send(ProducerRecord.of("c13", null, "b@" + md.offset())))
          .thenCompose(md -> p.send(ProducerRecord.of("c13", null, "c@" + md.offset())));
      List<CompletableFuture<RecordMetadata>> more = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        more.add(chain.thenCompose(md -> p.send(ProducerRecord.of("c13", null, "x"))));
      }
      CompletableFuture.allOf(more.toArray(CompletableFuture[]::new)).join();
      assertEquals(2, chain.join().offset());
    }
    try (HeraldConsumer c = HeraldConsumer.builder(channel).build()) {
      c.assign(Map.of(new TopicPartition("c13", 0), StartPosition.earliest()));
      List<String> values = c.stream(Duration.ofMillis(200)).limit(23)
          .map(ConsumerRecord::valueString).toList();
      assertEquals(List.of("a", "b@0", "c@1"), values.subList(0, 3));
    }
  }

  @Test
  void c14BoundedBuffer() {
    // Nothing listens there: records stay buffered, so the buffer fills up.
    try (HeraldProducer p = HeraldProducer.builder("127.0.0.1:1").bufferMemory(1000)
        .maxBlock(Duration.ofMillis(200)).rpcTimeout(Duration.ofMillis(300)).build()) {
      ProducerRecord rec = new ProducerRecord("t", 0, null, new byte[400], null, 0);
      CompletableFuture<RecordMetadata> f1 = p.send(rec);
      CompletableFuture<RecordMetadata> f2 = p.send(rec);
      long t0 = System.nanoTime();
      CompletableFuture<RecordMetadata> f3 = p.send(rec);
      assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(150), "waited maxBlock");
      HeraldException e = HeraldException.from(assertThrows(Exception.class, f3::join));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.code());
      assertFalse(f1.isDone() || f2.isDone());
      p.close(Duration.ofMillis(100));
      assertEquals(Status.Code.CANCELLED,
          HeraldException.from(assertThrows(Exception.class, f1::join)).code());
    }
  }

  @Test
  void c16IdempotentRetryRaw() throws Exception {
    admin.createTopic("c16raw", 1);
    InitProducerResponse ip = BrokerGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS).initProducer(InitProducerRequest.getDefaultInstance());
    ProduceRequest.Builder req = ProduceRequest.newBuilder().setTopic("c16raw").setPartition(0)
        .setProducerId(ip.getProducerId()).setProducerEpoch(ip.getProducerEpoch())
        .setBaseSequence(0).setBatch(RecordBatch.newBuilder()
            .addRecords(Record.newBuilder().setValue(ByteString.copyFrom(b("once"))))
            .addRecords(Record.newBuilder().setValue(ByteString.copyFrom(b("twice?")))));
    ProduceResponse first = TestUtil.rawProduce(channel, req.setRequestId(1).build()).get(0);
    ProduceResponse retry = TestUtil.rawProduce(channel, req.setRequestId(2).build()).get(0);
    assertFalse(first.hasError(), first.toString());
    assertFalse(first.getDuplicate());
    assertTrue(retry.getDuplicate(), retry.toString());
    assertEquals(first.getBaseOffset(), retry.getBaseOffset());
    var batches = TestUtil.fetchAll(channel, "c16raw", 0);
    assertEquals(1, batches.size());
    assertEquals(2, batches.get(0).getRecordsCount());
  }
}
