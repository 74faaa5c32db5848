package dev.herald.client;

import static org.junit.jupiter.api.Assertions.*;

import dev.herald.v1.BrokerGrpc;
import dev.herald.v1.FetchRequest;
import dev.herald.v1.FetchResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Producer-side conformance scenarios against one real server. */
class ProducerConformanceTest {
  static HeraldServer server;
  static HeraldAdmin admin;

  @BeforeAll
  static void start() throws Exception {
    server = new HeraldServer();
    admin = HeraldAdmin.create(server.target());
  }

  @AfterAll
  static void stop() throws Exception {
    admin.close();
    server.close();
  }

  @Test
  void c07UnknownTopicNotFound() {
    try (HeraldProducer p = HeraldProducer.builder(server.target()).build()) {
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
}
