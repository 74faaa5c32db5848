package dev.herald.examples.billing;

import dev.herald.client.ConsumerRecord;
import dev.herald.client.HeraldConsumer;
import dev.herald.client.HeraldException;
import dev.herald.client.RebalanceListener;
import dev.herald.client.StartPosition;
import dev.herald.client.TopicPartition;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Billing service: charges the customer of every placed order (consumer group {@code billing}).
 *
 * <pre>
 * HERALD_BROKERS=127.0.0.1:7420 OUTPUT_FILE=billing.txt java -cp ... dev.herald.examples.billing.BillingService
 * </pre>
 *
 * <p>Each order is processed (logged, its id appended to {@code $OUTPUT_FILE}); the positions are
 * committed after each processed poll. Runs until SIGINT/SIGTERM, then closes the consumer
 * (which commits and leaves the group).
 */
public final class BillingService {
  // The value is JSON; the example avoids a JSON dependency and only needs one field.
  private static final Pattern TOTAL = Pattern.compile("\"total_cents\"\\s*:\\s*(\\d+)");

  private static volatile boolean running = true;

  private BillingService() {}

  public static void main(String[] args) throws IOException, InterruptedException {
    String brokers = System.getenv().getOrDefault("HERALD_BROKERS", "127.0.0.1:7420");
    String output = System.getenv("OUTPUT_FILE");
    Thread main = Thread.currentThread();
    // SIGTERM/SIGINT run shutdown hooks: stop the loop and wait for the clean close below.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      running = false;
      try {
        main.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }));

    long processed = 0;
    try (OutputStream sink = output == null ? OutputStream.nullOutputStream()
            : new FileOutputStream(output, true);
        HeraldConsumer consumer = HeraldConsumer.builder(brokers)
            .group("billing")
            .clientId("billing")
            .autoOffsetReset(StartPosition.earliest())
            .rebalanceListener(new RebalanceListener() {
              @Override
              public void onAssigned(Collection<TopicPartition> partitions) {
                log("assigned partitions [" + names(partitions) + "]");
              }

              @Override
              public void onRevoked(Collection<TopicPartition> partitions) {
                log("revoked partitions [" + names(partitions) + "]");
              }
            })
            .build()) {
      consumer.subscribe(List.of("orders"));
      while (running) {
        var records = consumer.poll(Duration.ofMillis(200));
        boolean any = false;
        for (ConsumerRecord r : records) {
          String orderId = r.keyString(); // the order service keys every event by order id
          Matcher m = TOTAL.matcher(r.valueString());
          String total = m.find() ? m.group(1) : "?";
          log("charged " + total + " cents for " + orderId
              + " partition=" + r.partition() + " offset=" + r.offset());
          // Unbuffered FileOutputStream: one write(2) per order.
          sink.write((orderId + "\n").getBytes(StandardCharsets.UTF_8));
          processed++;
          any = true;
        }
        if (any) {
          try {
            consumer.commitSync(); // after processing: positions are past the records above
          } catch (HeraldException e) {
            // ABORTED after a concurrent rebalance: the next owner re-reads (at-least-once).
            log("commit: " + e.getMessage());
          }
        }
      }
    }
    log("stopped after " + processed + " orders");
  }

  private static String names(Collection<TopicPartition> partitions) {
    return partitions.stream()
        .sorted((a, b) -> Integer.compare(a.partition(), b.partition()))
        .map(tp -> tp.topic() + "-" + tp.partition())
        .collect(Collectors.joining(","));
  }

  private static void log(String message) {
    System.out.println(Instant.now() + " billing " + message);
    System.out.flush();
  }
}
