package dev.herald.client;

import static org.junit.jupiter.api.Assertions.fail;

import dev.herald.v1.BrokerGrpc;
import dev.herald.v1.ConsumedBatch;
import dev.herald.v1.FetchRequest;
import dev.herald.v1.FetchResponse;
import dev.herald.v1.ProduceRequest;
import dev.herald.v1.ProduceResponse;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

final class TestUtil {
  private TestUtil() {}

  /** Polls until {@code n} records arrived (fails after {@code timeout}). */
  static List<ConsumerRecord> consume(HeraldConsumer c, int n, Duration timeout) {
    List<ConsumerRecord> out = new ArrayList<>();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (out.size() < n) {
      if (System.nanoTime() > deadline) {
        fail("got " + out.size() + " of " + n + " records: " + out);
      }
      c.poll(Duration.ofMillis(200)).forEach(out::add);
    }
    return out;
  }

  /** Polls {@code consumers} round-robin until {@code cond} holds. */
  static void pollUntil(BooleanSupplier cond, Duration timeout, List<ConsumerRecord> sink,
      HeraldConsumer... consumers) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("condition not reached within " + timeout);
      }
      for (HeraldConsumer c : consumers) {
        c.poll(Duration.ofMillis(50)).forEach(sink::add);
      }
    }
  }

  /** Sends raw requests on one Produce stream and returns the responses, in order. */
  static List<ProduceResponse> rawProduce(ManagedChannel ch, ProduceRequest... reqs)
      throws Exception {
    List<ProduceResponse> got = new ArrayList<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    StreamObserver<ProduceRequest> out = BrokerGrpc.newStub(ch).produce(
        new StreamObserver<>() {
          @Override
          public void onNext(ProduceResponse r) {
            synchronized (got) {
              got.add(r);
              if (got.size() == reqs.length) {
                done.complete(null);
              }
            }
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        });
    for (ProduceRequest r : reqs) {
      out.onNext(r);
    }
    done.get(10, TimeUnit.SECONDS);
    out.onCompleted();
    synchronized (got) {
      return new ArrayList<>(got);
    }
  }

  /** Every batch of a partition from offset 0, via Fetch. */
  static List<ConsumedBatch> fetchAll(ManagedChannel ch, String topic, int partition) {
    var stub = BrokerGrpc.newBlockingStub(ch);
    List<ConsumedBatch> out = new ArrayList<>();
    long offset = 0;
    while (true) {
      FetchResponse r = stub.withDeadlineAfter(10, TimeUnit.SECONDS).fetch(FetchRequest.newBuilder()
          .setTopic(topic).setPartition(partition).setOffset(offset).build());
      if (r.getBatchesCount() == 0 || offset >= r.getHighWatermark()) {
        return out;
      }
      for (ConsumedBatch b : r.getBatchesList()) {
        if (b.getBaseOffset() + b.getRecordsCount() > offset) {
          out.add(b);
          offset = b.getBaseOffset() + b.getRecordsCount();
        }
      }
    }
  }
}
