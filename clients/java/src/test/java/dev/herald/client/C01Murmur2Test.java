package dev.herald.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** C01 and error typing: pure unit tests, no server. */
class C01Murmur2Test {
  // Kafka's vectors (UtilsTest.java) and common/murmur2_test.cc.
  private static final Map<String, Integer> VECTORS = Map.of(
      "21", -973932308,
      "foobar", -790332482,
      "a-little-bit-long-string", -985981536,
      "a-little-bit-longer-string", -1486304829,
      "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971,
      "abc", 479470107,
      "1", -1993445489,
      "12345", -1188365604);

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void c01Murmur2Vectors() {
    VECTORS.forEach((k, want) -> assertEquals(want, Murmur2.hash(b(k)), k));
    assertEquals(12, Murmur2.partitionForKey(b("21"), 16));
    assertEquals(14, Murmur2.partitionForKey(b("foobar"), 16));
    assertEquals(11, Murmur2.partitionForKey(b("abc"), 16));
    for (int n = 1; n < 40; n++) {
      int p = Murmur2.partitionForKey(b("some-key"), n);
      assertTrue(p >= 0 && p < n);
    }
  }

  @Test
  void errorsCarryTheirGrpcCode() {
    HeraldException e = HeraldException.from(Status.NOT_FOUND.withDescription("x").asRuntimeException());
    assertEquals(Status.Code.NOT_FOUND, e.code());
    assertEquals(Status.Code.ABORTED, HeraldException.from(
        new java.util.concurrent.CompletionException(Status.ABORTED.asException())).code());
  }
}
