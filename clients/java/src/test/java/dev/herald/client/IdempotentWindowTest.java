package dev.herald.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.herald.v1.BrokerGrpc;
import dev.herald.v1.InitProducerRequest;
import dev.herald.v1.InitProducerResponse;
import dev.herald.v1.ProduceRequest;
import dev.herald.v1.ProduceResponse;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The idempotent producer keeps at most 5 unacknowledged batches of one partition in flight (the
 * broker deduplicates retries of a partition's last 5 batches only), without holding back other
 * partitions and without reordering a partition's batches. Runs against an in-test fake broker
 * that holds its answers, so no herald-server is needed.
 */
class IdempotentWindowTest {
  /** A Broker that records Produce requests and answers them only once released. */
  static final class FakeBroker extends BrokerGrpc.BrokerImplBase {
    final List<ProduceRequest> received = new ArrayList<>();
    final Map<Integer, Integer> outstanding = new HashMap<>();
    final Map<Integer, Integer> maxOutstanding = new HashMap<>();
    private final List<ProduceRequest> unanswered = new ArrayList<>();
    private StreamObserver<ProduceResponse> responses;
    private boolean hold = true;

    @Override
    public void initProducer(InitProducerRequest req, StreamObserver<InitProducerResponse> out) {
      out.onNext(InitProducerResponse.newBuilder().setProducerId(7).setProducerEpoch(0).build());
      out.onCompleted();
    }

    @Override
    public StreamObserver<ProduceRequest> produce(StreamObserver<ProduceResponse> out) {
      synchronized (this) {
        responses = out;
      }
      return new StreamObserver<>() {
        @Override
        public void onNext(ProduceRequest req) {
          synchronized (FakeBroker.this) {
            received.add(req);
            int n = outstanding.merge(req.getPartition(), 1, Integer::sum);
            maxOutstanding.merge(req.getPartition(), n, Math::max);
            unanswered.add(req);
            if (!hold) {
              answerLocked();
            }
            FakeBroker.this.notifyAll();
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          out.onCompleted();
        }
      };
    }

    synchronized void release() {
      hold = false;
      answerLocked();
    }

    synchronized int receivedFor(int partition) {
      return (int) received.stream().filter(r -> r.getPartition() == partition).count();
    }

    synchronized void awaitReceived(int n) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (received.size() < n && System.nanoTime() < deadline) {
        wait(50);
      }
    }

    private void answerLocked() {
      for (ProduceRequest req : unanswered) {
        outstanding.merge(req.getPartition(), -1, Integer::sum);
        responses.onNext(ProduceResponse.newBuilder().setRequestId(req.getRequestId())
            .setPartition(req.getPartition()).setBaseOffset(req.getBaseSequence())
            .setRecordCount(req.getBatch().getRecordsCount()).build());
      }
      unanswered.clear();
    }
  }

  private FakeBroker broker;
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    broker = new FakeBroker();
    server = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
        .addService(broker).build().start();
    channel = Channels.open("127.0.0.1:" + server.getPort());
  }

  @AfterEach
  void stop() throws Exception {
    Channels.close(channel);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private static ProducerRecord record(int partition, int i) {
    return new ProducerRecord("t", partition, null,
        ("v" + i).getBytes(StandardCharsets.UTF_8), List.of(), 0);
  }

  @Test
  void idempotentProducerKeepsAtMostFiveBatchesOfAPartitionInFlight() throws Exception {
    List<CompletableFuture<RecordMetadata>> futures = new ArrayList<>();
    HeraldProducer producer = HeraldProducer.builder(channel).linger(Duration.ZERO)
        .maxInFlight(32).build();
    try {
      for (int i = 0; i < 12; i++) {
        futures.add(producer.send(record(0, i))); // linger 0: one batch per record
      }
      for (int i = 0; i < 3; i++) {
        futures.add(producer.send(record(1, i))); // queued behind partition 0's batches
      }
      broker.awaitReceived(8);
      Thread.sleep(300); // nothing more may arrive while the broker holds its answers
      assertEquals(HeraldProducer.MAX_IDEMPOTENT_IN_FLIGHT_PER_PARTITION, broker.receivedFor(0));
      assertEquals(3, broker.receivedFor(1), "a full partition must not hold back others");

      broker.release();
      for (CompletableFuture<RecordMetadata> f : futures) {
        f.get(10, TimeUnit.SECONDS);
      }
    } finally {
      broker.release(); // a failed assertion must not leave close() waiting for answers
      producer.close(Duration.ofSeconds(5));
    }
    synchronized (broker) {
      assertTrue(broker.maxOutstanding.get(0) <= 5, "max in flight " + broker.maxOutstanding);
      List<Integer> p0 = broker.received.stream().filter(r -> r.getPartition() == 0)
          .map(ProduceRequest::getBaseSequence).toList();
      List<Integer> expected = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        expected.add(i);
      }
      assertEquals(expected, p0, "a partition's batches go in sequence order");
    }
    for (int i = 0; i < 12; i++) {
      assertEquals(i, futures.get(i).get().offset());
    }
  }

  @Test
  void nonIdempotentProducerUsesOnlyTheGlobalWindow() throws Exception {
    List<CompletableFuture<RecordMetadata>> futures = new ArrayList<>();
    HeraldProducer producer = HeraldProducer.builder(channel).linger(Duration.ZERO)
        .maxInFlight(32).idempotent(false).build();
    try {
      for (int i = 0; i < 12; i++) {
        futures.add(producer.send(record(0, i)));
      }
      broker.awaitReceived(12);
      assertEquals(12, broker.receivedFor(0));
      broker.release();
      for (CompletableFuture<RecordMetadata> f : futures) {
        f.get(10, TimeUnit.SECONDS);
      }
    } finally {
      broker.release();
      producer.close(Duration.ofSeconds(5));
    }
  }
}
